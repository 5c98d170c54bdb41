"""``klikit-harness mutants``: prove the suites by running them against seeded defects.

Owns: one clean run (it must pass), then one run per defect — each a child
pytest process against its own embedded stand-in (and simulator) with that
defect switched on, several at a time — and the kill matrix: defect → killed
or survived, which suites, behaviour ids and tests failed, and the time and
requests it took to the first failure. Must not: decide what a failure is;
the suites do.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .core.defects import REGISTRY

DEFAULT_SUITES = ("contract", "chaos", "fuzz")


@dataclass
class Outcome:
    name: str
    family: str
    description: str
    exit_code: int
    killed: bool
    wall_seconds: float
    suites: list[str] = field(default_factory=list)
    behaviours: list[str] = field(default_factory=list)
    tests: list[str] = field(default_factory=list)
    seconds_to_first_failure: float | None = None
    requests_to_first_failure: int | None = None
    error: str = ""


def _pytest_args(
    root: Path, suites: Sequence[str], report: Path, profile: str, defect: str | None, maxfail: int
) -> list[str]:
    args = [sys.executable, "-m", "pytest", *(str(root / "tests" / s) for s in suites)]
    args += ["--rootdir", str(root), "-c", str(root / "pyproject.toml"), "-q", "-p", "no:cacheprovider"]
    args += ["--klikit-profile", profile, "--klikit-report", str(report), "--klikit-target", "sandbox"]
    if defect:
        args += ["--klikit-defect", defect, f"--maxfail={maxfail}"]
    return args


def _one(root: Path, suites: Sequence[str], profile: str, defect: str | None, maxfail: int, workdir: Path) -> Outcome:
    report = workdir / (defect or "clean")
    started = time.perf_counter()
    env = {**os.environ, "KLIKIT_PROFILE": profile}
    env.pop("KLIKIT_BASE_URL", None)
    proc = subprocess.run(
        _pytest_args(root, suites, report, profile, defect, maxfail),
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        check=False,
    )
    wall = time.perf_counter() - started
    meta = REGISTRY.get(defect or "", None)
    outcome = Outcome(
        name=defect or "(clean)",
        family=meta.family if meta else "",
        description=meta.description if meta else "the correct stand-in",
        exit_code=proc.returncode,
        killed=proc.returncode == 1,
        wall_seconds=round(wall, 1),
    )
    results = report / "results.json"
    if not results.is_file():
        outcome.error = (proc.stdout + proc.stderr)[-800:]
        return outcome
    data = json.loads(results.read_text(encoding="utf-8"))
    elapsed = 0.0
    for test in data["tests"]:
        elapsed += float(test["duration"])
        if test["outcome"] != "failed":
            continue
        if outcome.seconds_to_first_failure is None:
            outcome.seconds_to_first_failure = round(elapsed, 2)
            outcome.requests_to_first_failure = int(test.get("requests", 0))
        outcome.tests.append(test["nodeid"])
        if test["suite"] not in outcome.suites:
            outcome.suites.append(test["suite"])
        outcome.behaviours += [b for b in test["behaviours"] if b not in outcome.behaviours]
    if proc.returncode not in (0, 1):
        outcome.error = (proc.stdout + proc.stderr)[-800:]
    return outcome


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
    """The clean run and one outcome per defect (sorted by name)."""
    names = sorted(defects) if defects else sorted(REGISTRY)
    with tempfile.TemporaryDirectory(prefix="klikit-mutants-") as tmp:
        workdir = Path(tmp)
        workers = max(1, jobs or os.cpu_count() or 1)
        with ThreadPoolExecutor(workers) as pool:
            clean_future = pool.submit(_one, root, suites, profile, None, maxfail, workdir)
            futures = [pool.submit(_one, root, suites, profile, name, maxfail, workdir) for name in names]
            outcomes = []
            for future in futures:
                outcome = future.result()
                on_result(outcome)
                outcomes.append(outcome)
            clean = clean_future.result()
    return clean, outcomes


def matrix_json(clean: Outcome, outcomes: list[Outcome], meta: dict[str, Any]) -> str:
    """Stable JSON for CI: sorted keys, defects sorted by name, no timestamps."""
    doc = {
        "meta": meta,
        "clean": asdict(clean),
        "defects": [asdict(o) for o in sorted(outcomes, key=lambda o: o.name)],
        "summary": {
            "defects": len(outcomes),
            "killed": sum(o.killed for o in outcomes),
            "survived": sorted(o.name for o in outcomes if not o.killed),
            "clean_passed": clean.exit_code == 0,
        },
    }
    return json.dumps(doc, indent=2, sort_keys=True)
