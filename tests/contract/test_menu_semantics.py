"""Menu-publish semantics, observed as a partner observes them: publish, then getMenu in store mode."""

from __future__ import annotations

import pytest

from klikit_harness import expect
from klikit_harness.failures import Violation
from tests.contract.conftest import publish, section_in, served, week

LUNCH_TIMES = week(1100, 1500)
DINNER_TIMES = week(1700, 2200)


def push(api, operation, stores, sections, **extra):
    body = {"stores": [s.as_json() for s in stores], "sections": {str(k): v for k, v in sections.items()}, **extra}
    return api.call(operation, body)


def mismatch(what, behaviour, received, documented):
    return Violation(what, behaviour=behaviour, received=received, documented=documented)


@pytest.mark.behaviour("populate.attaches-fresh-stores", "populate.empty-times-fallback", "getmenu.stale-until-publish", "publish.rebuilds-snapshot")
def test_first_time_push_attaches_sections_to_a_fresh_store(api, fresh_store, new_section):
    lunch = new_section(name="lunch", availableTimes=LUNCH_TIMES)
    expect.ok(api, push(api, "populateMenu", [fresh_store], {lunch: {"sequence": 3, "availableTimes": {}}}), "populate.attaches-fresh-stores")
    if section_in(served(api, fresh_store), lunch) is not None:
        raise mismatch("populate was visible before publish", "getmenu.stale-until-publish", "section served", "served only after publish")
    publish(api, fresh_store)
    got = section_in(served(api, fresh_store), lunch)
    if got is None or got["sequence"] != 3:
        raise mismatch("populated section missing after publish", "populate.attaches-fresh-stores", got, {"id": lunch, "sequence": 3})
    if got["availableTimes"] != LUNCH_TIMES:
        raise mismatch("{} did not fall back to the business schedule", "populate.empty-times-fallback", got["availableTimes"], LUNCH_TIMES)


@pytest.mark.behaviour("populate.skips-populated-stores")
def test_first_time_push_leaves_populated_stores_exactly_as_they_were(api, store, new_section):
    intruder = new_section(name="intruder", availableTimes={})
    publish(api, store)
    before = served(api, store)
    r = push(api, "populateMenu", [store], {intruder: {"sequence": 0, "availableTimes": {}}})
    expect.ok(api, r, "populate.skips-populated-stores")
    publish(api, store)
    after = served(api, store)
    if after != before:
        raise mismatch("populate changed a store that already had a menu", "populate.skips-populated-stores",
                       [s["id"] for s in after], [s["id"] for s in before])


@pytest.mark.behaviour("populate.overlap-rejected", "populate.atomic", "populate.overlap-scope")
def test_overlapping_schedules_are_rejected_and_change_nothing(api, fresh_store, new_section):
    dinner = new_section(name="dinner", availableTimes=DINNER_TIMES)
    lunch = new_section(name="lunch", availableTimes=LUNCH_TIMES)
    publish(api, fresh_store)
    before = served(api, fresh_store)
    # Lunch's override 1600-1800 collides with Dinner, which falls back to 1700-2200.
    r = push(api, "populateMenu", [fresh_store], {dinner: {"sequence": 2, "availableTimes": {}}, lunch: {"sequence": 1, "availableTimes": week(1600, 1800)}})
    expect.error(api, r, "request_invalid", "populate.overlap-rejected")
    publish(api, fresh_store)
    if served(api, fresh_store) != before:
        raise mismatch("a rejected populate changed the store", "populate.atomic", "store changed", "nothing written")
    # and the store is still fresh: a clean populate now attaches
    expect.ok(api, push(api, "populateMenu", [fresh_store], {lunch: {"sequence": 1, "availableTimes": {}}}), "populate.attaches-fresh-stores")
    publish(api, fresh_store)
    if section_in(served(api, fresh_store), lunch) is None:
        raise mismatch("the store was no longer fresh after a rejected populate", "populate.atomic", "populate skipped", "populate attaches")


