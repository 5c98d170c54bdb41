"""The remaining rules of contracts/behaviours.yaml, one small check each, against any target.

Every body is valid under every plausible reading of the API except for the
one thing a check tests: real stores and sections of the caller's business,
populate/sync entries with sequence and availableTimes, titles on createSection.
"""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from hypothesis import given

from klikit_harness.checking import expect, profiles
from klikit_harness.checking import strategies as ks
from klikit_harness.checking.failures import Violation
from klikit_harness.suites.contract.conftest import (
    UNKNOWN_ID,
    business_sections,
    day,
    entry,
    member,
    need,
    push_body,
    section_in,
)


def violation(title, behaviour, received, documented):
    return Violation(title, behaviour=behaviour, received=received, documented=documented)


# ----------------------------------------------------------------- envelope


@pytest.mark.behaviour("envelope.request-id-opaque")
def test_request_ids_are_opaque_strings(api):
    rid = expect.envelope(api, api.call("getMenu"))["request_id"]
    if not isinstance(rid, str) or not rid.strip():
        raise violation(
            "request_id is not an opaque non-empty string", "envelope.request-id-opaque", rid, "any non-empty string"
        )


@pytest.mark.behaviour("envelope.check-order")
def test_auth_is_checked_before_the_body(client_for):
    anonymous = client_for(None, "NONE")
    expect.error(
        anonymous,
        anonymous.call("syncMenuToStores", content=b"{", key=None, headers={"Content-Type": "application/json"}),
        "auth_missing",
        "envelope.check-order",
    )


@pytest.mark.behaviour("envelope.check-order", "idempotency.key-required-on-writes")
def test_key_is_checked_before_the_body(api, target, writes):
    if target.reading != "reference":
        pytest.skip("the concepts reading makes the key optional")
    expect.error(
        api,
        api.call("syncMenuToStores", content=b"{", key=None, headers={"Content-Type": "application/json"}),
        "request_missing_idempotency_key",
        "envelope.check-order",
    )


# --------------------------------------------------------------------- auth


@pytest.mark.behaviour("auth.empty-key-missing")
def test_empty_partner_key_is_auth_missing(client_for):
    anonymous = client_for(None, "NONE")
    header = "Basic " + base64.b64encode(b":some-secret").decode()
    expect.error(
        anonymous,
        anonymous.call("getMenu", headers={"Authorization": header}),
        "auth_missing",
        "auth.empty-key-missing",
    )


@pytest.mark.behaviour("auth.revoked-wrong-secret")
def test_revoked_key_with_wrong_secret(target, client_for):
    from klikit_harness.checking.config import Credential

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


# -------------------------------------------------------------- idempotency


@pytest.mark.behaviour("idempotency.replay-header", "idempotency.body-compared-parsed")
def test_replay_of_a_reordered_body_is_marked(api, target, writes):
    key = str(uuid.uuid4())
    title = f"{target.run_id} parsed"
    first = api.call(
        "createSection",
        content=json.dumps({"title": {"en": title}, "sequence": 1}).encode(),
        key=key,
        headers={"Content-Type": "application/json"},
    )
    expect.ok(api, first, "section.create-returns-id")
    again = api.call(
        "createSection",
        content=b'{ "sequence": 1,\n "title": {"en": "' + title.encode() + b'"} }',
        key=key,
        headers={"Content-Type": "application/json"},
    )
    with expect.settled(api):
        data, replayed = (
            expect.ok(api, again, "idempotency.body-compared-parsed"),
            expect.ok(api, first, "section.create-returns-id"),
        )
        if data != replayed:
            raise expect.mismatch(
                api,
                "a reordered body was not replayed",
                "idempotency.body-compared-parsed",
                again.text[:200],
                first.text[:200],
            )
    if "idempotent-replayed" in first.headers or again.headers.get("idempotent-replayed") != "true":
        raise expect.mismatch(
            api,
            "replay not marked with Idempotent-Replayed",
            "idempotency.replay-header",
            {"first": first.headers.get("idempotent-replayed"), "replay": again.headers.get("idempotent-replayed")},
            "Idempotent-Replayed: true on the replay only",
        )


@pytest.mark.behaviour("idempotency.only-2xx-stored", "input.wrong-types")
def test_errors_are_not_replayed(api, target, writes):
    key = str(uuid.uuid4())
    # a title of the wrong type is a 400 under every reading
    expect.error(
        api,
        api.call("createSection", {"title": f"{target.run_id} not an object"}, key=key),
        "request_invalid",
        "input.wrong-types",
    )
    expect.ok(
        api,
        api.call("createSection", {"title": {"en": f"{target.run_id} corrected"}}, key=key),
        "idempotency.only-2xx-stored",
    )


