"""Menu-publish semantics, observed as a partner observes them: publish, then getMenu in store mode.

First-time-push checks share the planned populates of ``conftest`` (``menu_a``,
``menu_b``: one fresh store each); checks whose correct answer leaves a store
without a menu borrow a fresh store and hand it back.
"""

from __future__ import annotations

import pytest

from klikit_harness.checking import expect
from klikit_harness.suites.contract.conftest import (
    UNKNOWN_ID,
    business_sections,
    day,
    entry,
    member,
    node,
    publish,
    push_body,
    section_in,
    served,
    snapshot,
)


def times_of(section):
    return None if section is None else member(section, "availableTimes")


# --------------------------------------------------- stores without a menu


@pytest.mark.behaviour("getmenu.never-published-empty")
def test_a_never_published_store_serves_no_sections(api, never_published_store):
    data = expect.ok(api, api.get_menu(never_published_store), "getmenu.never-published-empty")
    sections = (data.get("menu") or {}).get("sections") if isinstance(data, dict) else None
    if sections != []:
        raise expect.mismatch(
            api,
            "a never-published store does not answer sections []",
            "getmenu.never-published-empty",
            data,
            {"menu": {"sections": []}},
        )


@pytest.mark.behaviour("sync.skips-unpopulated-stores", "sync.result-counts")
def test_sync_skips_a_store_without_a_menu(api, pristine_store, fresh_pool, new_section, request):
    sid = new_section(name="skip", availableTimes=day(1, 1100, 1200))
    data = expect.ok(
        api, api.call("syncMenuToStores", push_body([pristine_store], {sid: entry(1)})), "sync.skips-unpopulated-stores"
    )
    with expect.settled(api):
        if expect.members(data, "synced", "skipped") != {"synced": 0, "skipped": 1}:
            raise expect.mismatch(
                api, "sync counts for a store without a menu", "sync.result-counts", data, {"synced": 0, "skipped": 1}
            )
    fresh_pool.verify_still_fresh(api, pristine_store, request.node.nodeid, "sync.skips-unpopulated-stores")


@pytest.mark.behaviour("publish.unpopulated-counts-failed")
def test_publish_counts_a_store_without_a_menu_as_failed(api, store, pristine_store, fresh_pool, request):
    data = expect.ok(api, api.publish([store, pristine_store]), "publish.counts")
    with expect.settled(api):
        if expect.members(data, "success", "failed") != {"success": 1, "failed": 1}:
            raise expect.mismatch(
                api,
                "publish does not count a store without a menu as failed",
                "publish.unpopulated-counts-failed",
                data,
                {"success": 1, "failed": 1},
            )
    fresh_pool.verify_still_fresh(api, pristine_store, request.node.nodeid, "publish.unpopulated-counts-failed")


@pytest.mark.behaviour("populate.overlap-scope", "populate.overlap-rejected", "populate.atomic")
def test_a_populate_whose_sections_collide_is_rejected_and_changes_nothing(
    api, pristine_store, fresh_pool, new_section, request
):
    dinner = new_section(name="dinner", availableTimes=day(6, 1700, 2200))
    lunch = new_section(name="lunch", availableTimes=day(6, 1100, 1500))
    # lunch's override 1600-1800 collides with dinner, attached by the same request at its business schedule
    body = push_body([pristine_store], {dinner: entry(2), lunch: entry(1, day(6, 1600, 1800))})
    with expect.settled(api):
        expect.error(api, api.call("populateMenu", body), "request_invalid", "populate.overlap-scope")
    fresh_pool.verify_still_fresh(api, pristine_store, request.node.nodeid, "populate.atomic")


@pytest.mark.behaviour("populate.foreign-resource-404", "tenancy.unknown-same-as-foreign", "populate.atomic")
def test_a_populate_naming_an_unknown_section_is_404_and_changes_nothing(
    api, pristine_store, fresh_pool, new_section, request
):
    own = new_section(name="own", availableTimes=day(1, 900, 1000))
    body = push_body([pristine_store], {own: entry(1), UNKNOWN_ID: entry(2)})
    with expect.settled(api):
        expect.error(api, api.call("populateMenu", body), "resource_not_found", "populate.foreign-resource-404")
    fresh_pool.verify_still_fresh(api, pristine_store, request.node.nodeid, "populate.atomic")


