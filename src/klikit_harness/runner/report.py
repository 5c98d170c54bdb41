"""Reports: one row per behaviour id, with the evidence for every failure.

Owns: collecting test outcomes with their behaviour ids and faults (each fault
counts against the one behaviour its Violation names, else — flagged
unattributed — the test's first id), folding them into a behaviour-by-behaviour
verdict (fail / observed / error / pass / skipped with reason / not run), the
distinct failures and observations (identical faults of many tests shown once),
the reading the target follows for every contested, assumed and incidental
behaviour, and writing them: ``results.json`` (through ``results.write``),
``report.md`` (fit for a CI job summary) and ``report.html``. Must not: run tests, or write a secret — every text goes
through the target's redactor before it is stored.
"""

from __future__ import annotations

import html
import re
import shlex
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import contract
from ..checking.failures import normalise, operation_of
from . import results

RESULT_ORDER = ("fail", "observed", "error", "pass", "skipped", "not run")
#: statuses whose reading the target chooses (the Target profile section)
PROFILED_STATUSES = ("contested", "assumed", "incidental")
_TEXT_FIELDS = ("title", "received", "documented", "reproduction", "message", "hypothesis")


@dataclass
class Fault:
    """One thing that went wrong in a test, counted against one behaviour."""

    #: the behaviour it counts against (None: the test carries no behaviour id)
    behaviour: str | None
    #: the exception's class name and its title with ids and numbers normalised away
    kind: str
    title: str
    #: ``METHOD /path-template`` of the request it is about, when known
    operation: str | None = None
    received: str | None = None
    documented: str | None = None
    request_id: str | None = None
    reproduction: str | None = None
    #: no Violation named the behaviour: it is the test's first id (fix the check to raise a Violation)
    unattributed: bool = False
    #: the run only observes this behaviour (it does not fail the run)
    observed: bool = False
    #: the answer the rule demands, machine-readable (``failures.Violation.expected``); None: a semantic check
    expected: dict[str, Any] | None = None
    #: the test's own requests up to the failing one, as replayable steps (``reproduce.capture.step_of``)
    exchanges: list[dict[str, Any]] | None = None
    #: earlier requests of the test not kept in ``exchanges``
    exchanges_omitted: int = 0

    @classmethod
    def observation(cls, obs: Any) -> Fault:
        """An ``observations.Observation`` as the fault of the test that logged it."""
        return cls(
            behaviour=obs.behaviour,
            kind=f"Violation: {normalise(obs.title)}",
            title=obs.title,
            operation=operation_of(obs.reproduction),
            received=obs.received,
            documented=obs.documented,
            request_id=obs.request_id,
            reproduction=obs.reproduction,
            observed=True,
        )


@dataclass
class TestRecord:
    nodeid: str
    suite: str
    outcome: str  # passed | failed | skipped | observed | error
    behaviours: list[str]
    duration: float = 0.0
    #: requests the target had received when this test ended (for time/requests to first failure)
    requests: int = 0
    message: str = ""
    request_id: str | None = None
    received: str | None = None
    documented: str | None = None
    reproduction: str | None = None
    hypothesis: str | None = None
    #: the behaviours its faults count against (each fault counts against one behaviour only)
    broken: list[str] = field(default_factory=list)
    #: a fault was counted against the test's first id because no Violation named a behaviour
    unattributed: bool = False
    faults: list[Fault] = field(default_factory=list)
    #: a real target's transient trouble made this test run twice: RERUN_INTERMITTENT or RERUN_CONFIRMED
    rerun: str | None = None


#: TestRecord.rerun: the first attempt met transient trouble and the rerun passed / failed as well
RERUN_INTERMITTENT = "intermittent"
RERUN_CONFIRMED = "confirmed on rerun"


@dataclass
class DistinctFailure:
    """Identical faults (same behaviour, kind and operation) of one or more tests, shown once."""

    id: str
    result: str  # fail | observed
    behaviour: str | None
    kind: str
    title: str
    operation: str | None
    count: int
    tests: list[str]
    unattributed: bool = False
    received: str | None = None
    documented: str | None = None
    request_id: str | None = None
    reproduction: str | None = None
    hypothesis: str | None = None
    message: str = ""
    expected: dict[str, Any] | None = None
    exchanges: list[dict[str, Any]] | None = None
    exchanges_omitted: int = 0


