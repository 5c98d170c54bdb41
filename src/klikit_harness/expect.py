"""Expectations the contract suite states about a target's answers.

Owns: turning "this response must be X" into a ``Violation`` that carries the
behaviour id, what was received, what the contract documents, the
``request_id`` and a curl reproduction. Statuses and codes come from
``contracts/errors.yaml`` for the reading in force. Must not: send requests.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import httpx

from . import contract
from .contract import Reading
from .failures import Transient, Violation
from .target import TargetClient

#: answers of a gateway in front of a real target: trouble on the way, not the API's verdict
GATEWAY_STATUSES = frozenset({502, 503, 504})
JSON_TYPE = "application/json"


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _rid(response: httpx.Response) -> str | None:
    body = _body(response)
    rid = body.get("request_id") if isinstance(body, dict) else None
    return rid if isinstance(rid, str) else None


def _fail(
    client: TargetClient,
    response: httpx.Response,
    title: str,
    behaviour: str,
    documented: str,
    expected: dict[str, Any] | None = None,
) -> Violation:
    text = response.text[:300].replace("\n", " ")
    return Violation(
        title,
        behaviour=behaviour,
        received=client.target.redactor(
            f"HTTP {response.status_code} {response.headers.get('content-type', '')}: {text}"
        ),
        documented=documented,
        request_id=_rid(response),
        reproduction=client.last.curl() if client.last else None,
        expected=expected,
    )


def envelope(client: TargetClient, response: httpx.Response) -> dict[str, Any]:
    """The response is the documented envelope (checked on every answer the suite reads)."""
    body = _body(response)
    if not isinstance(body, dict):
        raise _fail(
            client,
            response,
            "response is not a JSON object",
            "envelope.json-body",
            "a JSON envelope",
            {"check": "json_body"},
        )
    rid = body.get("request_id")
    if not isinstance(rid, str) or not rid:
        raise _fail(
            client,
            response,
            "response has no request_id",
            "envelope.request-id",
            "a non-empty string request_id",
            {"check": "request_id"},
        )
    if 200 <= response.status_code < 300:
        if "data" not in body or "error" in body:
            raise _fail(
                client,
                response,
                "2xx without data (or with error)",
                "envelope.success-has-data",
                "{request_id, data}",
                {"check": "success_envelope"},
            )
    else:
        err = body.get("error")
        if (
            not isinstance(err, dict)
            or not isinstance(err.get("code"), str)
            or not isinstance(err.get("message"), str)
            or "data" in body
        ):
            raise _fail(
                client,
                response,
                "error response without the error object",
                "envelope.error-shape",
                "{request_id, error: {code, message, details?}}",
                {"check": "error_envelope"},
            )
    return body


def every_answer(client: TargetClient, response: httpx.Response) -> None:
    """What every answer must be, successes included (``Target.answer_checks`` runs it on each one).

    A real target's gateway trouble (502/503/504) and a 429 that no burst check
    asked for raise ``Transient``: the check could not judge its behaviour, and
    the plugin runs it once more. Otherwise: ``Content-Type: application/json``
    and the envelope (``envelope.*``), a catalogued code with its status, and an
    ``Allow`` header on a 405 (``routing.method-not-allowed-405``). Each rule is
    settled: enforced ones stop the check, observed ones are recorded.
    """
    target = client.target
    status = response.status_code
    if not target.is_standin and (status in GATEWAY_STATUSES or (status == 429 and client.capped)):
        request = response.request
        raise Transient(
            f"HTTP {status} to {request.method} {request.url.path}: "
            + ("the target throttled the harness (lower KLIKIT_MAX_RPS)" if status == 429 else "gateway trouble")
        )
    source = _source()
    ctype = response.headers.get("content-type", "")
    if ctype.split(";")[0].strip().lower() != JSON_TYPE:
        target.settle(
            _fail(
                client, response, f"answer's Content-Type is {ctype or '(none)'}", "envelope.json-body",
                f"Content-Type: {JSON_TYPE} on every answer",
            ),
            source,
        )
    try:
        body = envelope(client, response)
    except Violation as violation:
        target.settle(violation, source)
        return
    if not 200 <= status < 300:
        code = body["error"]["code"]
        catalogued = contract.errors().lookup(code)
        if catalogued is None or catalogued.status != status:
            target.settle(
                _fail(
                    client, response, f"{code} is not answered with the catalogue's status",
                    "envelope.code-status-catalogue",
                    f"HTTP {catalogued.status} {code}" if catalogued else "a code of contracts/errors.yaml",
                ),
                source,
            )
    if status == 405 and not response.headers.get("allow", "").strip():
        target.settle(
            _fail(
                client, response, "405 without an Allow header", "routing.method-not-allowed-405", "Allow: <methods>"
            ),
            source,
        )


def ok(client: TargetClient, response: httpx.Response, behaviour: str) -> Any:
    """A 2xx envelope; returns ``data``.

    A non-2xx answer breaks ``behaviour``; a 2xx outside the envelope breaks the
    envelope rule it misses (``envelope.*``), never ``behaviour``.
    """
    if not 200 <= response.status_code < 300:
        raise _fail(
            client,
            response,
            f"expected success, got {response.status_code}",
            behaviour,
            "2xx with data",
            {"status": "2xx"},
        )
    return envelope(client, response)["data"]


def error(
    client: TargetClient,
    response: httpx.Response,
    meaning: str,
    behaviour: str,
    *,
    reading: Reading | None = None,
    field: str | None = None,
) -> dict[str, Any]:
    """An error envelope with the code (and the catalogue's status) for ``meaning`` in the reading."""
    reading = reading or client.target.reading
    entry = contract.errors().code_for(meaning, reading)
    documented = f"HTTP {entry.status} {entry.code}"
    expected: dict[str, Any] = {"status": entry.status, "code": entry.code}
    if response.status_code != entry.status:
        raise _fail(
            client, response, f"expected {documented}, got HTTP {response.status_code}", behaviour, documented, expected
        )
    body = envelope(client, response)
    code = body["error"]["code"]
    if code != entry.code:
        raise _fail(client, response, f"expected code {entry.code}, got {code}", behaviour, documented, expected)
    catalogued = contract.errors().lookup(code)
    if catalogued is None or catalogued.status != response.status_code:
        raise _fail(
            client,
            response,
            f"{code} is answered with a status the catalogue does not give it",
            "envelope.code-status-catalogue",
            documented,
            {"check": "code_in_catalogue"},
        )
    if field is not None and field not in str(body["error"].get("details", "")):
        # a secondary rule: on a target that only observes it, the check goes on
        client.target.settle(
            _fail(
                client,
                response,
                f"error details do not name {field}",
                "schedule.invalid-details-field",
                f"details naming {field}",
                {**expected, "details_field": field},
            ),
            _source(),
        )
    return body


def _source() -> str:
    """The running test's node id (pytest sets it), for observations."""
    return os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0]


