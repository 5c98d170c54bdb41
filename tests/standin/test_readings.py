"""The stand-in's own readings of what neither the docs nor DESIGN.md fix (assumed and incidental
behaviours a real target may read otherwise: the fuzz suite observes them there, never fails on them)."""

from __future__ import annotations

import pytest

from tests.support.standin import BURST, FOREIGN_STORE, FRESH, LUNCH, POPULATED, assert_error, store, week


@pytest.mark.behaviour("envelope.validation-before-tenancy")
def test_an_invalid_body_naming_a_foreign_store_is_400(api):
    body = {"stores": [store(FOREIGN_STORE)], "sections": {str(LUNCH): {"availableTimes": {}}}}
    assert_error(api.post("/menus/populate", body), 400, "request_invalid", "sequence")


@pytest.mark.behaviour("envelope.routing-before-auth")
def test_an_unknown_path_is_404_before_auth(api):
    assert_error(api.get("/menus/nowhere", auth=None), 404, "resource_not_found")


@pytest.mark.behaviour("idempotency.replay-same-request-id")
def test_a_replay_repeats_the_request_id(api):
    body = {"stores": [store(POPULATED[0])], "providerIDs": [1]}
    first = api.post("/menus/publish", body, key="readings-replay")
    again = api.post("/menus/publish", body, key="readings-replay")
    assert first.status_code == again.status_code == 200
    assert first.json()["request_id"] == again.json()["request_id"]


@pytest.mark.behaviour("ratelimit.retry-after-until-token")
def test_retry_after_is_the_wait_for_the_next_token(api):
    while api.get("/menus", auth=BURST).status_code != 429:
        pass
    assert api.get("/menus", auth=BURST).headers["retry-after"] == "1"


@pytest.mark.behaviour("populate.sequence-required", "populate.times-optional")
def test_a_push_entry_needs_its_sequence_but_not_its_times(api):
    missing_sequence = {"stores": [store(FRESH[0])], "sections": {str(LUNCH): {"availableTimes": {}}}}
    assert_error(api.post("/menus/populate", missing_sequence), 400, "request_invalid", "sequence")
    no_times = {"stores": [store(FRESH[0])], "sections": {str(LUNCH): {"sequence": 1}}}
    assert api.post("/menus/populate", no_times).status_code == 200
    null_times = {"stores": [store(FRESH[1])], "sections": {str(LUNCH): {"sequence": 1, "availableTimes": None}}}
    assert api.post("/menus/populate", null_times).status_code == 200


@pytest.mark.behaviour("section.visibilities-result", "enable.result-count")
def test_section_write_payloads(api):
    section = api.create_section()
    r = api.patch(f"/menus/sections/{section}/visibilities", {"visibilities": {"1": True}})
    assert r.json()["data"] == {"id": section}
    r = api.patch("/menus/sections/enable", {"ids": [section, section], "isEnabled": True})
    assert r.json()["data"] == {"updated": 1}


@pytest.mark.behaviour("input.query-id-zero-invalid", "input.query-id-leading-zeros")
def test_query_ids_zero_and_leading_zeros(api):
    key = POPULATED[0]
    assert_error(
        api.get("/menus", params={"brand_id": 0, "branch_id": key.branch_id}), 400, "request_invalid", "brand_id"
    )
    assert_error(api.patch("/menus/sections/0/visibilities", {"visibilities": {}}), 400, "request_invalid", "sectionID")
    padded = api.get("/menus", params={"brand_id": f"0{key.brand_id}", "branch_id": key.branch_id})
    plain = api.get("/menus", params={"brand_id": key.brand_id, "branch_id": key.branch_id})
    assert padded.status_code == plain.status_code == 200
    assert padded.json()["data"] == plain.json()["data"]


@pytest.mark.behaviour("input.standin-bounds")
def test_the_stand_ins_own_bounds(api):
    too_many_slots = {"0": {"disabled": False, "slots": [{"startTime": 0, "endTime": 1}] * 25}}
    assert_error(
        api.post("/menus/sections", {"title": {"en": "x"}, "availableTimes": too_many_slots}), 400, "request_invalid"
    )
    assert_error(api.post("/menus/sections", {"title": {"english": "x"}}), 400, "request_invalid")
    assert api.post("/menus/sections", {"title": {"en": "x"}, "availableTimes": week(900, 1700)}).status_code == 200


@pytest.mark.behaviour("input.no-server-error")
@pytest.mark.parametrize("payload", [b"{", b"[]", b'{"stores": 1e999}', b"\xff"])
def test_no_client_request_gets_a_5xx(api, payload):
    r = api.post("/menus/populate", content=payload, headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500