@pytest.mark.behaviour("idempotency.fingerprint-includes-path")
def test_key_reused_on_another_operation(api, target, store):
    key = str(uuid.uuid4())
    expect.ok(
        api, api.call("publishMenu", {"stores": [store.as_json()], "providerIDs": [1]}, key=key), "publish.counts"
    )
    r = api.call("resetStoreOverrides", {"stores": [store.as_json()], "providerIDs": [1]}, key=key)
    expect.error(api, r, "state_idempotency_conflict", "idempotency.fingerprint-includes-path")


@pytest.mark.behaviour("idempotency.expires-24h")
def test_keys_expire_after_a_day(api, target, writes):
    if not target.is_standin:
        pytest.skip("needs a clock: the 24-hour window is checked against the embedded stand-in only")
    key = str(uuid.uuid4())
    body = {"title": {"en": f"{target.run_id} day"}}
    first = expect.ok(api, api.call("createSection", body, key=key), "section.create-returns-id")
    # the stand-in takes its time from its injectable clock: move it a day and a second ahead, for good
    target.advance_clock(24 * 3600 + 1)
    second = expect.ok(api, api.call("createSection", body, key=key), "idempotency.expires-24h")
    if second == first:
        raise expect.mismatch(
            api, "a key older than 24 h was replayed", "idempotency.expires-24h", second, "a new write"
        )


# --------------------------------------------------------------- rate limit


@pytest.mark.behaviour("ratelimit.per-credential", "ratelimit.every-request-counts")
def test_one_throttled_credential_does_not_throttle_another(target, api, client_for):
    cred = target.settings.burst_credential
    if not (target.is_standin or target.settings.allow_burst) or cred is None:
        pytest.skip("set KLIKIT_ALLOW_BURST=1 and KLIKIT_BURST_CREDENTIAL to exhaust one credential on purpose")
    with target.client(cred.pair(), variable="KLIKIT_BURST_KEY:KLIKIT_BURST_SECRET", capped=False) as burst:
        for _ in range(200):
            if burst.call("getMenu").status_code == 429:
                break
        else:
            pytest.skip("no 429 within 200 requests")
    # uncapped: a 429 here is the answer under test, not throttling of the harness (judged, never rerun)
    with target.client(capped=False) as main:
        expect.ok(main, main.call("getMenu"), "ratelimit.per-credential")


# ---------------------------------------------------------------- schedules

#: the rule each kind of invalid schedule breaks
SCHEDULE_RULE = {
    "bad-weekday": "schedule.shape",
    "bad-hour": "schedule.hhmm-range",
    "bad-minute": "schedule.hhmm-range",
    "start-not-before-end": "schedule.start-before-end",
    "overlap-within-day": "schedule.no-overlap-within-day",
}


@pytest.mark.behaviour(
    "schedule.shape",
    "schedule.hhmm-range",
    "schedule.start-before-end",
    "schedule.no-overlap-within-day",
    "schedule.invalid-details-field",
)
@profiles.examples(smoke=10, release=40, nightly=150)
@given(case=ks.invalid_schedules())
def test_invalid_schedules_are_rejected(api, target, case):
    if target.read_only:
        pytest.skip("read-only run")
    kind, schedule = case
    r = api.call("createSection", {"title": {"en": f"{target.run_id} invalid {kind}"}, "availableTimes": schedule})
    with expect.settled(api):
        expect.error(api, r, "request_invalid", SCHEDULE_RULE[kind], field="availableTimes")


@pytest.mark.behaviour("schedule.touching-not-overlap", "schedule.disabled-days-unchecked")
def test_touching_and_disabled_slots_are_accepted(api, target, writes):
    touching = {
        "1": {"disabled": False, "slots": [{"startTime": 900, "endTime": 1200}, {"startTime": 1200, "endTime": 1500}]}
    }
    disabled = {
        "2": {"disabled": True, "slots": [{"startTime": 900, "endTime": 1300}, {"startTime": 1200, "endTime": 1500}]}
    }
    with expect.settled(api):
        expect.ok(
            api,
            api.call("createSection", {"title": {"en": f"{target.run_id} touching"}, "availableTimes": touching}),
            "schedule.touching-not-overlap",
        )
    expect.ok(
        api,
        api.call("createSection", {"title": {"en": f"{target.run_id} disabled"}, "availableTimes": disabled}),
        "schedule.disabled-days-unchecked",
    )


@pytest.mark.behaviour("schedule.disabled-days-unchecked")
def test_a_disabled_override_day_never_collides_with_another_section(api, menu_a):
    store, blank = menu_a.store, menu_a.ids["blank"]
    # "sixth" serves 1100-1500 on day 6; a disabled 1200-1800 there is never compared
    expect.ok(
        api,
        api.call("syncMenuToStores", push_body([store], {blank: entry(10, day(6, 1200, 1800, disabled=True))})),
        "schedule.disabled-days-unchecked",
    )


