"""Root pytest configuration: the run profile, shared helpers from tests/support, and the slow lane."""

from __future__ import annotations

import pytest

from klikit_harness.checking import profiles

profiles.register()

pytest_plugins = ["tests.support.standin"]

#: The slow lane (``pytest -m slow``; CI runs it after the README's test command, which leaves it out):
#: tests that start whole child runs of the suites or of ``klikit-harness run|mutants|variants``, tens of
#: seconds each, measured with ``--durations``. A test is slow when it uses one of these fixtures (they
#: start the runs; under pytest-xdist every worker would start its own) ...
SLOW_FIXTURES = (
    ("tests/cli/", "runs"),  # four `klikit-harness run` children: embedded, over HTTP, a defect, a probe
    ("tests/cli/test_twin.py", "twin_runs"),  # the suites against a stand-in per variant set
    ("tests/cli/test_reproduce.py", "servers"),  # two stand-ins, a failing run, reproductions against both
    ("tests/cli/test_record.py", "recorded"),  # a recorded run of the contract suite
)
#: ... or when its node id starts with one of these (it starts the child run itself).
SLOW = (
    "tests/cli/test_mutants_remote.py::test_as_remote_kills_over_http_and_explains_what_it_cannot_reach",
    "tests/cli/test_variants.py::test_the_real_child_run_passes_the_reference_stand_in_both_ways",
    "tests/cli/test_legitimate_choices.py",  # the contract suite over HTTP against another correct server
    "tests/safety/test_over_loopback.py",  # every suite over HTTP against a loopback stand-in
    "tests/hostile/test_run_deadline.py",  # two `klikit-harness run` children against a never-answering target
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        uses = getattr(item, "fixturenames", ())
        if item.nodeid.startswith(SLOW) or any(
            item.nodeid.startswith(where) and name in uses for where, name in SLOW_FIXTURES
        ):
            item.add_marker(pytest.mark.slow)
