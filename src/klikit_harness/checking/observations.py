"""Observations: what a target did where the run does not hold it to a rule.

Owns: ``Observation`` (one answer that differs from the reference semantics on a
behaviour the run only observes: ``assumed`` without ``--strict``, or
``incidental``, on a real target or a variant of the stand-in), the run's
``ObservationLog``, and ``settle``: the one place that decides whether a
``Violation`` fails the check or is written down as an observation. Must not:
decide what a behaviour's status is (``contract`` does) or print a secret (the
texts come already redacted from the ``Violation``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .. import contract
from .failures import Violation

__all__ = ["Observation", "ObservationLog", "settle"]


@dataclass(frozen=True)
class Observation:
    """One answer that departs from the reference semantics of an observed behaviour."""

    behaviour: str
    title: str
    received: str | None = None
    documented: str | None = None
    request_id: str | None = None
    reproduction: str | None = None
    #: the test node id (or check name) that saw it
    source: str = ""

    @classmethod
    def of(cls, violation: Violation, source: str = "") -> Observation:
        assert violation.behaviour is not None
        return cls(
            behaviour=violation.behaviour,
            title=violation.title,
            received=None if violation.received is None else str(violation.received),
            documented=None if violation.documented is None else str(violation.documented),
            request_id=violation.request_id,
            reproduction=violation.reproduction,
            source=source,
        )


class ObservationLog:
    """Every observation of a run, in arrival order (thread-safe; bounded per behaviour)."""

    def __init__(self, per_behaviour: int = 20) -> None:
        self._items: list[Observation] = []
        self._counts: dict[str, int] = {}
        self._per_behaviour = per_behaviour
        self._lock = threading.Lock()

    def add(self, observation: Observation) -> None:
        with self._lock:
            seen = self._counts.get(observation.behaviour, 0)
            self._counts[observation.behaviour] = seen + 1
            if seen < self._per_behaviour:
                self._items.append(observation)

    def count(self, behaviour: str) -> int:
        with self._lock:
            return self._counts.get(behaviour, 0)

    def behaviours(self) -> list[str]:
        with self._lock:
            return list(self._counts)

    def __iter__(self) -> Iterator[Observation]:
        with self._lock:
            return iter(list(self._items))

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


def settle(
    violation: Violation,
    *,
    judgement: Callable[[str], contract.Judgement],
    log: ObservationLog,
    source: str = "",
) -> None:
    """Raise ``violation`` when its behaviour is enforced; otherwise log it as an observation.

    A violation that names no behaviour, or one unknown to the catalogue, is
    always raised: only a rule the catalogue marks as observed can be let go.
    """
    bid = violation.behaviour
    if bid is None or bid not in contract.behaviours() or judgement(bid) == "enforced":
        raise violation
    log.add(Observation.of(violation, source))
