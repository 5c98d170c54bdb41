"""The documented import path of the respx simulator (``from klikit_harness.simulator import fault``).

The code lives in ``klikit_harness.standin.simulator`` (the simulator), ``standin.faults`` (the
fault registry) and ``standin.cassettes`` (replay of a recording). This face joins them:
``Simulator.from_cassette`` is ``standin.cassettes.replay``.
"""

from __future__ import annotations

from .contract import Reading
from .core.clock import Clock, ManualClock
from .core.defects import DefectSet
from .core.seed import Seed
from .core.variants import VariantSet
from .standin import simulator as _simulator
from .standin.cassettes import CassetteSimulator, replay
from .standin.faults import FaultContext, FaultHandler, FaultKind, Step, fault, faults
from .standin.simulator import ANY_OPERATION, DEFAULT_BASE_URL, HOLD_TIMEOUT_S, Call, HoldMode

__all__ = [
    "ANY_OPERATION",
    "DEFAULT_BASE_URL",
    "HOLD_TIMEOUT_S",
    "Call",
    "CassetteSimulator",
    "Clock",
    "DefectSet",
    "FaultContext",
    "FaultHandler",
    "FaultKind",
    "HoldMode",
    "ManualClock",
    "Reading",
    "Seed",
    "Simulator",
    "Step",
    "VariantSet",
    "fault",
    "faults",
    "replay",
]


class Simulator(_simulator.Simulator):
    """The domain core served through respx, with a chaos API (see ``standin.simulator.Simulator``)."""

    #: a simulator replaying a HAR cassette (``klikit_harness.standin.cassettes.replay``)
    from_cassette = staticmethod(replay)
