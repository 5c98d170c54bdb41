"""Every variant of the stand-in: its answer differs from the reference answer exactly as described.

Each check gets two in-process stand-ins over the same seed and clock — ``ref``
(reference semantics) and ``var`` (only the variant under test switched on) —
sends both the same requests and asserts both answers. A variant registered
without a check here fails ``test_every_registered_variant_has_a_check``.
"""

from __future__ import annotations

import asyncio
import base64
import math
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest

from klikit_harness import contract
from klikit_harness.contract.limits import MAX_DEPTH
from klikit_harness.core import variants as v
from klikit_harness.core.build import build_service
from klikit_harness.core.reshape import reshape, success_schema
from klikit_harness.core.service import VARIANT_RETRY_AFTER
from klikit_harness.core.validation import VARIANT_MAX_DEPTH
from klikit_harness.core.variants import REGISTRY, VariantSet
from tests.support.standin import (
    BURST,
    FOREIGN_SECTION,
    FOREIGN_STORE,
    FRESH,
    LUNCH,
    MAIN,
    POPULATED,
    READONLY,
    REVOKED,
    InProcessApi,
    assert_error,
    store,
)

JSON = {"content-type": "application/json"}


@dataclass
class Pair:
    ref: InProcessApi
    var: InProcessApi

    def both(self) -> tuple[InProcessApi, InProcessApi]:
        return self.ref, self.var


@pytest.fixture
def pair_for(seed, clock) -> Iterator[Callable[..., Pair]]:
    made: list[InProcessApi] = []

    def factory(name: str, *, write_delay: float = 0.0, switched_on: bool = True) -> Pair:
        ref = InProcessApi(build_service(seed, clock=clock), write_delay=write_delay)
        chosen = VariantSet([name] if switched_on else [])
        var = InProcessApi(build_service(seed, clock=clock, variants=chosen), write_delay=write_delay)
        made.extend([ref, var])
        return Pair(ref, var)

    yield factory
    for api in made:
        api.close()


def push(key, sections: dict[int, dict[str, Any]]) -> dict[str, Any]:
    return {"stores": [store(key)], "sections": {str(sid): entry for sid, entry in sections.items()}}


def basic(key: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()}


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth - 1):
        value = {"a": value}
    return value


# ---------------------------------------------------------------- the checks


def check_success_data_empty(p: Pair) -> None:
    writes = [
        ("PATCH", f"/menus/sections/{LUNCH}/visibilities", {"visibilities": {"1": True}}, {"id": LUNCH}),
        ("PATCH", "/menus/sections/enable", {"ids": [LUNCH], "isEnabled": True}, {"updated": 1}),
        (
            "POST",
            "/menus/populate",
            push(FRESH[0], {LUNCH: {"sequence": 1, "availableTimes": {}}}),
            {"populated": 1, "skipped": 0},
        ),
        (
            "POST",
            "/menus/sync",
            push(POPULATED[0], {LUNCH: {"sequence": 1, "availableTimes": {}}}),
            {"synced": 1, "skipped": 0},
        ),
        ("POST", "/menus/reset", {"stores": [store(POPULATED[0])]}, {"reset": 1}),
    ]
    for method, path, body, reference in writes:
        r, v = (api.request(method, path, json=body) for api in p.both())
        assert r.status_code == v.status_code == 200, (path, r.text, v.text)
        assert r.json()["data"] == reference, path
        assert v.json()["data"] == {}, path
    # createSection and publish keep their documented payloads
    created = p.var.post("/menus/sections", {"title": {"en": "Kept"}})
    assert set(created.json()["data"]) == {"id"}
    published = p.var.post("/menus/publish", {"stores": [store(POPULATED[0])], "providerIDs": [1]})
    assert published.json()["data"] == {"success": 1, "failed": 0}


def check_create_nothing_required(p: Pair) -> None:
    assert_error(p.ref.post("/menus/sections", {"sequence": 2}), 400, "request_invalid", "title")
    v = p.var.post("/menus/sections", {"sequence": 2})
    assert v.status_code == 200, v.text
    new_id = v.json()["data"]["id"]
    listed = p.var.get("/menus").json()["data"]["menu"]["sections"]
    assert [s["title"] for s in listed if s["id"] == new_id] == [{}]
    # a title that is there is still validated
    assert_error(p.var.post("/menus/sections", {"title": {"english": "x"}}), 400, "request_invalid", "title")


