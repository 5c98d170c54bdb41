"""Network faults and answers outside the contract, as the reference client reports them.

Decision on a gateway's HTML 502: it is retried like downstream_unavailable
(the status is that of a retryable code, and a proxy failing is transient);
if it persists the client raises ContractViolation — the target answered
outside the envelope contract — with ``retryable`` true and the page quoted.
"""

from __future__ import annotations

from typing import Any

import pytest

from klikit_harness.partner.errors import (
    ConnectFailed,
    ConnectionLost,
    ContractViolation,
    RequestTimeout,
)
from klikit_harness.suites.chaos.world import POLICY, TRANSPORT_OUTCOME, write

RETRIED = sorted(name for name, (_, retried) in TRANSPORT_OUTCOME.items() if retried)
VIOLATIONS = sorted(
    name for name, (error, retried) in TRANSPORT_OUTCOME.items() if error is ContractViolation and not retried
)


@pytest.mark.behaviour("client.retries-only-retryable", "client.gateway-errors-retried")
@pytest.mark.parametrize("fault", RETRIED)
def test_a_transient_network_fault_is_retried_once_then_succeeds(sim, client, fault):
    sim.inject("publishMenu", fault)
    reply = write(client, "publishMenu")
    assert reply.attempts == 2
    assert [c.step for c in sim.calls] == [fault, "real"]
    assert sim.writes == 1


@pytest.mark.behaviour("client.retries-only-retryable", "client.gateway-errors-retried", "client.backoff-bounded")
@pytest.mark.parametrize(
    ("fault", "error", "writes"),
    [("connect_error", ConnectFailed, 0), ("read_timeout", RequestTimeout, 1), ("html_502", ContractViolation, 0)],
)
def test_a_persistent_network_fault_ends_typed_after_the_last_attempt(sim, client, fault, error, writes):
    sim.inject("populateMenu", fault, times=POLICY.max_attempts)
    with pytest.raises(error) as raised:
        write(client, "populateMenu")
    assert type(raised.value) is error
    assert raised.value.attempts == len(sim.calls) == POLICY.max_attempts
    assert raised.value.retryable
    assert raised.value.idempotency_key == sim.calls[0].idempotency_key
    assert len(sim.slept) == POLICY.max_attempts - 1
    assert sim.writes == writes


@pytest.mark.behaviour("client.gateway-errors-retried", "client.contract-violation-detected", "envelope.json-body")
def test_a_gateway_html_502_is_reported_with_the_page_quoted(sim, client):
    sim.inject("publishMenu", "html_502", times=POLICY.max_attempts)
    with pytest.raises(ContractViolation) as raised:
        write(client, "publishMenu")
    violation = raised.value
    assert (violation.status, violation.content_type) == (502, "text/html")
    assert "502 Bad Gateway" in violation.body_excerpt
    assert violation.behaviour == "envelope.json-body"
    text = str(violation)
    assert "Received: status 502, content-type text/html" in text
    assert "Documented:" in text


@pytest.mark.behaviour("client.cut-off-answer-raised", "idempotency.replay-same-response")
@pytest.mark.parametrize("error", ["protocol", "read"])
def test_an_answer_cut_off_mid_body_is_raised_with_the_key_to_repeat(sim, client, error):
    sim.inject("createSection", "reset_mid_body", error=error)
    with pytest.raises(ConnectionLost) as raised:
        write(client, "createSection")
    lost = raised.value
    assert lost.attempts == 1 and not lost.retryable
    assert sim.writes == 1  # the server did the work; only the answer was lost
    assert sim.calls[0].error and "mid-body" in sim.calls[0].error
    assert lost.idempotency_key and lost.idempotency_key in str(lost)

    again = write(client, "createSection", idempotency_key=lost.idempotency_key)
    assert again.replayed
    assert again.request_id == sim.calls[0].request_id
    assert sim.writes == 1


#: fault -> (reason fragment, behaviour id the answer breaks)
VIOLATION_SHAPES = {
    "truncated_json": ("not valid JSON", "envelope.json-body"),
    "malformed_json": ("not valid JSON", "envelope.json-body"),
    "missing_request_id": ("request_id", "envelope.request-id"),
    "wrong_content_type": ("content-type is text/plain", "envelope.json-body"),
    "unknown_code": ("not in the catalogue", "envelope.code-status-catalogue"),
}


