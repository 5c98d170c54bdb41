"""Hypothesis strategies for section, schedule and menu-publish payloads.

Owns: generators of valid and deliberately invalid ``availableTimes``,
schedule pairs built to overlap or built not to (constructively, never by
filtering), sections, store lists and populate / sync / publish bodies.
Must not: send requests. Valid strategies produce only what the oracle
(``contracts/openapi.yaml`` + ``core.schedules``) accepts; invalid ones only
what it rejects — both are property-tested in tests/checking/test_strategies.py.

Shrinking: times shrink towards 00:00 and short slots, schedules towards
fewer weekdays and fewer slots, lists towards their minimum length.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

from ..core.menus import OVERRIDABLE_FIELDS
from ..core.schedules import WEEKDAYS

MINUTES_PER_DAY = 24 * 60
Schedule = dict[str, Any]


def to_hhmm(minute: int) -> int:
    """Minute of the day (0–1439) → HHMM integer (``9:30`` → ``930``)."""
    if not 0 <= minute < MINUTES_PER_DAY:
        raise ValueError(f"minute of the day must be in 0..1439, got {minute}")
    return (minute // 60) * 100 + minute % 60


def hhmm() -> st.SearchStrategy[int]:
    """Valid HHMM clock times, 0 (00:00) to 2359 (end of the day)."""
    return st.integers(0, MINUTES_PER_DAY - 1).map(to_hhmm)


def _slots_from_boundaries(bounds: Sequence[int], touching: bool) -> list[dict[str, int]]:
    """Sorted distinct minute boundaries → non-overlapping slots."""
    slots = []
    step = 1 if touching else 2
    for i in range(0, len(bounds) - 1, step):
        slots.append({"startTime": to_hhmm(bounds[i]), "endTime": to_hhmm(bounds[i + 1])})
    return slots


@st.composite
def day_schedules(draw: st.DrawFn, *, max_slots: int = 3, disabled: bool | None = None) -> dict[str, Any]:
    """One weekday ``{disabled, slots}`` whose slots never overlap (they may touch).

    Built from sorted distinct boundaries, so every example is valid by construction.
    """
    n = draw(st.integers(0, max_slots))
    touching = draw(st.booleans())
    count = n + 1 if touching and n else 2 * n
    bounds = sorted(draw(st.sets(st.integers(0, MINUTES_PER_DAY - 1), min_size=count, max_size=count)))
    slots = _slots_from_boundaries(bounds, touching)[:n]
    is_disabled = draw(st.booleans()) if disabled is None else disabled
    return {"disabled": is_disabled, "slots": slots}


@st.composite
def _schedules(draw: st.DrawFn, min_days: int, max_days: int, max_slots: int) -> Schedule:
    days = draw(st.lists(st.sampled_from(WEEKDAYS), min_size=min_days, max_size=max_days, unique=True))
    return {day: draw(day_schedules(max_slots=max_slots)) for day in sorted(days)}


def schedules(*, min_days: int = 0, max_days: int = 7, max_slots: int = 3) -> st.SearchStrategy[Schedule]:
    """Valid ``availableTimes``: ``{}`` (when ``min_days`` is 0) or weekdays "0"…"6" with valid slots."""
    if not 0 <= min_days <= max_days <= 7:
        raise ValueError(f"need 0 <= min_days <= max_days <= 7, got min_days={min_days}, max_days={max_days}")
    if max_slots < 0:
        raise ValueError("max_slots must be >= 0")
    return _schedules(min_days, max_days, max_slots)


def nonempty_schedules(**kw: Any) -> st.SearchStrategy[Schedule]:
    """Valid schedules with at least one weekday (they trigger the overlap check)."""
    return schedules(min_days=max(1, kw.pop("min_days", 1)), **kw)


def empty_schedule() -> st.SearchStrategy[Schedule]:
    """``{}``: fall back to the section's business-level schedule."""
    return st.just({})


INVALID_KINDS = ("bad-weekday", "bad-hour", "bad-minute", "start-not-before-end", "overlap-within-day")


