"""publishMenu, getMenu's two modes and resetStoreOverrides."""

from __future__ import annotations

import pytest

from klikit_harness.core.clock import utc
from tests.support.standin import DINNER, FRESH, LATE, LUNCH, POPULATED, assert_error, store, week

OVERRIDDEN = POPULATED[1]


@pytest.mark.behaviour("publish.counts", "publish.unpopulated-counts-failed", "publish.klikit-provider")
def test_publish_counts_stores(api):
    r = api.post(
        "/menus/publish", {"stores": [store(POPULATED[0]), store(FRESH[0]), store(POPULATED[2])], "providerIDs": [1]}
    )
    assert r.json()["data"] == {"success": 2, "failed": 1}


@pytest.mark.behaviour("getmenu.stale-until-publish", "publish.rebuilds-snapshot")
def test_store_menu_is_stale_until_publish(api):
    before = api.store_menu(POPULATED[0])
    body = {"stores": [store(POPULATED[0])], "sections": {str(LATE): {"sequence": 9, "availableTimes": {}}}}
    assert api.post("/menus/sync", body).status_code == 200
    assert api.store_menu(POPULATED[0]) == before
    api.publish(POPULATED[0])
    assert LATE in [s["id"] for s in api.store_menu(POPULATED[0])]


@pytest.mark.behaviour("getmenu.stale-until-publish")
def test_populate_alone_is_invisible(api):
    body = {"stores": [store(FRESH[0])], "sections": {str(LUNCH): {"sequence": 1}}}
    assert api.post("/menus/populate", body).status_code == 200
    assert api.store_menu(FRESH[0]) == []
    api.publish(FRESH[0])
    assert [s["id"] for s in api.store_menu(FRESH[0])] == [LUNCH]


@pytest.mark.behaviour("publish.scheduled")
def test_scheduled_publish_waits_for_its_time(api, clock):
    body = {"stores": [store(FRESH[1])], "sections": {str(LUNCH): {"sequence": 1}}}
    assert api.post("/menus/populate", body).status_code == 200
    when = utc(clock.now() + 3600).isoformat().replace("+00:00", "Z")
    r = api.post("/menus/publish", {"stores": [store(FRESH[1])], "providerIDs": [1], "scheduledAt": when})
    assert r.json()["data"] == {"success": 1, "failed": 0}
    assert api.store_menu(FRESH[1]) == []
    clock.advance(3599)
    assert api.store_menu(FRESH[1]) == []
    clock.advance(1)
    assert [s["id"] for s in api.store_menu(FRESH[1])] == [LUNCH]


@pytest.mark.behaviour("publish.scheduled")
@pytest.mark.parametrize("when", ["0001-01-01T00:00:00Z", "2001-01-01T00:00:00Z", None])
def test_zero_past_or_absent_scheduled_at_runs_now(api, when):
    body = {"stores": [store(FRESH[2])], "sections": {str(DINNER): {"sequence": 1}}}
    assert api.post("/menus/populate", body).status_code == 200
    assert (
        api.post("/menus/publish", {"stores": [store(FRESH[2])], "providerIDs": [1], "scheduledAt": when}).status_code
        == 200
    )
    assert [s["id"] for s in api.store_menu(FRESH[2])] == [DINNER]


@pytest.mark.behaviour("publish.scheduled")
@pytest.mark.parametrize("when", ["tomorrow", "2026-01-01T10:00:00"])
def test_unreadable_scheduled_at_is_400(api, when):
    assert_error(
        api.post("/menus/publish", {"stores": [store(POPULATED[0])], "providerIDs": [1], "scheduledAt": when}),
        400,
        "request_invalid",
        "scheduledAt",
    )


@pytest.mark.behaviour(
    "getmenu.store-mode", "getmenu.store-fields", "getmenu.provider-ids-string", "getmenu.enabled-read-name"
)
def test_store_mode_shape(api):
    menu = api.get("/menus", params={"brand_id": 5297, "branch_id": 1293}).json()["data"]["menu"]
    assert set(menu) == {"branchInfo", "sections"}
    assert menu["branchInfo"]["providerIDs"] == "1,6,9,11,16,17"
    assert menu["branchInfo"]["businessID"] == 398
    for section in menu["sections"]:
        assert {"isAvailable", "stockEnabled", "attachedWithStore", "enabled"} <= set(section)
        assert "isEnabled" not in section


@pytest.mark.behaviour(
    "getmenu.business-mode", "getmenu.store-fields", "getmenu.enabled-read-name", "getmenu.business-mode-live"
)
def test_business_mode_shape_and_liveness(api):
    menu = api.get("/menus").json()["data"]["menu"]
    assert set(menu) == {"businessInfo", "sections"}
    assert {s["id"] for s in menu["sections"]} == {1022, 1023, 1024, 1025}
    for section in menu["sections"]:
        assert "enabled" in section and not {"isAvailable", "stockEnabled", "attachedWithStore"} & set(section)
    new = api.create_section(title={"en": "Brand new"})
    assert new in {s["id"] for s in api.get("/menus").json()["data"]["menu"]["sections"]}


@pytest.mark.behaviour("getmenu.one-param-400")
@pytest.mark.parametrize("params", [{"brand_id": 663}, {"branch_id": 1062}])
def test_exactly_one_parameter_is_400(api, params):
    assert_error(api.get("/menus", params=params), 400, "request_invalid")


@pytest.mark.behaviour("input.wrong-types", "input.absurd-numbers")
@pytest.mark.parametrize(
    "params",
    [{"brand_id": "abc", "branch_id": 1}, {"brand_id": 0, "branch_id": 1}, {"brand_id": 2**31, "branch_id": 1}],
)
def test_bad_query_ids_are_400(api, params):
    assert_error(api.get("/menus", params=params), 400, "request_invalid")


@pytest.mark.behaviour("getmenu.never-published-empty")
def test_never_published_store_is_empty(api):
    r = api.get("/menus", params={"brand_id": FRESH[3].brand_id, "branch_id": FRESH[3].branch_id})
    assert r.status_code == 200
    assert r.json()["data"]["menu"]["sections"] == []


@pytest.mark.behaviour(
    "reset.drops-overrides", "reset.visible-after-publish", "reset.keeps-sections", "reset.result-count"
)
def test_reset_drops_overrides_visible_after_publish(api, service):
    before = api.store_menu(OVERRIDDEN)
    r = api.post("/menus/reset", {"stores": [store(OVERRIDDEN)]})
    assert r.json()["data"] == {"reset": 1}
    assert api.store_menu(OVERRIDDEN) == before
    api.publish(OVERRIDDEN)
    after = {s["id"]: s for s in api.store_menu(OVERRIDDEN)}
    assert set(after) == {s["id"] for s in before}
    assert after[LUNCH]["availableTimes"] == week(1100, 1500)
    assert after[LUNCH]["visibilities"] == {"1": True, "6": True}


@pytest.mark.behaviour("reset.named-stores-only")
def test_reset_touches_only_named_stores(api, service):
    service.world.overrides[(POPULATED[0], LUNCH)] = {"isEnabled": False}
    assert api.post("/menus/reset", {"stores": [store(OVERRIDDEN)]}).status_code == 200
    assert service.world.overrides[(POPULATED[0], LUNCH)] == {"isEnabled": False}
    assert_error(api.post("/menus/reset", {"stores": []}), 400, "request_invalid", "stores")