@pytest.mark.behaviour("auth.forbidden-scope", "auth.write-scope-for-writes")
def test_an_under_scoped_populate_writes_nothing(
    api, target, client_for, pristine_store, fresh_pool, new_section, request
):
    from klikit_harness.suites.contract.conftest import need

    cred = need(target.settings.limited_credential, "KLIKIT_LIMITED_CREDENTIAL", "key:secret of a read-only credential")
    limited = client_for(cred, "KLIKIT_LIMITED")
    sid = new_section(name="scope", availableTimes=day(1, 1300, 1400))
    r = limited.call("populateMenu", push_body([pristine_store], {sid: entry(1)}))
    with expect.settled(api):
        expect.error(limited, r, "auth_forbidden", "auth.write-scope-for-writes")
    if r.status_code == 403:  # the credential lacks the scope: the documented rule says nothing is written
        fresh_pool.verify_still_fresh(api, pristine_store, request.node.nodeid, "auth.forbidden-scope")
    else:
        fresh_pool.lose(pristine_store)


# ------------------------------------------------------ menu_a: one populate


@pytest.mark.behaviour("populate.attaches-fresh-stores", "publish.rebuilds-snapshot", "sync.sections-keyed-by-id")
def test_populate_attaches_every_named_section_with_its_sequence(api, menu_a):
    for name, sid in menu_a.ids.items():
        got = section_in(menu_a.served, sid)
        want = menu_a.entries[name]["sequence"]
        if got is None or member(got, "sequence") != want:
            raise expect.mismatch(
                api,
                f"populated section {name} not served with its sequence after publish",
                "populate.attaches-fresh-stores",
                got,
                {"id": sid, "sequence": want},
            )


@pytest.mark.behaviour("populate.empty-times-fallback")
def test_empty_times_fall_back_to_the_business_schedule(api, menu_a):
    got = times_of(section_in(menu_a.served, menu_a.ids["lunch"]))
    if got != menu_a.business["lunch"]["availableTimes"]:
        raise expect.mismatch(
            api,
            "{} did not fall back to the business schedule",
            "populate.empty-times-fallback",
            got,
            menu_a.business["lunch"]["availableTimes"],
        )


@pytest.mark.behaviour("populate.explicit-times-override")
def test_explicit_times_become_the_store_override(api, menu_a):
    got = times_of(section_in(menu_a.served, menu_a.ids["override"]))
    if got != menu_a.entries["override"]["availableTimes"]:
        raise expect.mismatch(
            api,
            "explicit availableTimes not served as the override",
            "populate.explicit-times-override",
            got,
            menu_a.entries["override"]["availableTimes"],
        )


@pytest.mark.behaviour("getmenu.stale-until-publish")
def test_a_populate_is_invisible_until_publish(api, menu_a):
    if menu_a.before_publish:
        raise expect.mismatch(
            api,
            "populate was visible before publish",
            "getmenu.stale-until-publish",
            menu_a.before_publish,
            "no section until publish",
        )


@pytest.mark.behaviour("publish.scheduled")
def test_a_scheduled_publish_is_deferred_and_the_zero_time_is_now(api, menu_a):
    expect.ok(api, menu_a.scheduled, "publish.scheduled")
    if menu_a.after_scheduled:
        raise expect.mismatch(
            api,
            "a publish scheduled for 2099 ran now",
            "publish.scheduled",
            menu_a.after_scheduled,
            "nothing served until 2099",
        )
    if not menu_a.after_zero or section_in(menu_a.after_zero, menu_a.ids["lunch"]) is None:
        raise expect.mismatch(
            api,
            "the zero scheduledAt did not publish now",
            "publish.scheduled",
            menu_a.after_zero,
            "the populated sections, now",
        )


@pytest.mark.behaviour("populate.result-counts")
def test_populate_counts_stores(api, menu_a):
    if expect.members(menu_a.populate_data, "populated", "skipped") != {"populated": 1, "skipped": 0}:
        raise expect.mismatch(
            api, "populate counts", "populate.result-counts", menu_a.populate_data, {"populated": 1, "skipped": 0}
        )


@pytest.mark.behaviour("getmenu.store-fields")
def test_store_mode_nodes_carry_store_fields(api, menu_a):
    store_fields = {"isAvailable", "stockEnabled", "attachedWithStore"}
    got = section_in(menu_a.served, menu_a.ids["lunch"]) or {}
    if store_fields - set(got):
        raise expect.mismatch(
            api, "store-mode nodes lack store fields", "getmenu.store-fields", sorted(got), sorted(store_fields)
        )
    business = section_in(menu_a.business_menu, menu_a.ids["lunch"]) or {}
    if store_fields & set(business):
        raise expect.mismatch(
            api, "business-mode nodes carry store fields", "getmenu.store-fields", sorted(business), "no store fields"
        )


