"""``results.json``: the one machine-readable record of a run, its one writer and its one reader.

Owns: the file's name, writing it (``write``: the report's behaviour rows,
distinct failures and observations, readings and test records, every text
through the target's redactor) and reading it back as frozen dataclasses
(``read`` → ``Results``), validated, with an error that names the file and
what is wrong in it. ``reproduce``, ``drift``, ``mutants`` and the command
line read a report through ``read`` only. Must not: judge anything: it reads
and writes what a run concluded.

The shape (one key per field of the dataclasses below)::

    {"meta": {"run_id": …, "target": …, "base_url": …, "reading": …, "strict": …, "profile": …,
              "requests": …, "wall_seconds": …, …},
     "verdict": "VIOLATIONS FOUND", "counts": {"passed": 3, …},
     "failures": [DistinctFailure…], "observations": [DistinctFailure…],
     "readings": {behaviour id: Reading}, "behaviours": [BehaviourResult…], "tests": [TestResult…]}

A failure's ``exchanges`` are replayable steps in the capture format of
``reproduce.capture``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "RESULTS_FILE",
    "BehaviourResult",
    "DistinctFailure",
    "Fault",
    "Reading",
    "Results",
    "ResultsError",
    "TestResult",
    "read",
    "write",
]

RESULTS_FILE = "results.json"
#: behaviour results a run could not observe
UNOBSERVED = frozenset({"skipped", "not run"})


class ResultsError(ValueError):
    """A ``results.json`` that cannot be read; the message names the file and what is wrong."""


@dataclass(frozen=True)
class Fault:
    """One thing that went wrong in a test, counted against one behaviour (``report.Fault`` as written)."""

    behaviour: str | None = None
    kind: str = ""
    title: str = ""
    operation: str | None = None
    received: str | None = None
    documented: str | None = None
    request_id: str | None = None
    reproduction: str | None = None
    unattributed: bool = False
    observed: bool = False
    #: the answer the rule demands, machine-readable; None: a semantic check
    expected: dict[str, Any] | None = None
    #: the test's own requests up to the failing one, in the capture format (``reproduce.capture``)
    exchanges: tuple[dict[str, Any], ...] | None = None
    exchanges_omitted: int = 0


@dataclass(frozen=True)
class DistinctFailure:
    """Identical faults of one or more tests, shown once (``report.DistinctFailure`` as written)."""

    id: str
    result: str = "fail"  # fail | observed
    behaviour: str | None = None
    kind: str = ""
    title: str = ""
    operation: str | None = None
    count: int = 1
    tests: tuple[str, ...] = ()
    unattributed: bool = False
    received: str | None = None
    documented: str | None = None
    request_id: str | None = None
    reproduction: str | None = None
    hypothesis: str | None = None
    message: str = ""
    expected: dict[str, Any] | None = None
    exchanges: tuple[dict[str, Any], ...] | None = None
    exchanges_omitted: int = 0


@dataclass(frozen=True)
class TestResult:
    """One test of the run (``report.TestRecord`` as written)."""

    __test__ = False  # not a pytest test class

    nodeid: str
    suite: str = ""
    outcome: str = ""  # passed | failed | skipped | observed | error
    behaviours: tuple[str, ...] = ()
    duration: float = 0.0
    requests: int = 0
    message: str = ""
    request_id: str | None = None
    received: str | None = None
    documented: str | None = None
    reproduction: str | None = None
    hypothesis: str | None = None
    broken: tuple[str, ...] = ()
    unattributed: bool = False
    faults: tuple[Fault, ...] = ()
    rerun: str | None = None


@dataclass(frozen=True)
class BehaviourResult:
    """One behaviour's row (``report.BehaviourRow`` as written)."""

    id: str
    result: str
    statement: str = ""
    status: str = ""
    source: str = ""
    tests: tuple[str, ...] = ()
    failures: tuple[str, ...] = ()
    observations: tuple[str, ...] = ()
    reason: str = ""
    observed_reading: str | None = None
    unattributed: bool = False
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reading:
    """The reading a target follows for one contested, assumed or incidental behaviour."""

    status: str = ""
    result: str = ""
    reading: str | None = None
    evidence: dict[str, Any] | None = None