# ------------------------------------------------------------ publish, menu


@pytest.mark.behaviour("publish.counts", "publish.klikit-provider")
def test_publish_to_klikit_only(api, store):
    data = expect.ok(
        api, api.call("publishMenu", {"stores": [store.as_json()], "providerIDs": [1]}), "publish.klikit-provider"
    )
    if not (isinstance(data, dict) and isinstance(data.get("success"), int) and isinstance(data.get("failed"), int)):
        raise expect.mismatch(
            api, "publish data is not {success, failed}", "publish.counts", data, {"success": "int", "failed": "int"}
        )


@pytest.mark.behaviour("getmenu.business-mode-live", "section.create-returns-id", "getmenu.enabled-read-name")
def test_business_mode_shows_a_new_section_at_once(api, target, writes):
    data = expect.ok(
        api,
        api.call("createSection", {"title": {"en": f"{target.run_id} live"}, "isEnabled": False}),
        "section.create-returns-id",
    )
    if not (isinstance(data, dict) and isinstance(data.get("id"), int) and data["id"] > 0):
        raise expect.mismatch(
            api,
            "createSection did not return a positive integer id",
            "section.create-returns-id",
            data,
            {"id": "positive int"},
        )
    got = section_in(business_sections(api), data["id"])
    if got is None:
        raise expect.mismatch(
            api, "business mode does not show a new section", "getmenu.business-mode-live", "absent", data["id"]
        )
    if got.get("enabled") is not False:
        raise expect.mismatch(
            api, "the enable flag is not read as enabled", "getmenu.enabled-read-name", got, {"enabled": False}
        )


# ----------------------------------------------------------------- sections


@pytest.mark.behaviour("section.create-title-required")
@pytest.mark.parametrize("body", [{"sequence": 1}, {"title": {}}], ids=["no-title", "empty-title"])
def test_create_section_needs_a_title(api, target, writes, body):
    expect.error(api, api.call("createSection", body), "request_invalid", "section.create-title-required")


@pytest.mark.behaviour("section.blackout-dates-format")
@pytest.mark.parametrize(
    "dates", [["2026-02-30"], ["01/02/2026"], ["2026-1-2"]], ids=["no-such-day", "slashes", "unpadded"]
)
def test_blackout_dates_are_iso_dates(api, target, writes, dates):
    body = {"title": {"en": f"{target.run_id} blackout"}, "blackoutDates": dates}
    expect.error(api, api.call("createSection", body), "request_invalid", "section.blackout-dates-format")


@pytest.mark.behaviour(
    "visibility.replaces-map", "visibility.missing-provider-hidden", "visibility.provider-keys-strings"
)
def test_visibility_map_is_replaced(api, new_section):
    sid = new_section(name="vis", visibilities={"1": True, "6": True})
    expect.ok(
        api, api.call("setSectionVisibilities", {"visibilities": {"9": True}}, sectionID=sid), "visibility.replaces-map"
    )
    got = section_in(business_sections(api), sid)
    if member(got, "visibilities") != {"9": True}:
        raise expect.mismatch(
            api,
            "visibility map merged instead of replaced",
            "visibility.replaces-map",
            member(got, "visibilities"),
            {"9": True},
        )


@pytest.mark.behaviour("section.empty-zone-stores-business")
@pytest.mark.parametrize("zone", [[], None], ids=["empty", "null"])
def test_an_empty_zone_stores_writes_the_business_row(api, new_section, zone):
    sid = new_section(name="zone-empty", visibilities={"1": True})
    expect.ok(
        api,
        api.call("setSectionVisibilities", {"visibilities": {"6": True}, "zoneStores": zone}, sectionID=sid),
        "section.empty-zone-stores-business",
    )
    got = section_in(business_sections(api), sid)
    if member(got, "visibilities") != {"6": True}:
        raise expect.mismatch(
            api,
            "an empty zoneStores did not write the business row",
            "section.empty-zone-stores-business",
            member(got, "visibilities"),
            {"6": True},
        )


@pytest.mark.behaviour("enable.ids-non-empty", "enable.missing-is-false", "enable.foreign-ids-404")
def test_enable_rules(api, new_section):
    sid = new_section(name="enable", isEnabled=True)
    expect.error(
        api, api.call("enableSections", {"ids": [], "isEnabled": True}), "request_invalid", "enable.ids-non-empty"
    )
    expect.error(
        api,
        api.call("enableSections", {"ids": [sid, UNKNOWN_ID], "isEnabled": False}),
        "resource_not_found",
        "enable.foreign-ids-404",
    )
    got = section_in(business_sections(api), sid) or {}
    if got.get("enabled") is not True:
        raise expect.mismatch(api, "a 404 enable flipped a flag", "enable.foreign-ids-404", got.get("enabled"), True)
    expect.ok(api, api.call("enableSections", {"ids": [sid]}), "enable.missing-is-false")
    got = section_in(business_sections(api), sid) or {}
    if got.get("enabled") is not False:
        raise expect.mismatch(
            api, "a missing isEnabled did not disable", "enable.missing-is-false", got.get("enabled"), False
        )