@pytest.mark.behaviour(
    "sync.empty-times-no-overlap-check",
    "sync.business-values-applied",
    "sync.attaches-missing-sections",
    "sync.only-named-sections-change",
    "sync.result-counts",
)
def test_sync_attaches_a_section_at_its_business_values(api, menu_a, new_section):
    # its business schedule collides with "fifth", but {} is never overlap-checked
    sid = new_section(name="synced", availableTimes=day(5, 1000, 1200), visibilities={"1": True, "6": True})
    before_fifth = node(section_in(menu_a.served, menu_a.ids["fifth"]))
    data = expect.ok(
        api,
        api.call("syncMenuToStores", push_body([menu_a.store], {sid: entry(9)})),
        "sync.empty-times-no-overlap-check",
    )
    with expect.settled(api):
        if expect.members(data, "synced", "skipped") != {"synced": 1, "skipped": 0}:
            raise expect.mismatch(api, "sync counts", "sync.result-counts", data, {"synced": 1, "skipped": 0})
    publish(api, menu_a.store)
    menu = served(api, menu_a.store)
    got = section_in(menu, sid)
    with expect.settled(api):
        if got is None or member(got, "sequence") != 9:
            raise expect.mismatch(
                api,
                "sync did not attach the named section with the body's sequence",
                "sync.attaches-missing-sections",
                got,
                {"id": sid, "sequence": 9},
            )
    if got is not None and (member(got, "availableTimes"), member(got, "visibilities")) != (
        day(5, 1000, 1200),
        {"1": True, "6": True},
    ):
        raise expect.mismatch(
            api,
            "sync did not apply the business values",
            "sync.business-values-applied",
            got,
            "the business schedule and visibilities",
        )
    with expect.settled(api):
        if node(section_in(menu, menu_a.ids["fifth"])) != before_fifth:
            raise expect.mismatch(
                api,
                "a section the sync did not name changed",
                "sync.only-named-sections-change",
                node(section_in(menu, menu_a.ids["fifth"])),
                before_fifth,
            )


@pytest.mark.behaviour(
    "sync.persisted-fields-kept",
    "sync.visibility-persisted",
    "sync.field-include-overwrites",
    "sync.persist-list-replaced",
    "getmenu.stale-until-publish",
)
def test_sync_keeps_persisted_overrides_unless_told(api, menu_a):
    store, sid = menu_a.store, menu_a.ids["persist"]
    own_times = menu_a.entries["persist"]["availableTimes"]
    business_times = menu_a.business["persist"]["availableTimes"]
    store_vis, business_vis = {"1": False, "6": True}, {"1": True, "9": True}
    expect.ok(
        api,
        api.call("setSectionVisibilities", {"visibilities": store_vis, "zoneStores": [store.as_json()]}, sectionID=sid),
        "visibility.zone-stores-override-only",
    )
    expect.ok(
        api,
        api.call("setSectionVisibilities", {"visibilities": business_vis}, sectionID=sid),
        "visibility.replaces-map",
    )

    def sync_and_read(behaviour, **extra):
        publish(api, store)
        before = node(section_in(served(api, store), sid))
        expect.ok(api, api.call("syncMenuToStores", push_body([store], {sid: entry(2)}, **extra)), behaviour)
        if node(section_in(served(api, store), sid)) != before:
            raise expect.mismatch(
                api,
                "sync was visible before publish",
                "getmenu.stale-until-publish",
                "menu changed",
                "unchanged until publish",
            )
        publish(api, store)
        got = section_in(served(api, store), sid)
        return member(got, "availableTimes"), member(got, "visibilities")

    times, vis = sync_and_read("sync.persisted-fields-kept")
    if times != own_times:
        raise expect.mismatch(
            api,
            "a default sync overwrote the store's schedule override",
            "sync.persisted-fields-kept",
            times,
            own_times,
        )
    if vis != store_vis:
        raise expect.mismatch(
            api,
            "a business visibility change reached a store with its own",
            "sync.visibility-persisted",
            vis,
            store_vis,
        )
    times, vis = sync_and_read("sync.field-include-overwrites", fieldIncludeOnSync=["availableTimes"])
    if (times, vis) != (business_times, store_vis):
        raise expect.mismatch(
            api,
            "fieldIncludeOnSync did not force only availableTimes",
            "sync.field-include-overwrites",
            {"availableTimes": times, "visibilities": vis},
            {"availableTimes": business_times, "visibilities": store_vis},
        )
    times, vis = sync_and_read("sync.persist-list-replaced", persistFieldOnSync={"sections": ["availableTimes"]})
    if vis != business_vis:
        raise expect.mismatch(
            api, "an explicit persist list did not replace the default", "sync.persist-list-replaced", vis, business_vis
        )


