"""The klikit-harness pytest plugin (entry point ``pytest11``).

Owns: the ``behaviour`` marker (every check names the contracts/behaviours.yaml
ids it proves; unknown ids stop collection with a message saying where to add
them), the ``--klikit-*`` options and the ``klikit_target`` fixture (the
embedded stand-in started for the session, or the configured environment), the
behaviour report, and the fixtures partner teams get with ``pip install
klikit-harness``. Must not: change anything for a project that uses none of it:
the stand-in starts only when a test asks for ``klikit_target``, and reports
are written only with ``--klikit-report``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from . import contract, profiles
from . import report as reporting
from .config import ConfigError, Settings, guard_production, load_settings
from .core.defects import DefectSet
from .failures import Violation
from .safety import NotSent
from .simulator import klikit_simulator  # noqa: F401  (the chaos fixture for partner teams)

EXIT_UNREACHABLE = 3
RECORDER = pytest.StashKey["reporting.Recorder"]()
TARGET = pytest.StashKey["Any"]()


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
        "--klikit-env-file", default=None, metavar="PATH", help="Read KLIKIT_* variables from this .env file."
    )
    group.addoption(
        "--klikit-report", default=None, metavar="DIR", help="Write results.json, report.md and report.html here."
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "behaviour(*ids): the contracts/behaviours.yaml ids a test proves")
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


# --------------------------------------------------------------------- target


def _settings(config: pytest.Config) -> Settings:
    target = config.getoption("--klikit-target")
    overrides: dict[str, Any] = {}
    if target and target != "sandbox":
        overrides["base_url"] = target
    try:
        settings = load_settings(config.getoption("--klikit-env-file"), **overrides)
    except ConfigError as exc:
        raise pytest.UsageError(f"klikit-harness configuration: {exc}") from None
    if target == "sandbox":
        settings.base_url = None
    return settings


@contextlib.contextmanager
def open_target(config: pytest.Config) -> Iterator[Any]:
    """The configured target for a session; the embedded stand-in is stopped afterwards."""
    from .sandbox import serve_in_thread
    from .target import Target

    settings = _settings(config)
    reading = config.getoption("--klikit-contract")
    strict = bool(config.getoption("--klikit-strict"))
    profile = profiles.current()
    if settings.base_url is None:
        try:
            defects = DefectSet(config.getoption("--klikit-defect"))
        except ValueError as exc:
            raise pytest.UsageError(str(exc)) from None
        with serve_in_thread(reading=reading, defects=defects) as sandbox:
            standin_settings = load_settings(
                None, **{k.removeprefix("KLIKIT_").lower(): v for k, v in sandbox.env().items()}
            )
            yield Target(
                sandbox.base_url,
                standin_settings,
                reading=reading,
                strict=strict,
                profile=profile,
                service=sandbox.service,
                app=_app_of(sandbox),
            )
        return
    try:
        read_only = guard_production(settings)
    except ConfigError as exc:  # before any request; exit 2 like the CLI
        pytest.exit(f"klikit-harness: error: {exc}", returncode=2)
    target = Target(settings.base_url, settings, reading=reading, strict=strict, profile=profile, read_only=read_only)
    try:
        with target.client() as client:
            client.call("getMenu")
    except httpx.TransportError as exc:
        pytest.exit(
            f"target {settings.base_url} is unreachable: {type(exc).__name__}: {target.redactor(str(exc))}",
            returncode=EXIT_UNREACHABLE,
        )
    yield target


def _app_of(sandbox: Any) -> Any:
    from .sandbox import SandboxApp

    return SandboxApp(sandbox.service)


@pytest.fixture(scope="session")
def klikit_target(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The target under test (``klikit_harness.target.Target``) for the whole session."""
    with open_target(request.config) as target:
        request.config.stash[TARGET] = target
        yield target


# -------------------------------------------------------------------- reports


def _suite_of(nodeid: str) -> str:
    parts = nodeid.split("/")
    return parts[1] if len(parts) > 2 and parts[0] == "tests" else parts[0]


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
        item.stash[_SENT] = target.requests_sent if target is not None else 0
    if report.when == "call" or (report.when == "setup" and not report.passed):
        if report.failed and target is not None and _only_observed(call, ids, target):
            # assumed (without --strict) and incidental behaviours are observations on real targets
            report.outcome = "skipped"
            report.wasxfail = "observed: " + str(report.longrepr).splitlines()[-1][:200]
            outcome = "observed"
        else:
            outcome = "failed" if report.failed else "skipped" if report.skipped else "passed"
        item.config.stash[RECORDER].add(_record(item, report, call, outcome, ids, target))
    return report


_SENT = pytest.StashKey[int]()


