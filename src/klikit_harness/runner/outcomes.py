"""A test's outcome as the report records it: its faults, its record, its scenario.

Owns: turning what a test raised into faults (``faults_of``: each Violation
counts against the behaviour it names; anything else against the test's
first id, flagged unattributed; transport trouble and setup errors are test
errors, not faults), the observations the target logged during the test
(``new_observations``), the test's record with the evidence of its first
fault (``record_of``: request_id, received, documented and the curl scenario
of its own requests, ``scenario``; the suite it belongs to is read from its
node id by ``klikit_harness.suites.name_of``). Must not: define hooks (the plugin does) or write a report.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .. import contract, suites
from ..checking.failures import Transient, Violation, kind_of, leaves, normalise, operation_of, title_of
from . import report as reporting

__all__ = [
    "MAX_SCENARIO_STEPS",
    "OBSERVATIONS_SEEN",
    "SENT",
    "faults_of",
    "new_observations",
    "record_of",
    "scenario",
]

#: requests the target had received when the running test's setup passed
SENT = pytest.StashKey[int]()
#: observations of the target already given to a test
OBSERVATIONS_SEEN = pytest.StashKey[int]()


def faults_of(call: Any, report: Any, ids: list[str], target: Any) -> list[reporting.Fault]:
    """What went wrong, one fault per behaviour and kind; [] when the test errored instead.

    A Violation (or the client's ContractViolation) counts against the
    behaviour it names. Anything else (a plain
    assert, an exception, a Schemathesis built-in check) counts against the
    test's first behaviour id only, flagged unattributed. Outside the call
    phase only Violations are failures; so is a call that died of transport
    errors alone: those are test errors.
    """
    exc = call.excinfo.value if call.excinfo is not None else None
    known = contract.behaviours()
    found = leaves(exc)
    violations = [x for x in found if _named(x) in known]
    others = [x for x in found if _named(x) not in known]
    if not violations and (report.when != "call" or (others and all(_is_transport(x) for x in others))):
        return []
    faults: list[reporting.Fault] = []
    for v in violations:
        bid = _named(v)
        assert bid is not None
        received = getattr(v, "received", None)
        if received is None and not isinstance(v, Violation):  # the client's ContractViolation
            received = getattr(v, "body_excerpt", None) or str(v).splitlines()[0]
        documented = getattr(v, "documented", None)
        faults.append(
            reporting.Fault(
                behaviour=bid,
                kind=kind_of(v),
                title=title_of(v),
                operation=operation_of(getattr(v, "reproduction", None)),
                received=None if received is None else str(received),
                documented=str(documented) if documented else None,
                request_id=getattr(v, "request_id", None),
                reproduction=getattr(v, "reproduction", None),
                observed=target is not None and target.judgement(bid) == "observed",
                expected=getattr(v, "expected", None),
            )
        )
    if others or not found:
        # only when every id of the test is observed can an unnamed failure be let go
        observed = target is not None and bool(ids) and all(target.judgement(b) == "observed" for b in ids)
        candidates: list[BaseException | None] = [*others] or [None]
        for x in candidates:
            title = title_of(x) if x is not None else str(report.longrepr).strip().splitlines()[-1][:200]
            label = getattr(x, "operation", None)
            faults.append(
                reporting.Fault(
                    behaviour=ids[0] if ids else None,
                    kind=kind_of(x) if x is not None else f"failed: {normalise(title)}",
                    title=title,
                    operation=operation_of(label) if isinstance(label, str) else None,
                    unattributed=True,
                    observed=observed,
                )
            )
    unique: dict[tuple[str | None, str, str | None], reporting.Fault] = {}
    for fault in faults:
        unique.setdefault((fault.behaviour, fault.kind, fault.operation), fault)
    return list(unique.values())


def _named(exc: BaseException) -> str | None:
    """The behaviour id a failure names: a Violation's, or the client's ContractViolation's."""
    bid = getattr(exc, "behaviour", None)
    return bid if isinstance(bid, str) and bid else None


def _is_transport(exc: BaseException) -> bool:
    return isinstance(exc, httpx.TransportError | Transient)


def new_observations(config: pytest.Config, target: Any, nodeid: str | None) -> list[reporting.Fault]:
    """The observations the target logged since the last look, as faults of the test that made them."""
    if target is None:
        return []
    logged = list(target.observations)
    seen = config.stash.get(OBSERVATIONS_SEEN, 0)
    config.stash[OBSERVATIONS_SEEN] = len(logged)
    return [
        reporting.Fault.observation(obs)
        for obs in logged[seen:]
        if nodeid is not None and (not obs.source or obs.source == nodeid)
    ]


def record_of(
    item: pytest.Item, report: Any, outcome: str, ids: list[str], faults: list[reporting.Fault], target: Any
) -> reporting.TestRecord:
    rec = reporting.TestRecord(
        nodeid=item.nodeid,
        suite=suites.name_of(item.nodeid),
        outcome=outcome,
        behaviours=ids,
        duration=round(report.duration, 3),
        requests=target.requests_sent if target is not None else 0,
        faults=faults,
        unattributed=any(f.unattributed for f in faults),
    )
    if outcome == "skipped" and isinstance(report.longrepr, tuple):
        rec.message = str(report.longrepr[2]).removeprefix("Skipped: ")
        return rec
    if outcome not in {"failed", "observed", "error"}:
        return rec
    text = str(report.longrepr)
    rec.message = text[-4000:]
    if outcome == "error":
        return rec
    rec.hypothesis = reporting.hypothesis_reproduction(text)
    primary = next((f for f in faults if not f.observed), faults[0])
    rec.request_id, rec.reproduction = primary.request_id, primary.reproduction
    rec.received, rec.documented = primary.received, primary.documented
    sent_before = item.stash.get(SENT, 0)
    if target is not None and target.requests_sent > sent_before and target.exchanges:
        last = target.exchanges[-1]
        rec.request_id = rec.request_id or last.request_id
        rec.reproduction = scenario(target, target.requests_sent - sent_before, rec.reproduction)
        rec.received = rec.received or last.received(target.redactor)
        primary.request_id, primary.reproduction, primary.received = rec.request_id, rec.reproduction, rec.received
        for fault in faults:
            fault.operation = fault.operation or operation_of(f"{last.method} {last.url}")
    return rec


MAX_SCENARIO_STEPS = 12


def scenario(target: Any, sent: int, failing: str | None) -> str:
    """The test's own requests as a curl script (the last few), ending with the failing one."""
    steps = list(target.exchanges)[-min(sent, MAX_SCENARIO_STEPS) :]
    lines = [f"# {sent - len(steps)} earlier request(s) of this test omitted"] if sent > len(steps) else []
    lines += [f"{step.curl()}  # -> {step.status}" for step in steps]
    if failing and (not steps or failing != steps[-1].curl()):
        lines.append(failing)
    return "\n".join(lines)
