"""The harness's checks on crafted exchanges: each fails on an answer that breaks it and passes a good one.

Also the filter of built-in Schemathesis failures: it drops a failure only
when the answer is exactly the documented one, so a 200 or a 500 to the
same request still fails.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import requests
import schemathesis
from schemathesis import checks as schemathesis_checks
from schemathesis.core.failures import AcceptedNegativeData, ServerError
from schemathesis.openapi.checks import EnsureResourceAvailability, RejectedPositiveData

from klikit_harness import contract
from klikit_harness.checking import checks, fuzz_hooks, fuzz_session, verdicts
from klikit_harness.checking.checks import HttpExchange
from klikit_harness.checking.context import Context
from klikit_harness.checking.failures import Violation
from klikit_harness.core import variants as v

MAIN = ("pk_test", "sk_test_secret_1234")
BASE = "http://target.test/v1/partner"
AUTH = "Basic " + base64.b64encode(f"{MAIN[0]}:{MAIN[1]}".encode()).decode()
OWN_STORE = {"brandID": 663, "branchID": 1062}
FOREIGN_STORE = {"brandID": 900, "branchID": 3001}
OWN_SECTION = 1022


def ctx(**kw: Any) -> Context:
    defaults: dict[str, Any] = {
        "main": MAIN,
        "credentials": (MAIN,),
        "own_stores": frozenset({(663, 1062)}),
        "own_sections": frozenset({OWN_SECTION}),
    }
    return Context(**{**defaults, **kw})


def envelope_ok(data: Any = None, rid: str = "req_1") -> bytes:
    return json.dumps({"request_id": rid, "data": data if data is not None else {}}).encode()


def envelope_error(code: str, field: str | None = None, rid: str = "req_1", **extra: Any) -> bytes:
    error: dict[str, Any] = {"code": code, "message": f"{field or 'request'}: rejected"}
    if field is not None:
        error["details"] = {"field": field, **extra}
    return json.dumps({"request_id": rid, "error": error}).encode()


def exchange(
    method: str,
    path: str,
    status: int,
    body: bytes,
    *,
    request: Any = None,
    query: str = "",
    headers: dict[str, str] | None = None,
    key: str | None = "k-1",
    content_type: str = "application/json",
    raw: bytes | None = None,
) -> HttpExchange:
    request_headers = {"authorization": AUTH}
    if method in {"POST", "PATCH"}:
        request_headers["content-type"] = "application/json"
        if key is not None:
            request_headers["idempotency-key"] = key
    return HttpExchange(
        method=method,
        url=f"{BASE}{path}" + (f"?{query}" if query else ""),
        status=status,
        headers={"content-type": content_type, **(headers or {})},
        body=body,
        request_headers=request_headers,
        request_body=raw if raw is not None else json.dumps(request).encode() if request is not None else None,
    )


def run(name: str, ex: HttpExchange, context: Context | None = None) -> None:
    checks.CHECKS[name].function(ex, context or ctx())


def fails(name: str, ex: HttpExchange, kind: type[Exception], context: Context | None = None) -> Exception:
    with pytest.raises(kind) as info:
        run(name, ex, context)
    return info.value


PUBLISH = {"stores": [OWN_STORE], "providerIDs": [1]}


# ------------------------------------------------------------------ envelope


@pytest.mark.behaviour("envelope.json-body")
def test_json_body_passes_a_json_object():
    run("json_body", exchange("GET", "/menus", 200, envelope_ok()))


@pytest.mark.behaviour("envelope.json-body")
@pytest.mark.parametrize(
    ("content_type", "body"),
    [("text/html", b"<h1>500</h1>"), ("application/json", b"[1, 2]"), ("application/json", b"{not json")],
)
def test_json_body_fails_html_arrays_and_garbage(content_type, body):
    failure = fails(
        "json_body", exchange("GET", "/menus", 500, body, content_type=content_type), checks.EnvelopeViolation
    )
    assert "envelope.json-body" in str(failure) and "Received:" in str(failure) and "Documented:" in str(failure)


@pytest.mark.behaviour("envelope.request-id")
def test_request_id_present():
    run("request_id", exchange("GET", "/menus", 200, envelope_ok()))
    fails(
        "request_id",
        exchange("GET", "/menus", 400, b'{"error": {"code": "request_invalid", "message": "m"}}'),
        checks.EnvelopeViolation,
    )
    fails("request_id", exchange("GET", "/menus", 200, b'{"request_id": "", "data": {}}'), checks.EnvelopeViolation)


@pytest.mark.behaviour("envelope.request-id")
def test_request_ids_are_distinct_across_requests_but_replays_and_rechecks_pass():
    context = ctx()
    first = exchange("GET", "/menus", 200, envelope_ok(rid="req_same"))
    run("request_id_distinct", first, context)
    run("request_id_distinct", first, context)  # the same exchange checked again (shrinking)
    replay = exchange(
        "POST",
        "/menus/publish",
        200,
        envelope_ok(rid="req_same"),
        request=PUBLISH,
        headers={"idempotent-replayed": "true"},
    )
    run("request_id_distinct", replay, context)
    other = exchange("GET", "/menus", 200, envelope_ok({"other": 1}, rid="req_same"), query="brand_id=1&branch_id=2")
    failure = fails("request_id_distinct", other, checks.DuplicateRequestId, context)
    assert failure.request_id == "req_same"


@pytest.mark.behaviour("envelope.success-has-data")
def test_success_envelope():
    run("success_envelope", exchange("GET", "/menus", 200, b'{"request_id": "r", "data": null}'))
    fails("success_envelope", exchange("GET", "/menus", 200, b'{"request_id": "r"}'), checks.EnvelopeViolation)
    fails(
        "success_envelope",
        exchange("GET", "/menus", 200, b'{"request_id": "r", "data": {}, "error": {"code": "x", "message": "y"}}'),
        checks.EnvelopeViolation,
    )


@pytest.mark.behaviour("envelope.error-shape")
def test_error_envelope():
    run("error_envelope", exchange("GET", "/menus", 400, envelope_error("request_invalid", "brand_id")))
    for body in (
        b'{"request_id": "r", "error": "bad"}',
        b'{"request_id": "r", "error": {"code": 400, "message": "m"}}',
        b'{"request_id": "r", "error": {"code": "request_invalid", "message": "m"}, "data": null}',
    ):
        fails("error_envelope", exchange("GET", "/menus", 400, body), checks.EnvelopeViolation)
    # further members are stated nowhere as forbidden: the error object's closedness is response.closed-objects
    run(
        "error_envelope",
        exchange(
            "GET",
            "/menus",
            400,
            b'{"request_id": "r", "error": {"code": "request_invalid", "message": "m", '
            b'"trace": "..."}, "served_by": "edge-1"}',
        ),
    )


@pytest.mark.behaviour("envelope.code-status-catalogue")
def test_code_must_be_catalogued_with_its_status_for_the_reading():
    run("code_in_catalogue", exchange("GET", "/menus", 400, envelope_error("request_invalid")))
    run("code_in_catalogue", exchange("PATCH", "/menus/sections/enable", 404, envelope_error("not_found")))  # alias
    run("code_in_catalogue", exchange("GET", "/menus", 400, envelope_error("REQUEST_INVALID")), ctx(reading="concepts"))
    fails(
        "code_in_catalogue",
        exchange("GET", "/menus", 422, envelope_error("request_invalid")),
        checks.CatalogueViolation,
    )
    fails("code_in_catalogue", exchange("GET", "/menus", 400, envelope_error("bad_request")), checks.CatalogueViolation)
    fails(
        "code_in_catalogue",
        exchange("GET", "/menus", 400, envelope_error("REQUEST_INVALID")),
        checks.CatalogueViolation,
    )  # the concepts spelling under the reference reading


@pytest.mark.behaviour("input.wrong-types", "input.malformed-json")
def test_no_server_error():
    run("no_server_error", exchange("GET", "/menus", 404, envelope_error("resource_not_found")))
    failure = fails(
        "no_server_error", exchange("GET", "/menus", 500, envelope_error("internal")), checks.ServerErrorViolation
    )
    assert "HTTP 500" in str(failure)


@pytest.mark.behaviour("ratelimit.429-envelope-retry-after", "ratelimit.retry-after-seconds")
def test_rate_limited_answer():
    good = envelope_error("rate_limit_exceeded")
    run("rate_limited_answer", exchange("GET", "/menus", 429, good, headers={"retry-after": "2"}))
    fails("rate_limited_answer", exchange("GET", "/menus", 429, good), checks.RateLimitViolation)
    fails(
        "rate_limited_answer",
        exchange("GET", "/menus", 429, good, headers={"retry-after": "0"}),
        checks.RateLimitViolation,
    )
    fails(
        "rate_limited_answer",
        exchange("GET", "/menus", 429, good, headers={"retry-after": "1.5"}),
        checks.RateLimitViolation,
    )
    fails(
        "rate_limited_answer",
        exchange("GET", "/menus", 429, b"Too Many Requests", content_type="text/plain", headers={"retry-after": "1"}),
        checks.RateLimitViolation,
    )


@pytest.mark.behaviour("client.secrets-never-leak")
def test_no_secret_echo_and_the_failure_never_repeats_it():
    run("no_secret_echo", exchange("GET", "/menus", 401, envelope_error("auth_invalid_credential")))
    echoed = json.dumps(
        {"request_id": "r", "error": {"code": "auth_invalid_credential", "message": f"bad secret {MAIN[1]}"}}
    ).encode()
    context = ctx(redact=lambda text: text.replace(MAIN[1], "***"))
    failure = fails("no_secret_echo", exchange("GET", "/menus", 401, echoed), checks.SecretEchoed, context)
    assert MAIN[1] not in str(failure)
    fails(
        "no_secret_echo",
        exchange("GET", "/menus", 200, envelope_ok(), headers={"x-debug-auth": AUTH}),
        checks.SecretEchoed,
    )


# ------------------------------------------------------------ input oracle


@pytest.mark.behaviour("input.strict-integers")
def test_float_integers_must_get_400_naming_the_field():
    body = {"stores": [{"brandID": 663.0, "branchID": 1062}], "providerIDs": [1]}
    good = exchange("POST", "/menus/publish", 400, envelope_error("request_invalid", "stores.0.brandID"), request=body)
    run("input_answer", good)
    fails(
        "input_answer",
        exchange("POST", "/menus/publish", 200, envelope_ok(), request=body),
        checks.InputAnswerViolation,
    )
    fails(
        "input_answer",
        exchange("POST", "/menus/publish", 400, envelope_error("request_invalid", "providerIDs"), request=body),
        checks.InputAnswerViolation,
    )  # details name another field


@pytest.mark.behaviour("input.strict-integers", "schedule.invalid-details-field")
def test_a_rejection_without_details_is_judged_by_its_code():
    # details is optional: without it the field the error is about is not observable, the code decides
    body = {"stores": [{"brandID": 663.0, "branchID": 1062}], "providerIDs": [1]}
    run("input_answer", exchange("POST", "/menus/publish", 400, envelope_error("request_invalid"), request=body))
    fails(
        "input_answer",
        exchange("POST", "/menus/publish", 400, envelope_error("resource_not_found"), request=body),
        checks.InputAnswerViolation,
    )


@pytest.mark.behaviour("input.unknown-fields", "input.missing-required")
def test_a_rejection_naming_the_root_names_the_body():
    # {"": null}: the unknown key "" sits at the body's root; details.field "" names it, as "body" would.
    body = {"": None}
    for field in ("", "body", "ids"):
        run(
            "input_answer",
            exchange("PATCH", "/menus/sections/enable", 400, envelope_error("request_invalid", field), request=body),
        )
    fails(
        "input_answer",
        exchange("PATCH", "/menus/sections/enable", 400, envelope_error("request_invalid", "isEnabled"), request=body),
        checks.InputAnswerViolation,
    )


@pytest.mark.behaviour("getmenu.one-param-400")
def test_get_menu_with_one_store_param_must_get_400():
    run(
        "input_answer",
        exchange("GET", "/menus", 400, envelope_error("request_invalid", "branch_id"), query="brand_id=663"),
    )
    fails(
        "input_answer", exchange("GET", "/menus", 200, envelope_ok(), query="brand_id=663"), checks.InputAnswerViolation
    )


@pytest.mark.behaviour("routing.unknown-query-ignored")
def test_unknown_query_parameters_are_ignored():
    run("input_answer", exchange("GET", "/menus", 200, envelope_ok(), query="colour=red"))
    fails(
        "input_answer",
        exchange("GET", "/menus", 400, envelope_error("request_invalid", "colour"), query="colour=red"),
        checks.InputAnswerViolation,
    )


@pytest.mark.behaviour("schedule.hhmm-range", "schedule.start-before-end", "schedule.invalid-details-field")
@pytest.mark.parametrize(
    ("slot", "field"),
    [
        ({"startTime": 960, "endTime": 1200}, "availableTimes.0.slots[0].startTime"),
        ({"startTime": 1200, "endTime": 1200}, "availableTimes.0.slots[0]"),
    ],
)
def test_business_rule_400_on_schema_valid_schedules(slot, field):
    body = {"title": {"en": "x"}, "availableTimes": {"0": {"disabled": False, "slots": [slot]}}}
    run(
        "input_answer", exchange("POST", "/menus/sections", 400, envelope_error("request_invalid", field), request=body)
    )
    fails(
        "input_answer",
        exchange("POST", "/menus/sections", 200, envelope_ok({"id": 7}), request=body),
        checks.InputAnswerViolation,
    )


@pytest.mark.behaviour("populate.overlap-rejected", "sync.overlap-rejected")
def test_state_dependent_overlap_400_is_accepted_only_for_explicit_schedules():
    times = {"0": {"disabled": False, "slots": [{"startTime": 1100, "endTime": 1300}]}}
    explicit = {"stores": [OWN_STORE], "sections": {str(OWN_SECTION): {"sequence": 1, "availableTimes": times}}}
    collision = envelope_error("request_invalid", f"sections.{OWN_SECTION}.availableTimes", weekday="0")
    run("input_answer", exchange("POST", "/menus/sync", 400, collision, request=explicit))
    fallback = {"stores": [OWN_STORE], "sections": {str(OWN_SECTION): {"sequence": 1, "availableTimes": {}}}}
    fails(
        "input_answer", exchange("POST", "/menus/sync", 400, collision, request=fallback), checks.InputAnswerViolation
    )


@pytest.mark.behaviour("tenancy.unknown-same-as-foreign", "populate.foreign-resource-404")
def test_404_only_for_ids_outside_the_business():
    foreign = {"stores": [FOREIGN_STORE], "providerIDs": [1]}
    run(
        "input_answer",
        exchange("POST", "/menus/publish", 404, envelope_error("resource_not_found", "stores[0]"), request=foreign),
    )
    failure = fails(
        "input_answer",
        exchange("POST", "/menus/publish", 404, envelope_error("resource_not_found", "stores[0]"), request=PUBLISH),
        checks.InputAnswerViolation,
    )
    assert failure.behaviour == "tenancy.unknown-same-as-foreign"


@pytest.mark.behaviour("idempotency.key-required-on-writes", "idempotency.key-over-64-invalid")
def test_idempotency_key_answers_follow_the_reading():
    missing = envelope_error("request_missing_idempotency_key", "Idempotency-Key")
    run("input_answer", exchange("POST", "/menus/publish", 400, missing, request=PUBLISH, key=None))
    fails(
        "input_answer",
        exchange("POST", "/menus/publish", 200, envelope_ok(), request=PUBLISH, key=None),
        checks.InputAnswerViolation,
    )
    run(
        "input_answer",
        exchange("POST", "/menus/publish", 200, envelope_ok(), request=PUBLISH, key=None),
        ctx(reading="concepts"),
    )
    too_long = envelope_error("request_invalid", "Idempotency-Key")
    run("input_answer", exchange("POST", "/menus/publish", 400, too_long, request=PUBLISH, key="k" * 65))
    fails(
        "input_answer",
        exchange("POST", "/menus/publish", 200, envelope_ok(), request=PUBLISH, key="k" * 65),
        checks.InputAnswerViolation,
    )


@pytest.mark.behaviour("routing.method-not-allowed-405")
def test_unserved_method_must_get_405():
    run("input_answer", exchange("DELETE", "/menus", 405, envelope_error("method_not_allowed")))
    fails(
        "input_answer",
        exchange("DELETE", "/menus", 404, envelope_error("resource_not_found")),
        checks.InputAnswerViolation,
    )


# ------------------------------------------------- the built-in failure filter


def st_response(ex: HttpExchange) -> schemathesis.Response:
    prepared = requests.Request(ex.method, ex.url, headers=dict(ex.request_headers), data=ex.request_body).prepare()
    return schemathesis.Response(
        status_code=ex.status,
        headers={k: [val] for k, val in ex.headers.items()},
        content=ex.body,
        request=prepared,
        elapsed=0.01,
        verify=True,
    )


@pytest.fixture
def hooks_for_test_context():
    saved = fuzz_session._SETTINGS
    fuzz_hooks.configure(fuzz_hooks.FuzzSettings(ctx=ctx()))
    yield
    fuzz_session._SETTINGS = saved


def rejected(ex: HttpExchange) -> RejectedPositiveData:
    return RejectedPositiveData(
        operation="op", message="Valid data should have been accepted", status_code=ex.status, allowed_statuses=["2xx"]
    )


def accepted(ex: HttpExchange) -> AcceptedNegativeData:
    return AcceptedNegativeData(
        operation="op",
        message="Invalid data should have been rejected",
        status_code=ex.status,
        expected_statuses=["400"],
    )


def keeps(failure: Any, ex: HttpExchange) -> bool:
    return bool(fuzz_hooks.filter_failure(schemathesis.HookContext(), failure, None, st_response(ex)))  # type: ignore[arg-type]


@pytest.mark.behaviour("input.strict-integers", "getmenu.one-param-400", "routing.unknown-query-ignored")
def test_filter_drops_a_built_in_failure_only_for_the_documented_answer(hooks_for_test_context):
    floats = {"stores": [{"brandID": 663, "branchID": 1062.0}], "providerIDs": [1]}
    right = exchange(
        "POST", "/menus/publish", 400, envelope_error("request_invalid", "stores.0.branchID"), request=floats
    )
    assert not keeps(rejected(right), right)
    crash = exchange("POST", "/menus/publish", 500, envelope_error("internal"), request=floats)
    assert not keeps(rejected(crash), crash)  # not_a_server_error reports a 5xx, once
    server_error = ServerError(operation="op", status_code=500)
    assert keeps(server_error, crash)
    assert getattr(server_error, fuzz_hooks.VIOLATION).behaviour == "input.no-server-error"
    for wrong in (
        # details name another field (an error without details is judged by its code alone)
        exchange("POST", "/menus/publish", 400, envelope_error("request_invalid", "providerIDs"), request=floats),
        exchange("POST", "/menus/publish", 422, envelope_error("request_invalid", "stores.0.branchID"), request=floats),
    ):
        assert keeps(rejected(wrong), wrong)
    one_param = exchange("GET", "/menus", 400, envelope_error("request_invalid", "branch_id"), query="brand_id=7")
    assert not keeps(rejected(one_param), one_param)
    valid_but_rejected = exchange(
        "GET", "/menus", 400, envelope_error("request_invalid", "brand_id"), query="brand_id=7&branch_id=8"
    )
    assert keeps(rejected(valid_but_rejected), valid_but_rejected)
    ignored = exchange("GET", "/menus", 200, envelope_ok(), query="colour=red")
    assert not keeps(accepted(ignored), ignored)
    wrongly_accepted = exchange("GET", "/menus", 200, envelope_ok(), query="brand_id=x&branch_id=1")
    assert keeps(accepted(wrongly_accepted), wrongly_accepted)


def not_found_after_create() -> EnsureResourceAvailability:
    return EnsureResourceAvailability(
        operation="POST /menus/sections",
        message="404 for a resource just created",
        created_with="POST /menus/sections",
        not_available_with="PATCH /menus/sections/enable",
    )


@pytest.mark.behaviour("section.create-returns-id", "envelope.validation-before-tenancy")
def test_created_resource_not_found_only_for_a_request_without_faults(hooks_for_test_context):
    missing = envelope_error("resource_not_found", "ids[0]")
    # every id is the caller's and the body is valid: the created section must be found
    lost = exchange("PATCH", "/menus/sections/enable", 404, missing, request={"ids": [OWN_SECTION], "isEnabled": True})
    assert keeps(not_found_after_create(), lost)
    # a link the creating answer could not fill leaves generated ids, some invalid: ownership checked first
    # answers 404 for one of them; input_answer judges that answer, the created resource is not in question
    generated = exchange(
        "PATCH",
        "/menus/sections/enable",
        404,
        envelope_error("resource_not_found", "ids[2]"),
        request={"ids": [-2097152, -189079, 2929650], "isEnabled": False},
    )
    assert not keeps(not_found_after_create(), generated)


@pytest.mark.behaviour("input.strict-integers", "idempotency.key-over-64-invalid")
def test_no_write_on_rejection(hooks_for_test_context):
    writes = {"count": 5}
    settings = fuzz_hooks.required()
    settings.writes = lambda: writes["count"]
    case = type("FakeCase", (), {"id": "case-1"})()
    floats = {"stores": [{"brandID": 663.0, "branchID": 1062}], "providerIDs": [1]}
    rejected_answer = st_response(
        exchange("POST", "/menus/publish", 400, envelope_error("request_invalid", "stores.0.brandID"), request=floats)
    )

    def check(after: int, response: schemathesis.Response) -> None:
        fuzz_session._WRITES_BEFORE[case.id] = 5
        writes["count"] = after
        fuzz_hooks.klikit_no_write_on_rejection(None, response, case)  # type: ignore[arg-type]

    check(5, rejected_answer)
    with pytest.raises(Violation, match="a rejected request wrote 1 time"):
        check(6, rejected_answer)
    check(
        6, st_response(exchange("POST", "/menus/publish", 200, envelope_ok(), request=PUBLISH))
    )  # accepted: it writes


@pytest.mark.behaviour("envelope.json-body", "envelope.request-id", "envelope.code-status-catalogue")
def test_every_harness_check_is_registered_with_schemathesis():
    registered = set(schemathesis_checks.CHECKS.get_all_names())
    assert {f"klikit_{name}" for name in checks.CHECKS} | {"klikit_no_write_on_rejection"} <= registered
    assert len(fuzz_hooks.HARNESS_CHECKS) == len(checks.CHECKS) + 1


# ------------------------------------------------------------ the verdicts


@pytest.mark.behaviour("input.strict-integers", "getmenu.one-param-400", "tenancy.unknown-same-as-foreign")
def test_each_verdict_is_its_own_class():
    floats = {"stores": [{"brandID": 663.0, "branchID": 1062}], "providerIDs": [1]}
    reject = verdicts.expected_answer(exchange("POST", "/menus/publish", 400, b"", request=floats), ctx())
    assert isinstance(reject, verdicts.Reject) and reject.behaviour == "input.strict-integers"
    assert reject.fields == ("stores.0.brandID",) and reject.stage == "input"
    valid = verdicts.expected_answer(exchange("POST", "/menus/publish", 200, b"", request=PUBLISH), ctx())
    assert isinstance(valid, verdicts.Valid) and not valid.ids_outside and valid.behaviour == "publish.counts"
    either = verdicts.expected_answer(
        exchange("GET", "/menus", 200, b"", query="brand_id=663&branch_id=1062&brand_id=7"), ctx()
    )
    assert isinstance(either, verdicts.Either) and not isinstance(either, verdicts.Valid)
    stranger = exchange("GET", "/menus", 200, b"")
    stranger = HttpExchange(**{**stranger.__dict__, "request_headers": {"authorization": "Basic eDp5"}})
    assert isinstance(verdicts.expected_answer(stranger, ctx()), verdicts.Unknown)
    foreign = {"stores": [FOREIGN_STORE], "providerIDs": [1], "scheduledAt": "soon"}
    late = verdicts.expected_answer(exchange("POST", "/menus/publish", 404, b"", request=foreign), ctx())
    assert isinstance(late, verdicts.Reject) and late.stage == "rules" and late.ids_outside


@pytest.mark.behaviour("idempotency.key-required-on-writes")
@pytest.mark.parametrize("key", [" ", "\t", "  \t "])
def test_a_blank_idempotency_key_is_a_missing_one_for_the_oracle_and_the_stand_in(key):
    from klikit_harness.core import validation

    oracle = verdicts.expected_answer(exchange("POST", "/menus/publish", 400, b"", request=PUBLISH, key=key), ctx())
    assert isinstance(oracle, verdicts.Reject) and oracle.meaning == "request_missing_idempotency_key"
    assert validation.idempotency_key(key) is None


@pytest.mark.behaviour("input.null-means-absent", "input.wrong-types")
def test_a_rejection_naming_a_null_field_departs_from_the_null_permission():
    # A server that refuses nulls names the null before the fields of the wrong type: the answer departs
    # from null-means-absent (the permission the request relied on), not from the type rules.
    body = {"ids": False, "isEnabled": [], "zoneStores": None}
    null_named = exchange(
        "PATCH", "/menus/sections/enable", 400, envelope_error("request_invalid", "zoneStores"), request=body
    )
    failure = fails("input_answer", null_named, checks.InputAnswerViolation)
    assert failure.behaviour == "input.null-means-absent"
    run(
        "input_answer",
        exchange("PATCH", "/menus/sections/enable", 400, envelope_error("request_invalid", "ids"), request=body),
    )
    other = exchange("PATCH", "/menus/sections/enable", 400, envelope_error("request_invalid", "colour"), request=body)
    assert fails("input_answer", other, checks.InputAnswerViolation).behaviour == "input.wrong-types"


@pytest.mark.behaviour("input.null-means-absent", "input.unknown-fields")
def test_a_rejection_naming_a_nested_null_departs_from_the_null_permission():
    body = {"": [None]}
    nested = exchange("PATCH", "/menus/sections/enable", 400, envelope_error("request_invalid", "[0]"), request=body)
    assert fails("input_answer", nested, checks.InputAnswerViolation).behaviour == "input.null-means-absent"


# ------------------------------------------------------ requests with several faults


def real_target(behaviour: str) -> Any:
    """The judgement of a real target or a variant of the stand-in (not strict)."""
    return contract.judgement(contract.behaviour(behaviour).status, reference_target=False, strict=False)


def anonymous(ex: HttpExchange) -> HttpExchange:
    return HttpExchange(
        ex.method,
        ex.url,
        ex.status,
        ex.headers,
        ex.body,
        {k: val for k, val in ex.request_headers.items() if k != "authorization"},
        ex.request_body,
    )


@pytest.mark.behaviour("input.missing-required", "input.query-id-leading-zeros")
def test_a_request_with_two_faults_may_be_answered_for_either_of_them():
    # The exchange, as a server reading leading zeros as invalid (the leading-zero-ids-400 variant) answered it:
    #
    #   PATCH /v1/partner/menus/sections/0663/visibilities
    #   Content-Type: application/json
    #   Idempotency-Key: k-1
    #
    #   {"zoneStores": [{"brandID": 663, "branchID": 1062}]}
    #
    #   HTTP 400
    #   {"request_id": "req_1", "error": {"code": "request_invalid", "message": "sectionID: rejected",
    #                                     "details": {"field": "sectionID"}}}
    #
    # Two faults: the body misses `visibilities`, and the path id 0663 is invalid under that server's
    # reading of leading zeros (an incidental rule: the reference reads it as 663). Either may be named.
    path, body = "/menus/sections/0663/visibilities", {"zoneStores": [OWN_STORE]}
    for_the_id = exchange("PATCH", path, 400, envelope_error("request_invalid", "sectionID"), request=body)
    assert json.loads(for_the_id.request_body or b"") == {"zoneStores": [{"brandID": 663, "branchID": 1062}]}
    run("input_answer", for_the_id, ctx(judgement=real_target))
    for_the_body = exchange("PATCH", path, 400, envelope_error("request_invalid", "visibilities"), request=body)
    run("input_answer", for_the_body, ctx(judgement=real_target))
    run("input_answer", for_the_body)
    # A field that is no fault of the request still fails, blamed on the fault the answer contradicts.
    neither = exchange("PATCH", path, 400, envelope_error("request_invalid", "zoneStores"), request=body)
    assert (
        fails("input_answer", neither, checks.InputAnswerViolation, ctx(judgement=real_target)).behaviour
        == "input.missing-required"
    )
    accepted = exchange("PATCH", path, 200, envelope_ok({"id": 663}), request=body)
    assert (
        fails("input_answer", accepted, checks.InputAnswerViolation, ctx(judgement=real_target)).behaviour
        == "input.missing-required"
    )
    # The embedded stand-in enforces its own reading (0663 is 663): naming sectionID departs from it.
    assert fails("input_answer", for_the_id, checks.InputAnswerViolation).behaviour == "input.query-id-leading-zeros"


@pytest.mark.behaviour("input.missing-required", "input.wrong-types", "idempotency.key-required-on-writes")
def test_every_fault_of_a_request_is_in_the_verdict():
    body = {"zoneStores": [OWN_STORE]}
    verdict = verdicts.expected_answer(
        exchange("PATCH", "/menus/sections/abc/visibilities", 400, b"", request=body, key=None), ctx()
    )
    assert isinstance(verdict, verdicts.Reject)
    assert [(f.stage, f.fields[0], f.behaviours[0]) for f in verdict.faults] == [
        ("key", "Idempotency-Key", "idempotency.key-required-on-writes"),
        ("input", "visibilities", "input.missing-required"),
        ("input", "sectionID", "input.wrong-types"),
    ]
    # Three faults, two of them in the same step (validation): DESIGN's order does not decide which is
    # answered, so the answer for any one passes.
    for code, field in (
        ("request_missing_idempotency_key", "Idempotency-Key"),
        ("request_invalid", "visibilities"),
        ("request_invalid", "sectionID"),
    ):
        run(
            "input_answer",
            exchange(
                "PATCH", "/menus/sections/abc/visibilities", 400, envelope_error(code, field), request=body, key=None
            ),
        )


@pytest.mark.behaviour("envelope.check-order", "idempotency.key-required-on-writes", "input.malformed-json")
def test_faults_each_in_its_own_step_are_judged_by_the_order_of_checks():
    # No Idempotency-Key and a malformed body, nothing else: DESIGN checks the key before parsing the body.
    broken = exchange("POST", "/menus/publish", 400, envelope_error("request_invalid", "body"), key=None, raw=b"{oops")
    failure = fails("input_answer", broken, checks.InputAnswerViolation, ctx(judgement=real_target))
    assert failure.behaviour == "envelope.check-order"  # assumed: observed on a real target unless --strict
    key_first = exchange(
        "POST",
        "/menus/publish",
        400,
        envelope_error("request_missing_idempotency_key", "Idempotency-Key"),
        key=None,
        raw=b"{oops",
    )
    run("input_answer", key_first)
    # A field that neither fault names is blamed on the key, the strongest behaviour the request breaks.
    other = exchange("POST", "/menus/publish", 400, envelope_error("request_invalid", "stores"), key=None, raw=b"{oops")
    assert fails("input_answer", other, checks.InputAnswerViolation).behaviour == "idempotency.key-required-on-writes"


@pytest.mark.behaviour("envelope.routing-before-auth", "routing.unknown-path-404", "auth.missing")
def test_an_unknown_path_without_credentials_is_judged_by_routing_before_auth():
    lost = anonymous(exchange("GET", "/menus/nowhere", 404, envelope_error("resource_not_found", "path")))
    run("input_answer", lost)
    auth_first = anonymous(exchange("GET", "/menus/nowhere", 401, envelope_error("auth_missing")))
    assert (
        fails("input_answer", auth_first, checks.InputAnswerViolation, ctx(judgement=real_target)).behaviour
        == "envelope.routing-before-auth"
    )
    # With the run's own credential the path is the only fault: a 401 answers none.
    signed = exchange("GET", "/menus/nowhere", 401, envelope_error("auth_missing"))
    assert fails("input_answer", signed, checks.InputAnswerViolation).behaviour == "routing.unknown-path-404"


@pytest.mark.behaviour("input.null-means-absent", "input.missing-required")
def test_a_reading_the_run_does_not_accept_is_blamed_on_the_behaviour_it_changes():
    # null-rejected reads a null as a fault: accepted on a real target, but --strict enforces
    # input.null-means-absent (assumed), so naming the null then departs from it.
    body = {"zoneStores": None}
    null_named = exchange(
        "PATCH", "/menus/sections/1022/visibilities", 400, envelope_error("request_invalid", "zoneStores"), request=body
    )
    run("input_answer", null_named, ctx(judgement=real_target))

    def strict(behaviour: str) -> Any:
        return contract.judgement(contract.behaviour(behaviour).status, reference_target=False, strict=True)

    failure = fails("input_answer", null_named, checks.InputAnswerViolation, ctx(judgement=strict))
    assert failure.behaviour in {"input.null-means-absent", "section.empty-zone-stores-business"}


@pytest.mark.behaviour("input.missing-required", "input.query-id-leading-zeros")
@pytest.mark.parametrize(
    ("names", "named"),
    [
        ((v.LEADING_ZERO_IDS_400,), "visibilities"),
        ((v.LEADING_ZERO_IDS_400, v.LAST_FAULT_FIRST), "sectionID"),
    ],
    ids=["schema-first", "path-first"],
)
def test_the_two_fault_request_passes_against_a_stand_in_reading_leading_zeros_as_invalid(names, named):
    from klikit_harness.core.clock import ManualClock
    from klikit_harness.core.seed import load
    from klikit_harness.standin.sandbox import build_service
    from tests.support import standin

    api = standin.InProcessApi(build_service(load(), clock=ManualClock(), variants=v.VariantSet(names)))
    try:
        answer = api.patch(
            f"/menus/sections/0{standin.LUNCH}/visibilities", {"zoneStores": [standin.store(standin.POPULATED[0])]}
        )
    finally:
        api.close()
    standin.assert_error(answer, 400, "request_invalid", named)
    as_judged = ctx(
        main=standin.MAIN,
        credentials=(standin.MAIN,),
        judgement=real_target,
        own_stores=frozenset({(k.brand_id, k.branch_id) for k in standin.POPULATED}),
        own_sections=frozenset({standin.LUNCH}),
    )
    run("input_answer", HttpExchange.from_httpx(answer), as_judged)
