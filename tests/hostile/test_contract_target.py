"""The contract suite's target client against hostile answers: each is a named failure, a bounded read, on time."""

from __future__ import annotations

import base64
import time
from typing import Any

import httpx
import pytest

from klikit_harness.checking.failures import Violation
from klikit_harness.partner import envelope

from .conftest import BOUNDS

REDIRECTS = [
    f"redirect-{code}-{where}" for code in (301, 302, 307, 308) for where in ("path", "host", "production", "scheme")
]


def _violation(target_for: Any, behaviour: str) -> tuple[Violation, Any]:
    target = target_for(behaviour)
    with target.client() as client, pytest.raises(Violation) as caught:
        client.call("getMenu")
    return caught.value, client.last


@pytest.mark.parametrize("behaviour", REDIRECTS)
def test_a_redirect_is_never_followed_and_fails_the_answer(
    target_for: Any, hostile_server: Any, behaviour: str
) -> None:
    before = len(hostile_server.requests)
    violation, last = _violation(target_for, behaviour)
    assert violation.behaviour == "envelope.json-body"
    assert "not followed" in violation.title
    assert len(hostile_server.requests) == before + 1  # one request: the redirect was not followed
    where = behaviour.rsplit("-", 1)[1]
    expected = {
        "path": "never follows one)",
        "host": "another host, elsewhere.invalid, which the guard forbids",
        "production": "klikit's production host, which the guard forbids",
        "scheme": "ftp: URL, which the guard forbids",
    }[where]
    assert expected in violation.title
    assert last.status == int(behaviour.split("-")[1])


@pytest.mark.parametrize("behaviour", ["endless", "gzip-bomb", "deflate-bomb"])
def test_a_body_over_the_bound_is_cut_there_and_fails_naming_the_bound(target_for: Any, behaviour: str) -> None:
    started = time.monotonic()
    violation, last = _violation(target_for, behaviour)
    assert violation.behaviour == "envelope.json-body"
    assert "KLIKIT_MAX_BODY_BYTES" in violation.title and "256 KiB" in violation.title
    assert len(last.body) <= BOUNDS.max_body_bytes
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("behaviour", ["huge-headers", "malformed-header", "not-http"])
def test_an_answer_that_is_not_http_is_a_named_failure(target_for: Any, behaviour: str) -> None:
    violation, last = _violation(target_for, behaviour)
    assert violation.behaviour == "envelope.json-body"
    assert violation.title.startswith("the answer is not valid HTTP")
    assert last.status == 0


def test_a_parser_error_quoting_the_credential_names_no_secret(target_for: Any) -> None:
    violation, _ = _violation(target_for, "echo-malformed")
    assert violation.title.startswith("the answer is not valid HTTP (illegal header line")
    text = str(violation)
    encoded = base64.b64encode(b"pk_hostile:sk_hostile_secret").decode()
    assert "sk_hostile_secret" not in text and encoded not in text, text


@pytest.mark.parametrize("behaviour", ["lying-length", "reset"])
def test_a_body_broken_off_is_a_named_failure(target_for: Any, behaviour: str) -> None:
    violation, last = _violation(target_for, behaviour)
    assert violation.behaviour == "envelope.json-body"
    assert "the connection broke after" in violation.title
    assert last.status == 200


def test_a_dripping_body_is_cut_at_the_answer_deadline(target_for: Any) -> None:
    started = time.monotonic()
    violation, _ = _violation(target_for, "drip")
    assert "KLIKIT_ANSWER_TIMEOUT" in violation.title
    assert time.monotonic() - started < BOUNDS.answer_timeout + 2


def test_dripping_headers_time_out_at_the_answer_deadline(target_for: Any) -> None:
    started = time.monotonic()
    with target_for("drip-head").client() as client, pytest.raises(httpx.ReadTimeout, match="KLIKIT_ANSWER_TIMEOUT"):
        client.call("getMenu")
    assert time.monotonic() - started < BOUNDS.answer_timeout + 2


def test_a_target_that_never_answers_times_out_at_the_read_timeout(target_for: Any) -> None:
    started = time.monotonic()
    with target_for("never").client() as client, pytest.raises(httpx.ReadTimeout):
        client.call("getMenu")
    assert time.monotonic() - started < BOUNDS.read_timeout + 2
    assert client.last is not None and client.last.status == 0  # kept for the report: no answer


@pytest.mark.parametrize(
    ("behaviour", "title"),
    [
        ("invalid-utf8", "the body is not valid JSON"),
        ("not-json", "the body is not valid JSON"),
        ("proxy-html", "content-type is text/html"),
        ("duplicate-headers", "content-type is text/html, application/json"),
    ],
)
def test_garbage_in_a_whole_answer_fails_the_envelope_rule(target_for: Any, behaviour: str, title: str) -> None:
    with target_for(behaviour).client() as client:
        client.call("getMenu")
    breach = envelope.first_breach(client.last)
    assert breach is not None and breach.behaviour == "envelope.json-body"
    assert breach.title.startswith(title)


def test_an_http_1_0_answer_is_read_whole(target_for: Any) -> None:
    with target_for("http10").client() as client:
        answer = client.call("getMenu")
    assert answer.json()["request_id"] == "req-hostile-1"
    assert envelope.first_breach(client.last) is None
