"""The klikit-harness pytest plugin (entry point ``pytest11``).

Owns: the ``behaviour`` marker (every check names the contracts/behaviours.yaml
ids it proves; unknown ids stop collection with a message saying where to add
them), the ``--klikit-*`` options, the hooks, the ``klikit_target`` fixture (the
embedded stand-in started for the session, or the configured environment), the
behaviour report, and the fixtures partner teams get with ``pip install
klikit-harness``. The machinery lives beside it: ``session`` (the target:
opened, watched, closed) and ``outcomes`` (a test's faults and record).
Must not: change anything for a project that uses none of it:
the stand-in starts only when a test asks for ``klikit_target``, and reports
are written only with ``--klikit-report``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .. import contract
from ..checking import profiles
from ..checking.failures import Transient
from ..checking.safety import NotSent
from ..core.variants import VariantSet
from ..standin import twin
from . import deadline
from . import report as reporting
from .exits import EXIT_UNREACHABLE, EXIT_VIOLATIONS
from .outcomes import OBSERVATIONS_SEEN, SENT, faults_of, new_observations, record_of
from .session import (
    CAPTURE,
    CASSETTE,
    CURRENT,
    OPENING,
    TARGET,
    close_cassette,
    open_target,
    settings_of,
)

RECORDER = pytest.StashKey["reporting.Recorder"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("klikit", "klikit-harness")
    group.addoption(
        "--klikit-target",
        default=None,
        metavar="sandbox|URL",
        help="Target: 'sandbox' (the embedded stand-in, default unless KLIKIT_BASE_URL is set) or a base URL.",
    )
    group.addoption(
        "--klikit-profile",
        default=None,
        choices=profiles.PROFILES,
        help="Run profile (default: $KLIKIT_PROFILE or smoke).",
    )
    group.addoption(
        "--klikit-contract", default="reference", choices=contract.READINGS, help="Reading of contested behaviours."
    )
    group.addoption("--klikit-strict", action="store_true", help="Enforce 'assumed' behaviours on real targets too.")
    group.addoption(
        "--klikit-defect", action="append", default=[], metavar="NAME", help="Seeded defect for the embedded stand-in."
    )
    group.addoption(
        "--klikit-variant",
        action="append",
        default=[],
        metavar="NAME",
        help="Variant reading for the embedded stand-in (repeatable; judged as a real target).",
    )
    group.addoption(
        "--klikit-env-file", default=None, metavar="PATH", help="Read KLIKIT_* variables from this .env file."
    )
    group.addoption(
        "--klikit-report", default=None, metavar="DIR", help="Write results.json, report.md and report.html here."
    )
    group.addoption(
        "--klikit-record",
        default=None,
        metavar="DIR",
        help="Record every exchange with the target as a HAR 1.2 cassette, DIR/run-<run id>.har (secrets scrubbed).",
    )
    group.addoption(
        "--klikit-max-time",
        default=None,
        type=float,
        metavar="SECONDS",
        help="Stop the run after this many seconds, report written (exit 3, or 1 when a check already failed).",
    )
    group.addoption(
        "--klikit-started",
        default=None,
        type=float,
        metavar="EPOCH",
        help="When the run began (seconds since the epoch; default: now): --klikit-max-time counts from there.",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "behaviour(*ids): the contracts/behaviours.yaml ids a test proves")
    config.addinivalue_line(
        "markers", "klikit_cassette(path, base_url=None, strict=True): klikit_simulator replays this HAR cassette"
    )
    try:
        VariantSet(config.getoption("--klikit-variant", default=[]))
    except ValueError as exc:
        raise pytest.UsageError(f"--klikit-variant: {exc}") from None
    chosen = config.getoption("--klikit-profile", default=None)
    if chosen:
        os.environ[profiles.ENV_VAR] = chosen
        profiles.register()
    config.stash[RECORDER] = reporting.Recorder()


def behaviour_ids(item: pytest.Item) -> list[str]:
    """The behaviour ids a collected test is tagged with, in order, without repeats."""
    seen: list[str] = []
    for mark in item.iter_markers("behaviour"):
        for bid in mark.args:
            if bid not in seen:
                seen.append(bid)
    return seen


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tagged = [(item, behaviour_ids(item)) for item in items]
    if not any(ids for _, ids in tagged):
        return
    known = contract.behaviours()
    for item, ids in tagged:
        unknown = [bid for bid in ids if bid not in known]
        if unknown:
            raise pytest.UsageError(
                f"{item.nodeid} is tagged with unknown behaviour id(s) {', '.join(unknown)}: "
                "add them to contracts/behaviours.yaml or fix the marker"
            )
    _mark_reruns(config, items)


#: what counts as transient trouble on the way to a real target (a check failing of it runs once more)
TRANSIENT: tuple[type[BaseException], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    Transient,
)


def _mark_reruns(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On a real target, a check that fails of transient trouble runs once more after a pause.

    pytest-rerunfailures' ``flaky`` marker on every test that talks to the
    target: only ``TRANSIENT`` causes trigger the rerun, never a Violation (nor
    any assertion). Not on the embedded stand-in: nothing transient happens there.
    """
    if not config.pluginmanager.hasplugin("rerunfailures"):
        return
    talking = [item for item in items if "klikit_target" in getattr(item, "fixturenames", ())]
    if not talking or settings_of(config).base_url is None:
        return
    marker = pytest.mark.flaky(
        reruns=1, reruns_delay=profiles.rerun_delay(), only_rerun=list(TRANSIENT), rerun_except=[AssertionError]
    )
    for item in talking:
        if item.get_closest_marker("flaky") is None:
            item.add_marker(marker)


