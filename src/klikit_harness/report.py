"""Reports: one row per behaviour id, with the evidence for every failure.

Owns: collecting test outcomes with their behaviour ids, folding them into a
behaviour-by-behaviour verdict (pass / fail / skipped with reason / observed /
not run) and writing ``results.json``, ``report.md`` (fit for a CI job summary)
and ``report.html``. Must not: run tests, or write a secret — every text goes
through the target's redactor before it is stored.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import contract

RESULT_ORDER = ("fail", "observed", "pass", "skipped", "not run")


@dataclass
class TestRecord:
    nodeid: str
    suite: str
    outcome: str  # passed | failed | skipped | observed
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
    #: the behaviours a failure breaks: the one its Violation names, else all of the test's ids
    broken: list[str] = field(default_factory=list)


@dataclass
class BehaviourRow:
    id: str
    statement: str
    status: str
    source: str
    result: str
    tests: list[str] = field(default_factory=list)
    failures: list[TestRecord] = field(default_factory=list)
    reason: str = ""
    observed_reading: str | None = None


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
    """Collects records during a run and folds them into behaviour rows."""

    def __init__(self, redact: Callable[[str], str] = lambda s: s) -> None:
        self.records: list[TestRecord] = []
        self.redact = redact

    def add(self, record: TestRecord) -> None:
        for name in ("message", "received", "documented", "reproduction", "hypothesis"):
            value = getattr(record, name)
            if isinstance(value, str):
                setattr(record, name, self.redact(value))
        self.records.append(record)

    def rows(self, observed_readings: dict[str, str] | None = None) -> list[BehaviourRow]:
        rows = []
        by_id: dict[str, list[TestRecord]] = {}
        for rec in self.records:
            if rec.outcome in {"failed", "observed"} and rec.broken:
                # a failure counts against the behaviour it breaks, not every id the test carries
                for bid in rec.broken:
                    by_id.setdefault(bid, []).append(rec)
                continue
            for bid in rec.behaviours:
                by_id.setdefault(bid, []).append(rec)
        for bid, beh in contract.behaviours().items():
            recs = by_id.get(bid, [])
            failures = [r for r in recs if r.outcome == "failed"]
            observed = [r for r in recs if r.outcome == "observed"]
            passed = [r for r in recs if r.outcome == "passed"]
            skipped = [r for r in recs if r.outcome == "skipped"]
            if failures:
                result = "fail"
            elif observed:
                result = "observed"
                failures = observed
            elif passed:
                result = "pass"
            elif skipped:
                result = "skipped"
            else:
                result = "not run"
            reason = "; ".join(sorted({r.message for r in skipped if r.message}))[:300] if result == "skipped" else ""
            rows.append(
                BehaviourRow(
                    id=bid,
                    statement=beh.statement,
                    status=beh.status,
                    source=", ".join(beh.source),
                    result=result,
                    tests=[r.nodeid for r in recs],
                    failures=failures,
                    reason=reason,
                    observed_reading=(observed_readings or {}).get(bid),
                )
            )
        return rows

    def counts(self) -> dict[str, int]:
        out = {k: 0 for k in ("passed", "failed", "skipped", "observed")}
        for rec in self.records:
            out[rec.outcome] = out.get(rec.outcome, 0) + 1
        return out


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def write(
    directory: Path,
    recorder: Recorder,
    meta: dict[str, Any],
    observed_readings: dict[str, str] | None = None,
) -> list[Path]:
    """Write results.json, report.md and report.html into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    rows = recorder.rows(observed_readings)
    results = {
        "meta": meta,
        "counts": recorder.counts(),
        "behaviours": [
            {**{k: v for k, v in asdict(r).items() if k != "failures"}, "failures": [asdict(f) for f in r.failures]}
            for r in rows
        ],
        "tests": [asdict(r) for r in recorder.records],
    }
    paths = [directory / "results.json", directory / "report.md", directory / "report.html"]
    paths[0].write_text(recorder.redact(json.dumps(results, indent=2)), encoding="utf-8")
    paths[1].write_text(recorder.redact(markdown(rows, meta, recorder.counts())), encoding="utf-8")
    paths[2].write_text(recorder.redact(html_report(rows, meta, recorder.counts())), encoding="utf-8")
    return paths


def _verdict(counts: dict[str, int]) -> str:
    return "VIOLATIONS FOUND" if counts.get("failed") else "CONTRACT HOLDS"


