"""Root pytest configuration: the run profile, shared helpers from tests/support, and the slow lane."""

from __future__ import annotations

import pytest

from klikit_harness.checking import profiles

profiles.register()

pytest_plugins = ["tests.support.standin"]

#: The slow lane (``pytest -m slow``; CI runs it after the README's test command, which leaves it out):
#: tests that start whole child runs of the suites, of ``klikit-harness run|mutants|variants`` or a
#: server per test, each taking tens of seconds. Node id prefixes, measured with ``--durations``.
SLOW = (
    "tests/cli/test_twin.py",  # a stand-in served per variant, and the suites run against each
    "tests/cli/test_run.py",  # four `klikit-harness run` children (embedded, over HTTP, a defect, a probe)
    "tests/cli/test_reproduce.py",  # a failing run, then the reproduction replayed against it
    "tests/cli/test_record.py",  # a recorded run of the contract suite
    "tests/cli/test_legitimate_choices.py",  # the contract suite over HTTP against another correct server
    "tests/cli/test_mutants_remote.py::test_as_remote_kills_over_http_and_explains_what_it_cannot_reach",
    "tests/cli/test_variants.py::test_the_real_child_run_passes_the_reference_stand_in_both_ways",
    "tests/safety/test_over_loopback.py",  # every suite over HTTP against a loopback stand-in
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.startswith(SLOW):
            item.add_marker(pytest.mark.slow)
