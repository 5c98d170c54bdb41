"""The documented view and failure attribution: one failure, one behaviour; no false alarm off the reference.

A server written independently from DESIGN.md (``independent_server.IndependentServer``:
``data: {}`` payloads, no required title, availableTimes required, leading-zero ids
rejected) must pass when judged as a real target, while the same answers still fail
against the reference judgement, each naming only the behaviour it departs from.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from jsonschema import Draft202012Validator
from schemathesis.core.failures import AcceptedNegativeData
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from klikit_harness import contract
from klikit_harness.checking import checks, context, fuzz_hooks
from klikit_harness.checking.failures import Violation
from klikit_harness.checking.observations import ObservationLog, settle
from klikit_harness.contract import view as schema_view
from klikit_harness.standin.sandbox import SandboxApp
from klikit_harness.suites.fuzz import support
from tests.checking.independent_server import IndependentServer
from tests.checking.test_checks import ctx as crafted_context
from tests.checking.test_checks import envelope_error, envelope_ok, exchange, st_response

REAL = support.judgement_for(reference_target=False, strict=False)
assert REAL is not None


def everything(_behaviour: str) -> str:
    return "enforced"


def load(judge: Any) -> Any:
    fuzz_hooks.use_view(judge)
    try:
        return schemathesis.openapi.from_path(contract.openapi_path(), config=support.config(phases=("examples",)))
    finally:
        fuzz_hooks.use_view(support.JUDGE)


def validator(doc: dict[str, Any], name: str) -> Draft202012Validator:
    root = {"components": doc["components"], "$ref": f"#/components/schemas/{name}"}
    return Draft202012Validator(root)


# ------------------------------------------------------------------ the view


@pytest.mark.behaviour("section.create-title-required", "populate.times-optional", "populate.result-counts")
def test_a_non_reference_judgement_relaxes_the_schema_and_the_reference_keeps_it():
    raw = dict(contract.openapi())
    assert schema_view.documented_view(raw, everything) == raw  # the reference stand-in: nothing relaxed
    view = schema_view.documented_view(raw, REAL)
    schemas = view["components"]["schemas"]
    untitled = {}
    assert not validator(raw, "CreateSectionRequest").is_valid(untitled)
    assert validator(view, "CreateSectionRequest").is_valid(untitled)  # schema-valid under the view
    assert validator(view, "CreateSectionRequest").is_valid({"title": {"en": "x"}, "colour": "red"})
    no_times = {"stores": [{"brandID": 1, "branchID": 2}], "sections": {"1": {"sequence": 1}}}
    assert validator(raw, "PushRequest").is_valid(no_times)
    assert not validator(view, "PushRequest").is_valid(no_times)  # a permission only the stand-in grants
    assert validator(view, "PushRequest").is_valid({**no_times, "sections": {"1": {"availableTimes": {}}}})
    assert not validator(view, "PushRequest").is_valid({**no_times, "sections": {"1": {"availableTimes": None}}})
    assert set(schemas["PopulateMenuData"]) == {"x-behaviour", "description"}  # any payload shape
    published = raw["components"]["schemas"]["PublishMenuData"]
    assert schemas["PublishMenuData"] == {k: v for k, v in published.items() if k != "additionalProperties"}
    # documented members kept; closedness is response.closed-objects, observed
    assert validator(view, "PublishMenuData").is_valid({"success": 1, "failed": 0, "queued": True})
    assert not validator(view, "PublishMenuData").is_valid({"success": 1})
    assert "links" not in view["paths"]["/menus/sections/{sectionID}/visibilities"]["patch"]["responses"]["2XX"]
    assert "links" in view["paths"]["/menus/sections"]["post"]["responses"]["2XX"]  # any 2xx: only success is stated
    assert not validator(view, "PublishRequest").is_valid({"providerIDs": [1]})  # documented: still required


@pytest.mark.behaviour("section.create-title-required")
def test_schemathesis_loads_the_view_only_off_the_reference():
    assert "required" not in load(REAL).raw_schema["components"]["schemas"]["CreateSectionRequest"]
    assert load(None).raw_schema["components"]["schemas"]["CreateSectionRequest"]["required"] == ["title"]


# ------------------------------------------------------------------ attribution


@pytest.fixture
def settings_as(fuzz: support.FuzzRun) -> Iterator[Any]:
    """Configure the hooks with the session's target but another judgement; restore afterwards."""
    logs: list[ObservationLog] = []

    def configure(judge: Any, *, session: bool = False) -> ObservationLog:
        """``session``: the session target's credential and stores; else those of the crafted exchanges."""
        log = ObservationLog()
        logs.append(log)

        def settled(violation: Violation, source: str = "") -> None:
            settle(violation, judgement=judge, log=log, source=source)

        base = fuzz.settings.ctx if session else crafted_context()
        ctx = dataclasses.replace(base, judgement=judge, request_ids=context.RequestIdLog())
        fuzz_hooks.configure(dataclasses.replace(fuzz.settings, ctx=ctx, settle=settled, record=None))
        return log

    yield configure
    fuzz_hooks.configure(fuzz.settings)