@dataclass
class BehaviourRow:
    id: str
    statement: str
    status: str
    source: str
    result: str
    tests: list[str] = field(default_factory=list)
    #: ids of the distinct failures (F…) and observations (O…) counted against it
    failures: list[str] = field(default_factory=list)
    observations: list[str] = field(default_factory=list)
    reason: str = ""
    observed_reading: str | None = None
    unattributed: bool = False
    #: ids of tests that errored (setup/teardown or transport): no verdict on the behaviour from them
    errors: list[str] = field(default_factory=list)


@dataclass
class Reading:
    """The reading a target follows for one contested, assumed or incidental behaviour."""

    status: str
    result: str
    reading: str
    evidence: dict[str, Any] | None = None


@dataclass
class Summary:
    rows: list[BehaviourRow]
    failures: list[DistinctFailure]
    observations: list[DistinctFailure]
    readings: dict[str, Reading]
    counts: dict[str, int]
    #: why the run stopped before its checks ended (the run deadline, an unreachable target): it never "holds"
    stopped: str | None = None

    @property
    def verdict(self) -> str:
        if self.counts.get("failed"):
            return "VIOLATIONS FOUND" + (" (run stopped early)" if self.stopped else "")
        if self.stopped:
            return "STOPPED EARLY (not checked)"
        if self.counts.get("error"):
            return f"INCOMPLETE ({self.counts['error']} test error{'s' if self.counts['error'] != 1 else ''})"
        if self.observations:
            n = len(self.observations)
            return f"CONTRACT HOLDS ({n} observation{'s' if n != 1 else ''})"
        return "CONTRACT HOLDS"

    def row(self, bid: str) -> BehaviourRow:
        return next(r for r in self.rows if r.id == bid)


_HYPOTHESIS_LINES = re.compile(
    r"^(Falsifying (?:explicit )?example.*|@reproduce_failure\(.*\)|.*--hypothesis-seed=.*)$", re.M
)


def hypothesis_reproduction(text: str) -> str | None:
    """The Hypothesis lines of a failure (falsifying example, reproduce_failure blob, seed)."""
    found = _HYPOTHESIS_LINES.findall(text)
    if not found:
        return None
    start = text.find(found[0])
    block = text[start : start + 1500].split("\n\n")[0]
    extra = [line for line in found[1:] if line not in block]
    return "\n".join([block, *extra]).strip()


