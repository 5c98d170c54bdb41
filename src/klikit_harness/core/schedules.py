"""Weekday schedules (``availableTimes``): validity and overlap — part of the pure oracle.

Owns: the meaning of a schedule beyond its JSON shape (HHMM clock times,
``startTime < endTime``, no overlapping slots within a day) and the collision
rule between two schedules. Must not: hold state, know about stores or HTTP.
The shape itself (keys "0"…"6", ``{disabled, slots}``) is checked against
``contracts/openapi.yaml`` before these functions run.

Two slots overlap iff ``s1 < e2 and s2 < e1``: slots that touch (900–1200 and
1200–1500) do not. Disabled days are never checked.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

Schedule = Mapping[str, Any]

WEEKDAYS = tuple(str(d) for d in range(7))
END_OF_DAY = 2359


@dataclass(frozen=True)
class Problem:
    """One reason a schedule is invalid; ``field`` is a JSON path relative to the schedule."""

    field: str
    reason: str


def is_hhmm(value: int) -> bool:
    """``900`` is 09:00; hours 0–23, minutes 0–59 (``2359`` is the end of the day)."""
    return 0 <= value <= END_OF_DAY and value % 100 < 60


def enabled_slots(schedule: Schedule, day: str) -> list[tuple[int, int]]:
    """The slots of ``day`` that take part in checks (none for a disabled or absent day)."""
    entry = schedule.get(day)
    if not entry or entry.get("disabled"):
        return []
    return [(int(s["startTime"]), int(s["endTime"])) for s in entry.get("slots", [])]


def overlaps(a: tuple[int, int], b: tuple[int, int], *, touching: bool = False) -> bool:
    """True when two ``(start, end)`` slots share time; ``touching=True`` also counts shared ends."""
    if touching:
        return a[0] <= b[1] and b[0] <= a[1]
    return a[0] < b[1] and b[0] < a[1]


def problems(schedule: Schedule) -> Iterator[Problem]:
    """Every semantic problem of a schedule whose JSON shape is already valid."""
    for day in sorted(schedule):
        entry = schedule[day]
        slots = entry.get("slots", [])
        for i, slot in enumerate(slots):
            for name in ("startTime", "endTime"):
                if not is_hhmm(int(slot[name])):
                    yield Problem(
                        f"{day}.slots[{i}].{name}", f"{slot[name]} is not an HHMM time (0000-2359, minutes 00-59)"
                    )
            if slot["startTime"] >= slot["endTime"]:
                yield Problem(f"{day}.slots[{i}]", "startTime must be before endTime")
        if entry.get("disabled"):
            continue
        for i in range(len(slots)):
            for j in range(i + 1, len(slots)):
                a = (slots[i]["startTime"], slots[i]["endTime"])
                b = (slots[j]["startTime"], slots[j]["endTime"])
                if overlaps(a, b):
                    yield Problem(f"{day}.slots[{j}]", f"overlaps slots[{i}] on weekday {day}")


def is_valid(schedule: Schedule) -> bool:
    """True when ``problems(schedule)`` finds nothing."""
    return next(problems(schedule), None) is None


def collision(a: Schedule, b: Schedule, *, touching: bool = False) -> str | None:
    """The first weekday on which two schedules overlap, or None.

    ``touching=True`` also counts slots that only share an end (an off-by-one
    a server could have).
    """
    for day in WEEKDAYS:
        for sa in enabled_slots(a, day):
            for sb in enabled_slots(b, day):
                if overlaps(sa, sb, touching=touching):
                    return day
    return None