def populate_answer(body: bytes) -> tuple[Any, schemathesis.Response]:
    request = {
        "stores": [{"brandID": 663, "branchID": 1062}],
        "sections": {"1022": {"sequence": 1, "availableTimes": {}}},
    }
    ex = exchange("POST", "/menus/populate", 200, body, request=request)
    case = load(None)["/menus/populate"]["POST"].Case(
        body=request, headers={"Idempotency-Key": "k"}, media_type="application/json"
    )
    return case, st_response(ex)


def blamed(case: Any, response: schemathesis.Response) -> str | None:
    with pytest.raises(Violation) as info, fuzz_hooks.judged():
        case.validate_response(response, checks=[response_schema_conformance, *fuzz_hooks.HARNESS_CHECKS])
    return info.value.behaviour


@pytest.mark.behaviour("envelope.request-id")
def test_a_2xx_without_request_id_blames_only_the_request_id(settings_as):
    settings_as(context.everything_enforced)
    case, response = populate_answer(json.dumps({"data": {"populated": 1, "skipped": 0}}).encode())
    assert blamed(case, response) == "envelope.request-id"


@pytest.mark.behaviour("populate.result-counts")
def test_a_wrong_payload_shape_blames_its_incidental_behaviour_and_is_only_observed_off_the_reference(settings_as):
    settings_as(context.everything_enforced)
    case, response = populate_answer(envelope_ok({}))
    assert blamed(case, response) == "populate.result-counts"
    log = settings_as(REAL)
    with fuzz_hooks.judged():  # the raw schema, judged as a real target: recorded, not failed
        case.validate_response(response, checks=[response_schema_conformance, *fuzz_hooks.HARNESS_CHECKS])
    assert log.behaviours() == ["populate.result-counts"]


@pytest.mark.behaviour("section.create-title-required", "input.unknown-fields")
def test_an_accepted_schema_violating_request_fails_only_for_an_enforced_constraint(settings_as):
    untitled = exchange("POST", "/menus/sections", 200, envelope_ok({"id": 9}), request={})
    failure = AcceptedNegativeData(operation="op", message="m", status_code=200, expected_statuses=["400"])
    settings_as(context.everything_enforced)
    assert fuzz_hooks.filter_failure(schemathesis.HookContext(), failure, None, st_response(untitled))
    assert getattr(failure, fuzz_hooks.VIOLATION).behaviour == "section.create-title-required"
    log = settings_as(REAL)
    assert not fuzz_hooks.filter_failure(schemathesis.HookContext(), failure, None, st_response(untitled))
    assert log.behaviours() == ["section.create-title-required"]
    # a documented constraint stays enforced on every target
    no_stores = exchange(
        "POST", "/menus/publish", 200, envelope_ok({"success": 0, "failed": 0}), request={"providerIDs": [1]}
    )
    failure = AcceptedNegativeData(operation="op", message="m", status_code=200, expected_statuses=["400"])
    assert fuzz_hooks.filter_failure(schemathesis.HookContext(), failure, None, st_response(no_stores))
    assert getattr(failure, fuzz_hooks.VIOLATION).behaviour == "publish.requires-stores-and-providers"


# ------------------------------------------------------------------ answers: only what is stated

#: case (a), written out: GET /menus (business mode) answered by a server that gives businessInfo the
#: members the docs leave open its own way (no brandIDs: no docs page and no DESIGN.md sentence names it)
BUSINESS_MENU_WITHOUT_BRAND_IDS = {
    "request_id": "0af0f90815518ac157c838fd0e07ed5a",
    "data": {
        "menu": {
            "businessInfo": {"businessID": 398, "name": "Cimol Bojot"},
            "sections": [
                {
                    "id": 1022,
                    "sequence": 1,
                    "title": {"en": "Lunch"},
                    "description": {},
                    "enabled": True,
                    "image": "",
                    "isMealForOne": False,
                    "visibilities": {"1": True},
                    "availableTimes": {},
                }
            ],
        }
    },
}