@pytest.mark.behaviour(
    "sync.default-persist-list",
    "sync.persist-then-include",
    "sync.unknown-field-names-ignored",
    "sync.empty-times-follows-persist-list",
)
def test_sync_persist_list_details(api, menu_a):
    store, sid = menu_a.store, menu_a.ids["details"]
    own_times = menu_a.entries["details"]["availableTimes"]
    expect.ok(
        api,
        api.call("enableSections", {"ids": [sid], "isEnabled": False, "zoneStores": [store.as_json()]}),
        "enable.zone-stores-override-only",
    )
    with expect.settled(api):
        expect.ok(
            api,
            api.call("syncMenuToStores", push_body([store], {sid: entry(4)}, fieldIncludeOnSync=["bogus"])),
            "sync.unknown-field-names-ignored",
        )
    publish(api, store)
    got = section_in(served(api, store), sid)
    with expect.settled(api):
        if (member(got, "availableTimes"), member(got, "enabled")) != (own_times, False):
            raise expect.mismatch(
                api,
                "the default persist list did not keep isEnabled and availableTimes",
                "sync.default-persist-list",
                got,
                {"availableTimes": own_times, "enabled": False},
            )
    # an explicit list keeps isEnabled only, then fieldIncludeOnSync takes it off: both go back to business values
    body = push_body(
        [store], {sid: entry(4)}, persistFieldOnSync={"sections": ["isEnabled"]}, fieldIncludeOnSync=["isEnabled"]
    )
    expect.ok(api, api.call("syncMenuToStores", body), "sync.persist-then-include")
    publish(api, store)
    got = section_in(served(api, store), sid)
    if (member(got, "availableTimes"), member(got, "enabled")) != (menu_a.business["details"]["availableTimes"], True):
        raise expect.mismatch(
            api, "persistFieldOnSync then fieldIncludeOnSync", "sync.persist-then-include", got, "business values"
        )


@pytest.mark.behaviour(
    "sync.overlap-rejected", "sync.atomic", "sync.explicit-times-override", "schedule.touching-not-overlap"
)
def test_a_colliding_sync_is_rejected_and_explicit_times_win(api, menu_a):
    store, early = menu_a.store, menu_a.ids["early"]
    publish(api, store)
    before = snapshot(served(api, store))
    # early's new 1400-1800 collides with late's 1700-2200, attached to the store already
    expect.error(
        api,
        api.call("syncMenuToStores", push_body([store], {early: entry(6, day(4, 1400, 1800))})),
        "request_invalid",
        "sync.overlap-rejected",
    )
    publish(api, store)
    with expect.settled(api):
        if snapshot(served(api, store)) != before:
            raise expect.mismatch(
                api, "a rejected sync changed the store", "sync.atomic", "menu changed", "nothing written"
            )
    # 1000-1700 touches late at 1700: accepted, and the explicit schedule wins over the persist list
    with expect.settled(api):
        expect.ok(
            api,
            api.call("syncMenuToStores", push_body([store], {early: entry(6, day(4, 1000, 1700))})),
            "schedule.touching-not-overlap",
        )
        publish(api, store)
        got = times_of(section_in(served(api, store), early))
        if got != day(4, 1000, 1700):
            raise expect.mismatch(
                api,
                "explicit times in a sync were not applied",
                "sync.explicit-times-override",
                got,
                day(4, 1000, 1700),
            )


