"""What a ``klikit-harness run`` costs, per profile: wall time, requests, fresh stores.

Runs the real command line against the embedded stand-in, one run at a time:
``run --suite contract`` and the whole default ``run`` (every suite), on the
smoke and release profiles, then nightly when it finishes within ``--bound``
seconds (otherwise the run is stopped and its figures are extrapolated from
release by the profiles' example ratio, and the row says so). Requests come
from ``results.json`` (``meta.requests``: every request the harness sent to
the target); fresh stores are the never-populated stores the run consumed
(counted by this file acting as a pytest plugin inside the run, ``-p
suite_bench``). Against a remote target the harness sends at most
``KLIKIT_MAX_RPS`` requests per second (default 5), so a run there lasts at
least requests / 5 seconds.

    python benchmarks/suite_bench.py [--quick] [--bound SECONDS] [--profiles smoke,release,nightly] [--out FILE]

``--quick`` measures the smoke profile only.

Prints one Markdown table; every row names the command that reproduces it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FRESH_FILE_VAR = "SUITE_BENCH_FRESH_FILE"
REMOTE_RPS = 5.0
_TAKEN: list[str] = []


# ------------------------------------------------------------------ the in-run plugin (-p suite_bench)


def pytest_configure(config: Any) -> None:
    """Count the fresh stores handed out to the suites (only when the benchmark asked for it)."""
    out = os.environ.get(FRESH_FILE_VAR)
    if not out:
        return
    from klikit_harness.checking import target

    original = target.Target.take_fresh_store

    def counting(self: Any) -> Any:
        store = original(self)
        if store is not None:
            _TAKEN.append(str(store))
        return store

    target.Target.take_fresh_store = counting  # type: ignore[method-assign]


def pytest_unconfigure(config: Any) -> None:
    out = os.environ.get(FRESH_FILE_VAR)
    if out:
        Path(out).write_text(json.dumps(_TAKEN))


# ------------------------------------------------------------------ the benchmark


@dataclass
class Row:
    profile: str
    suites: str
    command: str
    wall: float | None = None
    requests: int | None = None
    fresh: int | None = None
    tests: str = ""
    exit_code: int | None = None
    note: str = ""

    def cells(self) -> list[str]:
        wall = "—" if self.wall is None else f"{self.wall:,.0f}"
        requests = "—" if self.requests is None else f"{self.requests:,}"
        fresh = "—" if self.fresh is None else f"{self.fresh:,}"
        remote = "—" if self.requests is None else minutes(self.requests / REMOTE_RPS)
        return [self.profile, self.suites, wall, self.tests, requests, fresh, remote, f"`{self.command}`" + self.note]


def minutes(seconds: float) -> str:
    return f"≥ {seconds / 60:,.1f} min" if seconds >= 60 else f"≥ {seconds:,.0f} s"


def child_env(fresh_file: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KLIKIT_", "PYTEST_"))}
    env[FRESH_FILE_VAR] = str(fresh_file)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), *filter(None, [env.get("PYTHONPATH")])])
    return env


def measure(profile: str, suite: str | None, workdir: Path, bound: float) -> Row:
    name = f"{profile}-{suite or 'all'}"
    report = workdir / name
    args = ["run", *(["--suite", suite] if suite else []), "--profile", profile, "--report", str(report)]
    shown = "klikit-harness " + " ".join(args[:-1]) + " harness-report"
    row = Row(profile, suite or "all (default run)", shown)
    fresh_file = workdir / f"{name}.fresh.json"
    cli = [sys.executable, "-m", "klikit_harness.runner.cli", *args, "-p", "suite_bench"]
    log = (workdir / f"{name}.log").open("wb")
    started = time.perf_counter()
    proc = subprocess.Popen(cli, cwd=workdir, env=child_env(fresh_file), stdout=log, stderr=subprocess.STDOUT)
    try:
        row.exit_code = proc.wait(timeout=bound)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        row.note = f" — stopped after the {bound:.0f} s bound"
        return row
    finally:
        log.close()
    row.wall = time.perf_counter() - started
    results = report / "results.json"
    if results.is_file():
        data = json.loads(results.read_text())
        row.requests = int(data["meta"]["requests"])
        c = data["counts"]
        row.tests = f"{c.get('passed', 0)}/{c.get('failed', 0)}/{c.get('skipped', 0)}"
    if fresh_file.is_file():
        row.fresh = len(json.loads(fresh_file.read_text()))
    if row.exit_code != 0:
        row.note = f" — exit {row.exit_code} (see {workdir / (name + '.log')})"
    return row


def extrapolate(stopped: Row, release: Row | None) -> Row:
    """Scale the release row by the profiles' default example ratio (nightly/release)."""
    from klikit_harness.checking.profiles import DEFAULT_EXAMPLES

    if release is None or release.wall is None:
        return stopped
    ratio = DEFAULT_EXAMPLES["nightly"] / DEFAULT_EXAMPLES["release"]
    stopped.wall = release.wall * ratio
    stopped.requests = None if release.requests is None else round(release.requests * ratio)
    stopped.fresh = None if release.fresh is None else round(release.fresh * ratio)
    stopped.tests = "extrapolated"
    stopped.note += f"; figures extrapolated: release × {ratio:g} (example ratio), not measured"
    return stopped


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--bound", type=float, default=900.0, help="seconds a single nightly run may take (default 900)"
    )
    parser.add_argument("--profiles", default="smoke,release,nightly")
    parser.add_argument("--suites", default="contract,all", help="contract, all, or both (default)")
    parser.add_argument("--out", type=Path, help="also write the table here")
    parser.add_argument("--quick", action="store_true", help="the smoke profile only")
    opts = parser.parse_args()
    profiles = ["smoke"] if opts.quick else [p for p in opts.profiles.split(",") if p]
    suites: list[str | None] = [None if s == "all" else s for s in opts.suites.split(",") if s]
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="suite-bench-") as tmp:
        workdir = Path(tmp)
        for suite in suites:
            release: Row | None = None
            for profile in profiles:
                bound = opts.bound if profile == "nightly" else max(opts.bound, 3600.0)
                print(f"… {profile} / {suite or 'all'}", file=sys.stderr, flush=True)
                row = measure(profile, suite, workdir, bound)
                if row.wall is None:
                    row = extrapolate(row, release)
                if profile == "release":
                    release = row
                rows.append(row)
                print(f"  {row.cells()[2]} s, {row.cells()[4]} requests{row.note}", file=sys.stderr, flush=True)
    header = [
        "profile",
        "suites",
        "wall on stand-in (s)",
        "tests p/f/s",
        "requests",
        "fresh stores",
        "at 5 req/s remote",
        "command",
    ]
    lines = [
        f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}; "
        "target: the embedded stand-in; one run at a time.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(r.cells()) + " |" for r in rows),
    ]
    table = "\n".join(lines)
    print(table)
    if opts.out:
        opts.out.write_text(table + "\n")
    return 0 if all(r.exit_code in (0, None) for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
