"""Consistency checks of the contract data: openapi.yaml, errors.yaml, behaviours.yaml."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
WRITE_METHODS = {"post", "patch"}

EXPECTED_OPERATIONS = {
    "createSection": ("post", "/menus/sections"),
    "setSectionVisibilities": ("patch", "/menus/sections/{sectionID}/visibilities"),
    "enableSections": ("patch", "/menus/sections/enable"),
    "populateMenu": ("post", "/menus/populate"),
    "syncMenuToStores": ("post", "/menus/sync"),
    "publishMenu": ("post", "/menus/publish"),
    "resetStoreOverrides": ("post", "/menus/reset"),
    "getMenu": ("get", "/menus"),
}
UNVERIFIED_OPERATIONS = {"enableSections", "populateMenu", "resetStoreOverrides"}
ERROR_STATUSES_READ = {"400", "401", "403", "404", "429", "500", "502"}
ERROR_STATUSES_WRITE = ERROR_STATUSES_READ | {"409"}

BEHAVIOUR_ID = re.compile(r"^[a-z]+\.[a-z0-9]+(-[a-z0-9]+)*$")
BEHAVIOUR_STATUSES = {"documented", "contested", "assumed", "incidental"}
DOSSIER_REF = re.compile(r"^[CG][0-9]+$")
# Backticked lower-case codes in a response description, e.g. `auth_missing`.
DESCRIBED_CODE = re.compile(r"`([a-z][a-z0-9_]*)`")


def _load(name: str) -> dict:
    with (CONTRACTS / name).open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@pytest.fixture(scope="module")
def openapi() -> dict:
    return _load("openapi.yaml")


@pytest.fixture(scope="module")
def errors() -> dict:
    return _load("errors.yaml")


@pytest.fixture(scope="module")
def behaviours() -> list[dict]:
    return _load("behaviours.yaml")["behaviours"]


def _resolve(doc: dict, node: dict) -> dict:
    """Follow local $refs (#/a/b/c) until a non-ref node is reached."""
    seen = set()
    while "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), f"non-local $ref {ref!r}"
        assert ref not in seen, f"$ref cycle at {ref!r}"
        seen.add(ref)
        target = doc
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def _operations(doc: dict) -> dict[str, tuple[str, str, dict]]:
    ops: dict[str, tuple[str, str, dict]] = {}
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method not in HTTP_METHODS:
                continue
            op_id = op["operationId"]
            assert op_id not in ops, f"duplicate operationId {op_id}"
            ops[op_id] = (method, path, op)
    return ops


def _schema_validator(doc: dict, schema_name: str) -> Draft202012Validator:
    assert schema_name in doc["components"]["schemas"], schema_name
    registry = Registry().with_resource(
        "urn:klikit:openapi", Resource.from_contents(doc, default_specification=DRAFT202012)
    )
    return Draft202012Validator(
        {"$ref": f"urn:klikit:openapi#/components/schemas/{schema_name}"},
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def _shared_error_responses(doc: dict) -> dict[str, str]:
    """Map each shared error response name to the one HTTP status it is used under."""
    used: dict[str, set[str]] = {}
    for _, _, op in _operations(doc).values():
        for status, response in op["responses"].items():
            if status.startswith("2"):
                continue
            ref = response.get("$ref", "")
            assert ref.startswith("#/components/responses/"), (
                f"{op['operationId']} {status}: error responses must $ref a shared response"
            )
            used.setdefault(ref.rsplit("/", 1)[1], set()).add(status)
    for name, statuses in used.items():
        assert len(statuses) == 1, f"{name} is used under several statuses: {sorted(statuses)}"
    return {name: statuses.pop() for name, statuses in used.items()}


# --------------------------------------------------------------------------- openapi.yaml


def test_openapi_document_is_valid_openapi_3_1(openapi):
    assert openapi["openapi"] == "3.1.0"
    validate(openapi)  # raises on any violation


def test_servers_are_klikit_dev_and_local_sandbox(openapi):
    urls = [server["url"] for server in openapi["servers"]]
    assert urls == [
        "https://api.dev.shadowchef.co/v1/partner",
        "http://127.0.0.1:8080/v1/partner",
    ]


def test_basic_auth_is_required_globally(openapi):
    assert openapi["security"] == [{"basicAuth": []}]
    scheme = openapi["components"]["securitySchemes"]["basicAuth"]
    assert scheme["type"] == "http"
    assert scheme["scheme"] == "basic"
    for op_id, (_, _, op) in _operations(openapi).items():
        assert "security" not in op, f"{op_id} overrides the global security requirement"


def test_exactly_the_eight_operations_with_their_methods_and_paths(openapi):
    found = {op_id: (method, path) for op_id, (method, path, _) in _operations(openapi).items()}
    assert found == EXPECTED_OPERATIONS


def test_every_write_requires_an_idempotency_key_header(openapi):
    for op_id, (method, _, op) in _operations(openapi).items():
        params = [_resolve(openapi, p) for p in op.get("parameters", [])]
        keys = [p for p in params if p["in"] == "header" and p["name"] == "Idempotency-Key"]
        if method in WRITE_METHODS:
            assert len(keys) == 1, f"{op_id} lacks the Idempotency-Key header"
            assert {"$ref": "#/components/parameters/IdempotencyKey"} in op["parameters"]
            key = keys[0]
            assert key["required"] is True
            assert key["schema"] == {"type": "string", "minLength": 1, "maxLength": 64}
            body = op["requestBody"]
            assert body["required"] is True
            assert list(body["content"]) == ["application/json"]
        else:
            assert keys == [], f"read {op_id} must not declare Idempotency-Key"
            assert "requestBody" not in op


def test_request_bodies_use_the_named_schemas(openapi):
    expected = {
        "createSection": "CreateSectionRequest",
        "setSectionVisibilities": "SetVisibilitiesRequest",
        "enableSections": "EnableSectionsRequest",
        "populateMenu": "PushRequest",
        "syncMenuToStores": "PushRequest",
        "publishMenu": "PublishRequest",
        "resetStoreOverrides": "ResetRequest",
    }
    for op_id, (_, _, op) in _operations(openapi).items():
        if op_id not in expected:
            continue
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": f"#/components/schemas/{expected[op_id]}"}, op_id


def test_only_the_three_inferred_paths_are_unverified(openapi):
    for op_id, (_, _, op) in _operations(openapi).items():
        if op_id in UNVERIFIED_OPERATIONS:
            assert op.get("x-unverified") is True, op_id
            assert "inferred from sibling endpoints" in op["description"], op_id
            assert "overridable in configuration" in op["description"], op_id
        else:
            assert "x-unverified" not in op, op_id


def test_getmenu_takes_optional_brand_and_branch_ids(openapi):
    _, _, op = _operations(openapi)["getMenu"]
    params = {p["name"]: _resolve(openapi, p) for p in op["parameters"]}
    assert set(params) == {"brand_id", "branch_id"}
    for param in params.values():
        assert param["in"] == "query"
        assert param["required"] is False
        assert param["schema"] == {"$ref": "#/components/schemas/Id"}


def test_every_operation_documents_success_and_error_statuses(openapi):
    for op_id, (method, _, op) in _operations(openapi).items():
        expected = ERROR_STATUSES_WRITE if method in WRITE_METHODS else ERROR_STATUSES_READ
        assert set(op["responses"]) == expected | {"200"}, op_id
        success = op["responses"]["200"]
        schema = success["content"]["application/json"]["schema"]
        envelope = _resolve(openapi, schema)
        assert envelope["required"] == ["request_id", "data"], op_id
        assert envelope["additionalProperties"] is False, op_id
        assert envelope["x-behaviours"]["additionalProperties"] == "response.closed-objects", op_id
        assert set(envelope["properties"]) == {"request_id", "data", "error"}, op_id
        assert envelope["properties"]["error"]["not"] == {}, op_id  # "2xx: no error" is stated
        replayed = success.get("headers", {}).get("Idempotent-Replayed")
        if method in WRITE_METHODS:
            header = _resolve(openapi, replayed)
            assert header["required"] is False
            assert header["schema"] == {"type": "string", "enum": ["true"]}
        else:
            assert replayed is None, op_id


def test_error_responses_carry_the_error_envelope(openapi):
    shared = _shared_error_responses(openapi)
    assert set(shared) == {
        "BadRequest",
        "Unauthorized",
        "Forbidden",
        "NotFound",
        "Conflict",
        "TooManyRequests",
        "InternalError",
        "BadGateway",
    }
    for name in shared:
        response = openapi["components"]["responses"][name]
        assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorEnvelope"}, name
    envelope = openapi["components"]["schemas"]["ErrorEnvelope"]
    assert envelope["required"] == ["request_id", "error"]
    assert envelope["additionalProperties"] is False


def test_too_many_requests_requires_integer_retry_after(openapi):
    response = openapi["components"]["responses"]["TooManyRequests"]
    header = _resolve(openapi, response["headers"]["Retry-After"])
    assert header["required"] is True
    assert header["schema"] == {"type": "integer", "minimum": 1}


def test_error_statuses_match_the_reference_catalogue(openapi, errors):
    reference = errors["reference"]
    codes_by_status: dict[str, set[str]] = {}
    for code, entry in reference.items():
        codes_by_status.setdefault(str(entry["status"]), set()).add(code)

    shared = _shared_error_responses(openapi)
    for name, status in shared.items():
        assert codes_by_status.get(status), f"{name} documents {status}, which no reference code uses"
        described = set(DESCRIBED_CODE.findall(openapi["components"]["responses"][name]["description"]))
        described_known = described & set(reference)
        assert described == described_known, f"{name} names codes not in errors.yaml: {described - described_known}"
        expected = codes_by_status[status]
        assert described == expected, f"{name} ({status}) lists {sorted(described)}, catalogue has {sorted(expected)}"

    for op_id, (_, _, op) in _operations(openapi).items():
        for status in op["responses"]:
            if status.startswith("2"):
                continue
            name = op["responses"][status]["$ref"].rsplit("/", 1)[1]
            description = openapi["components"]["responses"][name]["description"]
            for code in codes_by_status.get(status, ()):
                assert f"`{code}`" in description, f"{op_id} {status}: {code} missing from {name}"


def test_links_from_create_section(openapi):
    _, _, op = _operations(openapi)["createSection"]
    links = op["responses"]["200"]["links"]
    assert links["SetVisibilities"] == {
        "operationId": "setSectionVisibilities",
        "parameters": {"sectionID": "$response.body#/data/id"},
    }
    assert links["EnableSections"] == {
        "operationId": "enableSections",
        "requestBody": {"ids": ["$response.body#/data/id"], "isEnabled": True},
    }
    operation_ids = set(_operations(openapi))
    for name, link in links.items():
        assert link["operationId"] in operation_ids, name


def test_undocumented_success_payloads_are_marked_assumed(openapi):
    schemas = openapi["components"]["schemas"]
    documented = {"CreateSectionData", "PublishMenuData", "GetMenuData"}
    assumed = {
        "SetSectionVisibilitiesData",
        "EnableSectionsData",
        "PopulateMenuData",
        "SyncMenuToStoresData",
        "ResetStoreOverridesData",
    }
    for name in documented:
        assert "x-assumed" not in schemas[name], name
    for name in assumed:
        assert schemas[name].get("x-assumed") is True, name
        assert "docs show no success payload" in schemas[name]["description"], name


# --------------------------------------------------------------------------- schemas at work

SYNC_EXAMPLE = {
    "stores": [{"brandID": 663, "branchID": 1062}],
    "sections": {"1022": {"sequence": 1, "availableTimes": {}}},
}
WEEK = {str(day): {"disabled": False, "slots": [{"startTime": 900, "endTime": 2200}]} for day in range(7)}
CREATE_EXAMPLE = {
    "title": {"en": "All Day Menu", "id": "Menu Sepanjang Hari"},
    "description": {"en": "Available 09:00 – 22:00"},
    "isEnabled": True,
    "sequence": 1,
    "visibilities": {"1": True},
    "availableTimes": WEEK,
    "fromAPI": True,
}
STORE = {"brandID": 663, "branchID": 1062}


@pytest.mark.parametrize(
    ("schema", "instance"),
    [
        ("PushRequest", SYNC_EXAMPLE),
        ("PushRequest", {**SYNC_EXAMPLE, "fieldIncludeOnSync": ["availableTimes"]}),
        (
            "PushRequest",
            {
                **SYNC_EXAMPLE,
                "fieldIncludeOnSync": None,
                "persistFieldOnSync": {"sections": ["visibilities"]},
            },
        ),
        (
            "PushRequest",
            {"stores": [STORE], "sections": {"1022": {"sequence": 0, "availableTimes": WEEK}}},
        ),
        ("CreateSectionRequest", CREATE_EXAMPLE),
        (
            "CreateSectionRequest",
            {"title": {"en": "x"}, "availableTimes": None, "blackoutDates": ["2025-12-25"]},
        ),
        ("PublishRequest", {"stores": [STORE], "providerIDs": [1]}),
        (
            "PublishRequest",
            {"stores": [STORE], "providerIDs": [1, 6], "scheduledAt": "2030-01-01T00:00:00Z"},
        ),
        ("ResetRequest", {"stores": [STORE], "business_id": 99, "anything": {"else": True}}),
        ("SetVisibilitiesRequest", {"visibilities": {"1": True, "6": False}}),
        ("SetVisibilitiesRequest", {"visibilities": {}, "zoneStores": [STORE]}),
        ("EnableSectionsRequest", {"ids": [41254], "isEnabled": False}),
        (
            "EnableSectionsRequest",
            {"ids": [1], "isEnabled": None, "zoneStores": [], "brandIDsToCascade": None},
        ),
        ("AvailableTimes", {}),
        (
            "ErrorEnvelope",
            {
                "request_id": "43c5ad17b9e660b4d463b512e2bf2346",
                "error": {
                    "code": "request_invalid",
                    "message": "brand_id and branch_id must be passed together",
                    "details": {},
                },
            },
        ),
        (
            "PublishMenuResponse",
            {
                "request_id": "req_4d1b7e3f-1f06-4d3c-a14f-9c0b9f8a3e2c",
                "data": {"success": 1, "failed": 0},
            },
        ),
        (
            "CreateSectionResponse",
            {"request_id": "req_4d1b7e3f-1f06-4d3c-a14f-9c0b9f8a3e2c", "data": {"id": 1022}},
        ),
        (
            "GetMenuResponse",
            {
                "request_id": "0af0f90815518ac157c838fd0e07ed5a",
                "data": {
                    "menu": {
                        "branchInfo": {
                            "branchID": 1293,
                            "brandID": 5297,
                            "businessID": 398,
                            "countryID": 4,
                            "currencyCode": "IDR",
                            "currencyID": 4,
                            "currencySymbol": "",
                            "languageCode": "id",
                            "providerIDs": "1,6,9,11,16,17",
                        },
                        "sections": [
                            {
                                "id": 6825,
                                "sequence": 1,
                                "title": {"en": "Cimol Bojot AA Master Menu"},
                                "description": {},
                                "enabled": True,
                                "image": "",
                                "isMealForOne": False,
                                "visibilities": {"1": True},
                                "availableTimes": {
                                    "0": {
                                        "disabled": False,
                                        "slots": [{"startTime": 0, "endTime": 2359}],
                                    }
                                },
                            }
                        ],
                    }
                },
            },
        ),
        (
            "GetMenuResponse",
            {
                "request_id": "r",
                "data": {
                    "menu": {
                        "businessInfo": {"businessID": 398, "name": "b", "brandIDs": [5297]},
                        "sections": [],
                    }
                },
            },
        ),
    ],
)
def test_schema_accepts(openapi, schema, instance):
    errors = [e.message for e in _schema_validator(openapi, schema).iter_errors(instance)]
    assert errors == []


@pytest.mark.parametrize(
    ("schema", "instance"),
    [
        ("PushRequest", {"stores": []}),
        ("PushRequest", {**SYNC_EXAMPLE, "stores": []}),
        ("PushRequest", {**SYNC_EXAMPLE, "sections": {}}),
        ("PushRequest", {**SYNC_EXAMPLE, "sections": {"01": {"sequence": 1}}}),
        ("PushRequest", {**SYNC_EXAMPLE, "sections": {"1022": {"availableTimes": {}}}}),
        ("PushRequest", {**SYNC_EXAMPLE, "sections": {"1022": {"sequence": -1}}}),
        ("PushRequest", {**SYNC_EXAMPLE, "sections": {"1022": {"sequence": "1"}}}),
        ("PushRequest", {**SYNC_EXAMPLE, "extra": 1}),
        ("PushRequest", {**SYNC_EXAMPLE, "stores": [{"brandID": 0, "branchID": 1}]}),
        ("PushRequest", {**SYNC_EXAMPLE, "stores": [{"brandID": 2147483648, "branchID": 1}]}),
        ("PushRequest", {**SYNC_EXAMPLE, "fieldIncludeOnSync": [""]}),
        ("CreateSectionRequest", {}),
        ("CreateSectionRequest", {"title": {}}),
        ("CreateSectionRequest", {"title": {"english": "x"}}),
        (
            "CreateSectionRequest",
            {"title": {"en": "x"}, "availableTimes": {"7": {"disabled": False, "slots": []}}},
        ),
        ("CreateSectionRequest", {"title": {"en": "x"}, "availableTimes": {"0": {"slots": []}}}),
        (
            "CreateSectionRequest",
            {
                "title": {"en": "x"},
                "availableTimes": {"0": {"disabled": False, "slots": [{"startTime": 900, "endTime": 2400}]}},
            },
        ),
        ("CreateSectionRequest", {"title": {"en": "x"}, "blackoutDates": ["25-12-2025"]}),
        ("CreateSectionRequest", {"title": {"en": "x"}, "visibilities": {"0": True}}),
        ("PublishRequest", {"stores": [STORE]}),
        ("PublishRequest", {"providerIDs": [1]}),
        ("PublishRequest", {"stores": [STORE], "providerIDs": []}),
        ("PublishRequest", {"stores": [STORE], "providerIDs": [1], "scheduledAt": "tomorrow"}),
        ("ResetRequest", {"business_id": 99}),
        ("ResetRequest", {"stores": []}),
        ("SetVisibilitiesRequest", {"zoneStores": [STORE]}),
        ("SetVisibilitiesRequest", {"visibilities": {"1": "yes"}}),
        ("EnableSectionsRequest", {"ids": []}),
        ("EnableSectionsRequest", {"isEnabled": True}),
        (
            "ErrorEnvelope",
            {"request_id": "r", "error": {"code": "c", "message": "m"}, "data": None},
        ),
        ("ErrorEnvelope", {"error": {"code": "c", "message": "m"}}),
        ("ErrorEnvelope", {"request_id": "", "error": {"code": "c", "message": "m"}}),
        ("PublishMenuResponse", {"request_id": "r", "data": {"success": 1}}),
        ("GetMenuResponse", {"request_id": "r", "data": {"menu": {"sections": []}}}),
    ],
)
def test_schema_rejects(openapi, schema, instance):
    assert list(_schema_validator(openapi, schema).iter_errors(instance)), f"{schema} accepted {instance!r}"


# --------------------------------------------------------------------------- behaviours.yaml


def test_behaviour_ids_are_unique_and_well_formed(behaviours):
    ids = [b["id"] for b in behaviours]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    bad = [i for i in ids if not BEHAVIOUR_ID.match(i)]
    assert bad == []


def test_behaviour_entries_have_the_required_fields(behaviours):
    allowed = {"id", "statement", "source", "status", "operations", "dossier", "readings"}
    for entry in behaviours:
        assert set(entry) <= allowed, (entry["id"], set(entry) - allowed)
        assert {"id", "statement", "source", "status", "operations"} <= set(entry), entry["id"]
        assert isinstance(entry["statement"], str), entry["id"]
        assert entry["statement"].strip(), entry["id"]
        assert "\n" not in entry["statement"].strip(), entry["id"]
        assert entry["status"] in BEHAVIOUR_STATUSES, entry["id"]
        assert isinstance(entry["operations"], list), entry["id"]
        assert entry["operations"], entry["id"]
        assert isinstance(entry["source"], list), entry["id"]
        assert entry["source"], entry["id"]


def test_contested_behaviours_carry_both_readings(behaviours):
    for entry in behaviours:
        if entry["status"] == "contested":
            readings = entry.get("readings")
            assert isinstance(readings, dict), entry["id"]
            assert set(readings) == {"reference", "concepts"}, entry["id"]
            assert all(isinstance(v, str) and v.strip() for v in readings.values()), entry["id"]
        else:
            assert "readings" not in entry, entry["id"]


def test_contested_behaviours_cover_the_known_contradictions(behaviours):
    by_id = {b["id"]: b for b in behaviours}
    for behaviour_id in (
        "auth.rotated-secret-rejected",
        "auth.revoked",
        "idempotency.key-required-on-writes",
    ):
        assert by_id[behaviour_id]["status"] == "contested", behaviour_id
    contradictions = {ref for b in behaviours if b["status"] == "contested" for ref in b.get("dossier", [])}
    assert {"C1", "C2", "C3", "C4", "C5", "C7"} <= contradictions


def test_behaviour_operations_exist(openapi, behaviours):
    operation_ids = set(_operations(openapi))
    for entry in behaviours:
        ops = entry["operations"]
        if "all" in ops:
            assert ops == ["all"], entry["id"]
            continue
        assert len(ops) == len(set(ops)), entry["id"]
        unknown = set(ops) - operation_ids
        assert not unknown, (entry["id"], unknown)


def test_behaviour_sources_are_urls_seed_design_or_standin(behaviours):
    for entry in behaviours:
        for source in entry["source"]:
            assert source in {"seed", "design", "standin"} or re.match(r"^https://[^\s]+$", source), (
                entry["id"],
                source,
            )
        if entry["status"] == "documented":
            assert "design" not in entry["source"], f"{entry['id']} is documented but cites design"
        if entry["status"] != "incidental":
            assert "standin" not in entry["source"], f"{entry['id']} is {entry['status']} but cites standin"
        if entry["status"] == "assumed":
            assert "design" in entry["source"], f"{entry['id']} is assumed but does not cite design"
        if entry["status"] == "incidental":
            assert entry["source"] == ["standin"], f"{entry['id']} is incidental: its only source is standin"


def test_behaviour_dossier_references(behaviours):
    for entry in behaviours:
        for ref in entry.get("dossier", []):
            if isinstance(ref, int):
                # Section 6 rules 1-56, less the two about endpoints outside the eight.
                assert 1 <= ref <= 56, (entry["id"], ref)
                assert ref not in (19, 56), (entry["id"], ref)
            else:
                assert DOSSIER_REF.match(ref), (entry["id"], ref)


def test_every_operation_has_behaviours(openapi, behaviours):
    covered = {op for b in behaviours for op in b["operations"]}
    assert set(_operations(openapi)) <= covered


# --------------------------------------------------------------------------- behaviour annotations


def test_every_annotation_names_a_known_behaviour(openapi, behaviours):
    from klikit_harness.contract import view as schema_view

    known = {b["id"] for b in behaviours}
    found = list(schema_view.annotated(openapi))
    assert len(found) > 60
    unknown = [(where, bid) for where, bid in found if bid not in known]
    assert unknown == [], "x-behaviour names an id missing from behaviours.yaml"


def test_keyword_annotations_are_strings_naming_keywords(openapi):
    from klikit_harness.contract import view as schema_view

    allowed = set(schema_view.CONSTRAINT_KEYWORDS) | {"type", "null"}
    for location, chain in schema_view._chains(openapi):
        named = chain[-1].get(schema_view.KEYWORDS)
        if named is None:
            continue
        assert isinstance(named, dict), location
        for key in named:
            assert isinstance(key, str), f"{location}: quote the key {key!r} (YAML reads null as None)"
            keyword = key.split(".", 1)[0]
            assert keyword in allowed | {"optional"}, (location, key)
            if keyword in {"optional", "required"} and "." in key:
                name = key.split(".", 1)[1]
                assert name in (chain[-1].get("properties") or {}), (location, key)


def test_every_request_constraint_is_annotated(openapi):
    """Every required entry, additionalProperties: false, pattern, minimum and maximum (and every other
    constraint) names a behaviour, directly or through the nearest enclosing annotation."""
    from klikit_harness.contract import view as schema_view

    found = list(schema_view.constraints(openapi))
    kinds = {keyword.split(".")[0] for _, keyword, _ in found}
    assert {"required", "additionalProperties", "pattern", "minimum", "maximum", "propertyNames"} <= kinds
    missing = [(where, keyword) for where, keyword, bid in found if bid is None]
    assert missing == []


def test_every_response_data_schema_is_annotated(openapi):
    for op_id, (_, _, op) in _operations(openapi).items():
        envelope = _resolve(openapi, op["responses"]["200"]["content"]["application/json"]["schema"])
        assert "x-behaviour" in envelope, op_id
        data = _resolve(openapi, envelope["properties"]["data"])
        assert "x-behaviour" in data, f"{op_id}: its success payload names no behaviour"
        assert envelope["x-behaviours"]["required.request_id"] == "envelope.request-id", op_id
    assert openapi["components"]["schemas"]["ErrorEnvelope"]["x-behaviour"] == "envelope.error-shape"


def test_payload_shapes_name_their_own_behaviours(openapi):
    schemas = openapi["components"]["schemas"]
    assert schemas["PopulateMenuData"]["x-behaviour"] == "populate.result-counts"
    assert schemas["SyncMenuToStoresData"]["x-behaviour"] == "sync.result-counts"
    assert schemas["ResetStoreOverridesData"]["x-behaviour"] == "reset.result-count"
    assert schemas["CreateSectionData"]["x-behaviour"] == "section.create-returns-id"
    assert schemas["PublishMenuData"]["x-behaviour"] == "publish.counts"
    assert schemas["CreateSectionRequest"]["x-behaviours"]["required.title"] == "section.create-title-required"
    assert schemas["SectionPush"]["x-behaviours"]["required.sequence"] == "populate.sequence-required"
    assert schemas["SectionPush"]["x-behaviours"]["optional.availableTimes"] == "populate.times-optional"


def test_parameters_and_headers_are_annotated(openapi):
    key = openapi["components"]["parameters"]["IdempotencyKey"]
    assert key["x-behaviour"] == "idempotency.key-required-on-writes"
    assert key["x-behaviours"] == {"maxLength": "idempotency.key-over-64-invalid"}
    for op_id, (_, _, op) in _operations(openapi).items():
        for param in op.get("parameters", []):
            assert "x-behaviour" in _resolve(openapi, param), (op_id, param)
    for name, header in openapi["components"]["headers"].items():
        assert "x-behaviour" in header, name


# --------------------------------------------------------------------------- answers: only what is stated


def _response_side(doc: dict) -> set[str]:
    """Component schemas an answer is validated against (reachable from responses, never from a request)."""
    from klikit_harness.contract import view as schema_view

    starts = [doc["components"]["responses"]] + [op["responses"] for _, _, op in _operations(doc).values()]
    return schema_view._reachable(doc, starts) - schema_view._request_side(doc)


def _response_chains(doc: dict):
    from klikit_harness.contract import view as schema_view

    side = _response_side(doc)
    assert {"ErrorEnvelope", "Error", "GetMenuResponse", "BusinessInfo", "MenuSection"} <= side
    for location, chain in schema_view._chains(doc):
        if location.startswith("components/schemas/") and location.split("/")[2] in side:
            yield location, chain


def test_every_closed_answer_object_names_the_behaviour_that_closes_it(openapi):
    """No docs page and no DESIGN.md sentence says an answer carries "nothing else": every closed
    answer object is closed by the incidental response.closed-objects, named on the object itself."""
    closed = [
        (where, chain[-1])
        for where, chain in _response_chains(openapi)
        if chain[-1].get("additionalProperties") is False
    ]
    assert len(closed) >= 12
    for where, node in closed:
        assert (node.get("x-behaviours") or {}).get("additionalProperties") == "response.closed-objects", where


def test_every_required_answer_member_names_the_sentence_that_states_it(openapi, behaviours):
    """A required member of an answer carries the behaviour whose statement names it, else the
    incidental response.required-members (e.g. businessInfo.brandIDs, which no docs page gives)."""
    from klikit_harness.contract import view as schema_view

    statements = {b["id"]: b["statement"] for b in behaviours}
    seen = set()
    for where, chain in _response_chains(openapi):
        for name in chain[-1].get("required") or ():
            bid = schema_view.behaviour_in(chain, "required", name)
            seen.add((where.split("/")[2], name, bid))
            if bid == "response.required-members":
                continue
            assert re.search(rf"\b{re.escape(name)}\b", statements[bid]), (where, name, bid)
    assert ("BusinessInfo", "brandIDs", "response.required-members") in seen
    assert ("MenuSection", "enabled", "getmenu.enabled-read-name") in seen
    assert ("MenuSection", "id", "getmenu.store-mode") in seen, "the tree is keyed by a section's id"
    assert ("BranchInfo", "providerIDs", "getmenu.provider-ids-string") in seen
    assert ("Error", "code", "envelope.error-shape") in seen
    assert ("PublishMenuData", "failed", "publish.counts") in seen


def test_every_success_status_names_the_behaviour_that_fixes_it(openapi, behaviours):
    """DESIGN.md and the envelope page state only "2xx" for a success (200, 201, 204); DESIGN.md's
    "never published: 200 with sections []" is the one sentence fixing a status (getMenu's)."""
    from klikit_harness.contract import view as schema_view

    status = {b["id"]: b["status"] for b in behaviours}
    for op_id, (_, _, op) in _operations(openapi).items():
        assert schema_view.success_key(op["responses"]) == "200", op_id
        bid = op["responses"]["200"]["x-behaviours"]["status"]
        assert bid == schema_view.success_status_behaviour(op_id)
        assert schema_view.listed_success_status(op_id) == 200
        expected = "getmenu.never-published-empty" if op_id == "getMenu" else "response.success-status"
        assert bid == expected, op_id
    assert status["response.success-status"] == "incidental"


#: success payloads holding only what the docs state (further members, no undocumented ones)
STATED_DATA = {
    "createSection": {"id": 1022, "etag": "x"},
    "publishMenu": {"success": 1, "failed": 0, "queued": True},
    "getMenu": {"menu": {"businessInfo": {"businessID": 398}, "sections": [{"id": 1, "enabled": True}]}},
}


def _as_real_target(behaviours: list[dict]):
    """A real target's judgement: documented and contested enforced, the rest observed."""
    status = {b["id"]: b["status"] for b in behaviours}

    def judge(bid: str) -> str:
        return "enforced" if status[bid] in {"documented", "contested"} else "observed"

    return judge


def test_stated_envelope_exclusions_survive_every_view(openapi, behaviours):
    """ "2xx: no error" and "non-2xx: no data" are stated: they hold even where closedness is only observed."""
    from klikit_harness.contract import view as schema_view

    view = schema_view.documented_view(openapi, _as_real_target(behaviours))
    schemas = view["components"]["schemas"]
    assert "additionalProperties" not in schemas["ErrorEnvelope"]
    assert "not" in schemas["ErrorEnvelope"]["properties"]["data"]
    for op_id, (_, _, op) in _operations(openapi).items():
        envelope = _resolve(openapi, op["responses"]["200"]["content"]["application/json"]["schema"])
        name = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        assert "not" in envelope["properties"]["error"], op_id
        relaxed = schemas[name]
        assert "additionalProperties" not in relaxed and "not" in relaxed["properties"]["error"], op_id
        validator = _schema_validator(view, name)
        data = STATED_DATA.get(op_id)
        assert validator.is_valid({"request_id": "r", "data": data, "trace": "t"}), op_id  # another member: observed
        assert not validator.is_valid({"request_id": "r", "data": None, "error": {"code": "x", "message": "m"}}), op_id


def test_the_documented_view_of_an_observed_status_uses_2XX(openapi, behaviours):
    from klikit_harness.contract import view as schema_view

    observed = _as_real_target(behaviours)

    def enforced(bid: str) -> str:
        return "enforced"

    view = schema_view.documented_view(openapi, observed)
    for op_id, (method, path, _) in _operations(openapi).items():
        responses = view["paths"][path][method]["responses"]
        assert "200" not in responses and next(iter(responses)) == "2XX", op_id
        assert schema_view.response_key(responses, 201) == "2XX"
        assert schema_view.response_key(responses, 404) == "404"
    assert "2XX" not in str(list(schema_view.documented_view(openapi, enforced)["paths"]["/menus"]["get"]["responses"]))
    assert schema_view.response_key(openapi["paths"]["/menus/sections"]["post"]["responses"], 201) == "200"