@pytest.mark.behaviour("visibility.zone-stores-override-only", "enable.zone-stores-override-only")
def test_zone_store_writes_touch_only_that_store(api, menu_a):
    store, sid = menu_a.store, menu_a.ids["zone"]
    zone = [store.as_json()]
    expect.ok(
        api,
        api.call("setSectionVisibilities", {"visibilities": {"6": True}, "zoneStores": zone}, sectionID=sid),
        "visibility.zone-stores-override-only",
    )
    expect.ok(
        api,
        api.call("enableSections", {"ids": [sid], "isEnabled": False, "zoneStores": zone}),
        "enable.zone-stores-override-only",
    )
    business = section_in(business_sections(api), sid)
    if member(business, "visibilities") != {"1": True}:
        raise expect.mismatch(
            api,
            "a zoneStores visibility write changed the business row",
            "visibility.zone-stores-override-only",
            member(business, "visibilities"),
            {"1": True},
        )
    if member(business, "enabled") is not True:
        raise expect.mismatch(
            api,
            "a zoneStores enable write changed the business row",
            "enable.zone-stores-override-only",
            member(business, "enabled"),
            True,
        )
    publish(api, store)
    got = section_in(served(api, store), sid)
    if member(got, "visibilities") != {"6": True}:
        raise expect.mismatch(
            api,
            "the store did not get its visibility override",
            "visibility.zone-stores-override-only",
            member(got, "visibilities"),
            {"6": True},
        )
    if member(got, "enabled") is not False:
        raise expect.mismatch(
            api,
            "the store did not get its enable override",
            "enable.zone-stores-override-only",
            member(got, "enabled"),
            False,
        )


# ------------------------------------------------------ menu_b: one populate


@pytest.mark.behaviour("populate.sync-fields-inert")
def test_sync_fields_change_nothing_on_populate(api, menu_b):
    if menu_b.sync_fields_rejected is not None:
        raise expect.mismatch(
            api,
            "populate rejected fieldIncludeOnSync/persistFieldOnSync",
            "populate.sync-fields-inert",
            menu_b.sync_fields_rejected,
            "accepted and inert",
        )
    got = times_of(section_in(menu_b.served, menu_b.ids["single"]))
    if got != menu_b.entries["single"]["availableTimes"]:
        raise expect.mismatch(
            api,
            "fieldIncludeOnSync acted on a populate",
            "populate.sync-fields-inert",
            got,
            menu_b.entries["single"]["availableTimes"],
        )


@pytest.mark.behaviour("populate.has-menu-definition")
def test_one_attached_section_makes_a_menu(api, menu_b, new_section):
    extra = new_section(name="second", availableTimes=day(1, 900, 1000))
    expect.ok(
        api, api.call("populateMenu", push_body([menu_b.store], {extra: entry(2)})), "populate.skips-populated-stores"
    )
    publish(api, menu_b.store)
    if section_in(served(api, menu_b.store), extra) is not None:
        raise expect.mismatch(
            api,
            "a store with one section was populated again",
            "populate.has-menu-definition",
            "section attached",
            "skipped",
        )


@pytest.mark.behaviour(
    "reset.drops-overrides",
    "reset.visible-after-publish",
    "reset.keeps-sections",
    "reset.named-stores-only",
    "reset.result-count",
    "reset.passthrough-body",
    "tenancy.business-id-pinned",
)
def test_reset_drops_one_stores_overrides(api, menu_a, menu_b):
    store, sid = menu_b.store, menu_b.ids["single"]
    business = menu_b.business["single"]

    def override_and_publish():
        expect.ok(
            api,
            api.call(
                "setSectionVisibilities", {"visibilities": {"6": True}, "zoneStores": [store.as_json()]}, sectionID=sid
            ),
            "visibility.zone-stores-override-only",
        )
        publish(api, store)
        return snapshot(served(api, store))

    before = override_and_publish()
    data = expect.ok(api, api.call("resetStoreOverrides", {"stores": [store.as_json()]}), "reset.drops-overrides")
    with expect.settled(api):
        if expect.members(data, "reset") != {"reset": 1}:
            raise expect.mismatch(
                api, "reset does not count the stores reset", "reset.result-count", data, {"reset": 1}
            )
    with expect.settled(api):
        if snapshot(served(api, store)) != before:
            raise expect.mismatch(
                api,
                "reset was visible before publish",
                "reset.visible-after-publish",
                "menu changed",
                "unchanged until publish",
            )
    publish(api, store, menu_a.store)
    got = section_in(served(api, store), sid)
    with expect.settled(api):
        if got is None:
            raise expect.mismatch(api, "reset detached the section", "reset.keeps-sections", "absent", sid)
    if got is not None and (member(got, "availableTimes"), member(got, "visibilities")) != (
        business["availableTimes"],
        business["visibilities"],
    ):
        raise expect.mismatch(api, "reset kept a store override", "reset.drops-overrides", got, "business values")
    with expect.settled(api):
        other = times_of(section_in(served(api, menu_a.store), menu_a.ids["override"]))
        if other != menu_a.entries["override"]["availableTimes"]:
            raise expect.mismatch(
                api,
                "reset touched another store",
                "reset.named-stores-only",
                other,
                menu_a.entries["override"]["availableTimes"],
            )
    # another business's id and other keys in the body: accepted, and the caller's own store is reset
    override_and_publish()
    body = {"stores": [store.as_json()], "business_id": 1, "note": {"why": "harness"}}
    expect.ok(api, api.call("resetStoreOverrides", body), "reset.passthrough-body")
    publish(api, store)
    got = section_in(served(api, store), sid)
    if member(got, "visibilities") != business["visibilities"]:
        raise expect.mismatch(
            api,
            "a reset carrying business_id did not reset the caller's store",
            "tenancy.business-id-pinned",
            member(got, "visibilities"),
            business["visibilities"],
        )


