"""The fuzz suite's transport (Schemathesis' requests transport over the guarded session) against hostile answers.

Every case goes through ``case.call(session=...)`` as the fuzz suite sends it; the answer is judged by the
envelope rules the fuzz checks call (``envelope.media`` / ``json_object``), read from ``HttpExchange.from_requests``.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
import schemathesis
from schemathesis.config import SchemathesisConfig

from klikit_harness import contract
from klikit_harness.checking.safety import Guard, GuardedSession, NotHttp
from klikit_harness.partner import envelope
from klikit_harness.partner.exchange import HttpExchange

from .conftest import BOUNDS
from .test_contract_target import REDIRECTS

_SCHEMA = schemathesis.openapi.from_path(contract.openapi_path(), config=SchemathesisConfig.from_dict({}))


def _call(hostile_server: Any, behaviour: str) -> HttpExchange:
    case = _SCHEMA["/menus"]["GET"].Case()
    with GuardedSession(Guard(host="127.0.0.1", bounds=BOUNDS)) as session:
        response = case.call(base_url=hostile_server.url(behaviour), session=session, auth=("pk_hostile", "sk_x"))
    return HttpExchange.from_requests(response)


def _breach(ex: HttpExchange) -> envelope.Breach:
    breach = envelope.media(ex) or envelope.json_object(ex)
    assert breach is not None
    assert breach.behaviour == "envelope.json-body"
    return breach


@pytest.mark.parametrize("behaviour", REDIRECTS)
def test_a_redirect_is_never_followed(hostile_server: Any, behaviour: str) -> None:
    before = len(hostile_server.requests)
    ex = _call(hostile_server, behaviour)
    assert len(hostile_server.requests) == before + 1
    assert "not followed" in _breach(ex).title
    if behaviour.endswith("production"):
        assert "klikit's production host, which the guard forbids" in _breach(ex).title


@pytest.mark.parametrize("behaviour", ["endless", "gzip-bomb", "deflate-bomb"])
def test_a_body_over_the_bound_is_cut_and_names_it(hostile_server: Any, behaviour: str) -> None:
    ex = _call(hostile_server, behaviour)
    assert "KLIKIT_MAX_BODY_BYTES" in _breach(ex).title
    assert len(ex.body) <= BOUNDS.max_body_bytes


@pytest.mark.parametrize("behaviour", ["lying-length", "reset"])
def test_a_body_broken_off_names_it(hostile_server: Any, behaviour: str) -> None:
    assert "the connection broke after" in _breach(_call(hostile_server, behaviour)).title


def test_a_dripping_body_is_cut_at_the_answer_deadline(hostile_server: Any) -> None:
    started = time.monotonic()
    assert "KLIKIT_ANSWER_TIMEOUT" in _breach(_call(hostile_server, "drip")).title
    assert time.monotonic() - started < BOUNDS.answer_timeout + 2


def test_a_target_that_never_answers_times_out(hostile_server: Any) -> None:
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        _call(hostile_server, "never")
    assert time.monotonic() - started < BOUNDS.read_timeout + 2


@pytest.mark.parametrize("behaviour", ["huge-headers", "not-http"])
def test_an_answer_that_is_not_http_is_a_named_failure(hostile_server: Any, behaviour: str) -> None:
    with pytest.raises(NotHttp) as caught:
        _call(hostile_server, behaviour)
    assert caught.value.behaviour == "envelope.json-body"
    assert caught.value.title.startswith("the answer is not valid HTTP")


@pytest.mark.parametrize(
    ("behaviour", "title"),
    [
        ("invalid-utf8", "the body is not valid JSON"),
        ("not-json", "the body is not valid JSON"),
        ("proxy-html", "content-type is text/html"),
        ("duplicate-headers", "content-type is text/html, application/json"),
    ],
)
def test_garbage_in_a_whole_answer_fails_the_envelope_rule(hostile_server: Any, behaviour: str, title: str) -> None:
    assert _breach(_call(hostile_server, behaviour)).title.startswith(title)


@pytest.mark.parametrize("behaviour", ["http10", "malformed-header"])
def test_a_lenient_parse_is_read_whole_and_judged(hostile_server: Any, behaviour: str) -> None:
    # http.client skips a header line without a colon; an HTTP/1.0 answer ends at the close: both are whole
    ex = _call(hostile_server, behaviour)
    assert ex.broken is None
    assert envelope.first_breach(ex) is None