def _only_observed(call: Any, ids: list[str], target: Any) -> bool:
    """Did the failure break only behaviours this run observes rather than enforces?"""
    exc = call.excinfo.value if call.excinfo is not None else None
    if isinstance(exc, Violation) and exc.behaviour is not None and exc.behaviour in contract.behaviours():
        return bool(target.judgement(exc.behaviour) == "observed")
    return bool(ids) and all(target.judgement(b) == "observed" for b in ids)


def _record(
    item: pytest.Item, report: Any, call: Any, outcome: str, ids: list[str], target: Any
) -> reporting.TestRecord:
    rec = reporting.TestRecord(
        nodeid=item.nodeid,
        suite=_suite_of(item.nodeid),
        outcome=outcome,
        behaviours=ids,
        duration=round(report.duration, 3),
        requests=target.requests_sent if target is not None else 0,
    )
    if outcome == "skipped" and isinstance(report.longrepr, tuple):
        rec.message = str(report.longrepr[2]).removeprefix("Skipped: ")
        return rec
    if outcome in {"failed", "observed"}:
        text = str(report.longrepr)
        rec.message = text[-4000:]
        rec.hypothesis = reporting.hypothesis_reproduction(text)
        exc = call.excinfo.value if call.excinfo is not None else None
        rec.broken = list(ids)
        if isinstance(exc, Violation):
            if exc.behaviour is not None and exc.behaviour in contract.behaviours():
                rec.broken = [exc.behaviour]
            rec.request_id, rec.reproduction = exc.request_id, exc.reproduction
            rec.received = None if exc.received is None else str(exc.received)
            rec.documented = None if exc.documented is None else str(exc.documented)
        sent_before = item.stash.get(_SENT, 0)
        if target is not None and target.requests_sent > sent_before and target.exchanges:
            last = target.exchanges[-1]
            rec.request_id = rec.request_id or last.request_id
            rec.reproduction = _scenario(target, target.requests_sent - sent_before, rec.reproduction)
            rec.received = rec.received or f"HTTP {last.status}: {last.response_text[:300]}"
    return rec


MAX_SCENARIO_STEPS = 12


def _scenario(target: Any, sent: int, failing: str | None) -> str:
    """The test's own requests as a curl script (the last few), ending with the failing one."""
    steps = list(target.exchanges)[-min(sent, MAX_SCENARIO_STEPS) :]
    lines = [f"# {sent - len(steps)} earlier request(s) of this test omitted"] if sent > len(steps) else []
    lines += [f"{step.curl()}  # -> {step.status}" for step in steps]
    if failing and (not steps or failing != steps[-1].curl()):
        lines.append(failing)
    return "\n".join(lines)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    directory = config.getoption("--klikit-report", default=None)
    if not directory:
        return
    target = config.stash.get(TARGET, None)
    recorder = config.stash[RECORDER]
    if target is not None:
        recorder.redact = target.redactor
    meta = {
        "target": "embedded stand-in" if target is None or target.is_standin else target.base_url,
        "profile": profiles.current(),
        "reading": config.getoption("--klikit-contract"),
        "strict": bool(config.getoption("--klikit-strict")),
        "run_id": target.run_id if target is not None else None,
        "requests": target.requests_sent if target is not None else 0,
        "not_sent": [vars(b) for b in target.not_sent] if target is not None else [],
        "defects": list(config.getoption("--klikit-defect")),
        "exitstatus": int(exitstatus),
    }
    reporting.write(Path(directory), recorder, meta, target.observed_readings if target is not None else None)


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
    rows = recorder.rows(target.observed_readings if target is not None else None)
    tally: dict[str, int] = {}
    for row in rows:
        tally[row.result] = tally.get(row.result, 0) + 1
    tr = terminalreporter
    tr.section("klikit-harness: behaviours")
    for row in rows:
        if row.result in {"fail", "observed"}:
            first = row.failures[0] if row.failures else None
            rid = f" request_id={first.request_id}" if first and first.request_id else ""
            tr.write_line(f"{row.result.upper():<8} {row.id} — {row.statement}{rid}")
    for row in rows:
        if row.observed_reading:
            tr.write_line(f"reading  {row.id}: target follows the {row.observed_reading} reading")
    summary = ", ".join(f"{tally.get(k, 0)} {k}" for k in reporting.RESULT_ORDER)
    tr.write_line(f"behaviours: {summary}")
    if target is not None:
        where = "embedded stand-in" if target.is_standin else target.base_url
        tr.write_line(f"target: {where}; requests sent: {target.requests_sent}; run id: {target.run_id}")
        if target.not_sent:
            refused = len(target.not_sent)
            tr.write_line(f"not sent (safety): {refused} request(s) refused by the guard, listed in the report")
    directory = config.getoption("--klikit-report", default=None)
    if directory:
        tr.write_line(f"reports: {directory}/report.html, {directory}/report.md, {directory}/results.json")
