"""``klikit-harness mutants``: prove the suites against seeded defects (``variant_runs`` runs the variants).

Owns: the child pytest runs that prove the harness, and folding their
``results.json`` into verdicts.

- Mutants, embedded: one clean run (it must pass), then one run per defect —
  each a child pytest process against its own embedded stand-in (and
  simulator) with that defect switched on, several at a time.
- Mutants, as remote: the same, but each defect's stand-in is a separate
  ``klikit-harness sandbox`` process on its own loopback port, and the suites
  get only what a staging environment gives: the ``KLIKIT_*`` block, two fresh
  stores, a request cap, the burst credential; no clock hook, no stand-in
  internals, no extra stores. Judged ``--klikit-strict``. A defect that
  survives is explained from the embedded run: which test kills it there and
  what stopped that test remotely.
- Variants (``variant_runs``, which reuses the child runs here): each
  legitimate variant of the stand-in (and all at once) must pass the suites
  non-strict, and fail under ``--klikit-strict`` exactly the ``assumed``
  behaviours it changes.

Must not: decide what a failure is; the suites do.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .. import suites as product_suites
from ..checking.config import PAIR_VARIABLES, SECRET_VARIABLES
from ..core.defects import REGISTRY
from . import results
from .exits import EXIT_OK, EXIT_VIOLATIONS

DEFAULT_SUITES = product_suites.NAMES
#: the chaos suite drives the respx simulator in-process: it never reaches a remote target
REMOTE_SUITES = product_suites.REMOTE
#: what a typical staging environment gives the harness
REMOTE_FRESH_STORES = 2
DEFAULT_REMOTE_MAX_RPS = 20.0
#: a remote smoke run at 20 req/s is about half waiting, half CPU (pytest and its sandbox
#: process), so twice as many runs as this machine's 2 cores keep them busy
DEFAULT_REMOTE_JOBS = 4
#: the variables of DESIGN.md's configuration table a staging environment can hand out
STAGING_VARIABLES = (
    "KLIKIT_BASE_URL",
    "KLIKIT_PARTNER_KEY",
    *SECRET_VARIABLES,
    "KLIKIT_STORES",
    "KLIKIT_FRESH_STORES",
    "KLIKIT_FOREIGN_STORE",
    *PAIR_VARIABLES,
)
RUN_TIMEOUT = 1800.0
T = TypeVar("T")
SANDBOX_START_TIMEOUT = 60.0


@dataclass
class TestResult:
    """One test of a child run, as ``results.json`` records it."""

    nodeid: str
    suite: str
    outcome: str  # passed | failed | skipped | observed
    broken: list[str]
    message: str


@dataclass
class Outcome:
    name: str
    family: str
    description: str
    exit_code: int
    killed: bool
    wall_seconds: float
    #: "embedded" (the stand-in in the test process) or "remote" (a sandbox process over HTTP)
    mode: str = "embedded"
    suites: list[str] = field(default_factory=list)
    behaviours: list[str] = field(default_factory=list)
    tests: list[str] = field(default_factory=list)
    seconds_to_first_failure: float | None = None
    requests_to_first_failure: int | None = None
    #: requests the target received in the whole run (from results.json meta)
    requests: int = 0
    error: str = ""
    #: a survivor of a remote run: why the suites cannot kill it over HTTP
    reason: str = ""
    #: a survivor whose reason is a limit of the real environment (a variable, the simulator, a status)
    out_of_reach: bool = False
    #: every test of the run (kept in memory to explain survivors, not written to the JSON)
    results: dict[str, TestResult] = field(default_factory=dict, repr=False)

    def public(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("results")
        return out


# ------------------------------------------------------------------ child pytest runs


@dataclass
class ChildRun:
    exit_code: int
    wall_seconds: float
    data: results.Results | None
    output: str


def child_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The parent's environment without any ``KLIKIT_*`` variable that would steer the child."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLIKIT_")}
    env.update(extra or {})
    return env


def pytest_args(
    root: Path,
    suites: Sequence[str],
    report: Path,
    profile: str,
    *,
    target: str = "sandbox",
    env_file: Path | None = None,
    strict: bool = False,
    defects: Sequence[str] = (),
    variants: Sequence[str] = (),
    maxfail: int | None = None,
) -> list[str]:
    args = [sys.executable, "-m", "pytest", *(str(p) for p in product_suites.paths(suites))]
    args += [*product_suites.pytest_location(), "-q", "-p", "no:cacheprovider"]
    args += ["--klikit-profile", profile, "--klikit-report", str(report), "--klikit-target", target]
    if env_file is not None:
        args += ["--klikit-env-file", str(env_file)]
    if strict:
        args.append("--klikit-strict")
    for name in defects:
        args += ["--klikit-defect", name]
    for name in variants:
        args += ["--klikit-variant", name]
    if maxfail is not None:
        args.append(f"--maxfail={maxfail}")
    return args


def run_child(root: Path, args: list[str], report: Path, profile: str, timeout: float = RUN_TIMEOUT) -> ChildRun:
    """One child pytest run; its ``results.json`` when it wrote one."""
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            args,
            capture_output=True,
            text=True,
            env=child_environment({"KLIKIT_PROFILE": profile}),
            cwd=root,
            check=False,
            timeout=timeout,
        )
        code, output = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as exc:
        code, output = -1, f"stopped after {timeout:.0f} s: {exc.output or ''}"
    wall = time.perf_counter() - started
    data = results.read(report) if (report / results.RESULTS_FILE).is_file() else None
    return ChildRun(code, wall, data, output)


def _outcome(defect: str | None, mode: str, run: ChildRun) -> Outcome:
    meta = REGISTRY.get(defect or "", None)
    outcome = Outcome(
        name=defect or "(clean)",
        family=meta.family if meta else "",
        description=meta.description if meta else "the correct stand-in",
        exit_code=run.exit_code,
        killed=run.exit_code == EXIT_VIOLATIONS,
        wall_seconds=round(run.wall_seconds, 1),
        mode=mode,
    )
    if run.data is None:
        outcome.error = run.output[-800:]
        return outcome
    outcome.requests = int(run.data.requests or 0)
    elapsed = 0.0
    for test in run.data.tests:
        elapsed += test.duration
        broken = list(test.broken or test.behaviours)
        outcome.results[test.nodeid] = TestResult(test.nodeid, test.suite, test.outcome, broken, test.message)
        if test.outcome != "failed":
            continue
        if outcome.seconds_to_first_failure is None:
            outcome.seconds_to_first_failure = round(elapsed, 2)
            outcome.requests_to_first_failure = test.requests
        outcome.tests.append(test.nodeid)
        if test.suite not in outcome.suites:
            outcome.suites.append(test.suite)
        outcome.behaviours += [b for b in broken if b not in outcome.behaviours]
    if run.exit_code not in (EXIT_OK, EXIT_VIOLATIONS):
        outcome.error = run.output[-800:]
    return outcome


def _embedded(
    root: Path, suites: Sequence[str], profile: str, defect: str | None, maxfail: int, workdir: Path
) -> Outcome:
    report = workdir / f"embedded-{defect or 'clean'}"
    defects = [defect] if defect else []
    args = pytest_args(root, suites, report, profile, defects=defects, maxfail=maxfail if defect else None)
    return _outcome(defect, "embedded", run_child(root, args, report, profile))


# ------------------------------------------------------------------ as remote


class SandboxError(RuntimeError):
    """The sandbox process did not come up."""


def read_env_file(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


@contextlib.contextmanager
def served(
    root: Path, workdir: Path, name: str, defect: str | None = None, variants: Sequence[str] = ()
) -> Iterator[dict[str, str]]:
    """A ``klikit-harness sandbox`` process on a free 127.0.0.1 port; yields its KLIKIT_* block; always stopped."""
    import httpx

    env_file = workdir / f"{name}.sandbox.env"
    log = workdir / f"{name}.sandbox.log"
    args = [sys.executable, "-m", "klikit_harness.runner.cli", "sandbox", "--host", "127.0.0.1", "--port", "0"]
    args += ["--env-file", str(env_file)]
    if defect:
        args += ["--defect", defect]
    for variant in variants:
        args += ["--variant", variant]
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=child_environment(), cwd=root)
    try:
        deadline = time.monotonic() + SANDBOX_START_TIMEOUT
        while True:
            if proc.poll() is not None:
                output = log.read_text(errors="replace")[-500:]
                raise SandboxError(f"the sandbox exited with {proc.returncode}: {output}")
            if time.monotonic() > deadline:
                raise SandboxError(f"the sandbox did not answer within {SANDBOX_START_TIMEOUT:.0f} s")
            base_url = read_env_file(env_file).get("KLIKIT_BASE_URL") if env_file.is_file() else None
            if base_url:
                with contextlib.suppress(httpx.TransportError):
                    httpx.get(f"{base_url}/menus", timeout=5, trust_env=False)  # any HTTP answer will do
                    break
            time.sleep(0.1)
        yield read_env_file(env_file)  # complete: it is written before the server answers
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def staging_env(
    sandbox_env: Mapping[str, str], *, max_rps: float, fresh_stores: int = REMOTE_FRESH_STORES
) -> dict[str, str]:
    """The sandbox's KLIKIT_* block cut down to what a typical staging environment gives."""
    env = {k: v for k, v in sandbox_env.items() if k in STAGING_VARIABLES}
    fresh = [s for s in env.get("KLIKIT_FRESH_STORES", "").split(",") if s.strip()]
    if len(fresh) < fresh_stores:
        raise SandboxError(
            f"the sandbox offers {len(fresh)} fresh store(s), {fresh_stores} are needed: add stores without "
            "sections to the seed file"
        )
    if "KLIKIT_BURST_CREDENTIAL" not in env:
        raise SandboxError("the sandbox's seed has no burst credential: add one (roles: burst) to the seed file")
    env["KLIKIT_FRESH_STORES"] = ",".join(fresh[:fresh_stores])
    env["KLIKIT_MAX_RPS"] = f"{max_rps:g}"
    env["KLIKIT_ALLOW_BURST"] = "1"
    return env


