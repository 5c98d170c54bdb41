"""No client mistake produces a 5xx or a partial write: each gets a 4xx naming the field."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from klikit_harness.checking import strategies as ks
from tests.support.standin import FRESH, LUNCH, POPULATED, assert_error, state, store, week

JSON = {"content-type": "application/json"}
GOOD_POPULATE = {"stores": [store(FRESH[0])], "sections": {str(LUNCH): {"sequence": 1, "availableTimes": {}}}}


def raw(api, path: str, payload: bytes, headers=JSON):
    return api.post(path, content=payload, headers=dict(headers))


@pytest.mark.behaviour("input.malformed-json")
@pytest.mark.parametrize("payload", [b"{", b"{'a': 1}", b'{"stores": [}', b"\xff\xfe{}", b'{"a": 1} trailing'])
def test_malformed_json(api, service, payload):
    before = state(service)
    assert_error(raw(api, "/menus/populate", payload), 400, "request_invalid", "body")
    assert state(service) == before


@pytest.mark.behaviour("input.wrong-content-type")
@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_wrong_content_type(api, service, ctype):
    before = state(service)
    headers = {"content-type": ctype} if ctype else {}
    assert_error(
        raw(api, "/menus/populate", json.dumps(GOOD_POPULATE).encode(), headers), 400, "request_invalid", "Content-Type"
    )
    assert state(service) == before


@pytest.mark.behaviour("input.non-object-body")
@pytest.mark.parametrize("payload", [b"[]", b'"text"', b"42", b"null", b"true", b""])
def test_non_object_body(api, payload):
    assert_error(raw(api, "/menus/sections", payload), 400, "request_invalid", "body")


@pytest.mark.behaviour(
    "input.missing-required", "publish.requires-stores-and-providers", "section.create-title-required"
)
@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/menus/publish", {"providerIDs": [1]}, "stores"),
        ("/menus/publish", {"stores": [store(POPULATED[0])]}, "providerIDs"),
        ("/menus/publish", {"stores": [store(POPULATED[0])], "providerIDs": []}, "providerIDs"),
        ("/menus/sections", {"sequence": 1}, "title"),
        ("/menus/sections", {"title": {}}, "title"),
        ("/menus/populate", {"stores": [store(FRESH[0])]}, "sections"),
        ("/menus/populate", {"stores": [], "sections": {"1022": {"sequence": 1}}}, "stores"),
        ("/menus/sync", {"stores": [store(POPULATED[0])], "sections": {"1022": {}}}, "sequence"),
        ("/menus/reset", {}, "stores"),
    ],
)
def test_missing_required_fields(api, service, path, body, field):
    before = state(service)
    assert_error(api.post(path, body), 400, "request_invalid", field)
    assert state(service) == before


@pytest.mark.behaviour("input.wrong-types", "input.strict-integers")
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**GOOD_POPULATE, "stores": [{"brandID": "663", "branchID": 2001}]}, "stores.0.brandID"),
        ({**GOOD_POPULATE, "stores": [{"brandID": 663.0, "branchID": 2001}]}, "stores.0.brandID"),
        ({**GOOD_POPULATE, "stores": {"brandID": 663}}, "stores"),
        ({**GOOD_POPULATE, "sections": {"1022": {"sequence": 2.0}}}, "sections.1022.sequence"),
        ({**GOOD_POPULATE, "sections": {"1022": {"sequence": True}}}, "sections.1022.sequence"),
        ({**GOOD_POPULATE, "fieldIncludeOnSync": "availableTimes"}, "fieldIncludeOnSync"),
    ],
)
def test_wrong_types_and_loose_integers(api, service, body, field):
    before = state(service)
    assert_error(api.post("/menus/populate", body), 400, "request_invalid", field)
    assert state(service) == before


@pytest.mark.behaviour("input.absurd-numbers")
@pytest.mark.parametrize(
    "payload",
    [
        b'{"stores": [{"brandID": NaN, "branchID": 1}], "sections": {"1022": {"sequence": 1}}}',
        b'{"stores": [{"brandID": Infinity, "branchID": 1}], "sections": {"1022": {"sequence": 1}}}',
        b'{"stores": [{"brandID": 1e400, "branchID": 1}], "sections": {"1022": {"sequence": 1}}}',
        b'{"stores": [{"brandID": 2147483648, "branchID": 1}], "sections": {"1022": {"sequence": 1}}}',
        b'{"stores": [{"brandID": 663, "branchID": 2001}], "sections": {"1022": {"sequence": -1}}}',
        b'{"stores": [{"brandID": ' + b"9" * 5000 + b', "branchID": 1}], "sections": {"1022": {"sequence": 1}}}',
    ],
)
def test_absurd_numbers(api, service, payload):
    before = state(service)
    assert_error(raw(api, "/menus/populate", payload), 400, "request_invalid")
    assert state(service) == before


@pytest.mark.behaviour("input.id-keyed-map-keys")
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/menus/populate", {"stores": [store(FRESH[0])], "sections": {"abc": {"sequence": 1}}}),
        ("/menus/populate", {"stores": [store(FRESH[0])], "sections": {"0": {"sequence": 1}}}),
        ("/menus/populate", {"stores": [store(FRESH[0])], "sections": {"01022": {"sequence": 1}}}),
        ("/menus/populate", {"stores": [store(FRESH[0])], "sections": {"9999999999": {"sequence": 1}}}),
        ("/menus/sections", {"title": {"en": "x"}, "visibilities": {"klikit": True}}),
        ("/menus/sections", {"title": {"en": "x"}, "visibilities": {"1\n": True}}),
        ("/menus/populate", {"stores": [store(FRESH[0])], "sections": {"1022\n": {"sequence": 1}}}),
    ],
)
def test_id_keyed_maps_take_positive_int32_keys(api, service, path, body):
    before = state(service)
    assert_error(api.post(path, body), 400, "request_invalid")
    assert state(service) == before


@pytest.mark.behaviour("input.deep-nesting")
@pytest.mark.parametrize("depth", [33, 100, 100_000])
def test_deep_nesting(api, service, depth):
    payload = b'{"stores": ' + b"[" * depth + b"]" * depth + b"}"
    assert_error(raw(api, "/menus/reset", payload), 400, "request_invalid", "body")


@pytest.mark.behaviour("input.body-too-large")
def test_body_over_one_mebibyte(api, service):
    before = state(service)
    big = {"stores": [store(POPULATED[1])], "note": "x" * (1024 * 1024)}
    assert_error(api.post("/menus/reset", big), 400, "request_invalid", "body")
    assert state(service) == before


@pytest.mark.behaviour("input.unknown-fields", "reset.passthrough-body")
def test_unknown_fields_rejected_except_reset_passthrough(api, service):
    assert_error(api.post("/menus/populate", {**GOOD_POPULATE, "surprise": 1}), 400, "request_invalid", "surprise")
    assert_error(api.post("/menus/sections", {"title": {"en": "x"}, "colour": "red"}), 400, "request_invalid", "colour")
    assert api.post("/menus/reset", {"stores": [store(POPULATED[1])], "anything": {"goes": True}}).status_code == 200


@pytest.mark.behaviour("input.null-means-absent")
def test_null_optional_fields_mean_absent(api, service):
    a = api.post("/menus/sections", {"title": {"en": "n"}, "sequence": None, "availableTimes": None, "isEnabled": None})
    b = api.post("/menus/sections", {"title": {"en": "n"}})
    ra, rb = service.world.sections[a.json()["data"]["id"]], service.world.sections[b.json()["data"]["id"]]
    assert {k: v for k, v in ra.items() if k != "id"} == {k: v for k, v in rb.items() if k != "id"}
    r = api.post("/menus/populate", {**GOOD_POPULATE, "fieldIncludeOnSync": None, "persistFieldOnSync": None})
    assert r.status_code == 200


@pytest.mark.behaviour(
    "schedule.shape",
    "schedule.hhmm-range",
    "schedule.start-before-end",
    "schedule.no-overlap-within-day",
    "schedule.invalid-details-field",
)
@given(case=ks.invalid_schedules())
def test_invalid_schedules_are_400_naming_the_field_and_write_nothing(make_api, case):
    kind, schedule = case
    api = make_api()
    before = state(api.service)
    body = {"stores": [store(FRESH[0])], "sections": {str(LUNCH): {"sequence": 1, "availableTimes": schedule}}}
    r = api.post("/menus/populate", body)
    err = assert_error(r, 400, "request_invalid")
    assert "availableTimes" in err["error"]["details"]["field"] or "sections" in err["error"]["details"]["field"], (
        kind,
        err,
    )
    assert state(api.service) == before


@pytest.mark.behaviour("schedule.touching-not-overlap", "schedule.disabled-days-unchecked")
def test_touching_slots_and_disabled_overlaps_are_accepted(api):
    touching = {
        "1": {"disabled": False, "slots": [{"startTime": 900, "endTime": 1200}, {"startTime": 1200, "endTime": 1500}]}
    }
    disabled = {
        "2": {"disabled": True, "slots": [{"startTime": 900, "endTime": 1300}, {"startTime": 1200, "endTime": 1500}]}
    }
    assert api.post("/menus/sections", {"title": {"en": "t"}, "availableTimes": touching}).status_code == 200
    assert api.post("/menus/sections", {"title": {"en": "d"}, "availableTimes": disabled}).status_code == 200
    assert api.post("/menus/sections", {"title": {"en": "e"}, "availableTimes": week(0, 2359)}).status_code == 200


@pytest.mark.behaviour("section.blackout-dates-format")
@pytest.mark.parametrize("dates", [["2026-13-01"], ["2026-02-30"], ["26-1-1"], ["tomorrow"], [20261225]])
def test_blackout_dates_must_be_calendar_dates(api, service, dates):
    before = state(service)
    assert_error(
        api.post("/menus/sections", {"title": {"en": "b"}, "blackoutDates": dates}),
        400,
        "request_invalid",
        "blackoutDates",
    )
    assert state(service) == before


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_5xx(make_api, payload):
    api = make_api()
    before = state(api.service)
    r = raw(api, "/menus/populate", payload)
    assert 400 <= r.status_code < 500
    assert r.json()["error"]["code"] in {"request_invalid"}
    assert state(api.service) == before
