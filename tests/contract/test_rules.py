"""The remaining rules of contracts/behaviours.yaml, one small check each, against any target."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from hypothesis import given

from klikit_harness import expect, profiles
from klikit_harness import strategies as ks
from klikit_harness.failures import Violation
from tests.contract.conftest import need, publish, section_in, served, week

TIMES = week(1100, 1500)


def violation(title, behaviour, received, documented):
    return Violation(title, behaviour=behaviour, received=received, documented=documented)


def push_body(store, sections, **extra):
    return {"stores": [store.as_json()], "sections": {str(k): v for k, v in sections.items()}, **extra}


def populated(api, store, *sids, times=None):
    """Populate a fresh store with ``sids`` and publish it."""
    body = push_body(store, {sid: {"sequence": i + 1, "availableTimes": (times or {}).get(sid, {})} for i, sid in enumerate(sids)})
    expect.ok(api, api.call("populateMenu", body), "populate.attaches-fresh-stores")
    publish(api, store)


# ----------------------------------------------------------------- envelope


@pytest.mark.behaviour("envelope.request-id-opaque")
def test_request_ids_are_opaque_strings(api):
    rid = expect.envelope(api, api.call("getMenu"))["request_id"]
    if not isinstance(rid, str) or not rid.strip():
        raise violation("request_id is not an opaque non-empty string", "envelope.request-id-opaque", rid, "any non-empty string")


@pytest.mark.behaviour("envelope.check-order")
def test_auth_is_checked_before_the_body(client_for):
    anonymous = client_for(None, "NONE")
    expect.error(anonymous, anonymous.call("syncMenuToStores", content=b"{", key=None, headers={"Content-Type": "application/json"}),
                 "auth_missing", "envelope.check-order")


@pytest.mark.behaviour("envelope.check-order", "idempotency.key-required-on-writes")
def test_key_is_checked_before_the_body(api, target, writes):
    if target.reading != "reference":
        pytest.skip("the concepts reading makes the key optional")
    expect.error(api, api.call("syncMenuToStores", content=b"{", key=None, headers={"Content-Type": "application/json"}),
                 "request_missing_idempotency_key", "envelope.check-order")


# --------------------------------------------------------------------- auth


@pytest.mark.behaviour("auth.empty-key-missing")
def test_empty_partner_key_is_auth_missing(client_for):
    anonymous = client_for(None, "NONE")
    header = "Basic " + base64.b64encode(b":some-secret").decode()
    expect.error(anonymous, anonymous.call("getMenu", headers={"Authorization": header}), "auth_missing", "auth.empty-key-missing")


@pytest.mark.behaviour("auth.revoked-wrong-secret")
def test_revoked_key_with_wrong_secret(target, client_for):
    from klikit_harness.config import Credential

    cred = need(target.settings.revoked_credential, "KLIKIT_REVOKED_CREDENTIAL", "key:secret of a revoked credential")
    client = client_for(Credential(cred.key, "wrong-" + uuid.uuid4().hex[:6]), "KLIKIT_REVOKED")
    expect.error(client, client.call("getMenu"), "auth_invalid_credential", "auth.revoked-wrong-secret")


@pytest.mark.behaviour("auth.read-scope-for-getmenu")
def test_read_scope_serves_both_modes(target, client_for):
    cred = need(target.settings.limited_credential, "KLIKIT_LIMITED_CREDENTIAL", "key:secret of a read-only credential")
    client = client_for(cred, "KLIKIT_LIMITED")
    expect.ok(client, client.call("getMenu"), "auth.read-scope-for-getmenu")
    store = need(target.settings.stores, "KLIKIT_STORES", "a store to read")[0]
    expect.ok(client, client.get_menu(store), "auth.read-scope-for-getmenu")


# ------------------------------------------------------------------ tenancy


@pytest.mark.behaviour("tenancy.business-id-pinned", "reset.passthrough-body", "reset.result-count")
def test_reset_ignores_a_foreign_business_id(api, fresh_store, new_section, target):
    sid = new_section(name="pinned", availableTimes=TIMES)
    populated(api, fresh_store, sid)
    data = expect.ok(api, api.call("resetStoreOverrides", {"stores": [fresh_store.as_json()], "business_id": 1, "extra": {"x": 1}}),
                     "reset.passthrough-body")
    if data != {"reset": 1}:
        raise violation("reset does not count the stores reset", "reset.result-count", data, {"reset": 1})


# -------------------------------------------------------------- idempotency


@pytest.mark.behaviour("idempotency.replay-header", "idempotency.body-compared-parsed")
def test_replay_of_a_reordered_body_is_marked(api, target, writes):
    key = str(uuid.uuid4())
    title = f"{target.run_id} parsed"
    first = api.call("createSection", content=json.dumps({"title": {"en": title}, "sequence": 1}).encode(), key=key,
                     headers={"Content-Type": "application/json"})
    expect.ok(api, first, "section.create-returns-id")
    again = api.call("createSection", content=b'{ "sequence": 1,\n "title": {"en": "' + title.encode() + b'"} }', key=key,
                     headers={"Content-Type": "application/json"})
    if again.content != first.content:
        raise violation("a reordered body was not replayed", "idempotency.body-compared-parsed", again.text[:200], first.text[:200])
    if "idempotent-replayed" in first.headers or again.headers.get("idempotent-replayed") != "true":
        raise violation("replay not marked with Idempotent-Replayed", "idempotency.replay-header", dict(again.headers), "Idempotent-Replayed: true")


@pytest.mark.behaviour("idempotency.only-2xx-stored")
def test_errors_are_not_replayed(api, target, writes):
    key = str(uuid.uuid4())
    expect.error(api, api.call("createSection", {"title": {}}, key=key), "request_invalid", "section.create-title-required")
    expect.ok(api, api.call("createSection", {"title": {"en": f"{target.run_id} corrected"}}, key=key), "idempotency.only-2xx-stored")


@pytest.mark.behaviour("idempotency.fingerprint-includes-path")
def test_key_reused_on_another_operation(api, target, store):
    key = str(uuid.uuid4())
    expect.ok(api, api.call("publishMenu", {"stores": [store.as_json()], "providerIDs": [1]}, key=key), "publish.counts")
    r = api.call("resetStoreOverrides", {"stores": [store.as_json()], "providerIDs": [1]}, key=key)
    expect.error(api, r, "state_idempotency_conflict", "idempotency.fingerprint-includes-path")


@pytest.mark.behaviour("idempotency.expires-24h")
def test_keys_expire_after_a_day(api, target, writes):
    if not target.is_standin:
        pytest.skip("needs a clock: the 24-hour window is checked against the embedded stand-in only")
    # the stand-in's clock is the wall clock; move its idempotency entries back a day
    key = str(uuid.uuid4())
    first = expect.ok(api, api.call("createSection", {"title": {"en": f"{target.run_id} day"}}, key=key), "section.create-returns-id")
    for entry in target.service.idempotency._entries.values():
        entry.created -= 24 * 3600
    second = expect.ok(api, api.call("createSection", {"title": {"en": f"{target.run_id} day"}}, key=key), "idempotency.expires-24h")
    if second == first:
        raise violation("a key older than 24 h was replayed", "idempotency.expires-24h", second, "a new write")


# --------------------------------------------------------------- rate limit


@pytest.mark.behaviour("ratelimit.per-credential", "ratelimit.every-request-counts")
def test_one_throttled_credential_does_not_throttle_another(target, api, client_for):
    cred = target.settings.burst_credential
    if not (target.is_standin or target.settings.allow_burst) or cred is None:
        pytest.skip("set KLIKIT_ALLOW_BURST=1 and KLIKIT_BURST_CREDENTIAL to exhaust one credential on purpose")
    with target.client(cred.pair(), variable="KLIKIT_BURST_KEY:KLIKIT_BURST_SECRET", capped=False) as burst:
        for _ in range(200):
            if burst.call("getMenu", params={"brand_id": 1}).status_code == 429:  # failing requests count too
                break
        else:
            pytest.skip("no 429 within 200 requests")
    expect.ok(api, api.call("getMenu"), "ratelimit.per-credential")


# ---------------------------------------------------------------- schedules


@pytest.mark.behaviour("schedule.shape", "schedule.hhmm-range", "schedule.start-before-end", "schedule.no-overlap-within-day", "schedule.invalid-details-field")
@profiles.examples(smoke=10, release=40, nightly=150)
@given(case=ks.invalid_schedules())
def test_invalid_schedules_are_rejected(api, target, case):
    if target.read_only:
        pytest.skip("read-only run")
    kind, schedule = case
    r = api.call("createSection", {"title": {"en": f"{target.run_id} invalid {kind}"}, "availableTimes": schedule})
    expect.error(api, r, "request_invalid", "schedule.shape", field="availableTimes")


@pytest.mark.behaviour("schedule.touching-not-overlap", "schedule.disabled-days-unchecked")
def test_touching_and_disabled_slots_are_accepted(api, new_section):
    new_section(name="touching", availableTimes={"1": {"disabled": False, "slots": [{"startTime": 900, "endTime": 1200}, {"startTime": 1200, "endTime": 1500}]}})
    new_section(name="disabled", availableTimes={"2": {"disabled": True, "slots": [{"startTime": 900, "endTime": 1300}, {"startTime": 1200, "endTime": 1500}]}})


# ----------------------------------------------------------------- populate


@pytest.mark.behaviour("populate.explicit-times-override", "populate.result-counts", "populate.sync-fields-inert")
def test_populate_override_and_counts(api, fresh_store, new_section):
    sid = new_section(name="override", availableTimes=TIMES)
    body = push_body(fresh_store, {sid: {"sequence": 1, "availableTimes": week(1000, 1400)}}, fieldIncludeOnSync=["availableTimes"])
    data = expect.ok(api, api.call("populateMenu", body), "populate.explicit-times-override")
    if data != {"populated": 1, "skipped": 0}:
        raise violation("populate counts", "populate.result-counts", data, {"populated": 1, "skipped": 0})
    publish(api, fresh_store)
    got = section_in(served(api, fresh_store), sid)
    if got is None or got["availableTimes"] != week(1000, 1400):
        raise violation("override not served", "populate.explicit-times-override", got and got["availableTimes"], week(1000, 1400))


@pytest.mark.behaviour("populate.has-menu-definition")
def test_one_section_makes_a_menu(api, fresh_store, new_section):
    a, b = new_section(name="first"), new_section(name="second")
    populated(api, fresh_store, a)
    data = expect.ok(api, api.call("populateMenu", push_body(fresh_store, {b: {"sequence": 2, "availableTimes": {}}})), "populate.has-menu-definition")
    publish(api, fresh_store)
    if section_in(served(api, fresh_store), b) is not None:
        raise violation("a store with one section was populated again", "populate.has-menu-definition", data, "skipped")


# --------------------------------------------------------------------- sync


@pytest.mark.behaviour(
    "sync.sections-keyed-by-id", "sync.attaches-missing-sections", "sync.result-counts", "sync.business-values-applied",
    "sync.empty-times-no-overlap-check", "sync.only-named-sections-change",
)
def test_sync_attaches_and_applies_business_values(api, fresh_store, new_section):
    a = new_section(name="a", availableTimes=week(900, 1100))
    b = new_section(name="b", availableTimes=week(1000, 1200))  # collides with a, but {} is never checked
    populated(api, fresh_store, a)
    before_a = section_in(served(api, fresh_store), a)
    data = expect.ok(api, api.call("syncMenuToStores", push_body(fresh_store, {b: {"sequence": 7, "availableTimes": {}}})), "sync.sections-keyed-by-id")
    if data != {"synced": 1, "skipped": 0}:
        raise violation("sync counts", "sync.result-counts", data, {"synced": 1, "skipped": 0})
    publish(api, fresh_store)
    menu = served(api, fresh_store)
    got = section_in(menu, b)
    if got is None or got["sequence"] != 7 or got["availableTimes"] != week(1000, 1200):
        raise violation("sync did not attach the section with business values", "sync.attaches-missing-sections", got, {"id": b, "sequence": 7})
    if section_in(menu, a) != before_a:
        raise violation("an unnamed section changed", "sync.only-named-sections-change", section_in(menu, a), before_a)


@pytest.mark.behaviour("sync.skips-unpopulated-stores", "sync.result-counts")
def test_sync_skips_a_store_without_a_menu(api, fresh_store, new_section):
    sid = new_section(name="skip")
    data = expect.ok(api, api.call("syncMenuToStores", push_body(fresh_store, {sid: {"sequence": 1, "availableTimes": {}}})), "sync.skips-unpopulated-stores")
    if data != {"synced": 0, "skipped": 1}:
        raise violation("sync counts for an empty store", "sync.result-counts", data, {"synced": 0, "skipped": 1})
    publish(api, fresh_store)
    if served(api, fresh_store):
        raise violation("sync populated an empty store", "sync.skips-unpopulated-stores", "sections served", "no menu")


@pytest.mark.behaviour("sync.default-persist-list", "sync.persist-then-include", "sync.unknown-field-names-ignored", "sync.empty-times-follows-persist-list")
def test_persist_list_details(api, fresh_store, new_section):
    sid = new_section(name="persist", availableTimes=TIMES, isEnabled=True)
    populated(api, fresh_store, sid, times={sid: week(1200, 1300)})
    expect.ok(api, api.call("enableSections", {"ids": [sid], "isEnabled": False, "zoneStores": [fresh_store.as_json()]}), "enable.zone-stores-override-only")
    # default list keeps both; unknown names are ignored
    expect.ok(api, api.call("syncMenuToStores", push_body(fresh_store, {sid: {"sequence": 1, "availableTimes": {}}}, fieldIncludeOnSync=["bogus"])),
              "sync.unknown-field-names-ignored")
    publish(api, fresh_store)
    got = section_in(served(api, fresh_store), sid)
    if (got["availableTimes"], got["enabled"]) != (week(1200, 1300), False):
        raise violation("default persist list did not keep isEnabled and availableTimes", "sync.default-persist-list", got, "store overrides kept")
    # an explicit list keeps isEnabled, then include subtracts it: both go back to business values
    body = push_body(fresh_store, {sid: {"sequence": 1, "availableTimes": {}}}, persistFieldOnSync={"sections": ["isEnabled"]}, fieldIncludeOnSync=["isEnabled"])
    expect.ok(api, api.call("syncMenuToStores", body), "sync.persist-then-include")
    publish(api, fresh_store)
    got = section_in(served(api, fresh_store), sid)
    if (got["availableTimes"], got["enabled"]) != (TIMES, True):
        raise violation("persistFieldOnSync then fieldIncludeOnSync", "sync.persist-then-include", got, "business values")


@pytest.mark.behaviour("sync.foreign-resource-404")
def test_sync_unknown_section_is_404(api, store):
    expect.error(api, api.call("syncMenuToStores", push_body(store, {2147483000: {"sequence": 1}})), "resource_not_found", "sync.foreign-resource-404")


# ------------------------------------------------------------ publish, menu


@pytest.mark.behaviour("publish.counts", "publish.klikit-provider")
def test_publish_to_klikit_only(api, store):
    data = expect.ok(api, api.call("publishMenu", {"stores": [store.as_json()], "providerIDs": [1]}), "publish.klikit-provider")
    if not (isinstance(data.get("success"), int) and isinstance(data.get("failed"), int)):
        raise violation("publish data is not {success, failed}", "publish.counts", data, {"success": "int", "failed": "int"})


@pytest.mark.behaviour("publish.scheduled")
def test_scheduled_publish_is_deferred(api, fresh_store, new_section):
    sid = new_section(name="scheduled")
    expect.ok(api, api.call("populateMenu", push_body(fresh_store, {sid: {"sequence": 1, "availableTimes": {}}})), "populate.attaches-fresh-stores")
    body = {"stores": [fresh_store.as_json()], "providerIDs": [1], "scheduledAt": "2099-01-01T00:00:00Z"}
    expect.ok(api, api.call("publishMenu", body), "publish.scheduled")
    if served(api, fresh_store):
        raise violation("a publish scheduled for 2099 ran now", "publish.scheduled", "sections served", "nothing until 2099")
    expect.ok(api, api.call("publishMenu", {**body, "scheduledAt": "0001-01-01T00:00:00Z"}), "publish.scheduled")
    if section_in(served(api, fresh_store), sid) is None:
        raise violation("the zero scheduledAt did not publish now", "publish.scheduled", "nothing served", "published now")


@pytest.mark.behaviour("getmenu.business-mode-live", "section.create-returns-id", "getmenu.enabled-read-name")
def test_business_mode_shows_a_new_section_at_once(api, new_section):
    sid = new_section(name="live", isEnabled=False)
    menu = expect.ok(api, api.call("getMenu"), "getmenu.business-mode")["menu"]
    got = section_in(menu["sections"], sid)
    if got is None:
        raise violation("business mode does not show a new section", "getmenu.business-mode-live", "absent", sid)
    if got.get("enabled") is not False:
        raise violation("the enable flag is not read as enabled", "getmenu.enabled-read-name", got, {"enabled": False})


@pytest.mark.behaviour("getmenu.never-published-empty", "getmenu.store-fields")
def test_store_mode_fields_and_empty_store(api, fresh_store, new_section):
    menu = expect.ok(api, api.get_menu(fresh_store), "getmenu.never-published-empty")["menu"]
    if menu["sections"]:
        raise violation("a never-published store serves sections", "getmenu.never-published-empty", menu["sections"], [])
    sid = new_section(name="fields")
    populated(api, fresh_store, sid)
    got = section_in(served(api, fresh_store), sid)
    missing = {"isAvailable", "stockEnabled", "attachedWithStore"} - set(got or {})
    if missing:
        raise violation("store-mode nodes lack store fields", "getmenu.store-fields", sorted(got or {}), sorted(missing))
    business = section_in(expect.ok(api, api.call("getMenu"), "getmenu.business-mode")["menu"]["sections"], sid)
    if business and {"isAvailable", "stockEnabled", "attachedWithStore"} & set(business):
        raise violation("business-mode nodes carry store fields", "getmenu.store-fields", sorted(business), "no store fields")


@pytest.mark.behaviour("reset.keeps-sections", "reset.named-stores-only")
def test_reset_keeps_sections_and_other_stores(api, target, new_section):
    first, second = target.take_fresh_store(), target.take_fresh_store()
    if first is None or second is None or target.read_only:
        pytest.skip("needs two KLIKIT_FRESH_STORES")
    sid = new_section(name="reset")
    for s in (first, second):
        populated(api, s, sid, times={sid: week(1200, 1300)})
    expect.ok(api, api.call("resetStoreOverrides", {"stores": [first.as_json()]}), "reset.drops-overrides")
    publish(api, first, second)
    if section_in(served(api, first), sid) is None:
        raise violation("reset detached the section", "reset.keeps-sections", "absent", sid)
    if section_in(served(api, second), sid)["availableTimes"] != week(1200, 1300):
        raise violation("reset touched another store", "reset.named-stores-only", "override gone", "override kept")


# ----------------------------------------------------------------- sections


@pytest.mark.behaviour("section.create-title-required", "section.blackout-dates-format", "input.missing-required")
@pytest.mark.parametrize(("body", "field"), [({"sequence": 1}, "title"), ({"title": {}}, "title"), ({"title": {"en": "x"}, "blackoutDates": ["2026-02-30"]}, "blackoutDates")])
def test_create_section_validation(api, target, writes, body, field):
    expect.error(api, api.call("createSection", body), "request_invalid", "section.create-title-required" if field == "title" else "section.blackout-dates-format", field=field)


@pytest.mark.behaviour("visibility.replaces-map", "visibility.missing-provider-hidden", "visibility.provider-keys-strings", "section.empty-zone-stores-business")
def test_visibility_map_is_replaced(api, new_section):
    sid = new_section(name="vis", visibilities={"1": True, "6": True})
    expect.ok(api, api.call("setSectionVisibilities", {"visibilities": {"9": True}, "zoneStores": []}, sectionID=sid), "visibility.replaces-map")
    got = section_in(expect.ok(api, api.call("getMenu"), "getmenu.business-mode")["menu"]["sections"], sid)
    if got["visibilities"] != {"9": True}:
        raise violation("visibility map merged instead of replaced", "visibility.replaces-map", got["visibilities"], {"9": True})


@pytest.mark.behaviour("enable.ids-non-empty", "enable.missing-is-false", "enable.foreign-ids-404")
def test_enable_rules(api, new_section):
    sid = new_section(name="enable", isEnabled=True)
    expect.error(api, api.call("enableSections", {"ids": [], "isEnabled": True}), "request_invalid", "enable.ids-non-empty")
    expect.error(api, api.call("enableSections", {"ids": [sid, 2147483000], "isEnabled": False}), "resource_not_found", "enable.foreign-ids-404")
    got = section_in(expect.ok(api, api.call("getMenu"), "getmenu.business-mode")["menu"]["sections"], sid)
    if got["enabled"] is not True:
        raise violation("a 404 enable flipped a flag", "enable.foreign-ids-404", got["enabled"], True)
    expect.ok(api, api.call("enableSections", {"ids": [sid]}), "enable.missing-is-false")
    got = section_in(expect.ok(api, api.call("getMenu"), "getmenu.business-mode")["menu"]["sections"], sid)
    if got["enabled"] is not False:
        raise violation("a missing isEnabled did not disable", "enable.missing-is-false", got["enabled"], False)


# -------------------------------------------------------------- bad input

POPULATE = "populateMenu"


@pytest.mark.behaviour("input.malformed-json", "input.wrong-content-type", "input.non-object-body", "input.deep-nesting", "input.body-too-large")
@pytest.mark.parametrize(
    ("payload", "ctype"),
    [
        (b"{", "application/json"),
        (b"{'a': 1}", "application/json"),
        (b'{"stores": []}', "text/plain"),
        (b"[]", "application/json"),
        (b"null", "application/json"),
        (b'{"stores": ' + b"[" * 40 + b"]" * 40 + b"}", "application/json"),
        (b'{"stores": [], "pad": "' + b"x" * (1024 * 1024 + 10) + b'"}', "application/json"),
    ],
    ids=["truncated", "single-quotes", "text-plain", "array", "null", "deep", "over-1MiB"],
)
def test_client_mistakes_get_400(api, target, writes, payload, ctype):
    r = api.call(POPULATE, content=payload, headers={"Content-Type": ctype})
    if r.status_code >= 500:
        raise violation("a client mistake produced a 5xx", "input.malformed-json", f"HTTP {r.status_code}", "400 request_invalid")
    expect.error(api, r, "request_invalid", "input.malformed-json")


@pytest.mark.behaviour("input.wrong-types", "input.strict-integers", "input.absurd-numbers", "input.id-keyed-map-keys", "input.unknown-fields")
@pytest.mark.parametrize(
    "payload",
    [
        b'{"stores": [{"brandID": "1", "branchID": 1}], "sections": {"1": {"sequence": 1}}}',
        b'{"stores": [{"brandID": 1.0, "branchID": 1}], "sections": {"1": {"sequence": 1}}}',
        b'{"stores": [{"brandID": 1, "branchID": 1}], "sections": {"1": {"sequence": 2.0}}}',
        b'{"stores": [{"brandID": NaN, "branchID": 1}], "sections": {"1": {"sequence": 1}}}',
        b'{"stores": [{"brandID": 2147483648, "branchID": 1}], "sections": {"1": {"sequence": 1}}}',
        b'{"stores": [{"brandID": 1, "branchID": 1}], "sections": {"abc": {"sequence": 1}}}',
        b'{"stores": [{"brandID": 1, "branchID": 1}], "sections": {"1": {"sequence": 1}}, "surprise": true}',
    ],
    ids=["string-id", "float-id", "float-sequence", "nan", "beyond-int32", "non-numeric-key", "unknown-field"],
)
def test_typed_fields_are_strict(api, target, writes, payload):
    expect.error(api, api.call(POPULATE, content=payload, headers={"Content-Type": "application/json"}), "request_invalid", "input.wrong-types")


@pytest.mark.behaviour("input.null-means-absent")
def test_null_optional_fields(api, fresh_store, new_section):
    sid = new_section(name="nulls", sequence=None, availableTimes=None)
    body = push_body(fresh_store, {sid: {"sequence": 1, "availableTimes": None}}, fieldIncludeOnSync=None, persistFieldOnSync=None)
    expect.ok(api, api.call(POPULATE, body), "input.null-means-absent")


@pytest.mark.behaviour("routing.unknown-query-ignored")
def test_unknown_query_parameters(api):
    plain = expect.ok(api, api.call("getMenu"), "getmenu.business-mode")
    extra = expect.ok(api, api.call("getMenu", params={"lang": "en", "utm": "x"}), "routing.unknown-query-ignored")
    if [s["id"] for s in plain["menu"]["sections"]] != [s["id"] for s in extra["menu"]["sections"]]:
        raise violation("an unknown query parameter changed the answer", "routing.unknown-query-ignored", "different menu", "same menu")


@pytest.mark.behaviour("schedule.touching-not-overlap", "populate.overlap-scope")
def test_an_override_touching_another_section_is_accepted(api, fresh_store, new_section):
    lunch = new_section(name="lunch", availableTimes=TIMES)  # 1100-1500, used as the fallback
    dinner = new_section(name="dinner", availableTimes=week(1700, 2200))
    body = push_body(fresh_store, {lunch: {"sequence": 1, "availableTimes": {}}, dinner: {"sequence": 2, "availableTimes": week(1500, 2100)}})
    expect.ok(api, api.call("populateMenu", body), "schedule.touching-not-overlap")


@pytest.mark.behaviour("schedule.disabled-days-unchecked", "populate.overlap-scope")
def test_a_disabled_override_day_never_collides(api, fresh_store, new_section):
    lunch = new_section(name="lunch", availableTimes=TIMES)
    dinner = new_section(name="dinner", availableTimes=week(1700, 2200))
    disabled = {str(d): {"disabled": True, "slots": [{"startTime": 1200, "endTime": 1800}]} for d in range(7)}
    body = push_body(fresh_store, {lunch: {"sequence": 1, "availableTimes": {}}, dinner: {"sequence": 2, "availableTimes": disabled}})
    expect.ok(api, api.call("populateMenu", body), "schedule.disabled-days-unchecked")


@pytest.mark.behaviour("visibility.zone-stores-override-only", "enable.zone-stores-override-only")
def test_zone_store_writes_touch_only_that_store(api, fresh_store, new_section):
    sid = new_section(name="zone", visibilities={"1": True}, isEnabled=True)
    populated(api, fresh_store, sid)
    zone = [fresh_store.as_json()]
    expect.ok(api, api.call("setSectionVisibilities", {"visibilities": {"6": True}, "zoneStores": zone}, sectionID=sid), "visibility.zone-stores-override-only")
    expect.ok(api, api.call("enableSections", {"ids": [sid], "isEnabled": False, "zoneStores": zone}), "enable.zone-stores-override-only")
    business = section_in(expect.ok(api, api.call("getMenu"), "getmenu.business-mode")["menu"]["sections"], sid)
    if (business["visibilities"], business["enabled"]) != ({"1": True}, True):
        raise violation("a zoneStores write changed the business row", "visibility.zone-stores-override-only",
                        {"visibilities": business["visibilities"], "enabled": business["enabled"]}, {"visibilities": {"1": True}, "enabled": True})
    publish(api, fresh_store)
    got = section_in(served(api, fresh_store), sid)
    if (got["visibilities"], got["enabled"]) != ({"6": True}, False):
        raise violation("the store did not get its zone overrides", "enable.zone-stores-override-only",
                        {"visibilities": got["visibilities"], "enabled": got["enabled"]}, {"visibilities": {"6": True}, "enabled": False})