# ------------------------------------------------- stores that have a menu


@pytest.mark.behaviour("populate.skips-populated-stores")
def test_populate_leaves_a_store_with_a_menu_exactly_as_it_was(api, store, new_section):
    intruder = new_section(name="intruder", availableTimes=day(1, 600, 700))
    publish(api, store)
    before = snapshot(served(api, store))
    expect.ok(
        api, api.call("populateMenu", push_body([store], {intruder: entry(1)})), "populate.skips-populated-stores"
    )
    publish(api, store)
    after = snapshot(served(api, store))
    if after != before:
        raise expect.mismatch(
            api, "populate changed a store that already had a menu", "populate.skips-populated-stores", after, before
        )


@pytest.mark.behaviour(
    "getmenu.one-param-400", "getmenu.store-mode", "getmenu.business-mode", "getmenu.provider-ids-string"
)
def test_get_menu_modes(api, target):
    menu = expect.ok(api, api.call("getMenu"), "getmenu.business-mode")["menu"]
    if "businessInfo" not in menu or not isinstance(menu.get("sections"), list):
        raise expect.mismatch(
            api,
            "business mode without businessInfo/sections",
            "getmenu.business-mode",
            sorted(menu),
            ["businessInfo", "sections"],
        )
    if target.settings.stores:
        store_menu = expect.ok(api, api.get_menu(target.settings.stores[0]), "getmenu.store-mode")["menu"]
        if not isinstance(store_menu.get("branchInfo"), dict) or not isinstance(store_menu.get("sections"), list):
            raise expect.mismatch(
                api,
                "store mode without branchInfo/sections",
                "getmenu.store-mode",
                sorted(store_menu),
                ["branchInfo", "sections"],
            )
        if not isinstance(store_menu["branchInfo"].get("providerIDs"), str):
            raise expect.mismatch(
                api,
                "branchInfo.providerIDs is not a string",
                "getmenu.provider-ids-string",
                store_menu.get("branchInfo"),
                "providerIDs: '1,6,9'",
            )
    expect.error(api, api.call("getMenu", params={"branch_id": 1}), "request_invalid", "getmenu.one-param-400")


@pytest.mark.behaviour("publish.requires-stores-and-providers", "input.missing-required")
def test_publish_requires_stores_and_providers(api, store):
    expect.error(
        api,
        api.call("publishMenu", {"stores": [store.as_json()]}),
        "request_invalid",
        "publish.requires-stores-and-providers",
    )
    expect.error(
        api, api.call("publishMenu", {"providerIDs": [1]}), "request_invalid", "publish.requires-stores-and-providers"
    )
    # populate without stores: nothing could be written whatever the target does with it
    own = business_sections(api)
    sections = {str(own[0].get("id")): entry(1)} if own else {}
    expect.error(api, api.call("populateMenu", {"sections": sections}), "request_invalid", "input.missing-required")


@pytest.mark.behaviour("sync.foreign-resource-404", "sync.atomic")
def test_a_sync_naming_an_unknown_section_is_404_and_changes_nothing(api, store, new_section):
    own = new_section(name="sync-404", availableTimes=day(1, 1000, 1100))
    body = push_body([store], {own: entry(1), UNKNOWN_ID: entry(2)})
    with expect.settled(api):
        expect.error(api, api.call("syncMenuToStores", body), "resource_not_found", "sync.foreign-resource-404")
    publish(api, store)
    if section_in(served(api, store), own) is not None:
        raise expect.mismatch(
            api, "a rejected sync attached a section", "sync.atomic", "section attached", "nothing written"
        )