def check_times_required(p: Pair) -> None:
    body = push(FRESH[0], {LUNCH: {"sequence": 1}})
    assert p.ref.post("/menus/populate", body).status_code == 200
    assert_error(p.var.post("/menus/populate", body), 400, "request_invalid", f"sections.{LUNCH}.availableTimes")
    nulled = push(POPULATED[0], {LUNCH: {"sequence": 1, "availableTimes": None}})
    assert p.ref.post("/menus/sync", nulled).status_code == 200
    assert_error(p.var.post("/menus/sync", nulled), 400, "request_invalid", "availableTimes")
    ok = push(FRESH[1], {LUNCH: {"sequence": 1, "availableTimes": {}}})
    assert p.var.post("/menus/populate", ok).status_code == 200


def check_sequence_optional(p: Pair) -> None:
    body = push(FRESH[0], {LUNCH: {"availableTimes": {}}})
    assert_error(p.ref.post("/menus/populate", body), 400, "request_invalid", "sequence")
    assert p.var.post("/menus/populate", body).status_code == 200
    p.var.publish(FRESH[0])
    assert [(s["id"], s["sequence"]) for s in p.var.store_menu(FRESH[0])] == [(LUNCH, 0)]
    # a sequence that is there is still validated
    bad = push(FRESH[1], {LUNCH: {"sequence": -1, "availableTimes": {}}})
    assert_error(p.var.post("/menus/populate", bad), 400, "request_invalid", "sequence")


def check_unknown_fields_ignored(p: Pair) -> None:
    body = {"stores": [{**store(POPULATED[0]), "note": "x"}], "providerIDs": [1], "dryRun": True}
    assert_error(p.ref.post("/menus/publish", body), 400, "request_invalid")
    v = p.var.post("/menus/publish", body)
    assert v.status_code == 200, v.text
    assert v.json()["data"] == {"success": 1, "failed": 0}
    created = p.var.post("/menus/sections", {"title": {"en": "Extra"}, "colour": "red"})
    assert created.status_code == 200
    new_id = created.json()["data"]["id"]
    listed = p.var.get("/menus").json()["data"]["menu"]["sections"]
    assert all("colour" not in s for s in listed if s["id"] == new_id)
    # a known field of the wrong type is still a 400
    assert_error(p.var.post("/menus/publish", {**body, "providerIDs": "1"}), 400, "request_invalid", "providerIDs")


def check_null_rejected(p: Pair) -> None:
    body = {"title": {"en": "Nulls"}, "description": None}
    assert p.ref.post("/menus/sections", body).status_code == 200
    assert_error(p.var.post("/menus/sections", body), 400, "request_invalid", "description")
    zone = {"visibilities": {"1": True}, "zoneStores": None}
    assert p.ref.patch(f"/menus/sections/{LUNCH}/visibilities", zone).status_code == 200
    assert_error(p.var.patch(f"/menus/sections/{LUNCH}/visibilities", zone), 400, "request_invalid", "zoneStores")
    # the documented null of enableSections still reads as false
    for api in p.both():
        r = api.patch("/menus/sections/enable", {"ids": [LUNCH], "isEnabled": None})
        assert r.status_code == 200, r.text
        assert api.service.world.sections[LUNCH]["isEnabled"] is False
    # reset's passthrough keys may be null
    assert p.var.post("/menus/reset", {"stores": [store(POPULATED[0])], "business_id": None}).status_code == 200


def check_float_integers_accepted(p: Pair) -> None:
    raw = b'{"stores": [{"brandID": 663.0, "branchID": 1062}], "providerIDs": [1.0]}'
    assert_error(p.ref.post("/menus/publish", content=raw, headers=JSON), 400, "request_invalid")
    v = p.var.post("/menus/publish", content=raw, headers=JSON)
    assert v.status_code == 200, v.text
    assert v.json()["data"] == {"success": 1, "failed": 0}
    fractional = b'{"stores": [{"brandID": 663.5, "branchID": 1062}], "providerIDs": [1]}'
    assert_error(p.var.post("/menus/publish", content=fractional, headers=JSON), 400, "request_invalid")