@st.composite
def invalid_schedules(draw: st.DrawFn, kind: str | None = None) -> tuple[str, Schedule]:
    """``(kind, schedule)`` where the schedule breaks exactly one rule named by ``kind``.

    Kinds: bad-weekday (key outside "0"…"6"), bad-hour (HH ≥ 24), bad-minute
    (MM ≥ 60), start-not-before-end, overlap-within-day (enabled day).
    """
    kind = kind or draw(st.sampled_from(INVALID_KINDS))
    if kind not in INVALID_KINDS:
        raise ValueError(f"unknown invalid kind {kind!r}; use one of {INVALID_KINDS}")
    base = draw(schedules(max_days=3))
    day = draw(st.sampled_from(WEEKDAYS))
    if kind == "bad-weekday":
        key = draw(st.sampled_from(["7", "8", "-1", "01", "mon", "Monday", " 1", ""]))
        base[key] = draw(day_schedules())
        return kind, base
    if kind == "bad-hour":
        start = draw(st.integers(2400, 9999))
        slot = {"startTime": draw(st.integers(0, 2359).filter(lambda t: t % 100 < 60)), "endTime": start}
        slot = draw(st.sampled_from([slot, {"startTime": start, "endTime": start + 1}]))
    elif kind == "bad-minute":
        hour = draw(st.integers(0, 22))
        bad = hour * 100 + draw(st.integers(60, 99))
        slot = draw(st.sampled_from([{"startTime": bad, "endTime": 2359}, {"startTime": 0, "endTime": bad}]))
    elif kind == "start-not-before-end":
        end = draw(hhmm())
        start_minute = draw(st.integers(0, MINUTES_PER_DAY - 1))
        start = max(to_hhmm(start_minute), end)
        slot = {"startTime": start, "endTime": end}
    else:  # overlap-within-day
        a, b = draw(overlapping_slot_pair())
        base[day] = {"disabled": False, "slots": [a, b]}
        return kind, base
    base[day] = {"disabled": draw(st.booleans()), "slots": [slot]}
    return kind, base


@st.composite
def overlapping_slot_pair(draw: st.DrawFn) -> tuple[dict[str, int], dict[str, int]]:
    """Two valid slots that share at least one minute (touching is not enough)."""
    a_start = draw(st.integers(0, MINUTES_PER_DAY - 2))
    a_end = draw(st.integers(a_start + 1, MINUTES_PER_DAY - 1))
    b_start = draw(st.integers(0, a_end - 1))
    b_end = draw(st.integers(max(a_start, b_start) + 1, MINUTES_PER_DAY - 1))
    a = {"startTime": to_hhmm(a_start), "endTime": to_hhmm(a_end)}
    b = {"startTime": to_hhmm(b_start), "endTime": to_hhmm(b_end)}
    return (a, b) if draw(st.booleans()) else (b, a)


@st.composite
def overlapping_schedules(draw: st.DrawFn) -> tuple[Schedule, Schedule]:
    """Two valid schedules that collide on at least one enabled weekday."""
    a = draw(nonempty_schedules())
    b = draw(schedules())
    day = draw(st.sampled_from(WEEKDAYS))
    sa, sb = draw(overlapping_slot_pair())
    a[day] = {"disabled": False, "slots": [sa]}
    b[day] = {"disabled": False, "slots": [sb]}
    return a, b


@st.composite
def disjoint_schedules(draw: st.DrawFn, *, touching: bool | None = None) -> tuple[Schedule, Schedule]:
    """Two valid, non-empty schedules that never collide (they may touch at an end).

    Per weekday, sorted boundaries are cut into slots dealt alternately to the
    two schedules; days present in only one of them cannot collide.
    """
    a: Schedule = {}
    b: Schedule = {}
    for day in draw(st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True)):
        n = draw(st.integers(1, 4))
        touch = draw(st.booleans()) if touching is None else touching
        count = n + 1 if touch else 2 * n
        bounds = sorted(draw(st.sets(st.integers(0, MINUTES_PER_DAY - 1), min_size=count, max_size=count)))
        slots = _slots_from_boundaries(bounds, touch)[:n]
        a[day] = {"disabled": False, "slots": slots[0::2]}
        b[day] = {"disabled": False, "slots": slots[1::2]}
    return a, b


