"""One builder of a failure from an answered exchange: ``Violation.of``, used by every check that judges one."""

from __future__ import annotations

import httpx

from klikit_harness.checking.checks import EnvelopeViolation
from klikit_harness.checking.failures import Violation
from klikit_harness.partner.basic import basic_header
from klikit_harness.partner.exchange import HttpExchange
from klikit_harness.partner.redact import Redactor

SECRET = "sk_echoed_7f3a"


def _exchange() -> HttpExchange:
    request = httpx.Request(
        "POST",
        "http://127.0.0.1:8080/v1/partner/menus/populate?brand_id=663",
        headers={"Authorization": basic_header("pk_main", SECRET), "Idempotency-Key": "k-1"},
        content=b"{}",
    )
    response = httpx.Response(
        500, request=request, json={"request_id": "req_9", "error": {"code": "internal", "message": SECRET}}
    )
    return HttpExchange.from_httpx(response)


def test_a_failure_of_an_exchange_carries_its_evidence_without_a_secret() -> None:
    redact = Redactor([SECRET])
    failure = Violation.of(
        _exchange(),
        "a server error",
        behaviour="envelope.no-5xx",
        documented="no 5xx",
        redact=redact,
        origin="https://staging.example",
        expected={"check": "no_server_error"},
    )
    assert failure.request_id == "req_9" and failure.behaviour == "envelope.no-5xx"
    assert str(failure.received).startswith("HTTP 500 application/json") and SECRET not in str(failure.received)
    assert (
        failure.reproduction is not None and "https://staging.example/v1/partner/menus/populate" in failure.reproduction
    )
    assert "$KLIKIT_SECRET_KEY" in failure.reproduction and SECRET not in failure.reproduction
    assert failure.expected == {"check": "no_server_error"} and SECRET not in str(failure)


def test_a_subclass_builds_its_own_kind() -> None:
    failure = EnvelopeViolation.of(_exchange(), "t", behaviour=None, documented=None)
    assert type(failure) is EnvelopeViolation and failure.received is not None


def test_a_failure_about_state_read_back_carries_that_state_and_the_exchanges_evidence() -> None:
    failure = Violation.of(
        _exchange(),
        "menu not as predicted",
        behaviour="publish.rebuilds-snapshot",
        documented={"sections": []},
        redact=Redactor([SECRET]),
        received=f"{{'note': '{SECRET}'}}",
    )
    assert failure.received == "{'note': '***'}" and SECRET not in str(failure)
    assert failure.request_id == "req_9" and failure.reproduction is not None and "curl " in failure.reproduction


def test_a_failure_before_any_request_has_no_request_id_and_no_reproduction() -> None:
    failure = Violation.of(None, "nothing sent yet", behaviour=None, documented="x", received="y")
    assert (failure.received, failure.request_id, failure.reproduction) == ("y", None, None)
    assert "Reproduce" not in str(failure)