@contextlib.contextmanager
def settled(client: TargetClient) -> Iterator[None]:
    """Check a rule without stopping the test where the target only observes it.

    A ``Violation`` raised inside the block fails the test when its behaviour is
    enforced on this run; otherwise it is recorded as an observation and the
    test goes on with its next check.
    """
    try:
        yield
    except Violation as violation:
        client.target.settle(violation, _source())


def reading_of(response: httpx.Response, readings: dict[str, tuple[int, str]]) -> str | None:
    """Which reading an answer follows: ``readings`` maps a reading to its (status, code)."""
    body = _body(response)
    code = body.get("error", {}).get("code") if isinstance(body, dict) and isinstance(body.get("error"), dict) else None
    for name, (status, expected) in readings.items():
        if response.status_code == status and code == expected:
            return name
    return None


def contested(client: TargetClient, response: httpx.Response, behaviour: str, meanings: dict[str, str]) -> None:
    """Record which reading a contested answer follows, then hold it to the chosen one.

    ``meanings`` maps each reading to the reference code it expects (e.g. a
    revoked credential: reference → auth_revoked, concepts → auth_invalid_credential).
    """
    catalogue = contract.errors()
    expected = {
        reading: (catalogue.code_for(m, reading).status, catalogue.code_for(m, reading).code)  # type: ignore[arg-type]
        for reading, m in meanings.items()
    }
    observed = reading_of(response, expected)
    client.target.observe_reading(behaviour, observed or "neither")
    chosen = client.target.reading
    error(client, response, meanings[chosen], behaviour, reading=chosen)


def mismatch(client: TargetClient, title: str, behaviour: str, received: Any, documented: Any) -> Violation:
    """A ``Violation`` about state read back from the target, with the last exchange as its reproduction."""
    last = client.last
    return Violation(
        title,
        behaviour=behaviour,
        received=client.target.redactor(str(received)),
        documented=documented,
        request_id=last.request_id if last else None,
        reproduction=last.curl() if last else None,
    )