def business_menu_answer(body: dict[str, Any], status: int = 200) -> tuple[Any, schemathesis.Response]:
    ex = exchange("GET", "/menus", status, json.dumps(body).encode())
    case = load(None)["/menus"]["GET"].Case(query={})
    return case, st_response(ex)


def raw_errors(schema: str, instance: Any) -> list[str]:
    validator = contract.body_validator(schema)
    root = validator.schema
    return [b for error in validator.iter_errors(instance) for b in schema_view.error_behaviours(error, root)]


@pytest.mark.behaviour("response.required-members", "getmenu.business-mode")
def test_a_oneof_failure_is_blamed_on_the_best_matching_branch_never_on_the_container():
    # the store-mode branch fails at data.menu itself (no branchInfo, businessInfo unexpected); the
    # business-mode branch only inside businessInfo: that branch is the one the answer means
    assert raw_errors("GetMenuResponse", BUSINESS_MENU_WITHOUT_BRAND_IDS) == ["response.required-members"]
    store_menu = {"request_id": "r", "data": {"menu": {"branchInfo": {"providerIDs": [1, 6]}, "sections": []}}}
    assert "getmenu.provider-ids-string" in raw_errors("GetMenuResponse", store_menu)
    assert "getmenu.business-mode" not in raw_errors("GetMenuResponse", store_menu)


@pytest.mark.behaviour("response.required-members")
def test_the_best_branch_is_the_deepest_then_the_one_of_the_value_s_type():
    root = {
        "components": {
            "schemas": {
                "X": {
                    "oneOf": [
                        {"x-behaviour": "object-branch", "type": "object", "required": ["a"]},
                        {"x-behaviour": "string-branch", "type": "string", "minLength": 5},
                        {"x-behaviour": "list-branch", "type": "array", "items": {"type": "integer"}},
                    ]
                }
            }
        },
        "$ref": "#/components/schemas/X",
    }
    validator = Draft202012Validator(root)

    def blamed_on(instance: Any) -> list[str]:
        return [b for e in validator.iter_errors(instance) for b in schema_view.error_behaviours(e, root)]

    assert blamed_on("ab") == ["string-branch"]  # same depth: the branch whose type the value has
    assert blamed_on([1, "x"]) == ["list-branch"]  # deeper: it matched more of the value
    assert blamed_on({}) == ["object-branch"]


@pytest.mark.behaviour("section.create-title-required", "input.standin-bounds", "input.wrong-types")
def test_allof_and_ref_failures_are_blamed_on_the_inner_keyword():
    # title: allOf [$ref LocaleMap, minProperties: 1]
    assert raw_errors("CreateSectionRequest", {"title": {}}) == ["section.create-title-required"]
    assert raw_errors("CreateSectionRequest", {"title": {"english": "x"}}) == ["input.standin-bounds"]
    assert raw_errors("CreateSectionRequest", {"title": "Lunch"}) == ["input.wrong-types"]


@pytest.mark.behaviour("response.required-members", "getmenu.business-mode")
def test_case_a_a_business_menu_without_brand_ids_is_only_observed_on_a_real_target(settings_as):
    """GET /menus (business mode) -> 200 {request_id, data: {menu: {businessInfo: {businessID, name},
    sections: [...]}}}: brandIDs is the stand-in's member, so the stand-in's run fails it on
    response.required-members and a run judged as a real target records it and passes."""
    case, response = business_menu_answer(BUSINESS_MENU_WITHOUT_BRAND_IDS)
    settings_as(context.everything_enforced)
    assert blamed(case, response) == "response.required-members"
    assert contract.behaviour("response.required-members").status == "incidental"
    log = settings_as(REAL)
    with fuzz_hooks.judged():  # the raw schema, judged as a real target: recorded, not failed
        case.validate_response(response, checks=[response_schema_conformance, *fuzz_hooks.HARNESS_CHECKS])
    assert log.behaviours() == ["response.required-members"]
    viewed = load(REAL)["/menus"]["GET"].Case(query={})
    log = settings_as(REAL)
    with fuzz_hooks.judged():  # the documented view: nothing to record
        viewed.validate_response(response, checks=[response_schema_conformance, *fuzz_hooks.HARNESS_CHECKS])
    assert log.behaviours() == []


