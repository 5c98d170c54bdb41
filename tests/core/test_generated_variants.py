"""The generator: every departure the annotated response side allows, none from a documented constraint."""

from __future__ import annotations

from typing import Any

import pytest

from klikit_harness import contract
from klikit_harness.core import variants
from klikit_harness.core.generated_variants import (
    OPEN_OBJECTS,
    OPTIONAL_MEMBERS,
    departures,
    kebab,
    response_objects,
)

STATUS = {
    "doc.envelope": "documented",
    "doc.payload": "documented",
    "doc.id": "documented",
    "contested.flag": "contested",
    "assumed.payload": "assumed",
    "response.closed-objects": "incidental",
    "response.required-members": "incidental",
    "response.success-status": "incidental",
    "doc.status": "documented",
    "input.unknown-fields": "assumed",
}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def success(schema: str, status_behaviour: str | None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": "ok", "content": {"application/json": {"schema": ref(schema)}}}
    if status_behaviour:
        response["x-behaviours"] = {"status": status_behaviour}
    return response


#: a small contract written to the convention
DOC: dict[str, Any] = {
    "openapi": "3.1.0",
    "paths": {
        "/things": {
            "post": {
                "operationId": "createThing",
                "requestBody": {"content": {"application/json": {"schema": ref("ThingRequest")}}},
                "responses": {
                    "200": success("ThingResponse", "response.success-status"),
                    "400": {"$ref": "#/components/responses/BadRequest"},
                },
            },
            "get": {
                "operationId": "listThings",
                "responses": {"200": success("ListResponse", "doc.status")},
            },
        },
    },
    "components": {
        "responses": {
            "BadRequest": {"description": "400", "content": {"application/json": {"schema": ref("ErrorEnvelope")}}},
        },
        "schemas": {
            "ThingRequest": {  # request side only: never a departure
                "x-behaviour": "doc.payload",
                "x-behaviours": {"additionalProperties": "input.unknown-fields"},
                "type": "object",
                "additionalProperties": False,
                "properties": {"name": {"type": "string"}, "slot": ref("Slot")},
            },
            "Slot": {  # used by requests and answers: its annotations speak of requests
                "x-behaviours": {"additionalProperties": "input.unknown-fields"},
                "type": "object",
                "additionalProperties": False,
                "properties": {"start": {"type": "integer"}},
            },
            "ErrorEnvelope": {
                "x-behaviour": "doc.envelope",
                "x-behaviours": {"additionalProperties": "response.closed-objects"},
                "type": "object",
                "additionalProperties": False,
                "required": ["request_id", "error"],
                "properties": {"request_id": {"type": "string"}, "error": ref("Error"), "data": False},
            },
            "Error": {
                "x-behaviour": "doc.envelope",
                "type": "object",
                "additionalProperties": False,  # closed by a documented sentence
                "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "details": {}},
            },
            "ThingResponse": {
                "x-behaviour": "doc.envelope",
                "x-behaviours": {"additionalProperties": "response.closed-objects"},
                "type": "object",
                "additionalProperties": False,
                "required": ["request_id", "data"],
                "properties": {"request_id": {"type": "string"}, "data": ref("ThingData"), "error": {"not": {}}},
            },
            "ThingData": {
                "x-behaviour": "doc.payload",
                "x-behaviours": {
                    "additionalProperties": "assumed.payload",
                    "required.label": "response.required-members",
                    "required.flag": "contested.flag",
                },
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "label", "flag"],
                "properties": {
                    "id": {"type": "integer"},
                    "label": {"type": "string"},
                    "flag": {"type": "boolean"},
                    "slot": ref("Slot"),
                    "owner": {"type": "object", "properties": {"ownerName": {"type": "string"}}},
                },
            },
            "ListResponse": {
                "x-behaviour": "doc.envelope",
                "type": "object",
                "additionalProperties": False,
                "required": ["request_id", "data"],
                "properties": {"request_id": {"type": "string"}, "data": {"type": "array", "items": ref("Thing")}},
            },
            "Thing": {  # open: the docs leave it so
                "x-behaviour": "doc.payload",
                "type": "object",
                "required": ["id"],
                "properties": {
                    "id": {"type": "integer"},
                    "tags": {"type": "object", "propertyNames": {"pattern": "^[a-z]+$"}},
                },
            },
        },
    },
}

