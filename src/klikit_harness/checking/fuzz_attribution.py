"""Which behaviour a fuzz failure breaks: every Schemathesis failure as the one ``Violation`` it stands for.

Owns: ``violation_of`` (a failure, Schemathesis' built-in ones included,
named by exactly the behaviour broken, or found to be the documented
answer), the behaviour of a header, a payload or a response-schema fragment
from openapi.yaml's annotations, ``judged`` (the test raises that Violation)
and ``most_authoritative``. Must not: decide a contract rule (``checks``
does; this module asks it).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, cast

import schemathesis
from jsonschema import Draft202012Validator
from schemathesis.core.failures import (
    AcceptedNegativeData,
    CustomFailure,
    FailureGroup,
    MalformedJson,
    ServerError,
)
from schemathesis.openapi.checks import (
    AllowHeaderMismatch,
    ContentDeserializationError,
    EnsureResourceAvailability,
    IgnoredAuth,
    JsonSchemaError,
    MalformedMediaType,
    MissingContentType,
    MissingHeaderNotRejected,
    MissingHeaders,
    RejectedPositiveData,
    UndefinedContentType,
    UndefinedStatusCode,
    UnsupportedMethodResponse,
)

from .. import contract
from ..contract import view as schema_view
from . import checks, context, verdicts
from .failures import Violation
from .fuzz_session import Case, FuzzSettings, exchange_of, operation_id_of

#: attribute of a kept Schemathesis failure holding the Violation it stands for
VIOLATION = "klikit_violation"


@contextmanager
def judged() -> Iterator[None]:
    """Raise the Violation of the first kept failure instead of Schemathesis' failure group, so a
    failure counts against the behaviour it breaks and never against every id of the test."""
    try:
        yield
    except FailureGroup as group:
        found = [v for f in group.exceptions if isinstance(v := getattr(f, VIOLATION, None), Violation)]
        if found:
            raise most_authoritative(found) from None
        raise


def most_authoritative(violations: list[Violation]) -> Violation:
    """Of several violations found at once, the one whose behaviour the contract states most firmly
    (documented before assumed before incidental; the first of equals)."""
    rank = {"documented": 0, "contested": 0, "assumed": 1, "incidental": 2}
    known = contract.behaviours()

    def order(violation: Violation) -> int:
        bid = violation.behaviour
        return rank.get(known[bid].status, 3) if bid is not None and bid in known else 4

    return min(violations, key=order)


def _label(case: Case | None, ex: checks.HttpExchange) -> str:
    if case is not None:
        return f"{case.method.upper()} {case.path}"
    return f"{ex.method.upper()} {ex.path}"


#: Schemathesis failures whose behaviour follows from their kind alone
_KIND_BEHAVIOUR: tuple[tuple[tuple[type, ...], str, str], ...] = (
    ((ServerError,), "input.no-server-error", "2xx, or a 4xx of errors.yaml naming what is wrong"),
    ((UndefinedStatusCode,), "envelope.code-status-catalogue", "a status the operation documents (errors.yaml)"),
    (
        (MissingContentType, UndefinedContentType, MalformedMediaType, ContentDeserializationError, MalformedJson),
        "envelope.json-body",
        "a JSON object served as application/json",
    ),
    (
        (UnsupportedMethodResponse, AllowHeaderMismatch),
        "routing.method-not-allowed-405",
        "405 method_not_allowed with an Allow header listing the path's methods",
    ),
)


def violation_of(
    failure: Any, case: Case | None, response: schemathesis.Response, settings: FuzzSettings
) -> Violation | None:
    """The Violation one Schemathesis failure stands for, naming exactly the behaviour broken;
    None when the answer is the one the contract documents.

    - the harness's own ``klikit_*`` checks raise Violations already;
    - "schema-valid request rejected", "schema-violating request accepted" and
      "missing required header accepted" are judged by the input oracle
      (``checks.input_answer``) on the request as sent: the constraint the request
      broke names the behaviour (its ``x-behaviour`` in openapi.yaml), or the
      permission a rejected request relied on; the answer the reference
      semantics give (2.0 integers rejected, one of brand_id / branch_id
      rejected, unknown query parameters ignored, a missing Idempotency-Key
      accepted under the concepts reading) is no failure;
    - a response that does not match its schema: the behaviour of the schema
      fragment that failed (validated against the raw contract, so the
      failure names the payload's own behaviour, e.g. ``populate.result-counts``);
    - a 2xx status the operation does not list: the behaviour that fixes its
      success status (``x-behaviours: {status}``, mostly the incidental
      ``response.success-status``);
    - a response header: its header's annotation; "created resource not found":
      the creating operation's success payload, unless its 404 is explained by
      ids not known to be the caller's (Schemathesis applies a link's body only
      some of the time);
    - every other kind by what it is (``_KIND_BEHAVIOUR``).
    """
    ex = exchange_of(response)
    ctx = settings.ctx
    op_id = operation_id_of(case) if case is not None else verdicts.operation_of(ex, ctx)

    def made(title: str, behaviour: str | None, documented: str) -> Violation:
        return Violation.of(
            ex,
            f"{_label(case, ex)}: {title}",
            behaviour=behaviour,
            documented=documented,
            redact=ctx.redact,
            origin=ctx.origin,
        )

    if isinstance(failure, CustomFailure):
        if isinstance(failure.exception, Violation):
            return failure.exception
        return made(failure.title, None, str(failure.message)[:300])
    if isinstance(failure, (RejectedPositiveData, AcceptedNegativeData, MissingHeaderNotRejected)):
        if ex.status >= 500 or ex.status == 429:
            return None  # not_a_server_error and klikit_rate_limited_answer report these
        try:
            checks.input_answer(ex, ctx)
        except Violation as found:
            found.title = f"{failure.title}: {found.title}"
            return found
        if not isinstance(verdicts.expected_answer(ex, ctx), verdicts.Unknown):
            return None
        behaviour = (
            _header_behaviour(failure.header_name, "required")
            if isinstance(failure, MissingHeaderNotRejected)
            else "input.wrong-types"
        )
        return made(failure.title, behaviour, str(failure.message)[:300])
    if isinstance(failure, EnsureResourceAvailability):
        verdict = verdicts.expected_answer(ex, ctx)
        if not isinstance(verdict, verdicts.Valid) or verdict.ids_outside:
            # A request that names ids not known to be the caller's, or that has faults of its own (whose
            # answer input_answer judges: a 404 may be ownership checked first), says nothing of the
            # created resource.
            return None
        return made(failure.title, _payload_behaviour(failure.created_with), "a created resource is found by its id")
    if isinstance(failure, IgnoredAuth):
        behaviour = "auth.missing" if str(failure.scenario) == "no_auth" else "auth.invalid-credential"
        return made(failure.title, behaviour, "401 for a request without valid credentials")
    if isinstance(failure, MissingHeaders):
        names = list(failure.missing_headers)
        return made(
            failure.title,
            _header_behaviour(names[0] if names else "", "required", op_id, ex.status),
            f"headers {', '.join(names)}",
        )
    if isinstance(failure, JsonSchemaError):
        if failure.title == "Response header does not conform to the schema":
            return made(failure.title, _bad_header_behaviour(op_id, ex), "response headers as documented")
        return made(failure.title, _response_behaviour(op_id, ex, ctx), "the response schema of openapi.yaml")
    if isinstance(failure, UndefinedStatusCode) and 200 <= ex.status < 300 and op_id:
        # a success with another 2xx than the contract's: the behaviour that fixes the success status
        fixed = schema_view.success_status_behaviour(op_id)
        if fixed is not None:
            return made(
                failure.title, fixed, "the success status openapi.yaml gives (any 2xx where only success is stated)"
            )
    for kinds, behaviour, documented in _KIND_BEHAVIOUR:
        if isinstance(failure, kinds):
            return made(str(getattr(failure, "title", "")), behaviour, documented)
    return made(str(getattr(failure, "title", type(failure).__name__)), None, str(failure)[:300])


def _response_headers(op_id: str | None, status: int) -> dict[str, Mapping[str, Any]]:
    doc = contract.openapi()
    out: dict[str, Mapping[str, Any]] = {}
    for item in doc["paths"].values():
        for op in item.values():
            if not isinstance(op, Mapping) or op.get("operationId") != op_id:
                continue
            responses = op.get("responses") or {}
            key = schema_view.response_key(responses, status)
            response = responses.get(key) if key else None
            response = _deref(doc, response) if isinstance(response, Mapping) else {}
            for name, header in (response.get("headers") or {}).items():
                out[name.lower()] = _deref(doc, header)
    return out


def _deref(doc: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    while isinstance(node, Mapping) and "$ref" in node:
        target: Any = doc
        for part in str(node["$ref"]).removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _header_behaviour(name: str, keyword: str, op_id: str | None = None, status: int | None = None) -> str:
    """The behaviour a header's ``keyword`` encodes (Idempotency-Key and Authorization on requests)."""
    lowered = name.lower()
    if lowered == "authorization":
        return "auth.missing"
    if lowered == "idempotency-key":
        param = contract.openapi()["components"]["parameters"]["IdempotencyKey"]
        return schema_view.behaviour_in((param,), keyword) or "idempotency.key-required-on-writes"
    header = _response_headers(op_id, status or 0).get(lowered) if op_id else None
    if header is not None:
        return schema_view.behaviour_in((header,), keyword) or "envelope.code-status-catalogue"
    return "envelope.code-status-catalogue"


