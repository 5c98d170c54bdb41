"""Idempotency-Key semantics through the stand-in's HTTP surface."""

from __future__ import annotations

import base64
import json

import pytest

from klikit_harness.core.service import ApiRequest, Prepared
from tests.support.standin import FRESH, LUNCH, MAIN, POPULATED, SECOND, assert_error, state, store

SECTION = {"title": {"en": "Idempotent section"}, "sequence": 3}


@pytest.mark.behaviour("idempotency.key-required-on-writes")
@pytest.mark.parametrize(
    "path", ["/menus/sections", "/menus/populate", "/menus/sync", "/menus/publish", "/menus/reset"]
)
def test_writes_without_a_key_are_rejected_under_reference(api, service, path):
    before = state(service)
    assert_error(
        api.post(path, {"stores": [store(POPULATED[0])]}, key=None),
        400,
        "request_missing_idempotency_key",
        "Idempotency-Key",
    )
    assert state(service) == before


@pytest.mark.behaviour("idempotency.key-required-on-writes")
def test_key_is_optional_under_concepts(make_api):
    api = make_api(reading="concepts")
    r = api.post("/menus/sections", SECTION, key=None)
    assert r.status_code == 200


@pytest.mark.behaviour("idempotency.key-max-64", "idempotency.key-over-64-invalid")
def test_key_length_limits(api, service):
    assert api.post("/menus/sections", SECTION, key="k" * 64).status_code == 200
    assert api.post("/menus/sections", SECTION, key="a").status_code == 200
    before = state(service)
    assert_error(api.post("/menus/sections", SECTION, key="k" * 65), 400, "request_invalid", "Idempotency-Key")
    assert state(service) == before


@pytest.mark.behaviour(
    "idempotency.replay-same-response",
    "idempotency.replay-same-request-id",
    "idempotency.replay-no-second-write",
    "idempotency.replay-header",
)
def test_replay_returns_the_original_response_and_writes_once(api, service):
    first = api.post("/menus/sections", SECTION, key="replay-1")
    sections = len(service.world.sections)
    second = api.post("/menus/sections", SECTION, key="replay-1")
    assert second.status_code == first.status_code == 200
    assert second.content == first.content  # same request_id, same id
    assert "idempotent-replayed" not in first.headers
    assert second.headers["idempotent-replayed"] == "true"
    assert len(service.world.sections) == sections


@pytest.mark.behaviour("idempotency.body-compared-parsed")
def test_whitespace_and_key_order_do_not_matter(api, service):
    body = {"stores": [store(POPULATED[0])], "providerIDs": [1]}
    first = api.post(
        "/menus/publish",
        content=json.dumps(body).encode(),
        key="parsed-1",
        headers={"content-type": "application/json"},
    )
    reordered = b'{ "providerIDs" : [1],\n  "stores": [{"branchID": 1062, "brandID": 663}] }'
    again = api.post("/menus/publish", content=reordered, key="parsed-1", headers={"content-type": "application/json"})
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"


@pytest.mark.behaviour("idempotency.conflict-different-body")
def test_same_key_different_body_is_409_and_writes_nothing(api, service):
    assert api.post("/menus/sections", SECTION, key="conflict-1").status_code == 200
    before = state(service)
    body = assert_error(
        api.post("/menus/sections", {**SECTION, "sequence": 4}, key="conflict-1"), 409, "state_idempotency_conflict"
    )
    assert body["error"]["details"]["reason"] == "different_body"
    assert state(service) == before


@pytest.mark.behaviour("idempotency.fingerprint-includes-path")
def test_same_key_on_another_endpoint_is_409(api, service):
    body = {"stores": [store(POPULATED[1])]}
    assert api.post("/menus/reset", body, key="path-1").status_code == 200
    assert_error(
        api.post("/menus/publish", {**body, "providerIDs": [1]}, key="path-1"), 409, "state_idempotency_conflict"
    )


@pytest.mark.behaviour("idempotency.scoped-per-credential")
def test_keys_are_scoped_per_credential(api, service):
    a = api.post("/menus/sections", SECTION, key="shared-key")
    b = api.post("/menus/sections", {**SECTION, "sequence": 9}, key="shared-key", auth=SECOND)
    assert a.status_code == b.status_code == 200
    assert a.json()["data"]["id"] != b.json()["data"]["id"]
    assert "idempotent-replayed" not in b.headers


@pytest.mark.behaviour("idempotency.expires-24h")
def test_key_is_forgotten_after_24_hours(api, service, clock):
    first = api.post("/menus/sections", SECTION, key="day-1")
    clock.advance(24 * 3600 - 1)
    assert api.post("/menus/sections", SECTION, key="day-1").content == first.content
    clock.advance(2)
    again = api.post("/menus/sections", SECTION, key="day-1")
    assert again.status_code == 200
    assert again.json()["data"]["id"] != first.json()["data"]["id"]


@pytest.mark.behaviour("idempotency.reads-ignore-key")
def test_reads_ignore_the_key(api):
    for _ in range(3):
        r = api.get("/menus", headers={"Idempotency-Key": "read-key"})
        assert r.status_code == 200
        assert "idempotent-replayed" not in r.headers
    assert api.get("/menus", headers={"Idempotency-Key": "x" * 500}).status_code == 200


@pytest.mark.behaviour("idempotency.only-2xx-stored")
def test_errors_are_not_stored(api, service):
    bad = {"stores": [store(FRESH[0])], "sections": {str(LUNCH): {"sequence": -1}}}
    assert_error(api.post("/menus/populate", bad, key="err-1"), 400, "request_invalid")
    good = {"stores": [store(FRESH[0])], "sections": {str(LUNCH): {"sequence": 1}}}
    assert api.post("/menus/populate", good, key="err-1").status_code == 200
    assert service.world.attachments[FRESH[0]] == {LUNCH: 1}


@pytest.mark.behaviour("idempotency.in-flight-conflict")
def test_duplicate_while_in_flight_is_409(api, service):
    token = base64.b64encode(f"{MAIN[0]}:{MAIN[1]}".encode()).decode()
    headers = {"authorization": f"Basic {token}", "content-type": "application/json", "idempotency-key": "flight-1"}
    held = service.prepare(
        ApiRequest("POST", "/v1/partner/menus/sections", headers=headers, body=json.dumps(SECTION).encode())
    )
    assert isinstance(held, Prepared)
    body409 = assert_error(api.post("/menus/sections", SECTION, key="flight-1"), 409, "state_idempotency_conflict")
    assert body409["error"]["details"]["reason"] == "in_flight"
    first = service.execute(held)
    assert first.status == 200
    assert api.post("/menus/sections", SECTION, key="flight-1").content == first.body