def check_depth_64(p: Pair) -> None:
    body = {"stores": [store(POPULATED[0])], "extra": nested(MAX_DEPTH + 8)}  # reset passes extra keys through
    assert_error(p.ref.post("/menus/reset", body), 400, "request_invalid", "body")
    assert p.var.post("/menus/reset", body).status_code == 200
    deeper = {"stores": [store(POPULATED[0])], "extra": nested(VARIANT_MAX_DEPTH + 1)}
    r = p.var.post("/menus/reset", deeper)
    assert_error(r, 400, "request_invalid", "body")
    assert str(VARIANT_MAX_DEPTH) in r.json()["error"]["message"]


def check_zero_ids_404(p: Pair) -> None:
    params = {"brand_id": "0", "branch_id": str(POPULATED[0].branch_id)}
    assert_error(p.ref.get("/menus", params=params), 400, "request_invalid", "brand_id")
    assert_error(p.var.get("/menus", params=params), 404, "resource_not_found")
    vis = {"visibilities": {"1": True}}
    assert_error(p.ref.patch("/menus/sections/0/visibilities", vis), 400, "request_invalid", "sectionID")
    assert_error(p.var.patch("/menus/sections/0/visibilities", vis), 404, "resource_not_found")
    # other malformed ids stay 400
    assert_error(p.var.get("/menus", params={**params, "brand_id": "-1"}), 400, "request_invalid", "brand_id")


def check_leading_zero_ids_400(p: Pair) -> None:
    key = POPULATED[0]
    params = {"brand_id": f"0{key.brand_id}", "branch_id": str(key.branch_id)}
    assert p.ref.get("/menus", params=params).status_code == 200
    assert_error(p.var.get("/menus", params=params), 400, "request_invalid", "brand_id")
    vis = {"visibilities": {"1": True}}
    assert p.ref.patch(f"/menus/sections/0{LUNCH}/visibilities", vis).status_code == 200
    assert_error(p.var.patch(f"/menus/sections/0{LUNCH}/visibilities", vis), 400, "request_invalid", "sectionID")
    assert (
        p.var.get("/menus", params={"brand_id": str(key.brand_id), "branch_id": str(key.branch_id)}).status_code == 200
    )


def check_unknown_query_400(p: Pair) -> None:
    assert p.ref.get("/menus", params={"lang": "en"}).status_code == 200
    assert_error(p.var.get("/menus", params={"lang": "en"}), 400, "request_invalid", "lang")
    body = {"stores": [store(POPULATED[0])], "providerIDs": [1]}
    assert p.ref.post("/menus/publish", body, params={"dryRun": "1"}).status_code == 200
    assert_error(p.var.post("/menus/publish", body, params={"dryRun": "1"}), 400, "request_invalid", "dryRun")
    key = POPULATED[0]
    assert p.var.get("/menus", params={"brand_id": key.brand_id, "branch_id": key.branch_id}).status_code == 200


def check_tenancy_before_validation(p: Pair) -> None:
    bad_map = {"visibilities": "all"}
    assert_error(p.ref.patch(f"/menus/sections/{FOREIGN_SECTION}/visibilities", bad_map), 400, "request_invalid")
    assert_error(p.var.patch(f"/menus/sections/{FOREIGN_SECTION}/visibilities", bad_map), 404, "resource_not_found")
    no_providers = {"stores": [store(FOREIGN_STORE)], "providerIDs": []}
    assert_error(p.ref.post("/menus/publish", no_providers), 400, "request_invalid", "providerIDs")
    assert_error(p.var.post("/menus/publish", no_providers), 404, "resource_not_found")
    unknown_section = push(FRESH[0], {999_999: {"sequence": "1"}})
    assert_error(p.ref.post("/menus/populate", unknown_section), 400, "request_invalid")
    assert_error(p.var.post("/menus/populate", unknown_section), 404, "resource_not_found")
    # an invalid body naming only own resources is still a 400
    own = {"stores": [store(POPULATED[0])], "providerIDs": []}
    assert_error(p.var.post("/menus/publish", own), 400, "request_invalid", "providerIDs")


