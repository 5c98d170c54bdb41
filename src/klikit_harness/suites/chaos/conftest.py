"""Fixtures of the chaos suite: a fresh simulator and a client over it, per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from klikit_harness.core.defects import DefectSet
from klikit_harness.partner.client import KlikitClient
from klikit_harness.standin.simulator import Simulator
from klikit_harness.suites.chaos.world import make_client


@pytest.fixture
def sim(request: pytest.FixtureRequest) -> Iterator[Simulator]:
    """A simulator reached through ``sim.transport()`` (nothing is patched).

    ``--klikit-defect`` switches the same seeded defects on in its core as in the
    stand-in, so ``klikit-harness mutants`` measures what the chaos suite catches too.
    """
    simulator = Simulator(defects=DefectSet(request.config.getoption("--klikit-defect", default=[]) or []))
    yield simulator
    simulator.stop()


@pytest.fixture
def client(sim: Simulator) -> Iterator[KlikitClient]:
    """The main credential's client over ``sim``, sleeping on the simulator's clock."""
    with make_client(sim) as klikit:
        yield klikit