# -------------------------------------------------------------- bad input


def _valid_populate(store, sid):
    """A populate body valid under every reading (for a store that has a menu: accepted, it changes nothing)."""
    return push_body([store], {sid: entry(1)})


@pytest.fixture
def own_section(api, store, new_section):
    return new_section(name="input", availableTimes=day(1, 800, 900))


@pytest.mark.behaviour("input.malformed-json", "input.wrong-content-type", "input.non-object-body")
@pytest.mark.parametrize(
    "case",
    ["truncated", "single-quotes", "text-plain", "array", "null"],
)
def test_client_mistakes_get_400(api, store, own_section, case):
    content, ctype, rule = None, "application/json", "input.malformed-json"
    valid = json.dumps(_valid_populate(store, own_section)).encode()
    if case == "truncated":
        content = valid[:-1]
    elif case == "single-quotes":
        content = valid.replace(b'"', b"'")
    elif case == "text-plain":
        content, ctype, rule = valid, "text/plain", "input.wrong-content-type"
    else:
        content, rule = (b"[" + valid + b"]" if case == "array" else b"null"), "input.non-object-body"
    r = api.call("populateMenu", content=content, headers={"Content-Type": ctype})
    if r.status_code >= 500:
        raise expect.mismatch(
            api, "a client mistake produced a 5xx", rule, f"HTTP {r.status_code}", "400 request_invalid"
        )
    expect.error(api, r, "request_invalid", rule)


@pytest.mark.behaviour(
    "input.wrong-types",
    "input.strict-integers",
    "input.absurd-numbers",
    "input.id-keyed-map-keys",
    "input.unknown-fields",
)
@pytest.mark.parametrize(
    ("case", "rule"),
    [
        ("string-id", "input.wrong-types"),
        ("float-id", "input.strict-integers"),
        ("float-sequence", "input.strict-integers"),
        ("nan", "input.absurd-numbers"),
        ("beyond-int32", "input.absurd-numbers"),
        ("non-numeric-key", "input.id-keyed-map-keys"),
        ("unknown-field", "input.unknown-fields"),
    ],
)
def test_typed_fields_are_strict(api, store, own_section, case, rule):
    brand, branch, sid = store.brand_id, store.branch_id, own_section
    stores = f'[{{"brandID": {brand}, "branchID": {branch}}}]'
    times = '"availableTimes": {}'
    sections = f'{{"{sid}": {{"sequence": 1, {times}}}}}'
    extra = ""
    if case == "string-id":
        stores = f'[{{"brandID": "{brand}", "branchID": {branch}}}]'
    elif case == "float-id":
        stores = f'[{{"brandID": {brand}.0, "branchID": {branch}}}]'
    elif case == "float-sequence":
        sections = f'{{"{sid}": {{"sequence": 2.0, {times}}}}}'
    elif case == "nan":
        sections = f'{{"{sid}": {{"sequence": NaN, {times}}}}}'
    elif case == "beyond-int32":
        sections = f'{{"{sid}": {{"sequence": 2147483648, {times}}}}}'
    elif case == "non-numeric-key":
        sections = f'{{"abc": {{"sequence": 1, {times}}}}}'
    else:
        extra = ', "surprise": true'
    payload = f'{{"stores": {stores}, "sections": {sections}{extra}}}'.encode()
    expect.error(
        api,
        api.call("populateMenu", content=payload, headers={"Content-Type": "application/json"}),
        "request_invalid",
        rule,
    )


@pytest.mark.behaviour("input.null-means-absent")
def test_null_optional_fields(api, target, store, own_section):
    expect.ok(
        api,
        api.call(
            "createSection", {"title": {"en": f"{target.run_id} nulls"}, "sequence": None, "availableTimes": None}
        ),
        "input.null-means-absent",
    )
    body = push_body([store], {own_section: entry(1)}, fieldIncludeOnSync=None, persistFieldOnSync=None)
    expect.ok(api, api.call("populateMenu", body), "input.null-means-absent")


@pytest.mark.behaviour("routing.unknown-query-ignored")
def test_unknown_query_parameters(api):
    plain = business_sections(api)
    extra = expect.ok(api, api.call("getMenu", params={"lang": "en", "utm": "x"}), "routing.unknown-query-ignored")[
        "menu"
    ]["sections"]
    if [s.get("id") for s in plain] != [s.get("id") for s in extra]:
        raise expect.mismatch(
            api,
            "an unknown query parameter changed the answer",
            "routing.unknown-query-ignored",
            "different menu",
            "same menu",
        )
