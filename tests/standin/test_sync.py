"""syncMenuToStores: persist list, fieldIncludeOnSync, explicit lists, observed after publish."""

from __future__ import annotations

import pytest

from tests.support.standin import (
    BREAKFAST,
    DINNER,
    FRESH,
    LATE,
    LUNCH,
    POPULATED,
    assert_error,
    state,
    store,
    week,
)

OVERRIDDEN = POPULATED[1]  # 663:1063 has Lunch overrides: times 1200-1400, visibilities {"1": true, "6": false}


def lunch(api, key=OVERRIDDEN):
    api.publish(key)
    return next(s for s in api.store_menu(key) if s["id"] == LUNCH)


def sync(api, *, stores=(OVERRIDDEN,), sections=None, **extra):
    body = {
        "stores": [store(k) for k in stores],
        "sections": sections or {str(LUNCH): {"sequence": 1, "availableTimes": {}}},
        **extra,
    }
    r = api.post("/menus/sync", body)
    assert r.status_code == 200, r.text
    return r.json()["data"]


@pytest.mark.behaviour(
    "sync.persisted-fields-kept",
    "sync.default-persist-list",
    "sync.empty-times-follows-persist-list",
    "sync.visibility-persisted",
)
def test_default_sync_keeps_store_overrides(api):
    # a business-level change that must not reach the store's own values
    assert (
        api.patch(f"/menus/sections/{LUNCH}/visibilities", {"visibilities": {"1": False, "9": True}}).status_code == 200
    )
    sync(api)
    served = lunch(api)
    assert served["availableTimes"] == week(1200, 1400)
    assert served["visibilities"] == {"1": True, "6": False}


@pytest.mark.behaviour("sync.field-include-overwrites", "sync.business-values-applied")
def test_field_include_forces_the_business_value(api):
    sync(api, fieldIncludeOnSync=["availableTimes"])
    served = lunch(api)
    assert served["availableTimes"] == week(1100, 1500)
    assert served["visibilities"] == {"1": True, "6": False}  # still persisted


@pytest.mark.behaviour("sync.visibility-persisted", "sync.field-include-overwrites")
def test_visibilities_in_field_include_apply_the_business_map(api):
    assert (
        api.patch(f"/menus/sections/{LUNCH}/visibilities", {"visibilities": {"1": False, "9": True}}).status_code == 200
    )
    sync(api, fieldIncludeOnSync=["visibilities"])
    served = lunch(api)
    assert served["visibilities"] == {"1": False, "9": True}
    assert served["availableTimes"] == week(1200, 1400)


@pytest.mark.behaviour("sync.persist-list-replaced", "sync.persist-then-include")
def test_explicit_persist_list_replaces_the_default(api):
    sync(api, persistFieldOnSync={"sections": ["visibilities"]})
    served = lunch(api)
    assert served["availableTimes"] == week(1100, 1500)  # no longer persisted
    assert served["visibilities"] == {"1": True, "6": False}


@pytest.mark.behaviour("sync.persist-then-include")
def test_missing_level_is_empty_and_include_subtracts_after(api, service):
    sync(api, persistFieldOnSync={"items": ["availableTimes", "visibilities"]})
    served = lunch(api)
    assert served["availableTimes"] == week(1100, 1500)
    assert served["visibilities"] == {"1": True, "6": True}


@pytest.mark.behaviour("sync.persist-then-include")
def test_include_is_subtracted_from_an_explicit_list(api):
    sync(api, persistFieldOnSync={"sections": ["visibilities", "availableTimes"]}, fieldIncludeOnSync=["visibilities"])
    served = lunch(api)
    assert served["availableTimes"] == week(1200, 1400)
    assert served["visibilities"] == {"1": True, "6": True}


@pytest.mark.behaviour("sync.unknown-field-names-ignored")
def test_unknown_field_names_are_ignored(api):
    sync(
        api,
        fieldIncludeOnSync=["nonsense", "title"],
        persistFieldOnSync={"sections": ["availableTimes", "visibilities", "bogus"]},
    )
    served = lunch(api)
    assert served["availableTimes"] == week(1200, 1400)


@pytest.mark.behaviour("sync.explicit-times-override")
def test_explicit_times_win_over_the_persist_list(api):
    sync(api, sections={str(LUNCH): {"sequence": 1, "availableTimes": week(1000, 1300)}})
    assert lunch(api)["availableTimes"] == week(1000, 1300)


@pytest.mark.behaviour("sync.overlap-rejected", "sync.atomic")
def test_colliding_explicit_times_are_rejected_and_change_nothing(api, service):
    before = state(service)
    body = {
        "stores": [store(POPULATED[0]), store(OVERRIDDEN)],
        "sections": {str(LUNCH): {"sequence": 1, "availableTimes": week(1600, 1800)}},
    }
    err = assert_error(api.post("/menus/sync", body), 400, "request_invalid")
    assert err["error"]["details"]["weekday"] in {str(d) for d in range(7)}
    assert state(service) == before


@pytest.mark.behaviour("sync.skips-unpopulated-stores", "sync.result-counts")
def test_stores_without_a_menu_are_skipped(api, service):
    data = sync(api, stores=(FRESH[0], POPULATED[0]))
    assert data == {"synced": 1, "skipped": 1}
    assert FRESH[0] not in service.world.attachments or not service.world.attachments[FRESH[0]]
    api.publish(FRESH[0])
    assert api.store_menu(FRESH[0]) == []


@pytest.mark.behaviour("sync.attaches-missing-sections", "sync.sections-keyed-by-id")
def test_missing_sections_are_attached_and_sequences_set(api):
    sync(
        api,
        stores=(POPULATED[0],),
        sections={str(LATE): {"sequence": 7, "availableTimes": {}}, str(LUNCH): {"sequence": 5, "availableTimes": {}}},
    )
    api.publish(POPULATED[0])
    served = {s["id"]: s for s in api.store_menu(POPULATED[0])}
    assert set(served) == {LUNCH, DINNER, LATE}
    assert served[LATE]["sequence"] == 7 and served[LUNCH]["sequence"] == 5
    assert served[DINNER]["sequence"] == 2


@pytest.mark.behaviour("sync.only-named-sections-change")
def test_unnamed_sections_keep_their_store_state(api, service):
    service.world.overrides[(OVERRIDDEN, DINNER)] = {"isEnabled": False}
    sync(api, fieldIncludeOnSync=["isEnabled", "availableTimes", "visibilities", "blackoutDates"])
    api.publish(OVERRIDDEN)
    dinner = next(s for s in api.store_menu(OVERRIDDEN) if s["id"] == DINNER)
    assert dinner["enabled"] is False


@pytest.mark.behaviour("sync.foreign-resource-404")
def test_unknown_section_is_404(api, service):
    before = state(service)
    assert_error(
        api.post("/menus/sync", {"stores": [store(OVERRIDDEN)], "sections": {"424242": {"sequence": 1}}}),
        404,
        "resource_not_found",
    )
    assert state(service) == before
    assert BREAKFAST not in service.world.attachments[OVERRIDDEN]
