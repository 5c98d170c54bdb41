"""Helpers for driving the real ``klikit-harness`` command line in subprocesses.

Every child gets a scrubbed environment (no ``KLIKIT_*``, ``PYTEST_*`` or proxy
variables of the developer's shell), runs in a temporary directory, and is
bounded by a timeout. Every server a test starts binds 127.0.0.1 and is stopped
by fixture teardown: terminate, wait, then kill.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from klikit_harness import suites

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "fixtures" / "sandbox-seed.yaml"
CLI = [sys.executable, "-m", "klikit_harness.runner.cli"]
PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a child command: the developer's, minus anything that would steer it."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("KLIKIT_", "PYTEST_", "HYPOTHESIS_")) and k.lower() not in PROXY_VARS
    }
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra or {})
    return env


@dataclass
class Result:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def console(self) -> str:
        return self.stdout + self.stderr

    def explain(self) -> str:
        return f"$ klikit-harness {' '.join(self.args)}\nexit {self.returncode}\n{self.console[-6000:]}"


def harness(
    *args: str | Path, env: Mapping[str, str] | None = None, cwd: Path | None = None, timeout: float = 60
) -> Result:
    """Run ``klikit-harness ARGS`` to completion (killed after ``timeout`` seconds)."""
    argv = [str(a) for a in args]
    proc = subprocess.run(
        [*CLI, *argv], env=child_env(env), cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    return Result(argv, proc.returncode, proc.stdout, proc.stderr)


class Background:
    """A ``klikit-harness`` child running while the test goes on; output goes to files."""

    def __init__(self, args: list[str | Path], directory: Path, name: str, env: Mapping[str, str] | None = None):
        directory.mkdir(parents=True, exist_ok=True)
        self.args = [str(a) for a in args]
        self.out_path = directory / f"{name}.stdout"
        self.err_path = directory / f"{name}.stderr"
        with self.out_path.open("wb") as out, self.err_path.open("wb") as err:
            self.proc = subprocess.Popen([*CLI, *self.args], env=child_env(env), cwd=directory, stdout=out, stderr=err)

    def output(self) -> str:
        return self.out_path.read_text(errors="replace") + self.err_path.read_text(errors="replace")

    def result(self, timeout: float) -> Result:
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            pytest.fail(
                f"klikit-harness {' '.join(self.args)} did not finish within {timeout} s:\n{self.output()[-3000:]}"
            )
        return Result(
            self.args, code, self.out_path.read_text(errors="replace"), self.err_path.read_text(errors="replace")
        )

    def stop(self) -> None:
        """terminate, wait, then kill (uvicorn takes more than a second to stop)."""
        if self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=8)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=8)


@dataclass
class Sandbox:
    """A ``klikit-harness sandbox --port 0 --env-file FILE`` child that answers."""

    process: Background
    env_file: Path
    base_url: str

    def env(self) -> dict[str, str]:
        return read_env_file(self.env_file)


def read_env_file(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip().strip("'\"")
    return out


@contextlib.contextmanager
def sandbox_server(directory: Path, *extra: str) -> Iterator[Sandbox]:
    """Start the stand-in as a subprocess on a free loopback port; stopped on exit, whatever happens."""
    env_file = directory / "sandbox.env"
    process = Background(
        ["sandbox", "--host", "127.0.0.1", "--port", "0", "--env-file", env_file, *extra], directory, "sandbox"
    )
    try:
        deadline = time.monotonic() + 30
        base_url = None
        while time.monotonic() < deadline:
            if process.proc.poll() is not None:
                pytest.fail(f"the sandbox exited with {process.proc.returncode}:\n{process.output()}")
            if base_url is None and env_file.is_file():
                base_url = read_env_file(env_file).get("KLIKIT_BASE_URL")
            if base_url:
                with contextlib.suppress(httpx.TransportError):
                    httpx.get(f"{base_url}/menus", timeout=2, trust_env=False)  # any HTTP answer will do
                    break
            time.sleep(0.1)
        else:
            pytest.fail(f"the sandbox did not answer within 30 s:\n{process.output()}")
        assert base_url is not None
        assert base_url.startswith("http://127.0.0.1:")
        yield Sandbox(process, env_file, base_url)
    finally:
        process.stop()


# ------------------------------------------------------------------ secrets


def seeded_secrets() -> list[str]:
    """Every seeded secret (current and rotated-out) and its Basic-auth encoding."""
    seed = yaml.safe_load(SEED.read_text())
    needles: list[str] = []
    for cred in seed["credentials"]:
        for secret in [cred["secret"], *cred.get("old_secrets", [])]:
            needles.append(secret)
            needles.append(base64.b64encode(f"{cred['key']}:{secret}".encode()).decode())
    assert len(needles) >= 14, "the seed lost its credentials; this check would prove nothing"
    return needles


def leaks(text: str, needles: list[str]) -> list[str]:
    """The needles found in ``text``, each shown masked beyond its first 6 characters."""
    return [n[:6] + "…" for n in needles if n in text]


# ------------------------------------------------------------------ reports

_ROW = re.compile(r"^\| `(?P<id>[^`]+)` \| (?P<status>[^|]+) \| (?P<result>(?:[^|\\]|\\.)*) \|", re.M)


def report_rows(markdown: str) -> dict[str, str]:
    """Behaviour id -> result cell of report.md's behaviour table (each id must appear once)."""
    rows: dict[str, str] = {}
    table = markdown.split("\n## ", 1)[0]  # the sections after it (Failures, Target profile) have their own tables
    for m in _ROW.finditer(table):
        assert m["id"] not in rows, f"report.md has two rows for {m['id']}"
        rows[m["id"]] = m["result"].strip()
    return rows