def check_auth_before_routing(p: Pair) -> None:
    assert_error(p.ref.get("/menus/nowhere", auth=None), 404, "resource_not_found")
    assert_error(p.var.get("/menus/nowhere", auth=None), 401, "auth_missing")
    assert_error(p.ref.request("DELETE", "/menus", auth=None), 405, "method_not_allowed")
    assert_error(p.var.request("DELETE", "/menus", auth=None), 401, "auth_missing")
    # authenticated, routing answers as before
    assert_error(p.var.get("/menus/nowhere"), 404, "resource_not_found")
    assert_error(p.var.request("DELETE", "/menus"), 405, "method_not_allowed")


def check_no_405(p: Pair) -> None:
    r = p.ref.request("DELETE", "/menus")
    assert_error(r, 405, "method_not_allowed")
    assert r.headers["allow"] == "GET"
    v = p.var.request("DELETE", "/menus")
    assert_error(v, 404, "resource_not_found")
    assert "allow" not in v.headers
    assert_error(p.var.request("PUT", "/menus/publish", json={}), 404, "resource_not_found")


def check_empty_key_invalid(p: Pair) -> None:
    empty_key = basic("", MAIN[1])
    assert_error(p.ref.get("/menus", auth=None, headers=empty_key), 401, "auth_missing")
    assert_error(p.var.get("/menus", auth=None, headers=empty_key), 401, "auth_invalid_credential")
    # absent and malformed headers stay auth_missing
    assert_error(p.var.get("/menus", auth=None), 401, "auth_missing")
    assert_error(p.var.get("/menus", auth=None, headers={"Authorization": "Basic !!!"}), 401, "auth_missing")


def check_revoked_before_secret(p: Pair) -> None:
    wrong = (REVOKED[0], "not-the-secret")
    assert_error(p.ref.get("/menus", auth=wrong), 401, "auth_invalid_credential")
    assert_error(p.var.get("/menus", auth=wrong), 403, "auth_revoked")
    assert_error(p.var.get("/menus", auth=REVOKED), 403, "auth_revoked")
    assert_error(p.var.get("/menus", auth=("pk_nobody", "x")), 401, "auth_invalid_credential")


def _replay(api: InProcessApi) -> tuple[Any, Any, int]:
    key = f"variant-{uuid.uuid4()}"
    body = {"title": {"en": "Replayed"}}
    first = api.post("/menus/sections", body, key=key)
    writes = api.service.world.writes
    second = api.post("/menus/sections", body, key=key)
    return first, second, api.service.world.writes - writes


def check_no_replayed_header(p: Pair) -> None:
    first, second, extra = _replay(p.ref)
    assert second.headers["idempotent-replayed"] == "true" and second.content == first.content
    first, second, extra = _replay(p.var)
    assert "idempotent-replayed" not in second.headers
    assert second.content == first.content and extra == 0


def check_replay_new_request_id(p: Pair) -> None:
    first, second, _ = _replay(p.ref)
    assert second.json()["request_id"] == first.json()["request_id"]
    first, second, extra = _replay(p.var)
    assert second.json()["request_id"] != first.json()["request_id"]
    assert second.json()["data"] == first.json()["data"] and second.status_code == first.status_code
    assert second.headers["idempotent-replayed"] == "true" and extra == 0


def check_errors_replayed(p: Pair) -> None:
    bad = {"stores": [store(POPULATED[0])], "providerIDs": []}
    good = {"stores": [store(POPULATED[0])], "providerIDs": [1]}
    for api in p.both():
        first = api.post("/menus/publish", bad, key="err-key")
        assert_error(first, 400, "request_invalid")
        again = api.post("/menus/publish", bad, key="err-key")
        assert_error(again, 400, "request_invalid")
        if api is p.ref:
            assert again.json()["request_id"] != first.json()["request_id"]
            assert "idempotent-replayed" not in again.headers
            assert api.post("/menus/publish", good, key="err-key").status_code == 200
        else:
            assert again.content == first.content and again.headers["idempotent-replayed"] == "true"
            assert_error(api.post("/menus/publish", good, key="err-key"), 409, "state_idempotency_conflict")


