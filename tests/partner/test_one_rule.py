"""One envelope and 429 rule set, read the same way by every path that judges an answer.

The reference client (``ContractViolation``), the contract suite's target
(its every-429 check) and expectations, and the fuzz checks all call
``klikit_harness.partner.envelope``: a broken answer is a named violation on each
path — never an exception of the judging code itself, whatever the header or
body holds.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx

from klikit_harness.checking import checks, context, expect
from klikit_harness.checking.config import MAIN_CREDENTIAL, load_settings
from klikit_harness.checking.failures import Violation
from klikit_harness.checking.target import Target
from klikit_harness.contract import READINGS
from klikit_harness.partner import envelope
from klikit_harness.partner.client import KlikitClient, RetryPolicy
from klikit_harness.partner.errors import ContractViolation, RateLimitedError
from klikit_harness.partner.exchange import HttpExchange

URL = "http://staging.example.test/v1/partner"
KEY, SECRET = "pk_envelope", "sk_envelope_secret"
RATE_LIMITED = {"request_id": "req_429", "error": {"code": "rate_limit_exceeded", "message": "slow down"}}
#: Retry-After values that are not the documented integer >= 1; "²" and "٣" are Unicode digits int() may choke on
BAD_RETRY_AFTER = ["²", "٣", "0", "-1", "1.5", "soon", "", "Wed, 21 Oct 2026 07:28:00 GMT", "9" * 5000 + "²"]


def answer(status: int, body: Any, headers: dict[str, str] | None = None, method: str = "GET") -> HttpExchange:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HttpExchange(
        method=method,
        url=URL + "/menus",
        status=status,
        headers={"content-type": "application/json", **(headers or {})},
        body=raw,
    )


def rule_of(breach: envelope.Breach | None) -> tuple[str, str] | None:
    return (breach.behaviour, breach.check) if breach else None


# ------------------------------------------------------------------ the rule itself


@pytest.mark.behaviour("ratelimit.retry-after-seconds")
@pytest.mark.parametrize("value", ["1", "30", " 7 ", "0012"])
def test_retry_after_in_ascii_digits_of_at_least_one_is_read(value):
    assert envelope.retry_after_seconds(value) == int(value)


@pytest.mark.behaviour("ratelimit.retry-after-seconds")
@pytest.mark.parametrize("value", [*BAD_RETRY_AFTER, None])
def test_any_other_retry_after_is_none_never_an_exception(value):
    assert envelope.retry_after_seconds(value) is None


@pytest.mark.behaviour("ratelimit.retry-after-seconds", "ratelimit.429-envelope-retry-after")
@pytest.mark.parametrize("reading", [None, *READINGS])
def test_the_429_rule_names_what_is_missing(reading):
    code = envelope.contract.errors().code_for("rate_limit_exceeded", reading or "reference").code
    good = {"request_id": "r", "error": {"code": code, "message": "slow down"}}
    assert envelope.rate_limited(answer(429, good, {"retry-after": "2"}), reading) is None
    bad = envelope.rate_limited(answer(429, good, {"retry-after": "²"}), reading)
    assert rule_of(bad) == ("ratelimit.retry-after-seconds", "rate_limited_answer")
    assert bad is not None and "'²'" in bad.title
    absent = envelope.rate_limited(answer(429, good), reading)
    assert rule_of(absent) == ("ratelimit.429-envelope-retry-after", "rate_limited_answer")
    no_envelope = envelope.rate_limited(answer(429, {"request_id": "r", "data": {}}, {"retry-after": "2"}), reading)
    assert rule_of(no_envelope) == ("ratelimit.429-envelope-retry-after", "rate_limited_answer")


@pytest.mark.behaviour("envelope.code-status-catalogue")
def test_a_reading_holds_the_code_to_its_vocabulary_and_none_accepts_either():
    concepts = envelope.contract.errors().code_for("resource_not_found", "concepts")
    ex = answer(concepts.status, {"request_id": "r", "error": {"code": concepts.code, "message": "gone"}})
    assert envelope.catalogued(ex, None) is None
    assert envelope.catalogued(ex, "concepts") is None
    assert rule_of(envelope.catalogued(ex, "reference")) == ("envelope.code-status-catalogue", "code_in_catalogue")


@pytest.mark.behaviour(
    "envelope.json-body",
    "envelope.request-id",
    "envelope.success-has-data",
    "envelope.error-shape",
    "envelope.code-status-catalogue",
)
@pytest.mark.parametrize(
    ("ex", "behaviour"),
    [
        (answer(200, b"<html>", {"content-type": "text/html"}), "envelope.json-body"),
        (
            answer(
                200,
                b"{",
            ),
            "envelope.json-body",
        ),
        (answer(200, b"[" * 100_000 + b"]" * 100_000), "envelope.json-body"),  # too deep to parse: still a breach
        (answer(200, b"\xff\xfe"), "envelope.json-body"),
        (answer(200, [1]), "envelope.json-body"),
        (answer(200, {"data": {}}), "envelope.request-id"),
        (answer(200, {"request_id": "r"}), "envelope.success-has-data"),
        (answer(404, {"request_id": "r", "error": {"code": "resource_not_found"}}), "envelope.error-shape"),
        (
            answer(404, {"request_id": "r", "error": {"code": "resource_not_found", "message": "m"}, "data": {}}),
            "envelope.error-shape",
        ),
        (answer(404, {"request_id": "r", "error": {"code": "nope", "message": "m"}}), "envelope.code-status-catalogue"),
        (
            answer(418, {"request_id": "r", "error": {"code": "resource_not_found", "message": "m"}}),
            "envelope.code-status-catalogue",
        ),
    ],
)
def test_each_breach_names_its_behaviour_and_a_registered_check(ex, behaviour):
    breach = envelope.first_breach(ex, "reference")
    assert breach is not None and breach.behaviour == behaviour
    assert breach.check in checks.CHECKS  # a reproduction re-runs the check that states the rule
    assert behaviour in checks.CHECKS[breach.check].behaviours


# ------------------------------------------------------------------ every path


@pytest.mark.behaviour("ratelimit.retry-after-seconds")
@pytest.mark.parametrize("value", BAD_RETRY_AFTER)
def test_the_fuzz_check_reports_a_bad_retry_after(value):
    ex = answer(429, RATE_LIMITED, {"retry-after": value})
    with pytest.raises(checks.RateLimitViolation) as info:
        checks.CHECKS["rate_limited_answer"].function(ex, context.Context())
    assert info.value.behaviour in {"ratelimit.retry-after-seconds", "ratelimit.429-envelope-retry-after"}
    assert info.value.expected == {"check": "rate_limited_answer"}


def _mock_client(status: int, body: Any, headers: dict[str, Any]) -> KlikitClient:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body, headers=headers)

    return KlikitClient(
        URL,
        KEY,
        SECRET,
        transport=httpx.MockTransport(handler),
        retry=RetryPolicy(max_attempts=2),
        sleep=lambda _s: None,
    )


@pytest.mark.behaviour("ratelimit.retry-after-seconds", "client.contract-violation-detected")
@pytest.mark.parametrize("value", BAD_RETRY_AFTER)
def test_the_client_reports_a_bad_retry_after_as_a_contract_violation(value):
    wire = {"retry-after": value.encode()}  # a header arrives as bytes: UTF-8 here
    with _mock_client(429, RATE_LIMITED, wire) as client, pytest.raises(ContractViolation) as info:
        client.get_menu()
    violation = info.value
    assert violation.behaviour in {"ratelimit.retry-after-seconds", "ratelimit.429-envelope-retry-after"}
    assert violation.status == 429 and violation.retryable and violation.attempts == 2
    assert "Retry-After" in violation.reason


@pytest.mark.behaviour("ratelimit.429-envelope-retry-after")
def test_the_client_still_reads_a_good_429_as_rate_limited():
    with _mock_client(429, RATE_LIMITED, {"retry-after": "3"}) as client, pytest.raises(RateLimitedError) as info:
        client.get_menu()
    assert info.value.retry_after == 3


def _target() -> Target:
    settings = load_settings(None, base_url=URL, partner_key=KEY, secret_key=SECRET, stores="663:1062", max_rps=0)
    return Target(URL, settings)


@pytest.mark.behaviour("ratelimit.retry-after-seconds")
@pytest.mark.parametrize("value", BAD_RETRY_AFTER)
def test_the_targets_every_429_check_reports_a_bad_retry_after(value):
    target = _target()
    with respx.mock(base_url=URL) as router, target.client() as api:
        router.get("/menus").respond(429, json=RATE_LIMITED, headers={"retry-after": value.encode()})
        with pytest.raises(Violation) as info:
            api.call("getMenu")
    violation = info.value
    assert violation.behaviour in {"ratelimit.retry-after-seconds", "ratelimit.429-envelope-retry-after"}
    assert violation.request_id == "req_429"
    assert violation.reproduction and f'-u "${MAIN_CREDENTIAL.replace(":", ":$")}"' in violation.reproduction
    assert SECRET not in str(violation)
    assert target.exchanges[-1].status == 429  # recorded for the report


@pytest.mark.behaviour("client.secrets-never-leak")
def test_a_suite_failure_reproduces_the_judged_answer_with_its_clients_credential_variables():
    target = _target()
    with respx.mock(base_url=URL) as router, target.client(("pk_other", "sk_other_secret"), variable="OTHER") as api:
        router.get("/menus").respond(
            404, json={"request_id": "req_404", "error": {"code": "resource_not_found", "message": SECRET}}
        )
        with pytest.raises(Violation) as info:
            expect.error(api, api.call("getMenu"), "request_invalid", "input.wrong-types")
        read_back = expect.mismatch(api, "state read back", "getmenu.store-fields", {"secret": SECRET}, "no secret")
    failure = info.value
    assert failure.request_id == "req_404" and SECRET not in str(failure)
    assert failure.reproduction and '-u "$OTHER"' in failure.reproduction and "/menus" in failure.reproduction
    assert read_back.request_id == "req_404" and read_back.reproduction == failure.reproduction
    assert SECRET not in str(read_back.received) and "secret" in str(read_back.received)


@pytest.mark.behaviour("envelope.json-body")
@pytest.mark.parametrize(
    ("status", "content", "ctype"),
    [
        (200, b"\xff", "application/json"),
        (200, b"[1]", "application/json"),
        (502, b"<h1>Bad Gateway</h1>", "text/html"),
    ],
)
def test_the_expectations_read_the_same_rules(status, content, ctype):
    target = _target()
    with respx.mock(base_url=URL) as router, target.client() as api:
        router.get("/menus").respond(status, content=content, headers={"content-type": ctype})
        response = api.call("getMenu")
        with pytest.raises(Violation) as info:
            expect.envelope(api, response)
    assert info.value.behaviour == "envelope.json-body"
    assert info.value.expected == {"check": "json_body"}


# ------------------------------------------------------------------ one record


def _each_way(request: httpx.Request) -> list[HttpExchange]:
    """The same exchange through every builder the harness has."""
    import requests

    response = httpx.Response(200, json={"request_id": "r", "data": {}}, request=request)
    prepared = requests.Request(
        request.method, str(request.url), headers=dict(request.headers), data=request.content
    ).prepare()
    legacy = requests.Response()
    legacy.status_code, legacy._content, legacy.request = 200, response.content, prepared
    legacy.headers.update(response.headers)
    return [HttpExchange.from_httpx(response), HttpExchange.from_requests(legacy)]


@pytest.mark.behaviour("client.secrets-never-leak")
def test_every_builder_gives_the_same_record_and_reproduction():
    request = httpx.Request(
        "POST",
        URL + "/menus/sections",
        content=b'{"title": {"en": "x"}}',
        headers={
            "Idempotency-Key": "k-1",
            "Content-Type": "application/json",
            "Authorization": "Basic cGs6c2s=",
            "User-Agent": "x",
        },
    )
    via_httpx, via_requests = _each_way(request)
    assert via_httpx.request_id == via_requests.request_id == "r"
    assert via_httpx.curl() == via_requests.curl()
    curl = via_httpx.curl()
    assert "Basic" not in curl and "user-agent" not in curl.lower()
    assert "idempotency-key: k-1" in curl and '"$KLIKIT_PARTNER_KEY:$KLIKIT_SECRET_KEY"' in curl


@pytest.mark.behaviour("client.secrets-never-leak")
@pytest.mark.parametrize(
    ("credential", "shown"),
    [("", None), ("KLIKIT_BURST_CREDENTIAL", '"$KLIKIT_BURST_CREDENTIAL"'), ("A_KEY:A_SECRET", '"$A_KEY:$A_SECRET"')],
)
def test_a_reproduction_names_the_credentials_variables(credential, shown):
    ex: Callable[..., HttpExchange] = HttpExchange
    curl = ex("GET", URL, 200, {}, b"", {"authorization": "Basic eDp5"}, None, credential).curl()
    assert (shown in curl) if shown else " -u " not in curl


@pytest.mark.behaviour("envelope.code-status-catalogue", "codes.vocabulary")
def test_every_answer_takes_a_code_of_either_vocabulary_and_leaves_the_reading_to_the_contested_checks():
    """A reference-reading run against a target that answers a contested case in the concepts reading
    (401 INVALID_CREDENTIALS for a revoked key) is no envelope failure: the contested check records the reading."""
    target = _target()
    concepts = {"request_id": "req_c", "error": {"code": "INVALID_CREDENTIALS", "message": "revoked"}}
    unknown = {"request_id": "req_u", "error": {"code": "no_such_code", "message": "?"}}
    with respx.mock(base_url=URL) as router, target.client() as api:
        router.get("/menus").mock(side_effect=[httpx.Response(401, json=concepts), httpx.Response(401, json=unknown)])
        expect.every_answer(api, api.call("getMenu"))
        with pytest.raises(Violation) as info:
            expect.every_answer(api, api.call("getMenu"))
    assert info.value.behaviour == "envelope.code-status-catalogue"


@pytest.mark.behaviour("envelope.error-shape", "envelope.success-has-data", "response.closed-objects")
def test_members_beyond_the_stated_ones_break_no_envelope_rule():
    """The envelope page and DESIGN.md say what must be present, never "nothing else"."""
    extra_error = {
        "request_id": "r",
        "error": {"code": "resource_not_found", "message": "m", "hint": "see docs"},
        "served_by": "edge-1",
    }
    assert envelope.first_breach(answer(404, extra_error), "reference") is None
    assert (
        envelope.first_breach(
            answer(200, {"request_id": "r", "data": {"id": 1, "etag": "x"}, "took_ms": 3}), "reference"
        )
        is None
    )