def markdown(rows: Iterable[BehaviourRow], meta: dict[str, Any], counts: dict[str, int]) -> str:
    rows = list(rows)
    out = [
        f"# klikit-harness report — {_verdict(counts)}",
        "",
        f"Target: `{meta.get('target')}` · profile `{meta.get('profile')}` · contract `{meta.get('reading')}`"
        f" · run id `{meta.get('run_id')}` · requests sent {meta.get('requests', 0)}",
        "",
        f"Tests: {counts.get('passed', 0)} passed, {counts.get('failed', 0)} failed, "
        f"{counts.get('skipped', 0)} skipped, {counts.get('observed', 0)} observed",
        "",
        "| Behaviour | Status | Result | Statement | Source |",
        "|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: (RESULT_ORDER.index(r.result), r.id)):
        result = r.result + (f" ({r.reason})" if r.reason else "")
        if r.observed_reading:
            result += f" — target follows the {r.observed_reading} reading"
        out.append(f"| `{r.id}` | {r.status} | {_md_cell(result)} | {_md_cell(r.statement)} | {_md_cell(r.source)} |")
    failing = [r for r in rows if r.result in {"fail", "observed"}]
    if failing:
        out += ["", "## Failures", ""]
    for r in failing:
        for f in r.failures:
            out += [f"### `{r.id}` — {f.nodeid}", ""]
            if f.request_id:
                out.append(f"- request_id: `{f.request_id}`")
            if f.received:
                out.append(f"- received: {_md_cell(f.received)}")
            if f.documented:
                out.append(f"- documented: {_md_cell(f.documented)}")
            if f.reproduction:
                out += ["", "```bash", f.reproduction, "```"]
            if f.hypothesis:
                out += ["", "Hypothesis reproduction:", "", "```", f.hypothesis, "```"]
            out += ["", "<details><summary>message</summary>", "", "```", f.message[:3000], "```", "", "</details>", ""]
    return "\n".join(out) + "\n"


def html_report(rows: Iterable[BehaviourRow], meta: dict[str, Any], counts: dict[str, int]) -> str:
    e = html.escape
    colour = {"pass": "#1a7f37", "fail": "#cf222e", "observed": "#9a6700", "skipped": "#57606a", "not run": "#8c959f"}
    body = [
        f"<h1>klikit-harness — {e(_verdict(counts))}</h1>",
        f"<p>Target <code>{e(str(meta.get('target')))}</code>, profile <b>{e(str(meta.get('profile')))}</b>, "
        f"contract <b>{e(str(meta.get('reading')))}</b>, run id <code>{e(str(meta.get('run_id')))}</code>, "
        f"requests sent {e(str(meta.get('requests', 0)))}.</p>",
        f"<p>{counts.get('passed', 0)} passed · {counts.get('failed', 0)} failed · {counts.get('skipped', 0)} skipped"
        f" · {counts.get('observed', 0)} observed</p>",
        "<table><tr><th>Behaviour</th><th>Status</th><th>Result</th><th>Statement</th><th>Source</th></tr>",
    ]
    for r in sorted(rows, key=lambda r: (RESULT_ORDER.index(r.result), r.id)):
        detail = ""
        for f in r.failures:
            detail += (
                f"<details><summary>{e(f.nodeid)}</summary>"
                + (f"<p>request_id <code>{e(f.request_id)}</code></p>" if f.request_id else "")
                + (f"<p>received: {e(f.received)}</p>" if f.received else "")
                + (f"<p>documented: {e(f.documented)}</p>" if f.documented else "")
                + (f"<pre>{e(f.reproduction)}</pre>" if f.reproduction else "")
                + (f"<pre>{e(f.hypothesis)}</pre>" if f.hypothesis else "")
                + f"<pre>{e(f.message[:3000])}</pre></details>"
            )
        reading = f"<br><i>target follows the {e(r.observed_reading)} reading</i>" if r.observed_reading else ""
        reason = f"<br><small>{e(r.reason)}</small>" if r.reason else ""
        body.append(
            f"<tr><td><code>{e(r.id)}</code></td><td>{e(r.status)}</td>"
            f"<td style='color:{colour[r.result]}'><b>{e(r.result)}</b>{reason}{reading}{detail}</td>"
            f"<td>{e(r.statement)}</td><td><small>{e(r.source)}</small></td></tr>"
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
