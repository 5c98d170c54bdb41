"""populateMenu: first-time push, observed the way a partner observes it (publish, then getMenu)."""

from __future__ import annotations

import pytest
from hypothesis import given

from klikit_harness.checking import strategies as ks
from tests.support.standin import (
    BREAKFAST,
    DINNER,
    FRESH,
    LUNCH,
    POPULATED,
    assert_error,
    state,
    store,
    week,
)


def by_id(sections):
    return {s["id"]: s for s in sections}


@pytest.mark.behaviour("populate.attaches-fresh-stores", "populate.result-counts", "populate.empty-times-fallback")
def test_fresh_stores_get_the_named_sections(api):
    body = {
        "stores": [store(FRESH[0]), store(FRESH[1])],
        "sections": {str(LUNCH): {"sequence": 4, "availableTimes": {}}, str(DINNER): {"sequence": 2}},
    }
    r = api.post("/menus/populate", body)
    assert r.json()["data"] == {"populated": 2, "skipped": 0}
    api.publish(FRESH[0], FRESH[1])
    for key in FRESH[:2]:
        served = by_id(api.store_menu(key))
        assert set(served) == {LUNCH, DINNER}
        assert served[LUNCH]["sequence"] == 4 and served[DINNER]["sequence"] == 2
        assert served[LUNCH]["availableTimes"] == week(1100, 1500)  # the business schedule


@pytest.mark.behaviour("populate.skips-populated-stores", "populate.result-counts")
def test_populated_stores_are_skipped_silently(api, service):
    before = api.store_menu(POPULATED[1])
    overrides_before = {k: v for k, v in service.world.overrides.items() if k[0] == POPULATED[1]}
    body = {
        "stores": [store(POPULATED[1]), store(FRESH[2])],
        "sections": {str(BREAKFAST): {"sequence": 0, "availableTimes": week(600, 700)}},
    }
    r = api.post("/menus/populate", body)
    assert r.status_code == 200
    assert r.json()["data"] == {"populated": 1, "skipped": 1}
    api.publish(POPULATED[1], FRESH[2])
    assert api.store_menu(POPULATED[1]) == before
    assert {k: v for k, v in service.world.overrides.items() if k[0] == POPULATED[1]} == overrides_before
    assert [s["id"] for s in api.store_menu(FRESH[2])] == [BREAKFAST]


@pytest.mark.behaviour("populate.has-menu-definition")
def test_one_attached_section_is_enough_to_be_skipped(api):
    first = {"stores": [store(FRESH[3])], "sections": {str(BREAKFAST): {"sequence": 0}}}
    assert api.post("/menus/populate", first).json()["data"]["populated"] == 1
    second = {"stores": [store(FRESH[3])], "sections": {str(LUNCH): {"sequence": 1}}}
    assert api.post("/menus/populate", second).json()["data"] == {"populated": 0, "skipped": 1}
    api.publish(FRESH[3])
    assert [s["id"] for s in api.store_menu(FRESH[3])] == [BREAKFAST]


@pytest.mark.behaviour("populate.explicit-times-override")
def test_non_empty_times_become_the_store_override(api):
    body = {"stores": [store(FRESH[4])], "sections": {str(LUNCH): {"sequence": 1, "availableTimes": week(1000, 1400)}}}
    assert api.post("/menus/populate", body).status_code == 200
    api.publish(FRESH[4])
    assert api.store_menu(FRESH[4])[0]["availableTimes"] == week(1000, 1400)
    # the business row is untouched
    business = by_id(api.get("/menus").json()["data"]["menu"]["sections"])
    assert business[LUNCH]["availableTimes"] == week(1100, 1500)


