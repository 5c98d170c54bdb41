"""The business rules that need no state and that JSON Schema cannot express.

Owns: schedule validity, blackout dates, int32 section keys, ``scheduledAt``
(reading it and when a publish runs). Must not: read state or a raw request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ...contract.limits import INT32_MAX
from .. import schedules
from .request import _invalid

_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _read_scheduled_at(value: str) -> datetime | str:
    """An RFC 3339 date-time with an offset, else why not."""
    if not _RFC3339.fullmatch(value):
        if _RFC3339.fullmatch(value + "Z"):
            return "scheduledAt needs a UTC offset (e.g. 2026-01-01T10:00:00Z)"
        return f"{value!r} is not an RFC 3339 date-time"
    normal = value.upper().replace("Z", "+00:00")
    fraction = re.search(r"\.([0-9]+)", normal)
    if fraction and len(fraction.group(1)) > 6:  # Python reads microseconds at most
        normal = normal.replace(fraction.group(0), "." + fraction.group(1)[:6])
    try:
        return datetime.fromisoformat(normal)
    except ValueError:
        return f"{value!r} is not a calendar date-time"


def scheduled_at_problem(value: Any) -> str | None:
    """Why a scheduledAt cannot be read (None when it can): RFC 3339 with an offset, or null."""
    if value is None:
        return None
    if not isinstance(value, str):
        return f"{value!r} is not an RFC 3339 date-time"
    read = _read_scheduled_at(value)
    return read if isinstance(read, str) else None


def publish_time(value: str | None, now: float) -> float:
    """The UTC time a publish with this (valid) scheduledAt runs; absent means now (the zero value and
    the past are simply due)."""
    if value is None:
        return now
    when = _read_scheduled_at(value)
    if isinstance(when, str):
        raise ValueError(when)
    offset = when.utcoffset()
    assert offset is not None
    # Not astimezone(UTC): 9999-12-31T23:59:59-23:59 is a valid instant past datetime.max in UTC.
    return when.replace(tzinfo=UTC).timestamp() - offset.total_seconds()


def is_calendar_date(value: Any) -> bool:
    """A ``YYYY-MM-DD`` string naming a real day."""
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        return False
    try:
        datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        return False
    return True


def _schedule_behaviour(problem: schedules.Problem) -> str:
    if "HHMM" in problem.reason:
        return "schedule.hhmm-range"
    return "schedule.start-before-end" if "before" in problem.reason else "schedule.no-overlap-within-day"


def rule_problems(op_id: str, body: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(field, behaviour, reason) for each rule a schema-valid body breaks that JSON Schema cannot express."""
    problems: list[tuple[str, str, str]] = []

    def schedule(times: Any, where: str) -> None:
        if isinstance(times, Mapping) and times:
            problems.extend((f"{where}.{p.field}", _schedule_behaviour(p), p.reason) for p in schedules.problems(times))

    if op_id == "createSection":
        schedule(body.get("availableTimes"), "availableTimes")
        for i, value in enumerate(body.get("blackoutDates") or []):
            if not is_calendar_date(value):
                problems.append(
                    (
                        f"blackoutDates[{i}]",
                        "section.blackout-dates-format",
                        f"{value!r} is not a calendar date (YYYY-MM-DD)",
                    )
                )
    elif op_id in {"populateMenu", "syncMenuToStores"}:
        for key, entry in body["sections"].items():
            if int(key) > INT32_MAX:
                problems.append(
                    (f"sections.{key}", "input.id-keyed-map-keys", "section ids are positive 32-bit integers")
                )
            elif isinstance(entry, Mapping):
                schedule(entry.get("availableTimes"), f"sections.{key}.availableTimes")
    elif op_id == "publishMenu":
        reason = scheduled_at_problem(body.get("scheduledAt"))
        if reason:
            problems.append(("scheduledAt", "publish.scheduled", reason))
    return problems


def business_rules(op_id: str, body: Mapping[str, Any]) -> None:
    problems = rule_problems(op_id, body)
    if problems:
        raise _invalid("rules", [p[0] for p in problems], problems[0][2], [p[1] for p in problems])
