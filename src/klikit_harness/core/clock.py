"""Time for the domain core: injectable, so 24-hour windows are tested without waiting.

Owns: the ``Clock`` protocol, the system clock and a manual clock for tests.
Must not: sleep.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self, start: float = 1_790_000_000.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        self._now += seconds


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)