def _bad_header_behaviour(op_id: str | None, ex: checks.HttpExchange) -> str:
    """The behaviour of the first response header whose value breaks its schema."""
    for name, header in _response_headers(op_id, ex.status).items():
        raw = ex.headers.get(name)
        schema = header.get("schema") or {}
        if raw is None:
            continue
        value: Any = int(raw) if schema.get("type") == "integer" and raw.strip().lstrip("-").isdigit() else raw
        if not Draft202012Validator(schema).is_valid(value):
            return (
                schema_view.behaviour_in(
                    (header, schema), next(iter(e.validator for e in Draft202012Validator(schema).iter_errors(value)))
                )
                or "envelope.code-status-catalogue"
            )
    return "envelope.code-status-catalogue"


def _payload_behaviour(label: str) -> str:
    """The behaviour of the success payload of the operation labelled ``METHOD /path``."""
    method, _, path = str(label).partition(" ")
    for op in contract.operations().values():
        if op.method == method.upper() and op.path == path:
            name = schema_view.response_schema_name(op.operation_id, 200)
            envelope = contract.openapi()["components"]["schemas"].get(name or "", {})
            data = _deref(contract.openapi(), (envelope.get("properties") or {}).get("data") or {})
            return str(data.get(schema_view.ANNOTATION) or "section.create-returns-id")
    return "section.create-returns-id"


def _response_behaviour(op_id: str | None, ex: checks.HttpExchange, ctx: context.Context) -> str:
    """The behaviour of the response-schema fragment the answer breaks (against the raw contract)."""
    name = schema_view.response_schema_name(op_id, ex.status) if op_id else None
    if name is None:
        return "envelope.code-status-catalogue"
    validator = contract.body_validator(name)
    root = cast(Mapping[str, Any], validator.schema)
    broken = [b for error in validator.iter_errors(ex.json) for b in schema_view.error_behaviours(error, root)]
    schema = contract.openapi()["components"]["schemas"][name]
    return schema_view.strongest(broken, ctx.judgement) or str(schema.get(schema_view.ANNOTATION))