@pytest.mark.behaviour("populate.overlap-rejected", "populate.overlap-scope", "populate.atomic")
def test_overlap_against_a_fallback_section_is_rejected_and_changes_nothing(api, service):
    # Dinner falls back to 1700-2200; a Lunch override of 1400-1800 collides with it.
    body = {
        "stores": [store(FRESH[5]), store(FRESH[6])],
        "sections": {
            str(DINNER): {"sequence": 2, "availableTimes": {}},
            str(LUNCH): {"sequence": 1, "availableTimes": week(1400, 1800)},
        },
    }
    before = state(service)
    err = assert_error(api.post("/menus/populate", body), 400, "request_invalid")
    details = err["error"]["details"]
    assert details["store"] == store(FRESH[5])
    assert sorted(details["sections"]) == sorted([LUNCH, DINNER])
    assert details["weekday"] in {str(d) for d in range(7)}
    assert state(service) == before


@pytest.mark.behaviour("populate.empty-times-fallback", "sync.empty-times-no-overlap-check")
def test_empty_times_opt_out_of_the_overlap_check(api):
    # Breakfast 600-1000 and an all-day section would collide if both were explicit.
    all_day = api.create_section(availableTimes=week(0, 2359))
    body = {
        "stores": [store(FRESH[7])],
        "sections": {
            str(all_day): {"sequence": 1, "availableTimes": {}},
            str(BREAKFAST): {"sequence": 0, "availableTimes": {}},
        },
    }
    assert api.post("/menus/populate", body).status_code == 200


@pytest.mark.behaviour("schedule.touching-not-overlap", "populate.overlap-scope")
def test_touching_override_is_not_a_collision(api):
    # Lunch falls back to 1100-1500; a Dinner override starting at 1500 only touches it.
    body = {
        "stores": [store(FRESH[8])],
        "sections": {str(LUNCH): {"sequence": 1}, str(DINNER): {"sequence": 2, "availableTimes": week(1500, 2100)}},
    }
    assert api.post("/menus/populate", body).status_code == 200


@pytest.mark.behaviour("schedule.disabled-days-unchecked")
def test_disabled_days_do_not_collide_across_sections(api):
    body = {
        "stores": [store(FRESH[9])],
        "sections": {
            str(LUNCH): {"sequence": 1},
            str(DINNER): {"sequence": 2, "availableTimes": week(1200, 1800, disabled=True)},
        },
    }
    assert api.post("/menus/populate", body).status_code == 200


@pytest.mark.behaviour("populate.sync-fields-inert")
def test_sync_fields_are_validated_but_inert(api):
    body = {
        "stores": [store(FRESH[10])],
        "sections": {str(LUNCH): {"sequence": 1}},
        "fieldIncludeOnSync": ["availableTimes"],
        "persistFieldOnSync": {"sections": []},
    }
    assert api.post("/menus/populate", body).json()["data"] == {"populated": 1, "skipped": 0}
    assert_error(
        api.post("/menus/populate", {**body, "fieldIncludeOnSync": [1]}), 400, "request_invalid", "fieldIncludeOnSync"
    )


@pytest.mark.behaviour("populate.overlap-rejected", "populate.atomic")
@given(pair=ks.overlapping_schedules())
def test_any_colliding_pair_is_rejected(make_api, pair):
    a, b = pair
    api = make_api()
    body = {
        "stores": [store(FRESH[0])],
        "sections": {
            str(LUNCH): {"sequence": 1, "availableTimes": a},
            str(DINNER): {"sequence": 2, "availableTimes": b},
        },
    }
    before = state(api.service)
    assert_error(api.post("/menus/populate", body), 400, "request_invalid")
    assert state(api.service) == before


@pytest.mark.behaviour("populate.attaches-fresh-stores", "schedule.touching-not-overlap")
@given(pair=ks.disjoint_schedules())
def test_any_disjoint_pair_is_accepted(make_api, pair):
    a, b = pair
    api = make_api()
    body = {
        "stores": [store(FRESH[0])],
        "sections": {
            str(LUNCH): {"sequence": 1, "availableTimes": a},
            str(DINNER): {"sequence": 2, "availableTimes": b},
        },
    }
    assert api.post("/menus/populate", body).status_code == 200
    api.publish(FRESH[0])
    served = by_id(api.store_menu(FRESH[0]))
    assert served[LUNCH]["availableTimes"] == a and served[DINNER]["availableTimes"] == b