# --------------------------------------------------------------------- target


@pytest.fixture(scope="session")
def klikit_target(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The target under test (``klikit_harness.checking.target.Target``) for the whole session."""
    config = request.config
    with open_target(config) as target:
        config.stash[TARGET] = target
        config.stash[RECORDER].redact = target.redactor
        try:
            yield target
        finally:
            close_cassette(config)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A new test: its requests are captured from here (fixtures included) for its failures' reproduction."""
    item.config.stash[CURRENT] = (item.nodeid, tuple(behaviour_ids(item)))
    capture = item.config.stash.get(CAPTURE, None)
    if capture is not None:
        capture.reset()


@pytest.fixture
def klikit_simulator(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A started ``klikit_harness.Simulator`` of the packaged seed (reference reading, manual clock).

    Every httpx request to ``klikit_harness.standin.simulator.DEFAULT_BASE_URL`` during the
    test reaches it; it is stopped (and any held write abandoned) after the test.
    Build a ``KlikitClient(sim.base_url, sim.partner_key, sim.secret_key,
    sleep=sim.sleep)`` against it. The simulator (and respx) is imported only
    when a test asks for this fixture.

    With ``@pytest.mark.klikit_cassette("path.har", base_url=None, strict=True)``
    it replays that cassette instead (``standin.cassettes.replay``; a relative
    path is taken from the test file's directory), served at the recorded base
    URL unless ``base_url`` is given, and the test fails at teardown if any
    request matched nothing in it.
    """
    from ..simulator import Simulator
    from ..standin.cassettes import replay

    marker = request.node.get_closest_marker("klikit_cassette")
    if marker is None:
        with Simulator() as sim:
            yield sim
        return
    if len(marker.args) != 1:
        raise pytest.UsageError(
            f"{request.node.nodeid}: klikit_cassette takes one path, e.g. "
            '@pytest.mark.klikit_cassette("cassettes/publish.har")'
        )
    path = Path(marker.args[0])
    if not path.is_absolute():
        path = request.path.parent / path
    replayed = replay(path, **marker.kwargs)
    with replayed:
        yield replayed
    replayed.assert_all_matched()


# -------------------------------------------------------------------- reports


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    target = item.config.stash.get(TARGET, None)
    if target is not None:
        if report.failed and report.longrepr is not None:
            report.longrepr = target.redactor(str(report.longrepr))
        elif report.skipped and isinstance(report.longrepr, tuple):  # (path, line, reason), printed by -rs
            path, line, reason = report.longrepr
            report.longrepr = (path, line, target.redactor(str(reason)))
        if isinstance(getattr(report, "wasxfail", None), str):
            report.wasxfail = target.redactor(report.wasxfail)
        report.sections = [(title, target.redactor(text)) for title, text in report.sections]
    ids = behaviour_ids(item)
    exc = call.excinfo.value if call.excinfo is not None else None
    if report.failed and isinstance(exc, NotSent):  # refused by the guard: neither a pass nor a failure
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1] or 0, f"Skipped: {exc}")
    if report.when == "setup" and report.passed:
        item.stash[SENT] = target.requests_sent if target is not None else 0
    if report.when == "call" or not report.passed:
        faults = faults_of(call, report, ids, target) if report.failed else []
        if report.failed and not faults:
            # setup/teardown trouble or a transport error: the test could not judge its behaviours
            outcome = "error"
        elif report.failed and all(f.observed for f in faults):
            # assumed (without --strict) and incidental behaviours are observations on real targets
            report.outcome = "skipped"
            report.wasxfail = "observed: " + str(report.longrepr).splitlines()[-1][:200]
            outcome = "observed"
        else:
            outcome = "failed" if report.failed else "skipped" if report.skipped else "passed"
        capture = item.config.stash.get(CAPTURE, None)
        if capture is not None and report.when != "teardown":
            for fault in faults:
                if not fault.unattributed:
                    fault.exchanges, fault.exchanges_omitted = capture.steps(fault.request_id)
        record = record_of(item, report, outcome, ids, faults, target)
        _note_rerun(item, record)
        if report.when != "teardown":
            record.faults += new_observations(item.config, target, item.nodeid)
            record.broken = list(dict.fromkeys(f.behaviour for f in record.faults if f.behaviour))
        item.config.stash[RECORDER].add(record)
    return report


def _note_rerun(item: pytest.Item, record: reporting.TestRecord) -> None:
    """A rerun's record replaces its first attempt's and says how the rerun went."""
    if getattr(item, "execution_count", 1) < 2:
        return
    if not item.stash.get(_RERUN_SEEN, False):
        item.config.stash[RECORDER].discard(item.nodeid)
        item.stash[_RERUN_SEEN] = True
    failed = record.outcome in {"failed", "error"}
    record.rerun = reporting.RERUN_CONFIRMED if failed else reporting.RERUN_INTERMITTENT


_RERUN_SEEN = pytest.StashKey[bool]()
_SUMMARY = pytest.StashKey["reporting.Summary"]()
_STARTED = pytest.StashKey[float]()


def _summary(config: pytest.Config) -> reporting.Summary:
    """The run folded once: behaviour rows, distinct failures and observations, the target's readings."""
    if _SUMMARY not in config.stash:
        target = config.stash.get(TARGET, None)
        recorder = config.stash[RECORDER]
        leftover: list[Any] = []
        if target is not None:
            recorder.redact = target.redactor
            seen = config.stash.get(OBSERVATIONS_SEEN, 0)
            leftover = list(target.observations)[seen:]
        config.stash[_SUMMARY] = recorder.summary(
            observations=leftover,
            observed_readings=target.observed_readings if target is not None else None,
            reading=config.getoption("--klikit-contract"),
        )
    config.stash[_SUMMARY].stopped = config.stash.get(deadline.STOPPED, None)
    return config.stash[_SUMMARY]


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_STARTED] = time.monotonic()
    # from here a stop still ends the session: its report is written
    stash = session.config.stash
    deadline.arm(session.config, lambda: stash.get(TARGET, None) or stash.get(OPENING, None))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    recorder = config.stash.get(RECORDER, None)
    intermittent = [r for r in (recorder.records if recorder else []) if r.rerun == reporting.RERUN_INTERMITTENT]
    if intermittent and config.getoption("--klikit-strict", default=False) and session.exitstatus == 0:
        # an intermittent check passed on its rerun: only --strict counts it against the run
        session.exitstatus = exitstatus = pytest.ExitCode.TESTS_FAILED
    stopped = config.stash.get(deadline.STOPPED, None)
    if stopped is not None and exitstatus not in (EXIT_UNREACHABLE, pytest.ExitCode.TESTS_FAILED):
        # the run deadline: 1 when a check already failed, else 3 (the target did not answer in time)
        failed = recorder is not None and bool(_summary(config).failures)
        session.exitstatus = exitstatus = EXIT_VIOLATIONS if failed else EXIT_UNREACHABLE
    directory = config.getoption("--klikit-report", default=None)
    if not directory:
        return
    target = config.stash.get(TARGET, None) or config.stash.get(OPENING, None)
    recorder = config.stash[RECORDER]
    summary = _summary(config)
    meta = {
        "target": "embedded stand-in" if target is None or target.is_standin else target.base_url,
        "profile": profiles.current(),
        "reading": config.getoption("--klikit-contract"),
        "strict": bool(config.getoption("--klikit-strict")),
        "run_id": target.run_id if target is not None else None,
        "requests": target.requests_sent if target is not None else 0,
        "fresh_stores": _fresh_ledger(config),
        "not_sent": [vars(b) for b in target.not_sent] if target is not None else [],
        "defects": list(config.getoption("--klikit-defect")),
        "variants": list(config.getoption("--klikit-variant")),
        "exitstatus": int(exitstatus),
        "wall_seconds": round(time.monotonic() - config.stash.get(_STARTED, time.monotonic()), 1),
        "report_dir": str(directory),
        "base_url": target.base_url if target is not None else None,
        "stopped": stopped,
    }
    reporting.write(Path(directory), recorder, meta, summary)
    twin.write(Path(directory), summary, meta, recorder.redact)


def _fresh_ledger(config: pytest.Config) -> dict[str, Any] | None:
    """What the run did with KLIKIT_FRESH_STORES (None when no check used one)."""
    from ..checking.freshstores import LEDGER

    ledger = config.stash.get(LEDGER, None)
    return ledger.as_json() if ledger is not None else None


def pytest_unconfigure(config: pytest.Config) -> None:
    # JUnit XML is written by pytest itself; scrub it afterwards so no secret survives there.
    target = config.stash.get(TARGET, None)
    xml = getattr(config.option, "xmlpath", None)
    if target is not None and xml and Path(xml).is_file():
        path = Path(xml)
        path.write_text(target.redactor(path.read_text(encoding="utf-8")), encoding="utf-8")


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    recorder = config.stash.get(RECORDER, None)
    if recorder is None or not any(r.behaviours for r in recorder.records):
        return
    target = config.stash.get(TARGET, None)
    summary = _summary(config)
    groups = {g.id: g for g in summary.failures + summary.observations}
    tally: dict[str, int] = {}
    for row in summary.rows:
        tally[row.result] = tally.get(row.result, 0) + 1
    tr = terminalreporter
    tr.section("klikit-harness: behaviours")
    for row in summary.rows:
        if row.result in {"fail", "observed", "error"}:
            first = groups.get((row.failures or row.observations or [""])[0])
            rid = f" request_id={first.request_id}" if first and first.request_id else ""
            flag = " [unattributed]" if row.unattributed else ""
            tr.write_line(f"{row.result.upper():<8} {row.id} — {row.statement}{rid}{flag}")
    for row in summary.rows:
        if row.observed_reading:
            tr.write_line(f"reading  {row.id}: target follows the {row.observed_reading} reading")
    for title, listed in (("failure", summary.failures), ("observation", summary.observations)):
        if listed:
            tr.write_line(f"{len(listed)} distinct {title}{'s' if len(listed) != 1 else ''}:")
        for g in listed:
            where = f" {g.operation}" if g.operation else ""
            rid = f" request_id={g.request_id}" if g.request_id else ""
            flag = " [unattributed]" if g.unattributed else ""
            tr.write_line(f"  {g.id} {g.behaviour or '(untagged)'}: {g.title}{where} ×{g.count}{rid}{flag}")
        for g in listed:
            command = reporting.reproduce_line(g, config.getoption("--klikit-report", default=None))
            if command:
                tr.write_line(f"  reproduce {g.id}: {command}")
    chosen = [r.reading for r in summary.readings.values()]
    if chosen:
        departures = len([r for r in summary.readings.values() if r.result in {"fail", "observed"}])
        tr.write_line(
            f"target profile: {chosen.count('reference')} reference, {departures} departures, "
            f"{chosen.count('not observed')} not observed (of {len(chosen)} contested/assumed/incidental)"
        )
    reruns = [r for r in recorder.records if r.rerun]
    if reruns:
        tr.write_line(f"rerun after transient trouble: {len(reruns)} test(s)")
        for r in reruns:
            tr.write_line(f"  {r.rerun:<18} {r.nodeid}")
    tr.write_line(f"behaviours: {', '.join(f'{tally.get(k, 0)} {k}' for k in reporting.RESULT_ORDER)}")
    tr.write_line(f"verdict: {summary.verdict}")
    if target is not None:
        where = "embedded stand-in" if target.is_standin else target.base_url
        tr.write_line(f"target: {where}; requests sent: {target.requests_sent}; run id: {target.run_id}")
        if target.not_sent:
            refused = len(target.not_sent)
            tr.write_line(f"not sent (safety): {refused} request(s) refused by the guard, listed in the report")
    directory = config.getoption("--klikit-report", default=None)
    if directory:
        tr.write_line(f"reports: {directory}/report.html, {directory}/report.md, {directory}/results.json")
        tr.write_line(f"staging twin: klikit-harness sandbox --like {directory}/{twin.PROFILE_FILE}")
    cassette = config.stash.get(CASSETTE, None)
    if cassette is not None:
        tr.write_line(f"cassette: {cassette[0]} ({cassette[1]} exchanges, secrets scrubbed)")