EXPECTED = {
    # closed by an incidental/assumed additionalProperties, or open
    "extra-member.error-envelope": ("response.closed-objects",),
    "extra-member.thing-response": ("response.closed-objects",),
    "extra-member.thing-data": ("assumed.payload",),
    "extra-member.thing-data.owner": (OPEN_OBJECTS,),
    "extra-member.thing": (OPEN_OBJECTS,),
    # not required, or required by an incidental entry
    "drop-member.error.details": (OPTIONAL_MEMBERS,),
    "drop-member.thing-data.label": ("response.required-members",),
    "drop-member.thing-data.slot": (OPTIONAL_MEMBERS,),
    "drop-member.thing-data.owner": (OPTIONAL_MEMBERS,),
    "drop-member.thing-data.owner.owner-name": (OPTIONAL_MEMBERS,),
    "drop-member.thing.tags": (OPTIONAL_MEMBERS,),
    # a success status only the stand-in fixes
    "status-201.create-thing": ("response.success-status",),
    "status-202.create-thing": ("response.success-status",),
}


def generate(doc: dict[str, Any] = DOC) -> dict[str, tuple[str, ...]]:
    return {d.name: d.changes for d in departures(doc, STATUS.__getitem__)}


def test_every_departure_of_the_synthetic_contract_is_found_with_the_behaviours_it_changes():
    assert generate() == EXPECTED


def test_documented_and_contested_constraints_and_request_schemas_yield_none():
    names = set(generate())
    # Error is closed by a documented sentence; ThingData.id and .flag are required by documented/contested ones;
    # ListResponse's status is documented; Slot and ThingRequest belong to requests; a map (tags) gets no member
    for absent in (
        "extra-member.error",
        "drop-member.thing-data.id",
        "drop-member.thing-data.flag",
        "status-201.list-things",
        "extra-member.slot",
        "extra-member.thing-request",
        "extra-member.thing.tags",
        "drop-member.error-envelope.data",
        "drop-member.thing-response.error",
    ):
        assert absent not in names


def test_names_are_stable_sorted_and_follow_the_variant_name_rule():
    first, second = departures(DOC, STATUS.__getitem__), departures(DOC, STATUS.__getitem__)
    assert first == second
    assert [d.name for d in first] == sorted(d.name for d in first)
    assert all(variants._NAME.match(d.name) for d in first)


def test_a_departure_carries_where_it_applies():
    by_name = {d.name: d for d in departures(DOC, STATUS.__getitem__)}
    drop = by_name["drop-member.thing-data.label"]
    assert (drop.kind, drop.location, drop.member) == ("drop-member", "components/schemas/ThingData", "label")
    status = by_name["status-202.create-thing"]
    assert (status.kind, status.operation, status.status) == ("status", "createThing", 202)
    assert by_name["extra-member.thing-data.owner"].location == "components/schemas/ThingData/properties/owner"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("MenuSection", "menu-section"),
        ("blackoutDates", "blackout-dates"),
        ("request_id", "request-id"),
        ("providerIDs", "provider-ids"),
        ("branchID", "branch-id"),
    ],
)
def test_kebab(text, expected):
    assert kebab(text) == expected


def test_on_the_project_contract_open_objects_and_optional_members_are_found():
    names = {d.name for d in variants.generated_departures()}
    assert {
        "extra-member.business-info",
        "extra-member.menu-section",
        "drop-member.menu-section.blackout-dates",
        "drop-member.error.details",
    } <= names
    # shared with requests: no departure
    assert not any(n.startswith(("extra-member.slot", "extra-member.day-schedule")) for n in names)
    assert "components/schemas/MenuSection" in response_objects(contract.openapi())


def test_the_registry_holds_every_generated_departure_the_stand_in_can_show():
    expected = {d.name for d in variants.generated_departures()} - variants.UNSHOWN - set(variants.STATED_ELSEWHERE)
    assert set(variants.GENERATED) == expected == set(variants.generated())
    assert set(variants.hand_written()).isdisjoint(expected)
    for name in variants.GENERATED:
        assert variants.REGISTRY[name].departure is not None


def test_a_departure_the_schema_cannot_fully_describe_also_changes_what_design_states():
    details = variants.REGISTRY["drop-member.error.details"]
    assert details.changes == (OPTIONAL_MEMBERS, *variants.ALSO_CHANGES["drop-member.error.details"])
    assert set(variants.ALSO_CHANGES) <= {d.name for d in variants.generated_departures()}, "no stale entry"


def test_a_departure_stated_elsewhere_names_a_documented_behaviour_and_is_not_registered():
    for name, bid in variants.STATED_ELSEWHERE.items():
        assert contract.behaviour(bid).status in {"documented", "contested"}, (name, bid)
        assert name not in variants.REGISTRY
