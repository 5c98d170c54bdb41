"""The stand-in's own answer shapes: closed objects, every member it emits, status 200 on success.

These are the incidental response rules of openapi.yaml (``response.*``): the
stand-in holds itself to them; a real target is only observed on them.
"""

from __future__ import annotations

from typing import Any

import pytest

from klikit_harness import contract
from klikit_harness.contract import view as schema_view
from tests.support.standin import FRESH, LUNCH, POPULATED, store

SUCCESSES: list[tuple[str, str, str, Any, str]] = [
    # (operationId, method, path, body, response schema)
    ("createSection", "POST", "/menus/sections", {"title": {"en": "shapes"}}, "CreateSectionResponse"),
    (
        "setSectionVisibilities",
        "PATCH",
        f"/menus/sections/{LUNCH}/visibilities",
        {"visibilities": {"1": True}},
        "SetSectionVisibilitiesResponse",
    ),
    (
        "enableSections",
        "PATCH",
        "/menus/sections/enable",
        {"ids": [LUNCH], "isEnabled": True},
        "EnableSectionsResponse",
    ),
    (
        "populateMenu",
        "POST",
        "/menus/populate",
        {"stores": [store(FRESH[3])], "sections": {str(LUNCH): {"sequence": 1, "availableTimes": {}}}},
        "PopulateMenuResponse",
    ),
    (
        "syncMenuToStores",
        "POST",
        "/menus/sync",
        {"stores": [store(POPULATED[0])], "sections": {str(LUNCH): {"sequence": 1, "availableTimes": {}}}},
        "SyncMenuToStoresResponse",
    ),
    (
        "publishMenu",
        "POST",
        "/menus/publish",
        {"stores": [store(POPULATED[0])], "providerIDs": [1]},
        "PublishMenuResponse",
    ),
    ("resetStoreOverrides", "POST", "/menus/reset", {"stores": [store(POPULATED[1])]}, "ResetStoreOverridesResponse"),
]


def send(api: Any, method: str, path: str, body: Any) -> Any:
    return api.post(path, body) if method == "POST" else api.patch(path, body)


@pytest.mark.behaviour("response.success-status", "response.closed-objects", "envelope.success-has-data")
@pytest.mark.parametrize(("operation", "method", "path", "body", "schema"), SUCCESSES, ids=[s[0] for s in SUCCESSES])
def test_every_write_succeeds_with_200_and_a_closed_payload(api, operation, method, path, body, schema):
    r = send(api, method, path, body)
    assert r.status_code == 200
    assert schema_view.success_status_behaviour(operation) == "response.success-status"
    assert schema_view.response_schema_name(operation, r.status_code) == schema
    errors = [e.message for e in contract.body_validator(schema).iter_errors(r.json())]
    assert errors == []
    assert not contract.body_validator(schema).is_valid({**r.json(), "trace": "x"})  # closed: no other member


@pytest.mark.behaviour(
    "response.required-members",
    "response.closed-objects",
    "getmenu.store-mode",
    "getmenu.business-mode",
    "getmenu.never-published-empty",
)
def test_get_menu_answers_carry_every_member_the_contract_lists(api):
    validator = contract.body_validator("GetMenuResponse")
    for params in ({}, {"brand_id": POPULATED[0].brand_id, "branch_id": POPULATED[0].branch_id}):
        r = api.get("/menus", params=params)
        assert r.status_code == 200
        assert [e.message for e in validator.iter_errors(r.json())] == []
    business = api.get("/menus").json()["data"]["menu"]
    assert {"businessID", "name", "brandIDs"} <= set(business["businessInfo"])
    node = business["sections"][0]
    assert {
        "id",
        "sequence",
        "title",
        "description",
        "enabled",
        "image",
        "isMealForOne",
        "visibilities",
        "availableTimes",
    } <= set(node)
    schema_required = set(contract.openapi()["components"]["schemas"]["MenuSection"]["required"])
    assert schema_required <= set(node)


@pytest.mark.behaviour("response.closed-objects", "envelope.error-shape")
def test_errors_are_closed_objects(api):
    r = api.get("/menus", params={"brand_id": 1})
    assert r.status_code == 400
    body = r.json()
    assert set(body) == {"request_id", "error"}
    assert set(body["error"]) <= {"code", "message", "details"}
    assert not contract.body_validator("ErrorEnvelope").is_valid({**body, "error": {**body["error"], "hint": "x"}})