def locale_maps(min_size: int = 1) -> st.SearchStrategy[dict[str, str]]:
    """``{"en": "…"}``-style locale maps."""
    text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=40)
    return st.dictionaries(st.sampled_from(["en", "id", "th", "ms", "vi"]), text, min_size=min_size, max_size=3)


def visibilities() -> st.SearchStrategy[dict[str, bool]]:
    """Provider id (string) → visible; ``"1"`` is klikit's own marketplace."""
    return st.dictionaries(st.sampled_from(["1", "6", "9", "11", "16", "17"]), st.booleans(), max_size=4)


def blackout_dates() -> st.SearchStrategy[list[str]]:
    return st.lists(st.dates().map(lambda d: d.isoformat()), max_size=3, unique=True)


def sections(*, name_prefix: str = "harness") -> st.SearchStrategy[dict[str, Any]]:
    """createSection bodies; titles start with ``name_prefix`` so created data is traceable."""
    return st.fixed_dictionaries(
        {"title": locale_maps().map(lambda m: {k: f"{name_prefix} {v}" for k, v in m.items()})},
        optional={
            "isEnabled": st.booleans(),
            "sequence": st.integers(0, 50),
            "visibilities": visibilities(),
            "availableTimes": schedules(),
            "blackoutDates": blackout_dates(),
            "fromAPI": st.just(True),
        },
    )


def field_names() -> st.SearchStrategy[str]:
    """Names for ``fieldIncludeOnSync``: the documented four plus unknown ones (ignored)."""
    return st.one_of(st.sampled_from(OVERRIDABLE_FIELDS), st.sampled_from(["title", "sequence", "unknownField"]))


def field_include_lists() -> st.SearchStrategy[list[str]]:
    return st.lists(field_names(), max_size=4, unique=True)


def persist_field_on_sync() -> st.SearchStrategy[dict[str, list[str]]]:
    """``persistFieldOnSync``: per level; a missing ``sections`` level means an empty list."""
    return st.dictionaries(st.sampled_from(["sections", "items", "categories"]), field_include_lists(), max_size=2)


def store_lists(
    stores: Sequence[dict[str, int]], *, max_size: int | None = None
) -> st.SearchStrategy[list[dict[str, int]]]:
    """Non-empty lists of distinct stores drawn from ``stores``."""
    if not stores:
        raise ValueError("store_lists needs at least one store to draw from")
    return st.lists(
        st.sampled_from(list(stores)),
        min_size=1,
        max_size=max_size or len(stores),
        unique_by=lambda s: (s["brandID"], s["branchID"]),
    )


@st.composite
def push_bodies(
    draw: st.DrawFn,
    stores: Sequence[dict[str, int]],
    section_ids: Sequence[int],
    *,
    times: st.SearchStrategy[Schedule] | None = None,
    sync_fields: bool = True,
) -> dict[str, Any]:
    """populate / sync bodies over the given stores and sections.

    ``times`` chooses each section's ``availableTimes`` (default: mostly ``{}``,
    sometimes a valid schedule); sync fields are added when ``sync_fields``.
    """
    if not section_ids:
        raise ValueError("push_bodies needs at least one section id")
    times = (
        times
        if times is not None
        else st.one_of(empty_schedule(), empty_schedule(), schedules(min_days=1, max_days=2, max_slots=1))
    )
    chosen = draw(st.lists(st.sampled_from(list(section_ids)), min_size=1, max_size=len(section_ids), unique=True))
    body: dict[str, Any] = {
        "stores": draw(store_lists(stores)),
        "sections": {str(sid): {"sequence": draw(st.integers(0, 20)), "availableTimes": draw(times)} for sid in chosen},
    }
    if sync_fields:
        if draw(st.booleans()):
            body["fieldIncludeOnSync"] = draw(field_include_lists())
        if draw(st.integers(0, 3)) == 0:
            body["persistFieldOnSync"] = draw(persist_field_on_sync())
    return body


def publish_bodies(stores: Sequence[dict[str, int]]) -> st.SearchStrategy[dict[str, Any]]:
    """publish bodies that run now (klikit provider ``1``, sometimes more)."""
    return st.fixed_dictionaries(
        {
            "stores": store_lists(stores),
            "providerIDs": st.lists(st.sampled_from([1, 6, 9]), min_size=1, max_size=3, unique=True),
        }
    )