@pytest.mark.behaviour("response.success-status", "response.closed-objects", "section.create-returns-id")
def test_another_2xx_and_further_members_are_the_stand_ins_choices(settings_as):
    """POST /menus/sections -> 201 {request_id, data: {id: 9, etag}, served_by}: fails the stand-in's
    run on the incidental behaviour it departs from; a real target's run passes."""
    request = {"title": {"en": "x"}}
    body = json.dumps({"request_id": "r", "data": {"id": 9, "etag": "x"}, "served_by": "edge-1"}).encode()
    for status, behaviour in ((201, "response.success-status"), (200, "response.closed-objects")):
        ex = exchange("POST", "/menus/sections", status, body, request=request)
        case = load(None)["/menus/sections"]["POST"].Case(
            body=request, headers={"Idempotency-Key": "k"}, media_type="application/json"
        )
        settings_as(context.everything_enforced)
        with pytest.raises(Violation) as info, fuzz_hooks.judged():
            case.validate_response(
                st_response(ex),
                checks=[status_code_conformance, response_schema_conformance, *fuzz_hooks.HARNESS_CHECKS],
            )
        assert info.value.behaviour == behaviour
        viewed = load(REAL)["/menus/sections"]["POST"].Case(
            body=request, headers={"Idempotency-Key": "k"}, media_type="application/json"
        )
        log = settings_as(REAL)
        with fuzz_hooks.judged():
            viewed.validate_response(
                st_response(ex),
                checks=[status_code_conformance, response_schema_conformance, *fuzz_hooks.HARNESS_CHECKS],
            )
        assert log.behaviours() == []
    # what is stated still fails everywhere: data.id missing
    ex = exchange("POST", "/menus/sections", 201, envelope_ok({"etag": "x"}), request=request)
    settings_as(REAL)
    with pytest.raises(Violation) as info, fuzz_hooks.judged():
        viewed.validate_response(
            st_response(ex), checks=[status_code_conformance, response_schema_conformance, *fuzz_hooks.HARNESS_CHECKS]
        )
    assert info.value.behaviour == "section.create-returns-id"


# ------------------------------------------------------------------ the oracle's verdicts


def verdict_of(ex: Any, judge: Any = context.everything_enforced) -> str | None:
    ctx = context.Context(
        main=("pk_test", "sk_test_secret_1234"),
        own_stores=frozenset({(663, 1062)}),
        own_sections=frozenset({1022}),
        judgement=judge,
    )
    try:
        checks.input_answer(ex, ctx)
    except checks.InputAnswerViolation as failure:
        return failure.behaviour
    return None


STORE = {"brandID": 663, "branchID": 1062}


@pytest.mark.behaviour(
    "populate.times-optional",
    "input.null-means-absent",
    "input.query-id-leading-zeros",
    "input.query-id-zero-invalid",
    "envelope.validation-before-tenancy",
    "envelope.check-order",
)
@pytest.mark.parametrize(
    ("ex", "behaviour"),
    [
        (
            exchange(
                "POST",
                "/menus/populate",
                400,
                envelope_error("request_invalid", "sections.1022.availableTimes"),
                request={"stores": [STORE], "sections": {"1022": {"sequence": 1, "availableTimes": None}}},
            ),
            "populate.times-optional",
        ),
        (
            exchange(
                "POST",
                "/menus/populate",
                400,
                envelope_error("request_invalid", "fieldIncludeOnSync"),
                request={
                    "stores": [STORE],
                    "sections": {"1022": {"sequence": 1, "availableTimes": {}}},
                    "fieldIncludeOnSync": None,
                },
            ),
            "input.null-means-absent",
        ),
        (
            exchange(
                "GET",
                "/menus",
                400,
                envelope_error("request_invalid", "brand_id"),
                query="brand_id=0663&branch_id=1062",
            ),
            "input.query-id-leading-zeros",
        ),
        (
            exchange(
                "PATCH",
                "/menus/sections/0/visibilities",
                404,
                envelope_error("resource_not_found"),
                request={"visibilities": {"1": True}},
            ),
            "input.query-id-zero-invalid",
        ),
        (
            exchange(
                "POST",
                "/menus/populate",
                404,
                envelope_error("resource_not_found"),
                request={"stores": [{"brandID": 9, "branchID": 9}], "sections": {"1022": {}}},
            ),
            "envelope.validation-before-tenancy",
        ),
        # ownership answered before the missing Idempotency-Key (which DESIGN's order puts ahead of validation)
        (
            exchange(
                "POST",
                "/menus/populate",
                404,
                envelope_error("resource_not_found", "stores[0]"),
                key=None,
                request={"stores": [{"brandID": 9, "branchID": 9}], "sections": {"1022": {}}},
            ),
            "envelope.check-order",
        ),
        # a bad path id among other faults: the 404 names the unknown store, not the id
        (
            exchange(
                "PATCH",
                "/menus/sections/2570766500/visibilities",
                404,
                envelope_error("resource_not_found", "zoneStores[0]"),
                request={"visibilities": {"3": False}, "zoneStores": [{"brandID": 9, "branchID": 9}], "": None},
            ),
            "envelope.validation-before-tenancy",
        ),
        (
            exchange(
                "POST", "/menus/sections", 200, envelope_ok({"id": 9}), request={"title": {"en": "x"}, "colour": 1}
            ),
            "input.unknown-fields",
        ),
    ],
    ids=[
        "times-null-refused",
        "null-refused",
        "leading-zero-refused",
        "zero-404",
        "tenancy-first",
        "tenancy-before-the-key",
        "tenancy-before-a-bad-path-id",
        "unknown-field",
    ],
)
def test_each_departure_is_blamed_on_the_behaviour_it_departs_from(ex, behaviour):
    assert verdict_of(ex) == behaviour
    assert contract.behaviour(behaviour).status in {"assumed", "incidental"}  # observed off the reference


