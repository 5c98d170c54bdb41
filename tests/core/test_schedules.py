"""The schedule oracle: validity and overlap (touching slots, disabled days, end of day)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from klikit_harness.checking import strategies as ks
from klikit_harness.core import schedules

pytestmark = pytest.mark.behaviour("schedule.no-overlap-within-day", "schedule.touching-not-overlap")


@given(ks.overlapping_slot_pair())
def test_overlap_is_symmetric_and_detected(pair):
    a, b = ((s["startTime"], s["endTime"]) for s in pair)
    assert schedules.overlaps(a, b) and schedules.overlaps(b, a)


@given(st.integers(1, 1438), st.integers(0, 1438), st.integers(1, 1439))
def test_touching_slots_never_overlap(mid, lo, hi):
    a = (ks.to_hhmm(min(lo, mid - 1)), ks.to_hhmm(mid))
    b = (ks.to_hhmm(mid), ks.to_hhmm(max(hi, mid + 1) if max(hi, mid + 1) < 1440 else 1439))
    assert not schedules.overlaps(a, b)
    assert schedules.overlaps(a, b, touching=True)


def test_end_of_day_and_midnight_are_valid_times():
    assert schedules.is_hhmm(0) and schedules.is_hhmm(2359)
    assert not schedules.is_hhmm(2360) and not schedules.is_hhmm(2400) and not schedules.is_hhmm(960)
    assert schedules.is_valid({"0": {"disabled": False, "slots": [{"startTime": 0, "endTime": 2359}]}})


@pytest.mark.behaviour("schedule.disabled-days-unchecked")
@given(ks.overlapping_slot_pair())
def test_disabled_days_are_never_checked(pair):
    a, b = pair
    enabled = {"3": {"disabled": False, "slots": [a, b]}}
    disabled = {"3": {"disabled": True, "slots": [a, b]}}
    assert not schedules.is_valid(enabled)
    assert schedules.is_valid(disabled)
    assert (
        schedules.collision({"3": {"disabled": True, "slots": [a]}}, {"3": {"disabled": False, "slots": [b]}}) is None
    )


@given(ks.overlapping_schedules())
def test_built_to_overlap_schedules_collide(pair):
    a, b = pair
    assert schedules.collision(a, b) is not None
    assert schedules.collision(b, a) is not None


@given(ks.disjoint_schedules())
def test_built_apart_schedules_never_collide(pair):
    a, b = pair
    assert schedules.collision(a, b) is None
    assert schedules.is_valid(a) and schedules.is_valid(b)


@pytest.mark.behaviour("schedule.start-before-end", "schedule.hhmm-range")
@pytest.mark.parametrize(
    ("slot", "field"),
    [
        ({"startTime": 1200, "endTime": 1200}, "2.slots[0]"),
        ({"startTime": 1300, "endTime": 1200}, "2.slots[0]"),
        ({"startTime": 960, "endTime": 1200}, "2.slots[0].startTime"),
        ({"startTime": 900, "endTime": 2360}, "2.slots[0].endTime"),
    ],
)
def test_problems_name_the_field(slot, field):
    found = list(schedules.problems({"2": {"disabled": False, "slots": [slot]}}))
    assert found and found[0].field == field