@dataclass(frozen=True)
class Results:
    """A run's ``results.json``, read back."""

    path: Path
    behaviours: tuple[BehaviourResult, ...]
    meta: dict[str, Any] = field(default_factory=dict)
    verdict: str = "?"
    counts: dict[str, int] = field(default_factory=dict)
    failures: tuple[DistinctFailure, ...] = ()
    observations: tuple[DistinctFailure, ...] = ()
    readings: dict[str, Reading] = field(default_factory=dict)
    tests: tuple[TestResult, ...] = ()

    @functools.cached_property
    def by_id(self) -> dict[str, BehaviourResult]:
        """The behaviour rows by behaviour id."""
        return {row.id: row for row in self.behaviours}

    def failed_behaviours(self) -> list[str]:
        """The behaviour ids reported as "fail"."""
        return sorted(row.id for row in self.behaviours if row.result == "fail")

    def departed_behaviours(self, status: str) -> list[str]:
        """The behaviour ids of ``status`` the run saw departed from and only recorded ("observed")."""
        return sorted(row.id for row in self.behaviours if row.result == "observed" and row.status == status)

    def unobserved_behaviours(self) -> list[str]:
        """The behaviour ids the run could not observe (skipped or not run)."""
        return sorted(row.id for row in self.behaviours if row.result in UNOBSERVED)

    # the run's meta, typed (a missing or mistyped entry reads as None)

    @property
    def run_id(self) -> str | None:
        return _text(self.meta.get("run_id"))

    @property
    def reading(self) -> str:
        """The contract reading the run judged by."""
        return str(self.meta.get("reading") or "reference")

    @property
    def strict(self) -> bool:
        return bool(self.meta.get("strict"))

    @property
    def target(self) -> str | None:
        return _text(self.meta.get("target"))

    @property
    def base_url(self) -> str | None:
        return _text(self.meta.get("base_url"))

    @property
    def requests(self) -> float | None:
        """Requests the target received in the whole run."""
        value = self.meta.get("requests")
        return float(value) if isinstance(value, int | float) else None

    @property
    def wall_seconds(self) -> float | None:
        """The run's wall time (else the sum of its tests' durations)."""
        value = self.meta.get("wall_seconds")
        if isinstance(value, int | float):
            return float(value)
        durations = [t.duration for t in self.tests]
        return float(sum(durations)) if durations else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


# ------------------------------------------------------------------ reading


@functools.cache
def _adapter() -> Any:
    from pydantic import TypeAdapter  # loaded on first read: importing the package stays cheap

    return TypeAdapter(Results)


def read(path: Path) -> Results:
    """The ``results.json`` at ``path`` (the file or the report directory holding it); ResultsError says why not."""
    from pydantic import ValidationError

    path = Path(path)
    file = path / RESULTS_FILE if path.is_dir() else path
    if not file.exists():
        where = f"{path} has no {RESULTS_FILE}" if path.is_dir() else f"{file} does not exist"
        raise ResultsError(
            f"{where}: give a report directory written by klikit-harness run (`klikit-harness run --report DIR`, "
            f"or pytest --klikit-report DIR), or its {RESULTS_FILE}"
        )
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsError(f"cannot read {file}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ResultsError(
            f"{file} is not JSON (line {exc.lineno}: {exc.msg}); is it a {RESULTS_FILE}? (re-run to write it again)"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("behaviours"), list):
        raise ResultsError(f"{file} is not a klikit-harness {RESULTS_FILE}: it has no 'behaviours' list")
    document = {key: value for key, value in data.items() if value is not None}
    try:
        results: Results = _adapter().validate_python({**document, "path": file})
    except ValidationError as exc:
        problems = exc.errors()
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ResultsError(f"{file}: {_where(first['loc'])}: {first['msg']}{more}") from None
    return results


def _where(loc: Iterable[int | str]) -> str:
    """``('behaviours', 0, 'id')`` → ``behaviours[0].id``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else str(part)
    return out


# ------------------------------------------------------------------ writing


def write(
    directory: Path,
    *,
    meta: Mapping[str, Any],
    verdict: str,
    counts: Mapping[str, int],
    failures: Iterable[Any],
    observations: Iterable[Any],
    readings: Mapping[str, Any],
    behaviours: Iterable[Any],
    tests: Iterable[Any],
    redact: Callable[[str], str],
) -> Path:
    """Write ``directory/results.json`` from the report's dataclasses (every text through ``redact``)."""
    document = {
        "meta": dict(meta),
        "verdict": verdict,
        "counts": dict(counts),
        "failures": [asdict(g) for g in failures],
        "observations": [asdict(g) for g in observations],
        "readings": {bid: {k: v for k, v in asdict(r).items() if v is not None} for bid, r in readings.items()},
        "behaviours": [asdict(r) for r in behaviours],
        "tests": [asdict(r) for r in tests],
    }
    path = directory / RESULTS_FILE
    path.write_text(redact(json.dumps(document, indent=2)), encoding="utf-8")
    return path
