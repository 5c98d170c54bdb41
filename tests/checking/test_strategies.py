"""Every valid strategy is accepted by the oracle; every invalid one is rejected by it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from klikit_harness import contract
from klikit_harness.checking import strategies as ks
from klikit_harness.core import schedules

STORES = [{"brandID": 663, "branchID": b} for b in range(2001, 2006)]


def oracle_accepts_schedule(schedule) -> bool:
    return contract.body_validator("AvailableTimes").is_valid(schedule) and schedules.is_valid(schedule)


@pytest.mark.behaviour("schedule.shape", "schedule.hhmm-range")
@given(ks.schedules())
def test_valid_schedules_are_accepted(schedule):
    assert oracle_accepts_schedule(schedule)


@pytest.mark.behaviour(
    "schedule.shape", "schedule.hhmm-range", "schedule.start-before-end", "schedule.no-overlap-within-day"
)
@given(ks.invalid_schedules())
def test_invalid_schedules_are_rejected(case):
    kind, schedule = case
    assert not oracle_accepts_schedule(schedule), kind


@pytest.mark.parametrize("kind", ks.INVALID_KINDS)
def test_each_invalid_kind_can_be_asked_for(kind):
    drawn = st.data()

    @given(drawn)
    def check(data):
        got_kind, schedule = data.draw(ks.invalid_schedules(kind))
        assert got_kind == kind
        assert not oracle_accepts_schedule(schedule)

    check()


@given(ks.sections())
def test_section_bodies_are_schema_valid(body):
    assert contract.body_validator("CreateSectionRequest").is_valid(body)
    assert schedules.is_valid(body.get("availableTimes", {}))
    assert all(v.startswith("harness ") for v in body["title"].values())


@given(ks.push_bodies(STORES, [1022, 1023, 1024]))
def test_push_bodies_are_schema_valid(body):
    assert contract.body_validator("PushRequest").is_valid(body)
    for entry in body["sections"].values():
        assert schedules.is_valid(entry["availableTimes"])


@given(ks.publish_bodies(STORES))
def test_publish_bodies_are_schema_valid(body):
    assert contract.body_validator("PublishRequest").is_valid(body)


def test_strategies_refuse_misuse_with_a_message():
    with pytest.raises(ValueError, match="min_days"):
        ks.schedules(min_days=5, max_days=2)
    with pytest.raises(ValueError, match="at least one store"):
        ks.store_lists([])
    with pytest.raises(ValueError, match="minute of the day"):
        ks.to_hhmm(1440)
