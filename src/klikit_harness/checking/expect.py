"""Expectations the contract suite states about a target's answers.

Owns: turning "this response must be X" into a ``Violation`` that carries the
behaviour id, what was received, what the contract documents, the
``request_id`` and a curl reproduction. Statuses and codes come from
``contracts/errors.yaml`` for the reading in force; the envelope rules are
``envelope``'s (the client and the fuzz checks read the same ones). Must not:
send requests.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import httpx

from .. import contract
from ..contract import Reading
from ..contract import view as schema_view
from ..partner import envelope as rules
from ..partner.envelope import Breach
from ..partner.exchange import HttpExchange
from .failures import Transient, Violation
from .target import OPERATION, TargetClient

#: answers of a gateway in front of a real target: trouble on the way, not the API's verdict
GATEWAY_STATUSES = frozenset({502, 503, 504})


def exchange(response: httpx.Response) -> HttpExchange:
    """The response as the harness's exchange record (what the envelope rules read)."""
    return HttpExchange.from_httpx(response)


def request_id(response: httpx.Response) -> str | None:
    """The answer's ``request_id``, if it has one."""
    return exchange(response).request_id


def _fail(
    client: TargetClient,
    response: httpx.Response,
    title: str,
    behaviour: str,
    documented: str,
    expected: dict[str, Any] | None = None,
) -> Violation:
    # the exchange as the client recorded it: its reproduction signs with the client's credential variables
    ex = HttpExchange.from_httpx(response, credential=client.variable or "")
    return Violation.of(
        ex, title, behaviour=behaviour, documented=documented, redact=client.target.redactor, expected=expected
    )


def _breach(client: TargetClient, response: httpx.Response, breach: Breach) -> Violation:
    return _fail(client, response, breach.title, breach.behaviour, breach.documented, {"check": breach.check})


def envelope(client: TargetClient, response: httpx.Response) -> dict[str, Any]:
    """The response is the documented envelope (checked on every answer the suite reads); returns its body."""
    ex = exchange(response)
    breach = rules.first_breach(ex, client.target.reading, rules.SHAPE_RULES)
    if breach is not None:
        raise _breach(client, response, breach)
    return ex.envelope or {}  # an object: json_object held (a HEAD answer has no body)


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
    throttled = rules.is_rate_limited(status, target.reading)
    if not target.is_standin and (status in GATEWAY_STATUSES or (throttled and client.capped)):
        request = response.request
        raise Transient(
            f"HTTP {status} to {request.method} {request.url.path}: "
            + ("the target throttled the harness (lower KLIKIT_MAX_RPS)" if throttled else "gateway trouble")
        )
    source = _source()
    ex = exchange(response)
    for group in ((rules.media,), rules.SHAPE_RULES, (rules.catalogued,)):
        # A code of either vocabulary with its catalogue status passes here: which reading a
        # contested answer follows is judged by the check of that behaviour (``contested``).
        reading = None if group == (rules.catalogued,) else target.reading
        breach = rules.first_breach(ex, reading, group)
        if breach is not None:
            target.settle(_breach(client, response, breach), source)
            if group is rules.SHAPE_RULES:
                return
    not_allowed = contract.errors().code_for("method_not_allowed", target.reading).status
    if status == not_allowed and not response.headers.get("allow", "").strip():
        target.settle(
            _fail(
                client, response, "405 without an Allow header", "routing.method-not-allowed-405", "Allow: <methods>"
            ),
            source,
        )


def success(response: httpx.Response) -> bool:
    """Is the answer a success? Any 2xx: DESIGN.md and the envelope page state only "2xx" (200, 201, 204)."""
    return rules.is_success(response.status_code)


def ok(client: TargetClient, response: httpx.Response, behaviour: str) -> Any:
    """A 2xx envelope; returns ``data``.

    A non-2xx answer breaks ``behaviour``; a 2xx outside the envelope breaks the
    envelope rule it misses (``envelope.*``), never ``behaviour``. Any 2xx is a
    success; a 2xx other than the one openapi.yaml lists (200) is settled on the
    behaviour that fixes the operation's success status (mostly the incidental
    ``response.success-status``: enforced on the stand-in, observed elsewhere).
    """
    if not success(response):
        raise _fail(
            client,
            response,
            f"expected success, got {response.status_code}",
            behaviour,
            "2xx with data",
            {"status": "2xx"},
        )
    data = envelope(client, response)["data"]
    _success_status(client, response)
    return data


def _success_status(client: TargetClient, response: httpx.Response) -> None:
    operation = response.extensions.get(OPERATION)
    fixed = schema_view.success_status_behaviour(str(operation)) if operation else None
    listed = schema_view.listed_success_status(str(operation)) if fixed else None
    if fixed is None or listed is None or response.status_code == listed:
        return
    client.target.settle(
        _fail(
            client,
            response,
            f"{operation} succeeded with HTTP {response.status_code}, not {listed}",
            fixed,
            f"HTTP {listed}",
            {"status": listed},
        ),
        _source(),
    )


def members(data: Any, *names: str) -> dict[str, Any]:
    """The members ``names`` of a payload (None where absent, or where the payload is no object).

    Checks compare these, never a whole payload: a target may carry further
    members (nothing states "nothing else") and leave out undocumented ones.
    """
    return {name: data.get(name) if isinstance(data, dict) else None for name in names}


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
    breach = rules.catalogued(exchange(response), reading)
    if breach is not None:
        raise _breach(client, response, breach)
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
    err = exchange(response).error
    code = err.get("code") if err is not None else None
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
    return Violation.of(
        client.last,
        title,
        behaviour=behaviour,
        documented=documented,
        redact=client.target.redactor,
        received=str(received),
    )