class Recorder:
    """Collects records during a run and folds them into behaviour rows, distinct failures and readings."""

    def __init__(self, redact: Callable[[str], str] = lambda s: s) -> None:
        self.records: list[TestRecord] = []
        self.redact = redact

    def add(self, record: TestRecord) -> None:
        for name in ("message", "received", "documented", "reproduction", "hypothesis"):
            value = getattr(record, name)
            if isinstance(value, str):
                setattr(record, name, self.redact(value))
        for fault in record.faults:
            self._scrub(fault)
        self.records.append(record)

    def discard(self, nodeid: str) -> None:
        """Forget a test's records (an attempt superseded by its rerun)."""
        self.records = [r for r in self.records if r.nodeid != nodeid]

    def _scrub(self, fault: Fault) -> Fault:
        for name in _TEXT_FIELDS:
            value = getattr(fault, name, None)
            if isinstance(value, str):
                setattr(fault, name, self.redact(value))
        return fault

    def counts(self) -> dict[str, int]:
        out = {k: 0 for k in ("passed", "failed", "error", "skipped", "observed")}
        for rec in self.records:
            out[rec.outcome] = out.get(rec.outcome, 0) + 1
        return out

    def summary(
        self,
        *,
        observations: Iterable[Any] = (),
        observed_readings: Mapping[str, str] | None = None,
        reading: str = "reference",
    ) -> Summary:
        """Fold the run: ``observations`` are the target's logged observations no test record holds."""
        occurrences: list[tuple[TestRecord | None, str, Fault]] = []
        for rec in self.records:
            occurrences += [(rec, rec.nodeid, f) for f in rec.faults]
        for obs in observations:
            fault = self._scrub(Fault.observation(obs))
            occurrences.append((None, obs.source or "(outside any test)", fault))
        failures, observed = _distinct(occurrences)
        for group in failures + observed:  # texts recorded before the redactor was known are scrubbed here
            for name in (*_TEXT_FIELDS, "kind"):
                value = getattr(group, name)
                if isinstance(value, str):
                    setattr(group, name, self.redact(value))
        rows = self._rows(failures, observed, observed_readings or {})
        return Summary(
            rows=rows,
            failures=failures,
            observations=observed,
            readings=_readings(rows, failures + observed, observed_readings or {}, reading),
            counts=self.counts(),
        )

    def _rows(
        self, failures: list[DistinctFailure], observed: list[DistinctFailure], readings: Mapping[str, str]
    ) -> list[BehaviourRow]:
        tests: dict[str, list[str]] = {}
        by_result: dict[str, dict[str, list[TestRecord]]] = {"passed": {}, "skipped": {}, "error": {}}

        def touch(bid: str, nodeid: str) -> None:
            seen = tests.setdefault(bid, [])
            if nodeid not in seen:
                seen.append(nodeid)

        for rec in self.records:
            if rec.outcome in by_result:
                # a passed test proves its ids; a failed one proves none of them
                for bid in rec.behaviours:
                    by_result[rec.outcome].setdefault(bid, []).append(rec)
                    touch(bid, rec.nodeid)
        for group in failures + observed:
            for nodeid in group.tests:
                if group.behaviour:
                    touch(group.behaviour, nodeid)
        failed_ids: dict[str, list[DistinctFailure]] = {}
        observed_ids: dict[str, list[DistinctFailure]] = {}
        for group in failures:
            failed_ids.setdefault(group.behaviour or "", []).append(group)
        for group in observed:
            observed_ids.setdefault(group.behaviour or "", []).append(group)
        rows = []
        for bid, beh in contract.behaviours().items():
            fails, obs = failed_ids.get(bid, []), observed_ids.get(bid, [])
            passed, skipped, errors = (by_result[k].get(bid, []) for k in ("passed", "skipped", "error"))
            if fails:
                result = "fail"
            elif obs:
                result = "observed"
            elif passed:
                result = "pass"
            elif errors:
                result = "error"
            elif skipped:
                result = "skipped"
            else:
                result = "not run"
            if result == "skipped":
                reason = "; ".join(sorted({r.message for r in skipped if r.message}))[:300]
            elif result == "error":
                reason = "; ".join(sorted({r.message.strip().splitlines()[-1] for r in errors if r.message.strip()}))
                reason = reason[:300]
            else:
                reason = ""
            rows.append(
                BehaviourRow(
                    id=bid,
                    statement=beh.statement,
                    status=beh.status,
                    source=", ".join(beh.source),
                    result=result,
                    tests=tests.get(bid, []),
                    failures=[g.id for g in fails],
                    observations=[g.id for g in obs],
                    reason=reason,
                    observed_reading=readings.get(bid),
                    unattributed=any(g.unattributed for g in fails + obs),
                    errors=[r.nodeid for r in errors],
                )
            )
        return rows


def _distinct(
    occurrences: Iterable[tuple[TestRecord | None, str, Fault]],
) -> tuple[list[DistinctFailure], list[DistinctFailure]]:
    """Group identical faults: same result, behaviour, kind and operation; evidence of the first one kept."""
    groups: dict[tuple[bool, str | None, str, str | None], DistinctFailure] = {}
    for rec, nodeid, fault in occurrences:
        key = (fault.observed, fault.behaviour, fault.kind, fault.operation)
        group = groups.get(key)
        if group is None:
            group = groups[key] = DistinctFailure(
                id="",
                result="observed" if fault.observed else "fail",
                behaviour=fault.behaviour,
                kind=fault.kind,
                title=fault.title,
                operation=fault.operation,
                count=0,
                tests=[],
                unattributed=fault.unattributed,
                received=fault.received,
                documented=fault.documented,
                request_id=fault.request_id,
                reproduction=fault.reproduction,
                hypothesis=rec.hypothesis if rec is not None else None,
                message=rec.message if rec is not None else "",
                expected=fault.expected,
                exchanges=fault.exchanges,
                exchanges_omitted=fault.exchanges_omitted,
            )
        group.count += 1
        if nodeid not in group.tests:
            group.tests.append(nodeid)
    failures = [g for g in groups.values() if g.result == "fail"]
    observed = [g for g in groups.values() if g.result == "observed"]
    for prefix, listed in (("F", failures), ("O", observed)):
        for n, group in enumerate(listed, 1):
            group.id = f"{prefix}{n}"
    return failures, observed