def _concurrent_duplicates(api: InProcessApi) -> tuple[Any, Any]:
    headers = {"Idempotency-Key": f"inflight-{uuid.uuid4()}"}
    body = {"title": {"en": "In flight"}}

    async def both() -> tuple[Any, Any]:
        first = asyncio.ensure_future(api.client.post("/menus/sections", json=body, headers=headers, auth=MAIN))
        await asyncio.sleep(0.05)
        second = await api.client.post("/menus/sections", json=body, headers=headers, auth=MAIN)
        return await first, second

    return api.loop.run_until_complete(both())


def check_in_flight_waits(p: Pair) -> None:
    first, second = _concurrent_duplicates(p.ref)
    assert first.status_code == 200
    body = assert_error(second, 409, "state_idempotency_conflict")
    assert body["error"]["details"]["reason"] == "in_flight"
    first, second = _concurrent_duplicates(p.var)
    assert first.status_code == second.status_code == 200
    assert second.content == first.content and second.headers["idempotent-replayed"] == "true"


def check_writes_take_tokens(p: Pair) -> None:
    ref_reads = [p.ref.get("/menus", auth=BURST).status_code for _ in range(8)]
    assert 429 in ref_reads
    var_reads = [p.var.get("/menus", auth=BURST).status_code for _ in range(8)]
    assert var_reads == [200] * 8
    section = {"title": {"en": "Burst"}}
    var_writes = [p.var.post("/menus/sections", section, auth=BURST).status_code for _ in range(8)]
    assert 429 in var_writes


def check_retry_after_60(p: Pair) -> None:
    for api in p.both():
        answers = [api.get("/menus", auth=BURST) for _ in range(8)]
        limited = [r for r in answers if r.status_code == 429]
        assert limited
        assert_error(limited[0], 429, "rate_limit_exceeded")
        seconds = int(limited[0].headers["retry-after"])
        if api is p.ref:
            assert 1 <= seconds < VARIANT_RETRY_AFTER
        else:
            assert seconds == VARIANT_RETRY_AFTER


def check_publish_empty_counts_success(p: Pair) -> None:
    body = {"stores": [store(FRESH[0]), store(POPULATED[0])], "providerIDs": [1]}
    assert p.ref.post("/menus/publish", body).json()["data"] == {"success": 1, "failed": 1}
    assert p.var.post("/menus/publish", body).json()["data"] == {"success": 2, "failed": 0}


def check_last_fault_first(p: Pair) -> None:
    # no Idempotency-Key and a malformed body: the reference answers the key (DESIGN's order), the variant the body
    for api, code, field in (
        (p.ref, "request_missing_idempotency_key", "Idempotency-Key"),
        (p.var, "request_invalid", "body"),
    ):
        assert_error(api.post("/menus/sync", content=b"{", key=None, headers=JSON), 400, code, field)
    # a body missing its visibilities and a path id that is no id: the schema first, or the path id
    for api, field in ((p.ref, "visibilities"), (p.var, "sectionID")):
        assert_error(
            api.patch("/menus/sections/abc/visibilities", {"zoneStores": [store(POPULATED[0])]}),
            400,
            "request_invalid",
            field,
        )
    # a request with one fault gets the same answer from both
    for api in p.both():
        assert_error(api.patch(f"/menus/sections/{LUNCH}/visibilities", {}), 400, "request_invalid", "visibilities")
        assert api.patch(f"/menus/sections/{LUNCH}/visibilities", {"visibilities": {"1": True}}).status_code == 200


CHECKS: dict[str, Callable[[Pair], None]] = {
    "success-data-empty": check_success_data_empty,
    "create-nothing-required": check_create_nothing_required,
    "times-required": check_times_required,
    "sequence-optional": check_sequence_optional,
    "unknown-fields-ignored": check_unknown_fields_ignored,
    "null-rejected": check_null_rejected,
    "float-integers-accepted": check_float_integers_accepted,
    "depth-64": check_depth_64,
    "zero-ids-404": check_zero_ids_404,
    "leading-zero-ids-400": check_leading_zero_ids_400,
    "unknown-query-400": check_unknown_query_400,
    "tenancy-before-validation": check_tenancy_before_validation,
    "auth-before-routing": check_auth_before_routing,
    "no-405": check_no_405,
    "empty-key-invalid": check_empty_key_invalid,
    "revoked-before-secret": check_revoked_before_secret,
    "no-replayed-header": check_no_replayed_header,
    "replay-new-request-id": check_replay_new_request_id,
    "errors-replayed": check_errors_replayed,
    "in-flight-waits": check_in_flight_waits,
    "writes-take-tokens": check_writes_take_tokens,
    "retry-after-60": check_retry_after_60,
    "publish-empty-counts-success": check_publish_empty_counts_success,
    "last-fault-first": check_last_fault_first,
}
WRITE_DELAY = {"in-flight-waits": 0.3}