@pytest.mark.behaviour(
    "sync.persisted-fields-kept", "sync.visibility-persisted", "sync.field-include-overwrites",
    "sync.persist-list-replaced", "getmenu.stale-until-publish", "reset.drops-overrides", "reset.visible-after-publish",
)
def test_sync_persist_list_and_reset(api, fresh_store, new_section):
    section = new_section(name="persist", availableTimes=LUNCH_TIMES, visibilities={"1": True})
    own_times = week(1200, 1400)
    expect.ok(api, push(api, "populateMenu", [fresh_store], {section: {"sequence": 1, "availableTimes": own_times}}), "populate.explicit-times-override")
    store_vis = {"1": False, "6": True}
    expect.ok(api, api.call("setSectionVisibilities", {"visibilities": store_vis, "zoneStores": [fresh_store.as_json()]}, sectionID=section),
              "visibility.zone-stores-override-only")
    business_vis = {"1": True, "9": True}
    expect.ok(api, api.call("setSectionVisibilities", {"visibilities": business_vis}, sectionID=section), "visibility.replaces-map")

    def sync_and_read(**extra):
        publish(api, fresh_store)
        before = section_in(served(api, fresh_store), section)
        expect.ok(api, push(api, "syncMenuToStores", [fresh_store], {section: {"sequence": 1, "availableTimes": {}}}, **extra), "sync.persisted-fields-kept")
        if section_in(served(api, fresh_store), section) != before:
            raise mismatch("sync was visible before publish", "getmenu.stale-until-publish", "menu changed", "unchanged until publish")
        publish(api, fresh_store)
        return section_in(served(api, fresh_store), section)

    got = sync_and_read()
    if (got["availableTimes"], got["visibilities"]) != (own_times, store_vis):
        raise mismatch("default sync overwrote persisted overrides", "sync.persisted-fields-kept",
                       {"availableTimes": got["availableTimes"], "visibilities": got["visibilities"]}, {"availableTimes": own_times, "visibilities": store_vis})
    got = sync_and_read(fieldIncludeOnSync=["availableTimes"])
    if got["availableTimes"] != LUNCH_TIMES or got["visibilities"] != store_vis:
        raise mismatch("fieldIncludeOnSync did not force only availableTimes", "sync.field-include-overwrites",
                       {"availableTimes": got["availableTimes"], "visibilities": got["visibilities"]}, {"availableTimes": LUNCH_TIMES, "visibilities": store_vis})
    got = sync_and_read(persistFieldOnSync={"sections": ["availableTimes"]})
    if got["visibilities"] != business_vis:
        raise mismatch("an explicit persist list did not replace the default", "sync.persist-list-replaced", got["visibilities"], business_vis)
    # reset: store overrides go, visible only after publish
    expect.ok(api, api.call("setSectionVisibilities", {"visibilities": store_vis, "zoneStores": [fresh_store.as_json()]}, sectionID=section), "visibility.zone-stores-override-only")
    publish(api, fresh_store)
    before = served(api, fresh_store)
    expect.ok(api, api.call("resetStoreOverrides", {"stores": [fresh_store.as_json()]}), "reset.drops-overrides")
    if served(api, fresh_store) != before:
        raise mismatch("reset was visible before publish", "reset.visible-after-publish", "menu changed", "unchanged until publish")
    publish(api, fresh_store)
    got = section_in(served(api, fresh_store), section)
    if got is None or got["visibilities"] != business_vis:
        raise mismatch("reset kept a store override", "reset.drops-overrides", got and got["visibilities"], business_vis)


@pytest.mark.behaviour("sync.overlap-rejected", "sync.atomic", "sync.explicit-times-override")
def test_sync_overlap_rejected_and_explicit_times_win(api, fresh_store, new_section):
    lunch = new_section(name="lunch", availableTimes=LUNCH_TIMES)
    dinner = new_section(name="dinner", availableTimes=DINNER_TIMES)
    expect.ok(api, push(api, "populateMenu", [fresh_store], {lunch: {"sequence": 1, "availableTimes": {}}, dinner: {"sequence": 2, "availableTimes": {}}}), "populate.attaches-fresh-stores")
    publish(api, fresh_store)
    before = served(api, fresh_store)
    expect.error(api, push(api, "syncMenuToStores", [fresh_store], {lunch: {"sequence": 1, "availableTimes": week(1400, 1800)}}), "request_invalid", "sync.overlap-rejected")
    publish(api, fresh_store)
    if served(api, fresh_store) != before:
        raise mismatch("a rejected sync changed the store", "sync.atomic", "menu changed", "nothing written")
    expect.ok(api, push(api, "syncMenuToStores", [fresh_store], {lunch: {"sequence": 1, "availableTimes": week(1000, 1500)}}), "sync.explicit-times-override")
    publish(api, fresh_store)
    got = section_in(served(api, fresh_store), lunch)
    if got["availableTimes"] != week(1000, 1500):
        raise mismatch("explicit times in a sync were not applied", "sync.explicit-times-override", got["availableTimes"], week(1000, 1500))


@pytest.mark.behaviour("getmenu.one-param-400", "getmenu.store-mode", "getmenu.business-mode", "getmenu.provider-ids-string")
def test_get_menu_modes(api, target):
    menu = expect.ok(api, api.call("getMenu"), "getmenu.business-mode")["menu"]
    if "businessInfo" not in menu or not isinstance(menu.get("sections"), list):
        raise mismatch("business mode without businessInfo/sections", "getmenu.business-mode", sorted(menu), ["businessInfo", "sections"])
    if target.settings.stores:
        store_menu = expect.ok(api, api.get_menu(target.settings.stores[0]), "getmenu.store-mode")["menu"]
        if "branchInfo" not in store_menu or not isinstance(store_menu["branchInfo"].get("providerIDs"), str):
            raise mismatch("store mode without branchInfo.providerIDs string", "getmenu.provider-ids-string", store_menu.get("branchInfo"), "providerIDs: '1,6,9'")
    expect.error(api, api.call("getMenu", params={"branch_id": 1}), "request_invalid", "getmenu.one-param-400")


@pytest.mark.behaviour("publish.requires-stores-and-providers", "publish.unpopulated-counts-failed")
def test_publish_validation_and_counts(api, store, fresh_store):
    expect.error(api, api.call("publishMenu", {"stores": [store.as_json()]}), "request_invalid", "publish.requires-stores-and-providers")
    data = expect.ok(api, api.call("publishMenu", {"stores": [store.as_json(), fresh_store.as_json()], "providerIDs": [1]}), "publish.counts")
    if data != {"success": 1, "failed": 1}:
        raise mismatch("publish counts do not count stores", "publish.unpopulated-counts-failed", data, {"success": 1, "failed": 1})
