"""Fixtures of the fuzz suite: Schemathesis over contracts/openapi.yaml, against ``klikit_target``.

The same tests run in-process through ASGI against the embedded stand-in
(plus over loopback HTTP in the release and nightly profiles) and over HTTP
against a real target. The run's seed is chosen here, before any fuzz module
loads its schema: ``--hypothesis-seed`` when given, else a fresh one; it is
printed at the end of the run so any failure can be replayed.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Generator, Iterator
from typing import Any

import pytest

from klikit_harness.checking import fuzz_hooks, profiles
from klikit_harness.checking.config import ConfigError, load_settings
from klikit_harness.checking.failures import Violation
from klikit_harness.checking.target import Target
from klikit_harness.suites.fuzz import support


def pytest_configure(config: pytest.Config) -> None:
    # a variant of the stand-in is judged as a real target is, and fuzzed on a real target's budget
    support.REMOTE = _remote_target(config) or bool(config.getoption("--klikit-variant", default=None))
    variants = config.getoption("--klikit-variant", default=None) or ()
    support.JUDGE = support.judgement_for(
        reference_target=not support.REMOTE and not variants,
        strict=bool(config.getoption("--klikit-strict", default=False)),
    )
    chosen = config.getoption("--hypothesis-seed", default=None)
    if chosen is not None:
        support.SEED = int(chosen) if str(chosen).isdigit() else zlib.crc32(str(chosen).encode())
    elif hasattr(config, "workerinput"):  # a pytest-xdist worker: the controller's seed, else the run's id
        given = config.workerinput.get("klikit_fuzz_seed")
        support.SEED = int(given) if given is not None else zlib.crc32(str(config.workerinput["testrunuid"]).encode())
    else:
        support.SEED = random.getrandbits(32)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist: every worker fuzzes with the seed the controller prints."""
    node.workerinput["klikit_fuzz_seed"] = support.SEED


def _remote_target(config: pytest.Config) -> bool:
    """Is the session's target a real environment? (As the plugin decides: option, then KLIKIT_BASE_URL.)"""
    chosen = config.getoption("--klikit-target", default=None)
    if chosen:
        return bool(chosen != "sandbox")
    try:
        return load_settings(config.getoption("--klikit-env-file", default=None)).base_url is not None
    except ConfigError:
        return False  # the plugin reports the configuration error when the target is opened


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    terminalreporter.write_line(
        f"klikit fuzz: seed {support.SEED}, profile {profiles.current()}{' (remote budget)' if support.REMOTE else ''} "
        f"(replay with --hypothesis-seed={support.SEED} and the same KLIKIT_PROFILE)"
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed fuzz test names the seed in its own report (workers of pytest-xdist included)."""
    report = yield
    if report.failed and call.when == "call":
        report.sections.append(("klikit fuzz", f"replay with --hypothesis-seed={support.SEED}"))
    return report


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    out: list[BaseException] = []
    for exc in group.exceptions:
        out += _leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc]
    return out


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Iterator[None]:
    """Hypothesis reports several distinct failing examples as one exception group; when each is a
    Violation the test fails with the first, naming its one behaviour (the others are listed in a note),
    so the failure never counts against every id of the test's marker (the most firmly stated first)."""
    try:
        return (yield)
    except BaseExceptionGroup as group:
        leaves = _leaves(group)
        violations = [leaf for leaf in leaves if isinstance(leaf, Violation)]
        if not leaves or len(violations) != len(leaves):
            raise
        first = fuzz_hooks.most_authoritative(violations)
        others = sorted({str(v.behaviour) for v in violations} - {str(first.behaviour)})
        if others:
            first.add_note(f"other behaviours this test also found broken: {', '.join(others)}")
        raise first from group


@pytest.fixture(scope="session")
def fuzz(klikit_target: Target) -> Iterator[support.FuzzRun]:
    """The session's fuzz run (configures klikit_harness.checking.fuzz_hooks for the target)."""
    yield from support.open_run(klikit_target)


@pytest.fixture(autouse=True)
def _writes_allowed(request: pytest.FixtureRequest) -> None:
    """On a read-only run (the production host) generated writes are never sent."""
    label = getattr(request.node, "operation_label", None) or ""
    if label.split(" ")[0] not in {"POST", "PATCH", "PUT"}:
        return
    if request.getfixturevalue("klikit_target").read_only:
        pytest.skip("read-only run: KLIKIT_BASE_URL is the production host, where the harness never writes")