def _short(text: str | None, limit: int = 160) -> str:
    one_line = " ".join((text or "").split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


def _readings(
    rows: list[BehaviourRow],
    groups: list[DistinctFailure],
    observed_readings: Mapping[str, str],
    run_reading: str,
) -> dict[str, Reading]:
    """For every contested, assumed and incidental behaviour: the reading the target follows."""
    by_id = {g.id: g for g in groups}
    out: dict[str, Reading] = {}
    for row in rows:
        if row.status not in PROFILED_STATUSES:
            continue
        if row.status == "contested" and row.observed_reading:
            out[row.id] = Reading(row.status, row.result, row.observed_reading)
        elif row.result in {"fail", "observed"}:
            first = by_id[(row.failures or row.observations)[0]]
            out[row.id] = Reading(
                row.status,
                row.result,
                _short(first.received or first.title),
                {
                    "failure": first.id,
                    "title": first.title,
                    "received": first.received,
                    "documented": first.documented,
                    "request_id": first.request_id,
                    "tests": first.tests,
                },
            )
        elif row.result == "pass":
            # the checks of the run's reading passed: the target follows it
            out[row.id] = Reading(row.status, row.result, run_reading if row.status == "contested" else "reference")
        else:
            out[row.id] = Reading(row.status, row.result, "not observed")
    return out


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _fresh_line(meta: Mapping[str, Any]) -> str:
    """`` · fresh stores consumed 2 of 2 taken`` when the run used KLIKIT_FRESH_STORES."""
    fresh = meta.get("fresh_stores")
    if not isinstance(fresh, Mapping):
        return ""
    return f" · fresh stores consumed {fresh.get('consumed', 0)} of {len(fresh.get('taken') or [])} taken"


def _stopped_line(meta: Mapping[str, Any]) -> str:
    """``Stopped early: <why>`` when the run ended before its checks did (run deadline, unreachable target)."""
    stopped = meta.get("stopped")
    return f"Stopped early: {stopped}" if stopped else ""


def write(directory: Path, recorder: Recorder, meta: dict[str, Any], summary: Summary) -> list[Path]:
    """Write results.json, report.md and report.html into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = [
        results.write(
            directory,
            meta=meta,
            verdict=summary.verdict,
            counts=summary.counts,
            failures=summary.failures,
            observations=summary.observations,
            readings=summary.readings,
            behaviours=summary.rows,
            tests=recorder.records,
            redact=recorder.redact,
        ),
        directory / "report.md",
        directory / "report.html",
    ]
    paths[1].write_text(recorder.redact(markdown(summary, meta)), encoding="utf-8")
    paths[2].write_text(recorder.redact(html_report(summary, meta)), encoding="utf-8")
    return paths


def _result_cell(r: BehaviourRow) -> str:
    text = r.result + (f" ({r.reason})" if r.reason else "")
    if r.unattributed:
        text += " — unattributed"
    if r.failures or r.observations:
        text += " — " + ", ".join(r.failures + r.observations)
    if r.observed_reading:
        text += f" — target follows the {r.observed_reading} reading"
    return text


def _counts_line(summary: Summary) -> str:
    c = summary.counts
    n_f, n_o = len(summary.failures), len(summary.observations)
    return (
        f"Tests: {c.get('passed', 0)} passed, {c.get('failed', 0)} failed, {c.get('error', 0)} errors, "
        f"{c.get('skipped', 0)} skipped, {c.get('observed', 0)} observed · "
        f"{n_f} distinct failure{'s' if n_f != 1 else ''} · {n_o} distinct observation{'s' if n_o != 1 else ''}"
    )


UNATTRIBUTED_NOTE = (
    "no Violation named a behaviour (a plain assert or an exception): counted against the test's first "
    "behaviour id only; make the check raise klikit_harness.checking.failures.Violation(behaviour=...)"
)


def reproduce_line(g: DistinctFailure, report_dir: Any) -> str | None:
    """``klikit-harness reproduce DIR F<n>`` for a failure (None for an observation or without a directory)."""
    if g.result != "fail" or not report_dir:
        return None
    return f"klikit-harness reproduce {shlex.quote(str(report_dir))} {g.id}"


def _md_group(g: DistinctFailure, report_dir: Any = None) -> list[str]:
    where = f" · {g.operation}" if g.operation else ""
    out = [f"### {g.id} · `{g.behaviour or '(untagged test)'}` — {_md_cell(g.title)}", ""]
    command = reproduce_line(g, report_dir)
    if command:
        out.append(f"- reproduce: `{command}`")
    out.append(f"- kind: `{g.kind}`{where}")
    out.append(f"- {g.count} occurrence{'s' if g.count != 1 else ''} in: " + ", ".join(f"`{t}`" for t in g.tests))
    if g.unattributed:
        out.append(f"- **unattributed**: {UNATTRIBUTED_NOTE}")
    if g.request_id:
        out.append(f"- request_id: `{g.request_id}`")
    if g.received:
        out.append(f"- received: {_md_cell(g.received)}")
    if g.documented:
        out.append(f"- documented: {_md_cell(g.documented)}")
    if g.reproduction:
        out += ["", "```bash", g.reproduction, "```"]
    if g.hypothesis:
        out += ["", "Hypothesis reproduction:", "", "```", g.hypothesis, "```"]
    if g.message:
        out += ["", "<details><summary>message</summary>", "", "```", g.message[:3000], "```", "", "</details>"]
    return [*out, ""]


def markdown(summary: Summary, meta: dict[str, Any]) -> str:
    rows = summary.rows
    out = [
        f"# klikit-harness report — {summary.verdict}",
        "",
        f"Target: `{meta.get('target')}` · profile `{meta.get('profile')}` · contract `{meta.get('reading')}`"
        f" · run id `{meta.get('run_id')}` · requests sent {meta.get('requests', 0)}" + _fresh_line(meta),
        "",
        *([_md_cell(_stopped_line(meta)), ""] if meta.get("stopped") else []),
        _counts_line(summary),
        "",
        "| Behaviour | Status | Result | Statement | Source |",
        "|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: (RESULT_ORDER.index(r.result), r.id)):
        out.append(
            f"| `{r.id}` | {r.status} | {_md_cell(_result_cell(r))} | {_md_cell(r.statement)} | {_md_cell(r.source)} |"
        )
    if summary.failures:
        n = len(summary.failures)
        out += ["", "## Failures", "", f"{n} distinct failure{'s' if n != 1 else ''}.", ""]
        for g in summary.failures:
            out += _md_group(g, meta.get("report_dir"))
    if summary.observations:
        n = len(summary.observations)
        out += [
            "",
            "## Observations",
            "",
            f"{n} distinct observation{'s' if n != 1 else ''}: departures from the reference semantics on behaviours"
            " this run observes rather than enforces (they do not fail the run).",
            "",
        ]
        for g in summary.observations:
            out += _md_group(g)
    if summary.readings:
        out += [
            "",
            "## Target profile",
            "",
            "The reading the target follows for each contested, assumed and incidental behaviour: `reference` "
            "when its checks passed, the departure observed, or `not observed` when nothing exercised it.",
            "",
            "| Behaviour | Status | Result | Reading | Evidence |",
            "|---|---|---|---|---|",
        ]
        order = {s: i for i, s in enumerate(PROFILED_STATUSES)}
        for bid, rd in sorted(summary.readings.items(), key=lambda kv: (order[kv[1].status], kv[0])):
            ev = rd.evidence or {}
            evidence = ", ".join(x for x in (ev.get("failure"), ev.get("request_id") and f"`{ev['request_id']}`") if x)
            out.append(f"| `{bid}` | {rd.status} | {rd.result} | {_md_cell(rd.reading)} | {_md_cell(evidence)} |")
    return "\n".join(out) + "\n"


def _html_group(g: DistinctFailure, report_dir: Any = None) -> str:
    e = html.escape
    command = reproduce_line(g, report_dir)
    return (
        f"<details open><summary><b>{e(g.id)}</b> <code>{e(g.behaviour or '(untagged test)')}</code> — "
        f"{e(g.title)} <small>({g.count}×{' · ' + e(g.operation) if g.operation else ''})</small></summary>"
        + (f"<p>reproduce: <code>{e(command)}</code></p>" if command else "")
        + f"<p>kind <code>{e(g.kind)}</code>; tests: {', '.join(f'<code>{e(t)}</code>' for t in g.tests)}</p>"
        + (f"<p><b>unattributed</b>: {e(UNATTRIBUTED_NOTE)}</p>" if g.unattributed else "")
        + (f"<p>request_id <code>{e(g.request_id)}</code></p>" if g.request_id else "")
        + (f"<p>received: {e(g.received)}</p>" if g.received else "")
        + (f"<p>documented: {e(g.documented)}</p>" if g.documented else "")
        + (f"<pre>{e(g.reproduction)}</pre>" if g.reproduction else "")
        + (f"<pre>{e(g.hypothesis)}</pre>" if g.hypothesis else "")
        + (f"<details><summary>message</summary><pre>{e(g.message[:3000])}</pre></details>" if g.message else "")
        + "</details>"
    )


def html_report(summary: Summary, meta: dict[str, Any]) -> str:
    e = html.escape
    colour = {
        "pass": "#1a7f37",
        "fail": "#cf222e",
        "observed": "#9a6700",
        "error": "#bc4c00",
        "skipped": "#57606a",
        "not run": "#8c959f",
    }
    body = [
        f"<h1>klikit-harness — {e(summary.verdict)}</h1>",
        f"<p>Target <code>{e(str(meta.get('target')))}</code>, profile <b>{e(str(meta.get('profile')))}</b>, "
        f"contract <b>{e(str(meta.get('reading')))}</b>, run id <code>{e(str(meta.get('run_id')))}</code>, "
        f"requests sent {e(str(meta.get('requests', 0)))}{e(_fresh_line(meta))}.</p>",
        *([f"<p><b>{e(_stopped_line(meta))}</b></p>"] if meta.get("stopped") else []),
        f"<p>{e(_counts_line(summary))}</p>",
        "<table><tr><th>Behaviour</th><th>Status</th><th>Result</th><th>Statement</th><th>Source</th></tr>",
    ]
    for r in sorted(summary.rows, key=lambda r: (RESULT_ORDER.index(r.result), r.id)):
        extra = _result_cell(r).removeprefix(r.result)
        body.append(
            f"<tr><td><code>{e(r.id)}</code></td><td>{e(r.status)}</td>"
            f"<td style='color:{colour[r.result]}'><b>{e(r.result)}</b>{e(extra)}</td>"
            f"<td>{e(r.statement)}</td><td><small>{e(r.source)}</small></td></tr>"
        )
    body.append("</table>")
    for title, groups in (("Failures", summary.failures), ("Observations", summary.observations)):
        if groups:
            body.append(f"<h2>{title} ({len(groups)} distinct)</h2>")
            body += [_html_group(g, meta.get("report_dir")) for g in groups]
    if summary.readings:
        body.append(
            "<h2>Target profile</h2><table><tr><th>Behaviour</th><th>Status</th><th>Result</th>"
            "<th>Reading</th><th>Evidence</th></tr>"
        )
        for bid, rd in sorted(summary.readings.items()):
            ev = rd.evidence or {}
            evidence = " ".join(str(x) for x in (ev.get("failure"), ev.get("request_id")) if x)
            body.append(
                f"<tr><td><code>{e(bid)}</code></td><td>{e(rd.status)}</td><td>{e(rd.result)}</td>"
                f"<td>{e(rd.reading)}</td><td><small>{e(evidence)}</small></td></tr>"
            )
        body.append("</table>")
    style = (
        "body{font-family:system-ui,sans-serif;margin:2em}"
        "table{border-collapse:collapse;width:100%;table-layout:fixed}"
        "th:nth-child(1){width:17%}th:nth-child(2){width:10%}th:nth-child(3){width:37%}"
        "th:nth-child(4){width:24%}th:nth-child(5){width:12%}"
        "td,th{border:1px solid #d0d7de;padding:4px 8px;vertical-align:top;text-align:left;overflow-wrap:anywhere}"
        "pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f8fa;padding:6px;font-size:85%}"
    )
    head = f"<meta charset='utf-8'><title>klikit-harness report</title><style>{style}</style>"
    return f"<!doctype html><html><head>{head}</head><body>{''.join(body)}</body></html>\n"
