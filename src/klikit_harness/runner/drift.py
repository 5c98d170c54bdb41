"""Drift between two runs: what changed from one ``results.json`` to the next.

Owns: reading two reports (a ``results.json`` or the directory holding one),
listing the behaviours whose result changed — a regression (an enforced
``pass`` or an ``observed`` behaviour now ``fail``), a fix (``fail`` → ``pass``),
a reading that changed, a behaviour no longer judged (newly skipped, not run
or errored), a newly failing or newly judged one — the distinct failures and
observations that appeared or vanished (matched on behaviour + kind +
operation), and the request count and wall time when they moved by more than a
threshold; rendering that as text (console) and Markdown (a CI job summary).
Must not: run anything, or judge the target again: it compares two verdicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..checking.failures import normalise
from .exits import EXIT_OK, EXIT_VIOLATIONS
from .results import DistinctFailure, Results, ResultsError
from .results import read as read_results

DEFAULT_THRESHOLD = 20.0
JUDGED = ("pass", "observed", "fail")
UNJUDGED = ("skipped", "not run", "error")

#: kinds of behaviour change, in the order they are shown
KINDS = {
    "regression": "Regressions (pass or observed → fail)",
    "newly failing": "Newly failing (not judged before)",
    "fix": "Fixes (fail → pass)",
    "reading": "Readings that changed",
    "not judged": "No longer judged (newly skipped, not run or errored)",
    "newly judged": "Newly judged",
    "other": "Other result changes",
    "added": "Behaviours new to the catalogue",
    "removed": "Behaviours gone from the catalogue",
}


#: a report that cannot be compared; the message names the file and what is wrong
DriftInputError = ResultsError
#: a run's report, read back
Report = Results


def load(path: Path) -> Report:
    """A report's ``results.json`` (``path`` is the file or its directory); DriftInputError says what is wrong."""
    return read_results(path)


@dataclass
class Change:
    kind: str
    behaviour: str
    old: str
    new: str
    status: str = ""
    detail: str = ""


@dataclass
class Metric:
    name: str
    old: float
    new: float

    @property
    def percent(self) -> float:
        if self.old == 0:
            return 0.0 if self.new == 0 else float("inf")
        return (self.new - self.old) / self.old * 100

    def describe(self, unit: str = "") -> str:
        pct = "new" if self.percent == float("inf") else f"{self.percent:+.0f}%"
        return f"{self.name}: {self.old:g}{unit} → {self.new:g}{unit} ({pct})"


@dataclass
class Drift:
    old: Report
    new: Report
    threshold: float
    changes: list[Change] = field(default_factory=list)
    new_failures: list[DistinctFailure] = field(default_factory=list)
    vanished_failures: list[DistinctFailure] = field(default_factory=list)
    new_observations: list[DistinctFailure] = field(default_factory=list)
    vanished_observations: list[DistinctFailure] = field(default_factory=list)
    metrics: list[Metric] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[Change]:
        return [c for c in self.changes if c.kind == "regression"]

    @property
    def exit_code(self) -> int:
        return EXIT_VIOLATIONS if self.regressions else EXIT_OK

    def headline(self) -> str:
        n = len(self.regressions)
        if n:
            return f"{n} regression{'s' if n != 1 else ''}"
        if self.changes or self.new_failures or self.vanished_failures or self.metrics:
            return "no regression"
        return "no change"

    # ------------------------------------------------------------ rendering

    def text(self) -> str:
        out = [f"klikit-harness diff: {self.headline()}", *self._runs(), *self.notes]
        for kind, title in KINDS.items():
            listed = [c for c in self.changes if c.kind == kind]
            if listed:
                out += ["", f"{title}:"]
                out += [f"  {c.behaviour}: {c.old} → {c.new}" + (f" — {c.detail}" if c.detail else "") for c in listed]
        for title, groups in self._groups():
            if groups:
                out += ["", f"{title}:"]
                out += [f"  {_group_line(g)}" for g in groups]
        if self.metrics:
            out += ["", f"Moved by more than {self.threshold:g}%:"]
            out += [f"  {m.describe(' s' if m.name == 'wall time' else '')}" for m in self.metrics]
        return "\n".join(out) + "\n"

    def markdown(self) -> str:
        out = [f"## klikit-harness drift — {self.headline()}", "", *(f"- {line}" for line in self._runs())]
        out += [f"- {note}" for note in self.notes]
        for kind, title in KINDS.items():
            listed = [c for c in self.changes if c.kind == kind]
            if listed:
                out += ["", f"### {title}", "", "| Behaviour | Status | Was | Now | Detail |", "|---|---|---|---|---|"]
                out += [
                    f"| `{c.behaviour}` | {c.status} | {_cell(c.old)} | {_cell(c.new)} | {_cell(c.detail)} |"
                    for c in listed
                ]
        for title, groups in self._groups():
            if groups:
                out += ["", f"### {title}", ""]
                out += [f"- {_cell(_group_line(g))}" for g in groups]
        if self.metrics:
            out += ["", f"### Moved by more than {self.threshold:g}%", ""]
            out += [f"- {m.describe(' s' if m.name == 'wall time' else '')}" for m in self.metrics]
        if self.headline() == "no change":
            out += ["", "No behaviour, failure, request count or wall time changed."]
        return "\n".join(out) + "\n"

    def _runs(self) -> list[str]:
        def run(label: str, r: Report) -> str:
            return f"{label}: run `{r.meta.get('run_id')}` ({r.meta.get('profile')}) — {r.verdict}"

        return [run("old", self.old), run("new", self.new)]

    def _groups(self) -> list[tuple[str, list[DistinctFailure]]]:
        return [
            ("New distinct failures", self.new_failures),
            ("Vanished distinct failures", self.vanished_failures),
            ("New distinct observations", self.new_observations),
            ("Vanished distinct observations", self.vanished_observations),
        ]


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _group_line(g: DistinctFailure) -> str:
    where = f" {g.operation}" if g.operation else ""
    rid = f" request_id={g.request_id}" if g.request_id else ""
    behaviour = g.behaviour or "(untagged)"
    return f"{g.id} {behaviour}: {g.title}{where} ×{g.count}{rid}"