@pytest.mark.behaviour("input.missing-required", "input.unknown-fields")
def test_the_oracle_blames_an_enforced_constraint_first():
    both = exchange(
        "POST",
        "/menus/publish",
        200,
        envelope_ok({"success": 0, "failed": 0}),
        request={"providerIDs": [1], "colour": 1},
    )
    assert verdict_of(both, REAL) == "publish.requires-stores-and-providers"


# ------------------------------------------------------------------ the independent server


@pytest.fixture
def independent(fuzz: support.FuzzRun, settings_as: Any) -> Any:
    assert fuzz.target.service is not None
    app = IndependentServer(SandboxApp(fuzz.target.service))

    def send(judge: Any, path: str, method: str, **parts: Any) -> ObservationLog:
        log = settings_as(judge, session=True)
        schema = load(judge if judge is not context.everything_enforced else None)
        if method != "GET":
            parts.setdefault("headers", {"Idempotency-Key": "edge"})
            parts.setdefault("media_type", "application/json")
        case = schema[path][method].Case(**parts)
        schema.app = app
        with fuzz_hooks.judged():
            case.call_and_validate(app=app, base_url=support.IN_PROCESS_BASE, auth=fuzz.target.main)
        return log

    return send


def cases(fuzz: support.FuzzRun) -> list[tuple[str, str, dict[str, Any], str]]:
    store, section = fuzz.settings.stores[0], fuzz.settings.own_sections[0]
    fresh = fuzz.target.take_fresh_store()
    assert fresh is not None
    return [
        ("/menus/sections", "POST", {"body": {}}, "section.create-title-required"),
        (
            "/menus/populate",
            "POST",
            {"body": {"stores": [fresh.as_json()], "sections": {str(fuzz.settings.sections[0]): {"sequence": 1}}}},
            "populate.times-optional",
        ),
        (
            "/menus/sections/{sectionID}/visibilities",
            "PATCH",
            {"path_parameters": {"sectionID": section}, "body": {"visibilities": {"1": True}}},
            "section.visibilities-result",
        ),
        (
            "/menus",
            "GET",
            {"query": {"brand_id": f"0{store['brandID']}", "branch_id": store["branchID"]}},
            "input.query-id-leading-zeros",
        ),
    ]


@pytest.mark.behaviour(
    "section.create-title-required",
    "populate.times-optional",
    "section.visibilities-result",
    "input.query-id-leading-zeros",
)
def test_an_independent_server_raises_no_false_alarm_off_the_reference(fuzz, independent):
    observed = set()
    for path, method, parts, _ in cases(fuzz):
        observed |= set(independent(REAL, path, method, **parts).behaviours())
    assert observed >= {"section.create-title-required", "input.query-id-leading-zeros"}
    assert all(contract.behaviour(b).status in {"assumed", "incidental"} for b in observed)


@pytest.mark.behaviour(
    "section.create-title-required",
    "populate.times-optional",
    "section.visibilities-result",
    "input.query-id-leading-zeros",
)
def test_the_same_answers_fail_the_reference_each_on_its_own_behaviour(fuzz, independent):
    for path, method, parts, behaviour in cases(fuzz):
        with pytest.raises(Violation) as info:
            independent(context.everything_enforced, path, method, **parts)
        assert info.value.behaviour == behaviour, (path, str(info.value)[:300])
