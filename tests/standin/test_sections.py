"""createSection, setSectionVisibilities and enableSections."""

from __future__ import annotations

import pytest

from tests.support.standin import (
    DINNER,
    FOREIGN_SECTION,
    LUNCH,
    POPULATED,
    assert_error,
    state,
    store,
)

OVERRIDDEN = POPULATED[1]


def business_section(api, sid):
    return next(s for s in api.get("/menus").json()["data"]["menu"]["sections"] if s["id"] == sid)


def store_section(api, key, sid):
    api.publish(key)
    return next(s for s in api.store_menu(key) if s["id"] == sid)


@pytest.mark.behaviour("section.create-returns-id")
def test_create_returns_a_new_positive_id(api):
    a, b = api.create_section(), api.create_section()
    assert a > 0 and b > 0 and a != b
    assert business_section(api, a)["title"] == {"en": "Test section"}


@pytest.mark.behaviour(
    "visibility.replaces-map",
    "visibility.missing-provider-hidden",
    "visibility.provider-keys-strings",
    "section.empty-zone-stores-business",
)
@pytest.mark.parametrize("zone", [None, [], "absent"])
def test_business_visibility_is_replaced_whole(api, zone):
    body = {"visibilities": {"9": True}}
    if zone != "absent":
        body["zoneStores"] = zone
    assert api.patch(f"/menus/sections/{LUNCH}/visibilities", body).json()["data"] == {"id": LUNCH}
    assert business_section(api, LUNCH)["visibilities"] == {"9": True}  # "1" and "6" gone: hidden


@pytest.mark.behaviour("visibility.zone-stores-override-only")
def test_zone_store_visibility_changes_only_that_store(api):
    before = business_section(api, LUNCH)["visibilities"]
    body = {"visibilities": {"1": False}, "zoneStores": [store(POPULATED[0])]}
    assert api.patch(f"/menus/sections/{LUNCH}/visibilities", body).status_code == 200
    assert business_section(api, LUNCH)["visibilities"] == before
    assert store_section(api, POPULATED[0], LUNCH)["visibilities"] == {"1": False}
    assert store_section(api, POPULATED[2], LUNCH)["visibilities"] == before


@pytest.mark.behaviour("enable.missing-is-false")
@pytest.mark.parametrize("body", [{"ids": [LUNCH]}, {"ids": [LUNCH], "isEnabled": None}])
def test_missing_is_enabled_disables(api, body):
    assert business_section(api, LUNCH)["enabled"] is True
    assert api.patch("/menus/sections/enable", body).json()["data"] == {"updated": 1}
    assert business_section(api, LUNCH)["enabled"] is False


@pytest.mark.behaviour("enable.zone-stores-override-only")
def test_zone_store_enable_changes_only_that_store(api):
    body = {"ids": [LUNCH, DINNER], "isEnabled": False, "zoneStores": [store(POPULATED[0])]}
    assert api.patch("/menus/sections/enable", body).json()["data"] == {"updated": 2}
    assert business_section(api, LUNCH)["enabled"] is True
    assert store_section(api, POPULATED[0], LUNCH)["enabled"] is False
    assert store_section(api, POPULATED[0], DINNER)["isAvailable"] is False
    assert store_section(api, POPULATED[2], LUNCH)["enabled"] is True


@pytest.mark.behaviour("enable.ids-non-empty")
def test_empty_ids_is_400(api):
    assert_error(api.patch("/menus/sections/enable", {"ids": [], "isEnabled": True}), 400, "request_invalid", "ids")


@pytest.mark.behaviour("enable.foreign-ids-404")
def test_foreign_id_is_404_and_nothing_flips(api, service):
    before = state(service)
    assert_error(
        api.patch("/menus/sections/enable", {"ids": [LUNCH, FOREIGN_SECTION], "isEnabled": False}),
        404,
        "resource_not_found",
    )
    assert state(service) == before


@pytest.mark.behaviour("input.wrong-types")
@pytest.mark.parametrize("section_id", ["abc", "0", "99999999999"])
def test_bad_section_id_in_the_path(api, section_id):
    r = api.patch(f"/menus/sections/{section_id}/visibilities", {"visibilities": {"1": True}})
    assert_error(r, 400, "request_invalid", "sectionID")
