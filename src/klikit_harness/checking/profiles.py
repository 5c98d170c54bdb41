"""Run profiles: how hard each suite pushes (smoke, release, nightly).

Owns: the Hypothesis settings profiles and per-test example budgets. The
profile in force comes from ``KLIKIT_PROFILE`` (set by ``klikit-harness run
--profile`` and by the pytest option ``--klikit-profile``); smoke by default.
Must not: know about targets; deadlines are off everywhere because a remote
target's latency is not the code under test.
"""

from __future__ import annotations

import os
from typing import Literal, TypeVar

from hypothesis import HealthCheck, settings

Profile = Literal["smoke", "release", "nightly"]
T = TypeVar("T")
PROFILES: tuple[Profile, ...] = ("smoke", "release", "nightly")
ENV_VAR = "KLIKIT_PROFILE"

#: default example counts per profile for tests that do not choose their own
DEFAULT_EXAMPLES: dict[Profile, int] = {"smoke": 20, "release": 100, "nightly": 400}

#: the pause before a real target's check that met transient trouble runs once more (seconds)
RERUN_DELAY_S: dict[Profile, float] = {"smoke": 2.0, "release": 5.0, "nightly": 10.0}

#: rounds of concurrent duplicates fired at a real target before the in-flight 409 is "not observed"
IN_FLIGHT_ROUNDS: dict[Profile, int] = {"smoke": 1, "release": 5, "nightly": 10}

_COMMON = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
    "print_blob": True,
}


def current() -> Profile:
    """The profile in force; a bad ``KLIKIT_PROFILE`` is a usage error."""
    value = os.environ.get(ENV_VAR, "smoke")
    if value not in PROFILES:
        raise ValueError(f"{ENV_VAR}={value!r} is not a profile; use one of {', '.join(PROFILES)}")
    return value


def rerun_delay() -> float:
    """Seconds to wait before rerunning a check that met transient trouble (profile in force)."""
    return RERUN_DELAY_S[current()]


def register() -> None:
    """Register the three profiles with Hypothesis and load the one in force."""
    for name in PROFILES:
        settings.register_profile(
            f"klikit-{name}",
            max_examples=DEFAULT_EXAMPLES[name],
            # the nightly profile keeps a database so failures found once are replayed first
            database=None if name != "nightly" else settings().database,
            **_COMMON,  # type: ignore[arg-type]
        )
    settings.load_profile(f"klikit-{current()}")


def examples(*, smoke: int, release: int, nightly: int) -> settings:
    """A ``@settings`` decorator whose example count follows the profile in force."""
    count = {"smoke": smoke, "release": release, "nightly": nightly}[current()]
    return settings(max_examples=count)


def exhaustive() -> bool:
    """Whether enumerations cover every value the contract names (release, nightly) or a sample (smoke).

    Smoke keeps a whole remote run within its request budget (500): it checks
    each boundary's two sides and the values a server most often gets wrong.
    """
    return current() != "smoke"


def cases(smoke: list[T], more: list[T]) -> list[T]:
    """``smoke``, plus ``more`` on the exhaustive profiles."""
    return [*smoke, *more] if exhaustive() else list(smoke)