def catalogue_ids() -> set[str]:
    data = yaml.safe_load((ROOT / "contracts" / "behaviours.yaml").read_text())
    return {b["id"] for b in data["behaviours"]}


def suite_ids(suite: str) -> set[str]:
    """Behaviour ids the suite's tests are tagged with, read from the source (not from a report)."""
    import ast

    ids: set[str] = set()
    for path in (suites.HOME / suite).glob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "behaviour"
                and isinstance(node.func.value, ast.Attribute)
                and node.func.value.attr == "mark"
            ):
                ids.update(a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str))
    return ids


# ------------------------------------------------------------------ the contract-suite runs

RUN_TIMEOUT = 300
DEFECT = "populate-overwrites-populated"
DEFECT_BEHAVIOUR = "populate.skips-populated-stores"
PROBE_BEHAVIOUR = "auth.rotated-secret-rejected"
REPORT_FILES = ("junit.xml", "report.md", "report.html", "results.json")

# Tests that put every seeded secret (and the main Basic encoding) into each place
# a run writes: assertion message, Violation fields, reproduction, captured
# stdout/stderr, a skip and an xfail reason (printed by -ra), a JUnit property.
# Only the redaction keeps them out of the outputs.
PROBE = textwrap.dedent(
    f'''
    import base64
    import sys

    import pytest

    from klikit_harness.checking.failures import Violation


    @pytest.mark.behaviour("{PROBE_BEHAVIOUR}")
    def test_redaction_probe(klikit_target):
        settings = klikit_target.settings
        key, secret = klikit_target.main
        basic = base64.b64encode(f"{{key}}:{{secret}}".encode()).decode()
        others = [s for _, s in settings.secrets()]
        print("stdout carries", secret, basic, *others)
        sys.stderr.write(f"stderr carries {{secret}} {{basic}}\\n")
        with klikit_target.client() as api:
            api.call("getMenu")
        raise Violation(
            f"probe message carries {{secret}} and {{basic}}",
            behaviour="{PROBE_BEHAVIOUR}",
            received=f"Authorization: Basic {{basic}}; old secret {{settings.old_secret.get_secret_value()}}",
            documented=" ".join(others),
            request_id=api.last.request_id,
            reproduction=f"curl -u {{key}}:{{secret}} {{api.last.url}}",
        )


    @pytest.mark.behaviour("{PROBE_BEHAVIOUR}")
    def test_redaction_probe_skip(klikit_target):
        pytest.skip(f"skip reason carries {{klikit_target.main[1]}}")


    @pytest.mark.behaviour("{PROBE_BEHAVIOUR}")
    def test_redaction_probe_xfail(klikit_target):
        pytest.xfail(f"xfail reason carries {{klikit_target.main[1]}}")


    def test_redaction_probe_property(klikit_target, record_testsuite_property):
        record_testsuite_property("probe", klikit_target.main[1])
    '''
)


class Runs:
    """The contract-suite runs read by test_run.py, started together."""

    def __init__(self, directory: Path, sandbox: Sandbox) -> None:
        self.directory = directory
        self.sandbox = sandbox
        probe = directory / "probe" / "test_cli_redaction_probe.py"
        probe.parent.mkdir(parents=True)
        probe.write_text(PROBE)
        common = ["run", "--suite", "contract", "--profile", "smoke"]
        plans: dict[str, list[str | Path]] = {
            "embedded": [*common, "--report", self.report("embedded")],
            "http": [
                *common,
                "--env-file",
                sandbox.env_file,
                "--target",
                sandbox.base_url,
                "--report",
                self.report("http"),
            ],
            "defect": [*common, "--defect", DEFECT, "--report", self.report("defect")],
            # only the probe runs (-k deselects the suite's own tests)
            "probe": [*common, "--report", self.report("probe"), probe, "-k", "test_redaction_probe"],
        }
        self.running = {name: Background(args, directory / name, name) for name, args in plans.items()}
        self._results: dict[str, Result] = {}

    def report(self, name: str) -> Path:
        return self.directory / name / "report"

    def result(self, name: str) -> Result:
        if name not in self._results:
            self._results[name] = self.running[name].result(RUN_TIMEOUT)
        return self._results[name]

    def stop(self) -> None:
        for process in self.running.values():
            process.stop()


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    """The contract-suite runs, started together; each test waits for the one it reads."""
    directory = tmp_path_factory.mktemp("runs")
    with sandbox_server(tmp_path_factory.mktemp("http-sandbox")) as sandbox:
        started = Runs(directory, sandbox)
        try:
            yield started
        finally:
            started.stop()


@pytest.fixture(scope="session", autouse=True)
def _start_runs_early(request: pytest.FixtureRequest) -> None:
    """Start the slow runs with the first test of this folder when any selected test reads them.

    They wait on loopback round trips more than they compute, so the quick
    tests run meanwhile; ``pytest_collection_modifyitems`` puts their readers last.
    """
    if any("runs" in getattr(item, "fixturenames", ()) for item in request.session.items):
        request.getfixturevalue("runs")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    slots = [i for i, item in enumerate(items) if here in item.path.parents]
    mine = [items[i] for i in slots]
    ordered = [it for it in mine if "runs" not in it.fixturenames] + [it for it in mine if "runs" in it.fixturenames]
    for i, item in zip(slots, ordered, strict=True):
        items[i] = item