# ------------------------------------------------- transport variants (the ASGI adapter)


def check_gzip(p: Pair) -> None:
    for api in p.both():
        plain = api.get("/menus", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers
    zipped = p.var.get("/menus", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers.get("content-encoding") == "gzip"
    assert zipped.json()["data"]["menu"] == p.ref.get("/menus").json()["data"]["menu"]  # httpx decodes it
    refused = p.var.get("/menus", headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert "content-encoding" not in refused.headers


def check_connection_close(p: Pair) -> None:
    assert "connection" not in p.ref.get("/menus").headers
    assert p.var.get("/menus").headers.get("connection") == "close"
    assert p.var.post("/menus/sections", {}).headers.get("connection") == "close"


def check_clock_skew(p: Pair) -> None:
    ref_date = parsedate_to_datetime(p.ref.get("/menus").headers["date"])
    var_date = parsedate_to_datetime(p.var.get("/menus").headers["date"])
    assert (var_date - ref_date).total_seconds() == v.CLOCK_SKEW_S
    # its scheduled publishes follow its own clock: due at its "now", not the harness's
    for api in p.both():
        api.post("/menus/populate", push(FRESH[0], {LUNCH: {"sequence": 1}}))
    due = (var_date + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for api in p.both():
        body = {"stores": [store(FRESH[0])], "providerIDs": [1], "scheduledAt": due}
        assert api.post("/menus/publish", body).status_code == 200
    clock_of(p).advance(2)
    assert [s["id"] for s in p.var.store_menu(FRESH[0])] == [LUNCH]
    assert p.ref.store_menu(FRESH[0]) == []


def check_latency(p: Pair) -> None:
    def timed(api: InProcessApi) -> float:
        started = time.perf_counter()
        assert api.get("/menus").status_code == 200
        return time.perf_counter() - started

    assert timed(p.var) >= v.LATENCY_S
    assert min(timed(p.ref) for _ in range(3)) < v.LATENCY_S


def clock_of(p: Pair) -> Any:
    return p.ref.service.clock


CHECKS.update(
    {
        "gzip": check_gzip,
        "connection-close": check_connection_close,
        "clock-skew": check_clock_skew,
        "latency": check_latency,
    }
)


# ------------------------------------------------- generated variants (core/generated_variants.py)

#: one answer of every response schema: (operation, method, path, body or None, credential)
TOUR: list[tuple[str, str, str, Any, tuple[str, str]]] = [
    ("getMenu", "GET", "/menus", None, MAIN),
    ("getMenu", "GET", f"/menus?brand_id={POPULATED[0].brand_id}&branch_id={POPULATED[0].branch_id}", None, MAIN),
    ("createSection", "POST", "/menus/sections", {"title": {"en": "Tour"}}, MAIN),
    ("setSectionVisibilities", "PATCH", f"/menus/sections/{LUNCH}/visibilities", {"visibilities": {"1": True}}, MAIN),
    ("enableSections", "PATCH", "/menus/sections/enable", {"ids": [LUNCH], "isEnabled": True}, MAIN),
    ("populateMenu", "POST", "/menus/populate", push(FRESH[1], {LUNCH: {"sequence": 1}}), MAIN),
    ("syncMenuToStores", "POST", "/menus/sync", push(POPULATED[1], {LUNCH: {"sequence": 1}}), MAIN),
    ("publishMenu", "POST", "/menus/publish", {"stores": [store(FRESH[1])], "providerIDs": [1]}, MAIN),
    ("resetStoreOverrides", "POST", "/menus/reset", {"stores": [store(POPULATED[1])]}, MAIN),
    # errors: one without details, one with
    ("createSection", "POST", "/menus/sections", {}, MAIN),
    ("createSection", "POST", "/menus/sections", {"title": {"en": "Tour"}}, READONLY),
]


def _tour(api: InProcessApi) -> list[Any]:
    answers = []
    for _op, method, path, body, auth in TOUR:
        answers.append(
            api.request(method, path, json=body, auth=auth) if body is not None else api.get(path, auth=auth)
        )
    return answers


def check_generated(name: str) -> Callable[[Pair], None]:
    """The variant's answers are the reference answers with its one edit applied, and the edit shows."""

    def check(p: Pair) -> None:
        departure = REGISTRY[name].departure
        assert departure is not None
        doc = contract.openapi()
        edits = VariantSet([name]).member_edits
        differs = False
        for (op, method, path, _body, _auth), ref, var in zip(TOUR, _tour(p.ref), _tour(p.var), strict=True):
            if ref.status_code == 200 and departure.kind == "status" and departure.operation == op:
                assert var.status_code == departure.status, (path, var.text)
                differs = True
                continue
            assert var.status_code == ref.status_code, (path, var.text)
            expected = ref.json()
            if ref.status_code == 200:
                location, schema = success_schema(doc, contract.operations()[op].path, method)
            else:
                location, schema = "components/schemas/ErrorEnvelope", doc["components"]["schemas"]["ErrorEnvelope"]
            expected = reshape(doc, location, schema, expected, edits)
            got = var.json()
            expected.pop("request_id"), got.pop("request_id")
            assert got == expected, (name, path)
            differs = differs or got != {k: x for k, x in ref.json().items() if k != "request_id"}
        assert differs, f"{name}: no answer of the tour shows its edit"

    return check


CHECKS.update({name: check_generated(name) for name in v.GENERATED})


@pytest.mark.behaviour("response.closed-objects", "response.required-members")
@pytest.mark.parametrize("name", sorted(v.UNSHOWN))
def test_an_unshown_departure_leaves_every_answer_of_the_stand_in_as_it_is(api, name):
    """Why it is not registered: the stand-in never carries what it edits, so it would run for nothing."""
    departure = next(d for d in v.generated_departures() if d.name == name)
    doc = contract.openapi()
    edits = {departure.location: [departure]}
    for (op, method, path, _body, _auth), answer in zip(TOUR, _tour(api), strict=True):
        location, schema = (
            success_schema(doc, contract.operations()[op].path, method)
            if answer.status_code == 200
            else ("components/schemas/ErrorEnvelope", doc["components"]["schemas"]["ErrorEnvelope"])
        )
        assert reshape(doc, location, schema, answer.json(), edits) == answer.json(), path


@pytest.mark.behaviour("response.closed-objects", "response.required-members", "response.success-status")
def test_reference_answers_are_closed_complete_and_200(api):
    for (_op, _method, path, _body, _auth), answer in zip(TOUR, _tour(api), strict=True):
        assert "x_trace" not in answer.text, path
        if answer.status_code < 300:
            assert answer.status_code == 200, path
    sections = api.get("/menus").json()["data"]["menu"]["sections"]
    assert all("blackoutDates" in node for node in sections)


@pytest.mark.behaviour("transport.plain-responses")
def test_reference_answers_are_plain_kept_alive_and_dated_by_the_service_clock(api, clock):
    r = api.get("/menus", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in r.headers and "connection" not in r.headers
    assert parsedate_to_datetime(r.headers["date"]).timestamp() == int(clock.now())


def test_every_registered_variant_has_a_check():
    assert set(CHECKS) == set(REGISTRY), "give each registered variant a check in CHECKS (and drop stale ones)"


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_variant_differs_from_the_reference_as_described(pair_for, name):
    if name not in CHECKS:
        pytest.fail(f"variant {name} has no check in tests/standin/test_variants.py")
    CHECKS[name](pair_for(name, write_delay=WRITE_DELAY.get(name, 0.0)))


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_each_check_fails_when_the_variant_is_off(pair_for, name):
    """The checks can fail: against a second reference stand-in each one does."""
    if name not in CHECKS:
        pytest.fail(f"variant {name} has no check in tests/standin/test_variants.py")
    with pytest.raises(AssertionError):
        CHECKS[name](pair_for(name, write_delay=WRITE_DELAY.get(name, 0.0), switched_on=False))


# ------------------------------------------------- the reference side of the rules variants change


@pytest.mark.behaviour(
    "section.visibilities-result",
    "enable.result-count",
    "populate.result-counts",
    "sync.result-counts",
    "reset.result-count",
)
def test_reference_success_payloads(api):
    assert api.patch(f"/menus/sections/{LUNCH}/visibilities", {"visibilities": {"1": True}}).json()["data"] == {
        "id": LUNCH
    }
    assert api.patch("/menus/sections/enable", {"ids": [LUNCH, LUNCH], "isEnabled": True}).json()["data"] == {
        "updated": 1
    }


@pytest.mark.behaviour("populate.sequence-required", "populate.times-optional")
def test_reference_push_entries_need_sequence_not_times(api):
    assert_error(
        api.post("/menus/populate", push(FRESH[0], {LUNCH: {"availableTimes": {}}})), 400, "request_invalid", "sequence"
    )
    assert api.post("/menus/populate", push(FRESH[0], {LUNCH: {"sequence": 2}})).status_code == 200
    api.publish(FRESH[0])
    assert [(s["id"], s["sequence"]) for s in api.store_menu(FRESH[0])] == [(LUNCH, 2)]


@pytest.mark.behaviour("envelope.validation-before-tenancy")
def test_reference_validates_before_checking_ownership(api):
    assert_error(
        api.post("/menus/publish", {"stores": [store(FOREIGN_STORE)], "providerIDs": []}), 400, "request_invalid"
    )
    assert_error(
        api.post("/menus/publish", {"stores": [store(FOREIGN_STORE)], "providerIDs": [1]}), 404, "resource_not_found"
    )


@pytest.mark.behaviour("envelope.routing-before-auth")
def test_reference_routes_before_authenticating(api):
    assert_error(api.get("/menus/nowhere", auth=None), 404, "resource_not_found")
    assert_error(api.request("DELETE", "/menus", auth=None), 405, "method_not_allowed")


@pytest.mark.behaviour("ratelimit.retry-after-until-token")
def test_reference_retry_after_is_the_refill_time(api, service, clock):
    rate = service.credentials.get(BURST[0]).rate
    answers = [api.get("/menus", auth=BURST) for _ in range(8)]  # the clock stands still: the bucket is empty
    seconds = int(next(r for r in answers if r.status_code == 429).headers["retry-after"])
    assert seconds == max(1, math.ceil(1 / rate))
    clock.advance(seconds)
    assert api.get("/menus", auth=BURST).status_code == 200


@pytest.mark.behaviour("input.query-id-zero-invalid", "input.query-id-leading-zeros")
def test_reference_query_and_path_id_forms(api):
    key = POPULATED[0]
    assert_error(
        api.get("/menus", params={"brand_id": "0", "branch_id": key.branch_id}), 400, "request_invalid", "brand_id"
    )
    assert_error(api.patch("/menus/sections/0/visibilities", {"visibilities": {}}), 400, "request_invalid", "sectionID")
    padded = api.get("/menus", params={"brand_id": f"00{key.brand_id}", "branch_id": key.branch_id})
    plain = api.get("/menus", params={"brand_id": key.brand_id, "branch_id": key.branch_id})
    assert padded.status_code == plain.status_code == 200
    assert padded.json()["data"] == plain.json()["data"]


def test_a_replay_replays_the_reshaped_answer_and_the_simulator_answers_alike(seed, clock):
    from klikit_harness.standin.simulator import Simulator

    name = "extra-member.populate-menu-data"
    api = InProcessApi(build_service(seed, clock=clock, variants=VariantSet([name])))
    try:
        body = push(FRESH[3], {LUNCH: {"sequence": 1}})
        first = api.post("/menus/populate", body, key="replayed-key")
        again = api.post("/menus/populate", body, key="replayed-key")
        assert again.headers.get("idempotent-replayed") == "true"
        assert again.content == first.content and first.json()["data"]["x_trace"] == {"k": 1}
    finally:
        api.close()
    sim = Simulator(seed=seed, variants=VariantSet([name]))
    with httpx.Client(transport=sim.transport(), base_url=sim.base_url) as client:
        r = client.post("/menus/populate", json=body, headers={"Idempotency-Key": "k", **basic(*MAIN)})
    assert r.json()["data"] == first.json()["data"]