def write_private(path: Path, env: Mapping[str, str]) -> None:
    """A .env file readable by its owner only (it holds secrets)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("".join(f"{k}={v}\n" for k, v in env.items()))


def _remote(
    root: Path, suites: Sequence[str], profile: str, defect: str | None, maxfail: int, workdir: Path, max_rps: float
) -> Outcome:
    name = f"remote-{defect or 'clean'}"
    report = workdir / name
    started = time.perf_counter()
    try:
        with served(root, workdir, name, defect) as sandbox_env:
            env_file = workdir / f"{name}.staging.env"
            write_private(env_file, staging_env(sandbox_env, max_rps=max_rps))
            args = pytest_args(
                root,
                suites,
                report,
                profile,
                target=sandbox_env["KLIKIT_BASE_URL"],
                env_file=env_file,
                strict=True,
                maxfail=maxfail if defect else None,
            )
            run = run_child(root, args, report, profile)
    except SandboxError as exc:
        run = ChildRun(-1, time.perf_counter() - started, None, str(exc))
    return _outcome(defect, "remote", run)


def explain(remote: Outcome, embedded: Outcome | None) -> tuple[str, bool]:
    """Why ``remote`` survived: (reason, whether a limit of the real environment puts it out of reach).

    The tests that kill the defect embedded are looked up in the remote run:
    a chaos test never reaches a remote target; a skipped test names the
    variable it lacked; an observed failure is an incidental behaviour, which
    never fails a remote target. A test that ran over HTTP and passed is not
    explained: the remote suites should have caught the defect.
    """
    if remote.error:
        return f"the remote run did not complete (exit {remote.exit_code})", False
    if embedded is None or not embedded.killed:
        return "not killed embedded either", False
    reasons: list[str] = []
    reachable = False
    for nodeid in embedded.tests:
        there = remote.results.get(nodeid)
        suite = embedded.results[nodeid].suite if nodeid in embedded.results else product_suites.name_of(nodeid)
        if suite == "chaos":
            reasons.append(f"{nodeid} is a chaos test: it drives the simulator, never a remote target")
        elif there is None:
            reasons.append(f"{nodeid} did not run remotely")
            reachable = True
        elif there.outcome == "skipped":
            reasons.append(f"{nodeid} skipped: {there.message}")
        elif there.outcome == "observed":
            reasons.append(f"{nodeid} only observes {', '.join(there.broken)} on a remote target")
        else:
            reasons.append(f"{nodeid} ran over HTTP and {there.outcome}")
            reachable = True
    return "; ".join(reasons), not reachable


def _as_they_finish(futures: Sequence[Future[T]], on_result: Callable[[T], None]) -> list[T]:
    """Each result as soon as its run ends (progress lines come in finishing order)."""
    out = []
    for future in as_completed(futures):
        result = future.result()
        on_result(result)
        out.append(result)
    return out


def run(
    root: Path,
    *,
    defects: Iterable[str] | None = None,
    suites: Sequence[str] = DEFAULT_SUITES,
    profile: str = "smoke",
    jobs: int | None = None,
    maxfail: int = 1,
    on_result: Callable[[Outcome], None] = lambda _o: None,
) -> tuple[Outcome, list[Outcome]]:
    """Embedded: the clean run and one outcome per defect (sorted by name)."""
    names = sorted(defects) if defects else sorted(REGISTRY)
    with tempfile.TemporaryDirectory(prefix="klikit-mutants-") as tmp:
        workdir = Path(tmp)
        workers = max(1, jobs or os.cpu_count() or 1)
        with ThreadPoolExecutor(workers) as pool:
            clean_future = pool.submit(_embedded, root, suites, profile, None, maxfail, workdir)
            futures = [pool.submit(_embedded, root, suites, profile, name, maxfail, workdir) for name in names]
            outcomes = _as_they_finish(futures, on_result)
            clean = clean_future.result()
    return clean, sorted(outcomes, key=lambda o: o.name)


def run_remote(
    root: Path,
    *,
    defects: Iterable[str] | None = None,
    suites: Sequence[str] = REMOTE_SUITES,
    profile: str = "smoke",
    jobs: int | None = None,
    maxfail: int = 1,
    max_rps: float = DEFAULT_REMOTE_MAX_RPS,
    embedded: Mapping[str, Outcome] | None = None,
    embedded_suites: Sequence[str] = DEFAULT_SUITES,
    on_result: Callable[[Outcome], None] = lambda _o: None,
) -> tuple[Outcome, list[Outcome]]:
    """As remote: the clean run and one outcome per defect, each over HTTP against its own sandbox process.

    Survivors are explained from the embedded outcomes given, or from an
    embedded run of that defect made here (all ``embedded_suites``).
    """
    unknown = [s for s in suites if s not in REMOTE_SUITES]
    if unknown:
        raise ValueError(f"suite(s) {', '.join(unknown)} never reach a remote target; use {', '.join(REMOTE_SUITES)}")
    names = sorted(defects) if defects else sorted(REGISTRY)
    known = dict(embedded or {})
    with tempfile.TemporaryDirectory(prefix="klikit-mutants-remote-") as tmp:
        workdir = Path(tmp)
        workers = max(1, jobs or DEFAULT_REMOTE_JOBS)

        def one(defect: str | None) -> Outcome:
            outcome = _remote(root, suites, profile, defect, maxfail, workdir, max_rps)
            if defect is not None and not outcome.killed:
                if defect not in known:
                    known[defect] = _embedded(root, embedded_suites, profile, defect, maxfail, workdir)
                outcome.reason, outcome.out_of_reach = explain(outcome, known[defect])
            return outcome

        with ThreadPoolExecutor(workers) as pool:
            clean_future = pool.submit(one, None)
            futures = [pool.submit(one, name) for name in names]
            outcomes = _as_they_finish(futures, on_result)
            clean = clean_future.result()
    return clean, sorted(outcomes, key=lambda o: o.name)


def holds(clean: Outcome, outcomes: Sequence[Outcome]) -> bool:
    """The clean run passes and every defect is killed — or, remotely, out of reach for a stated reason."""
    return clean.exit_code == EXIT_OK and all(o.killed or (o.mode == "remote" and o.out_of_reach) for o in outcomes)


def _matrix(clean: Outcome, outcomes: list[Outcome]) -> dict[str, Any]:
    return {
        "clean": clean.public(),
        "defects": [o.public() for o in sorted(outcomes, key=lambda o: o.name)],
        "summary": {
            "defects": len(outcomes),
            "killed": sum(o.killed for o in outcomes),
            "survived": sorted(o.name for o in outcomes if not o.killed),
            "out_of_reach": sorted(o.name for o in outcomes if not o.killed and o.out_of_reach),
            "clean_passed": clean.exit_code == EXIT_OK,
            "holds": holds(clean, outcomes),
        },
    }


def matrix_json(
    clean: Outcome,
    outcomes: list[Outcome],
    meta: dict[str, Any],
    remote: tuple[Outcome, list[Outcome]] | None = None,
) -> str:
    """Stable JSON for CI: sorted keys, defects sorted by name, no timestamps.

    One mode's matrix has the same shape embedded or remote (``meta.mode``
    says which), so two files merge by defect name; with ``remote`` given
    (``--both``) the remote matrix sits under the key ``remote``.
    """
    doc = {"meta": meta, **_matrix(clean, outcomes)}
    if remote is not None:
        doc["remote"] = _matrix(*remote)
    return json.dumps(doc, indent=2, sort_keys=True)
