"""Envelope, routing and the order of checks, in-process against the stand-in."""

from __future__ import annotations

import re

import pytest

from klikit_harness import contract
from tests.support.standin import FRESH, MAIN, POPULATED, READONLY, assert_error, store


@pytest.mark.behaviour("envelope.request-id", "envelope.success-has-data", "envelope.json-body")
def test_success_envelope(api):
    r = api.get("/menus")
    body = r.json()
    assert r.status_code == 200
    assert set(body) == {"request_id", "data"}
    assert isinstance(body["request_id"], str) and body["request_id"]


@pytest.mark.behaviour("envelope.request-id", "envelope.error-shape", "envelope.json-body")
def test_error_envelope_and_request_ids_are_distinct(api):
    ids = set()
    for _ in range(5):
        body = assert_error(api.get("/menus", auth=None), 401, "auth_missing")
        assert "data" not in body
        ids.add(body["request_id"])
    assert len(ids) == 5


@pytest.mark.behaviour("envelope.request-id-opaque")
def test_request_ids_follow_the_dev_format(api):
    # Clients must not validate the format; the stand-in uses dev's req_<uuid> style.
    rid = api.get("/menus").json()["request_id"]
    assert re.fullmatch(r"req_[0-9a-f-]{36}", rid)


@pytest.mark.behaviour("envelope.code-status-catalogue", "envelope.retryable-codes")
def test_every_emitted_code_has_the_catalogue_status(api):
    catalogue = contract.errors()
    sweep = [
        api.get("/menus", auth=None),
        api.get("/menus", auth=("nobody", "x")),
        api.get("/menus", params={"brand_id": 1}),
        api.get("/menus", params={"brand_id": 900, "branch_id": 3001}),
        api.post("/menus/sync", {"stores": [], "sections": {}}),
        api.post("/menus/sync", {}, key=None),
        api.post("/menus/publish", {"stores": [store(POPULATED[0])], "providerIDs": [1]}, auth=READONLY),
        api.request("DELETE", "/menus"),
        api.get("/nope"),
    ]
    seen = set()
    for r in sweep:
        code = r.json()["error"]["code"]
        entry = catalogue.reference[code]
        assert r.status_code == entry.status, (code, r.status_code)
        seen.add(code)
    assert len(seen) >= 7
    assert {c for c, e in catalogue.reference.items() if e.retryable} == {
        "rate_limit_exceeded",
        "downstream_unavailable",
        "internal",
    }


@pytest.mark.behaviour("routing.unknown-path-404")
@pytest.mark.parametrize("path", ["/nope", "/menus/", "/menus/sections/12/visibilities/extra", "/v2/menus"])
def test_unknown_path_is_an_enveloped_404(api, path):
    assert_error(api.get(path), 404, "resource_not_found")


@pytest.mark.behaviour("routing.method-not-allowed-405")
@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/menus", "GET"),
        ("GET", "/menus/sync", "POST"),
        ("PUT", "/menus/sections/1022/visibilities", "PATCH"),
    ],
)
def test_wrong_method_is_an_enveloped_405_with_allow(api, method, path, allow):
    r = api.request(method, path, json={})
    assert_error(r, 405, "method_not_allowed")
    assert r.headers["allow"] == allow


@pytest.mark.behaviour("routing.unknown-query-ignored")
def test_unknown_query_parameters_are_ignored(api):
    plain = api.get("/menus", params={"brand_id": 663, "branch_id": 1062}).json()["data"]
    extra = api.get("/menus", params={"brand_id": 663, "branch_id": 1062, "lang": "en", "x": "1"}).json()["data"]
    assert plain == extra


@pytest.mark.behaviour("envelope.check-order")
def test_checks_run_in_the_documented_order(api, service):
    # auth before everything: no credential, no key, bad body → auth_missing
    assert_error(api.post("/menus/sync", content=b"{", auth=None, key=None), 401, "auth_missing")
    # scope before the key: read-only credential, no key → auth_forbidden
    assert_error(api.post("/menus/sync", content=b"{", auth=READONLY, key=None), 403, "auth_forbidden")
    # key before the body: no key, malformed body → missing key
    assert_error(api.post("/menus/sync", content=b"{", key=None), 400, "request_missing_idempotency_key")
    # body before validation: malformed JSON → request_invalid on the body
    assert_error(
        api.post("/menus/sync", content=b"{", headers={"content-type": "application/json"}),
        400,
        "request_invalid",
        "body",
    )
    # replay/conflict before validation: same key, different (invalid) body → 409
    body = {"stores": [store(FRESH[0])], "sections": {"1022": {"sequence": 1, "availableTimes": {}}}}
    assert api.post("/menus/populate", body, key="order-1").status_code == 200
    assert_error(api.post("/menus/populate", {"stores": []}, key="order-1"), 409, "state_idempotency_conflict")
    # rate limit before scope: an exhausted credential is told 429 even for a forbidden call
    cred = service.credentials.get(READONLY[0])
    cred.rate, cred.burst = 0.001, 1
    api.get("/menus", auth=READONLY)
    r = api.post("/menus/sync", {}, auth=READONLY)
    assert_error(r, 429, "rate_limit_exceeded")
    assert MAIN[0] != READONLY[0]


@pytest.mark.behaviour("codes.vocabulary", "codes.scope-failure", "codes.idempotency-conflict")
def test_concepts_reading_speaks_the_upper_case_vocabulary(make_api):
    api = make_api(reading="concepts")
    assert_error(api.get("/menus", auth=None), 401, "MISSING_AUTH")
    assert_error(api.get("/menus", auth=("nobody", "x")), 401, "INVALID_CREDENTIALS")
    assert_error(api.post("/menus/sync", {}, auth=READONLY), 403, "FORBIDDEN_SCOPE")
    assert_error(api.get("/menus", params={"brand_id": 1}), 400, "REQUEST_INVALID")
    body = {"stores": [store(POPULATED[0])], "providerIDs": [1]}
    assert api.post("/menus/publish", body, key="c-1").status_code == 200
    assert_error(api.post("/menus/publish", {**body, "providerIDs": [6]}, key="c-1"), 409, "IDEMPOTENCY_KEY_CONFLICT")


@pytest.mark.behaviour("codes.vocabulary")
def test_reference_reading_speaks_snake_case(api):
    code = api.get("/menus", auth=None).json()["error"]["code"]
    assert code == code.lower() == "auth_missing"