def _kind(old: str, new: str) -> str:
    if new == "fail":
        return "regression" if old in ("pass", "observed") else "newly failing"
    if old == "fail":
        return "fix" if new == "pass" else "not judged" if new in UNJUDGED else "other"
    if {old, new} == {"pass", "observed"}:
        return "reading"
    if old in JUDGED and new in UNJUDGED:
        return "not judged"
    if old in UNJUDGED and new in JUDGED:
        return "newly judged"
    return "other"


def _reading(report: Report, bid: str) -> str | None:
    found = report.readings.get(bid)
    return found.reading if found is not None else None


def _key(group: DistinctFailure) -> tuple[str | None, str, str | None]:
    return (group.behaviour, group.kind, group.operation)


def _diff_groups(
    old: Sequence[DistinctFailure], new: Sequence[DistinctFailure]
) -> tuple[list[DistinctFailure], list[DistinctFailure]]:
    old_keys, new_keys = {_key(g) for g in old}, {_key(g) for g in new}
    return [g for g in new if _key(g) not in old_keys], [g for g in old if _key(g) not in new_keys]


def compare(old: Report, new: Report, *, threshold: float = DEFAULT_THRESHOLD) -> Drift:
    drift = Drift(old, new, threshold)
    for bid in [*old.by_id, *(b for b in new.by_id if b not in old.by_id)]:
        before, after = old.by_id.get(bid), new.by_id.get(bid)
        either = after or before
        assert either is not None
        status = either.status
        if before is None or after is None:
            kind = "added" if before is None else "removed"
            result = either.result
            drift.changes.append(Change(kind, bid, "—" if before is None else result, result if after else "—", status))
            continue
        was, now = before.result, after.result
        old_reading, new_reading = _reading(old, bid), _reading(new, bid)
        reading_moved = (
            old_reading is not None
            and new_reading is not None
            and "not observed" not in (old_reading, new_reading)
            and normalise(old_reading) != normalise(new_reading)
        )
        if was != now:
            kind = _kind(was, now)
            detail = ""
            if now in UNJUDGED and after.reason:
                detail = after.reason
            elif old_reading and new_reading and normalise(old_reading) != normalise(new_reading):
                detail = f"reading: {old_reading} → {new_reading}"
            drift.changes.append(Change(kind, bid, was, now, status, detail))
        elif reading_moved:
            drift.changes.append(Change("reading", bid, f"{was}: {old_reading}", f"{now}: {new_reading}", status))
    drift.new_failures, drift.vanished_failures = _diff_groups(old.failures, new.failures)
    drift.new_observations, drift.vanished_observations = _diff_groups(old.observations, new.observations)
    for name, a, b in (("requests", old.requests, new.requests), ("wall time", old.wall_seconds, new.wall_seconds)):
        if a is not None and b is not None:
            metric = Metric(name, a, b)
            if abs(metric.percent) > threshold:
                drift.metrics.append(metric)
    for key in ("target", "profile", "reading"):
        if old.meta.get(key) != new.meta.get(key):
            drift.notes.append(f"the runs differ in {key}: {old.meta.get(key)} → {new.meta.get(key)}")
    return drift
