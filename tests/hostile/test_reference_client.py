"""The reference client (KlikitClient) against hostile answers: typed errors naming the broken behaviour, on time."""

from __future__ import annotations

import base64
import time
from typing import Any

import pytest

from klikit_harness import KlikitClient
from klikit_harness.partner.client import RetryPolicy
from klikit_harness.partner.errors import ConnectionLost, ContractViolation, RequestTimeout

from .conftest import BOUNDS
from .test_contract_target import REDIRECTS


def _client(hostile_server: Any, behaviour: str) -> KlikitClient:
    return KlikitClient(
        hostile_server.url(behaviour),
        "pk_hostile",
        "sk_hostile_secret",
        bounds=BOUNDS,
        timeout=BOUNDS.httpx_timeout(),
        retry=RetryPolicy(initial_delay=0.0, max_delay=0.0, max_attempts=1),
    )


def _violation(hostile_server: Any, behaviour: str) -> ContractViolation:
    with pytest.raises(ContractViolation) as caught:
        _client(hostile_server, behaviour).call("getMenu")
    assert caught.value.behaviour == "envelope.json-body"
    return caught.value


@pytest.mark.parametrize("behaviour", REDIRECTS)
def test_a_redirect_is_a_contract_violation_never_followed(hostile_server: Any, behaviour: str) -> None:
    before = len(hostile_server.requests)
    assert "not followed" in _violation(hostile_server, behaviour).reason
    assert len(hostile_server.requests) == before + 1


@pytest.mark.parametrize("behaviour", ["endless", "gzip-bomb", "deflate-bomb"])
def test_a_body_over_the_bound_is_a_contract_violation_naming_it(hostile_server: Any, behaviour: str) -> None:
    violation = _violation(hostile_server, behaviour)
    assert "KLIKIT_MAX_BODY_BYTES" in violation.reason
    assert len(violation.body_excerpt) <= 200


def test_a_parser_error_quoting_the_credential_names_no_secret(hostile_server: Any) -> None:
    violation = _violation(hostile_server, "echo-malformed")
    text = f"{violation} {violation.reason} {violation.body_excerpt}"
    encoded = base64.b64encode(b"pk_hostile:sk_hostile_secret").decode()
    assert "illegal header line" in text
    assert "sk_hostile_secret" not in text and encoded not in text, text


@pytest.mark.parametrize("behaviour", ["huge-headers", "malformed-header", "not-http"])
def test_an_answer_that_is_not_http_is_a_contract_violation(hostile_server: Any, behaviour: str) -> None:
    assert _violation(hostile_server, behaviour).reason.startswith("the answer is not valid HTTP")


@pytest.mark.parametrize("behaviour", ["lying-length", "reset"])
def test_a_body_broken_off_is_connection_lost_with_the_key(hostile_server: Any, behaviour: str) -> None:
    with pytest.raises(ConnectionLost):
        _client(hostile_server, behaviour).call("getMenu")


@pytest.mark.parametrize(
    ("behaviour", "limit"),
    [("never", BOUNDS.read_timeout), ("drip-head", BOUNDS.answer_timeout), ("drip", BOUNDS.answer_timeout)],
)
def test_a_stuck_answer_is_a_request_timeout_on_time(hostile_server: Any, behaviour: str, limit: float) -> None:
    started = time.monotonic()
    with pytest.raises((RequestTimeout, ContractViolation)) as caught:
        _client(hostile_server, behaviour).call("getMenu")
    assert time.monotonic() - started < limit + 2
    if isinstance(caught.value, ContractViolation):  # a body cut at the deadline: the answer is not whole
        assert "KLIKIT_ANSWER_TIMEOUT" in caught.value.reason


@pytest.mark.parametrize("behaviour", ["invalid-utf8", "not-json", "proxy-html", "duplicate-headers"])
def test_garbage_in_a_whole_answer_is_a_contract_violation(hostile_server: Any, behaviour: str) -> None:
    _violation(hostile_server, behaviour)


def test_an_http_1_0_answer_is_read(hostile_server: Any) -> None:
    assert _client(hostile_server, "http10").call("getMenu").request_id == "req-hostile-1"