@pytest.mark.behaviour("client.contract-violation-detected")
@pytest.mark.parametrize("fault", VIOLATIONS)
def test_each_broken_answer_raises_a_contract_violation_at_once(sim, client, fault):
    assert set(VIOLATIONS) == set(VIOLATION_SHAPES)
    reason, behaviour = VIOLATION_SHAPES[fault]
    sim.inject("syncMenuToStores", fault)
    with pytest.raises(ContractViolation) as raised:
        write(client, "syncMenuToStores")
    violation = raised.value
    assert reason in violation.reason
    assert violation.behaviour == behaviour
    assert violation.attempts == 1 and not violation.retryable
    assert violation.status == sim.calls[0].status
    assert len(violation.body_excerpt) <= 200
    assert f"Received: status {violation.status}" in str(violation)


def _raw(status: int, body: Any, content_type: str = "application/json") -> tuple[str, dict[str, Any]]:
    return ("raw", {"status": status, "body": body, "content_type": content_type})


RID = "req_raw-answer"


@pytest.mark.behaviour("client.contract-violation-detected")
@pytest.mark.parametrize(
    ("step", "reason", "behaviour"),
    [
        pytest.param(_raw(200, {"request_id": RID}), "without data", "envelope.success-has-data", id="2xx-no-data"),
        pytest.param(
            _raw(200, {"request_id": RID, "data": {}, "error": {"code": "internal", "message": "x"}}),
            "with error",
            "envelope.success-has-data",
            id="2xx-with-error",
        ),
        pytest.param(
            _raw(404, {"request_id": RID, "data": {}, "error": {"code": "resource_not_found", "message": "x"}}),
            "proper error object",
            "envelope.error-shape",
            id="error-with-data",
        ),
        pytest.param(
            _raw(404, {"request_id": RID, "error": {"code": "resource_not_found"}}),
            "proper error object",
            "envelope.error-shape",
            id="error-without-message",
        ),
        pytest.param(_raw(200, [1, 2]), "not an object", "envelope.json-body", id="json-array"),
        pytest.param(_raw(200, b""), "not valid JSON", "envelope.json-body", id="empty-body"),
        pytest.param(_raw(200, {"request_id": 7, "data": {}}), "request_id", "envelope.request-id", id="numeric-id"),
        pytest.param(_raw(200, {"request_id": "", "data": {}}), "request_id", "envelope.request-id", id="empty-id"),
        pytest.param(
            _raw(200, '{"request_id": "x", "data": {}}', "text/html"), "text/html", "envelope.json-body", id="html-200"
        ),
        pytest.param(_raw(204, b"", ""), "content-type is missing", "envelope.json-body", id="204-empty"),
        pytest.param(
            ("request_invalid", {"status": 422}),
            "came with HTTP status 422",
            "envelope.code-status-catalogue",
            id="status-mismatch",
        ),
        pytest.param(
            ("INVALID_TRANSITION", {"status": 409}),
            "came with HTTP status 409",
            "envelope.code-status-catalogue",
            id="concepts-status-mismatch",
        ),
    ],
)
def test_answers_outside_the_envelope_are_named(sim, client, step, reason, behaviour):
    sim.script("enableSections", [step])
    with pytest.raises(ContractViolation) as raised:
        write(client, "enableSections")
    violation = raised.value
    assert reason in violation.reason, violation.reason
    assert violation.behaviour == behaviour
    assert violation.attempts == 1
    assert sim.writes == 0


@pytest.mark.behaviour("client.contract-violation-detected")
def test_the_body_excerpt_is_the_first_200_characters(sim, client):
    sim.script("publishMenu", [_raw(200, "x" * 1000, "text/plain")])
    with pytest.raises(ContractViolation) as raised:
        write(client, "publishMenu")
    assert raised.value.body_excerpt == "x" * 200


@pytest.mark.behaviour("client.contract-violation-detected", "envelope.request-id")
def test_a_violation_keeps_the_request_id_when_there_is_one(sim, client):
    sim.script("publishMenu", [_raw(200, {"request_id": RID})])
    with pytest.raises(ContractViolation) as raised:
        write(client, "publishMenu")
    assert raised.value.request_id == RID
    assert f"request_id: {RID}" in str(raised.value)
