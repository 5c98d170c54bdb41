"""Contract checks over one HTTP exchange: plain functions that raise a typed ``Violation``.

Owns: the check registry (``CHECKS``, ``@check``), the checks every answer
must pass — the envelope / catalogue / rate-limit ones state the rules of
``envelope`` (their one definition), plus request_id uniqueness, no 5xx and no
echoed secret — and ``input_answer``, which holds an answer to the verdict of
the input oracle (``verdicts.expected_answer``: what the reference semantics
say a given request must be answered with). Must not: send requests, import
Schemathesis or read the stand-in's internals; adapters (the fuzz hooks, other
suites) build an ``HttpExchange`` (``exchange``, re-exported here) and a
``context.Context`` and call these.

Every failure is a ``failures.Violation`` subclass whose message carries a
title, ``Received:`` / ``Documented:`` lines, the behaviour id, the
``request_id`` and a curl reproduction without credentials.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .. import contract
from ..contract import view as schema_view
from ..core import validation
from ..core import variants as v
from ..partner import envelope
from ..partner.basic import basic_token
from ..partner.envelope import Breach
from ..partner.envelope import is_success as _is_success
from ..partner.exchange import HttpExchange
from .context import Context
from .failures import Violation
from .verdicts import (
    NO_CREDENTIAL,
    Either,
    Fault,
    Reject,
    Unknown,
    Valid,
    api_request,
    expected_answer,
    fault_of,
    route_table,
)

__all__ = [
    "CHECKS",
    "CatalogueViolation",
    "Check",
    "DuplicateRequestId",
    "EnvelopeViolation",
    "HttpExchange",
    "InputAnswerViolation",
    "RateLimitViolation",
    "SecretEchoed",
    "ServerErrorViolation",
    "check",
]


# ------------------------------------------------------------------ failures


class EnvelopeViolation(Violation):
    """The answer is not the documented JSON envelope."""


class CatalogueViolation(Violation):
    """An error code outside errors.yaml, or a status other than the catalogue's for the code."""


class ServerErrorViolation(Violation):
    """A 5xx answered a request a client can send."""


class RateLimitViolation(Violation):
    """A 429 without the envelope or without an integer ``Retry-After`` of at least 1."""


class SecretEchoed(Violation):
    """The answer carries the credential's secret (or its Basic-auth encoding)."""


class DuplicateRequestId(Violation):
    """Two different requests were answered with the same ``request_id``."""


class InputAnswerViolation(Violation):
    """The answer is not the one the reference semantics give this request."""


# ------------------------------------------------------------------ registry

CheckFunction = Callable[[HttpExchange, Context], None]


@dataclass(frozen=True)
class Check:
    name: str
    function: CheckFunction
    behaviours: tuple[str, ...]
    doc: str


CHECKS: dict[str, Check] = {}


def check(name: str, *behaviours: str) -> Callable[[CheckFunction], CheckFunction]:
    """Register a check under ``name``; a second check of the same name is refused."""

    def register(function: CheckFunction) -> CheckFunction:
        if name in CHECKS:
            raise ValueError(f"a check named {name!r} is already registered ({CHECKS[name].function.__qualname__})")
        unknown = [b for b in behaviours if b not in contract.behaviours()]
        if unknown:
            raise ValueError(f"check {name!r} names unknown behaviour ids {unknown}: add them to behaviours.yaml")
        CHECKS[name] = Check(name, function, behaviours, (function.__doc__ or "").strip().splitlines()[0])
        return function

    return register


def _fail(
    kind: type[Violation], ex: HttpExchange, ctx: Context, title: str, behaviour: str, documented: str
) -> Violation:
    # the expectation is the check that failed: `klikit-harness reproduce` runs it again on a re-sent exchange
    caller = sys._getframe(1).f_code
    name = next((c.name for c in CHECKS.values() if getattr(c.function, "__code__", None) is caller), None)
    return kind.of(
        ex,
        title,
        behaviour=behaviour,
        documented=documented,
        redact=ctx.redact,
        origin=ctx.origin,
        expected={"check": name} if name else None,
    )


def _breached(kind: type[Violation], ex: HttpExchange, ctx: Context, breach: Breach | None) -> None:
    """Raise ``breach`` (a rule of ``envelope``) as a ``kind`` naming the check that states the rule."""
    if breach is None:
        return
    raise kind.of(
        ex,
        breach.title,
        behaviour=breach.behaviour,
        documented=breach.documented,
        redact=ctx.redact,
        origin=ctx.origin,
        expected={"check": breach.check},
    )


# -------------------------------------------------------------- the checks
# The envelope and rate-limit rules are envelope.py's: these checks state them for the fuzz suite.


@check("json_body", "envelope.json-body")
def json_body(ex: HttpExchange, ctx: Context) -> None:
    """Every answer is a JSON object served as application/json."""
    _breached(EnvelopeViolation, ex, ctx, envelope.media(ex) or envelope.json_object(ex))


@check("request_id", "envelope.request-id")
def request_id(ex: HttpExchange, ctx: Context) -> None:
    """Every JSON answer carries a non-empty string request_id."""
    _breached(EnvelopeViolation, ex, ctx, envelope.request_id(ex))


@check("request_id_distinct", "envelope.request-id")
def request_id_distinct(ex: HttpExchange, ctx: Context) -> None:
    """Different requests are answered with different request_ids (replays excepted)."""
    rid = ex.request_id
    if not rid or ex.headers.get("idempotent-replayed", "").lower() == "true":
        return
    if ctx.request_ids.seen(rid, ex):
        raise _fail(
            DuplicateRequestId,
            ex,
            ctx,
            f"request_id {rid!r} was already used by another answer",
            "envelope.request-id",
            "a request_id per request (only an idempotent replay repeats one)",
        )


@check("success_envelope", "envelope.success-has-data")
def success_envelope(ex: HttpExchange, ctx: Context) -> None:
    """A 2xx answer has data and no error."""
    _breached(EnvelopeViolation, ex, ctx, envelope.success_shape(ex))


@check("error_envelope", "envelope.error-shape")
def error_envelope(ex: HttpExchange, ctx: Context) -> None:
    """A non-2xx answer has error{code, message, details?} and no data."""
    _breached(EnvelopeViolation, ex, ctx, envelope.error_shape(ex))


@check("code_in_catalogue", "envelope.code-status-catalogue")
def code_in_catalogue(ex: HttpExchange, ctx: Context) -> None:
    """error.code is a code of errors.yaml for the reading, answered with the catalogue's status."""
    _breached(CatalogueViolation, ex, ctx, envelope.catalogued(ex, ctx.reading))


@check("no_server_error", "input.no-server-error")
def no_server_error(ex: HttpExchange, ctx: Context) -> None:
    """No request a client can send is answered with a 5xx."""
    if ex.status >= 500:
        raise _fail(
            ServerErrorViolation,
            ex,
            ctx,
            f"HTTP {ex.status} for a client's request",
            "input.no-server-error",
            "2xx, or a 4xx of errors.yaml naming what is wrong with the request (input.malformed-json: never a 500)",
        )


@check("rate_limited_answer", "ratelimit.429-envelope-retry-after", "ratelimit.retry-after-seconds")
def rate_limited_answer(ex: HttpExchange, ctx: Context) -> None:
    """Every 429 carries the envelope, the rate-limit code and an integer Retry-After >= 1."""
    _breached(RateLimitViolation, ex, ctx, envelope.rate_limited(ex, ctx.reading))


@check("no_secret_echo", "client.secrets-never-leak")
def no_secret_echo(ex: HttpExchange, ctx: Context) -> None:
    """No answer carries a secret key or its Basic-auth encoding."""
    needles: list[str] = []
    for key, secret in {*ctx.credentials, *([ctx.main] if ctx.main else [])}:
        if len(secret) >= 4:
            needles += [secret, basic_token(key, secret)]
    if not needles:
        return
    haystack = ex.body.decode("utf-8", "replace") + "\n" + "\n".join(f"{k}: {v}" for k, v in ex.headers.items())
    if any(needle in haystack for needle in needles):
        # The message never repeats the secret: the received text goes through the redactor.
        raise _fail(
            SecretEchoed,
            ex,
            ctx,
            "the answer echoes the secret key",
            "client.secrets-never-leak",
            "no answer, success or error, carries the secret key or the Authorization header",
        )


def _status_of(meaning: str, ctx: Context) -> int:
    """The status errors.yaml gives ``meaning`` in the run's reading."""
    return contract.errors().code_for(meaning, ctx.reading).status


# ---------------------------------------------------- an answer to a verdict

_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+")


def _leaf(field_path: str) -> str:
    words = [t for t in _TOKEN.findall(field_path) if not t.isdigit()]
    return words[-1] if words else field_path


def _normal_path(field_path: str) -> str:
    """``sections[0].x`` and ``sections.0.x`` alike."""
    return re.sub(r"\[(\d+)\]", r".\1", field_path).strip(".")


def _names_field(err: Mapping[str, Any], fields: Iterable[str]) -> bool:
    """Do the error's details (or message) name one of the offending fields?

    A field is named when ``details.field`` is its path (in either index
    notation) or when its last name appears in the details or the message.
    """
    details = err.get("details")
    named = details.get("field") if isinstance(details, Mapping) else None
    text = json.dumps(details, default=str) + " " + str(err.get("message", ""))
    tokens = set(_TOKEN.findall(text))
    for f in fields:
        # An empty path is the body itself (a key "" sits at the root too).
        if isinstance(named, str) and (_normal_path(named) or "body") == (_normal_path(f) or "body"):
            return True
        leaf = _leaf(f)
        if _TOKEN.fullmatch(leaf) and leaf in tokens:
            return True
    return False


def answers_fault(ex: HttpExchange, fault: Fault, ctx: Context, *, ids_outside: bool = False) -> bool:
    """Is the answer the rejection that says ``fault``: its code with the catalogue's status, details naming
    one of its fields (or, for a business rule, 404 when the request names ids not known to be the caller's)?

    ``details`` is optional: an error without it cannot say in a stated place which field it is about,
    so the field is not observable there and the code (with its status) decides.
    """
    entry = contract.errors().code_for(fault.meaning, ctx.reading)
    err = ex.error
    if ex.status == entry.status and err is not None and err.get("code") == entry.code:
        return not fault.fields or err.get("details") is None or _names_field(err, fault.fields)
    if fault.stage == "rules" and ids_outside:
        nf = contract.errors().code_for("resource_not_found", ctx.reading)
        return ex.status == nf.status and err is not None and err.get("code") == nf.code
    return False


def answered_fault(ex: HttpExchange, faults: Iterable[Fault], ctx: Context, *, ids_outside: bool = False) -> int | None:
    """The position of the first fault the answer is the rejection of (None: it answers none of them)."""
    return next((i for i, f in enumerate(faults) if answers_fault(ex, f, ctx, ids_outside=ids_outside)), None)


def matches_rejection(ex: HttpExchange, verdict: Reject, ctx: Context) -> bool:
    """Is the answer the rejection of one of the request's faults (whichever check a server runs first)?"""
    return answered_fault(ex, verdict.faults, ctx, ids_outside=verdict.ids_outside) is not None


def order_departed(faults: tuple[Fault, ...], answered: int) -> str | None:
    """The order-of-checks behaviour an answer for ``faults[answered]`` departs from, if one is about
    exactly these faults: an unknown path or unserved method with no credential and nothing else
    (``envelope.routing-before-auth``), or faults each in its own step of DESIGN's order of checks
    (``envelope.check-order``). Faults sharing a step (a schema fault and a bad path id are both
    validation) may be answered in any order."""
    if answered == 0:
        return None
    steps = [f.step for f in faults]
    if steps == [None, "auth"]:
        return "envelope.routing-before-auth"
    if None not in steps and len(set(steps)) == len(steps):
        return "envelope.check-order"
    return None


@dataclass(frozen=True)
class _OtherReading:
    """What a reading the run may accept makes of an answer no reference fault explains."""

    accepted: bool
    #: the behaviour the answer departs from (the order of checks within an accepted reading, else the
    #: behaviour of the reading it follows)
    behaviour: str | None


def _other_reading(ex: HttpExchange, verdict: Reject, ctx: Context) -> _OtherReading | None:
    """The readings of ``core.validation``'s variants: an answer for a fault one of them finds is
    accepted when the run accepts that reading (every behaviour it changes is only observed), and is
    blamed on the behaviour that reading changes when not. None: no reading explains the answer."""
    request, routes = api_request(ex), route_table(ctx)
    blamed: list[str] = []
    for name in validation.READING_VARIANTS:
        found = tuple(
            fault_of(f) for f in validation.faults(request, routes, reading=ctx.reading, variants=v.VariantSet([name]))
        )
        if NO_CREDENTIAL in verdict.faults:  # after the route, before everything else
            found = (*found, NO_CREDENTIAL) if verdict.operation_id is None else (NO_CREDENTIAL, *found)
        answered = answered_fault(ex, found, ctx, ids_outside=verdict.ids_outside)
        if answered is None:
            continue
        changes = v.REGISTRY[name].changes
        if all(ctx.judgement(b) == "observed" for b in changes):
            return _OtherReading(True, order_departed(found, answered))
        own = [b for b in found[answered].behaviours if b in changes]
        blamed.append(schema_view.strongest(own or changes, ctx.judgement) or changes[0])
    if blamed:
        return _OtherReading(False, schema_view.strongest(blamed, ctx.judgement))
    return None


def matches_acceptance(ex: HttpExchange, verdict: Valid | Either, ctx: Context) -> bool:
    """Is the answer one the contract allows for a request it accepts?"""
    if _is_success(ex.status) or ex.status == _status_of("state_idempotency_conflict", ctx):
        return True  # 409: the catalogue check holds its code to state_idempotency_conflict
    err = ex.error or {}
    catalogue = contract.errors()
    if ex.status == _status_of("resource_not_found", ctx):
        return verdict.ids_outside and err.get("code") == catalogue.code_for("resource_not_found", ctx.reading).code
    if ex.status == _status_of("request_invalid", ctx) and verdict.has_explicit_times:
        # A non-empty availableTimes in populate / sync is compared with the store's other
        # sections: a collision is a 400 that depends on the target's state, not on the body.
        return err.get("code") == catalogue.code_for("request_invalid", ctx.reading).code and _names_field(
            err, ["availableTimes"]
        )
    return False


@check(
    "input_answer",
    "input.strict-integers",
    "getmenu.one-param-400",
    "schedule.invalid-details-field",
    "routing.unknown-query-ignored",
    "tenancy.unknown-same-as-foreign",
)
def input_answer(ex: HttpExchange, ctx: Context) -> None:
    """The answer is the one the reference semantics give this request (accept or the named rejection).

    A failure names exactly the behaviour the answer departs from: the
    constraint the request broke (by its ``x-behaviour`` in openapi.yaml), the
    permission a rejected request relied on (a ``null`` for an optional field,
    an optional field left out, a query id with leading zeros), the order of
    checks when a foreign id is answered 404 before the invalid body, or the
    operation's own behaviour.
    """
    if ex.status >= 500 or ex.status == _status_of("rate_limit_exceeded", ctx):
        return  # no_server_error and rate_limited_answer own these
    verdict = expected_answer(ex, ctx)
    if isinstance(verdict, Unknown):
        return
    if isinstance(verdict, Reject):
        _judge_rejection(ex, verdict, ctx)
        return
    if isinstance(verdict, Either) and (_is_success(ex.status) or ex.status == _status_of("request_invalid", ctx)):
        return
    if matches_acceptance(ex, verdict, ctx):
        return
    if ex.status == _status_of("resource_not_found", ctx):
        title, behaviour = (
            "a request naming only the caller's own stores and sections got 404",
            "tenancy.unknown-same-as-foreign",
        )
    else:
        title, behaviour = f"a request the contract accepts got {ex.status}", _blame_refusal(ex, verdict, ctx)
    raise _fail(
        InputAnswerViolation,
        ex,
        ctx,
        f"{verdict.operation_id}: {title}",
        behaviour,
        "2xx (404 only for ids outside the caller's business; unknown query parameters are ignored)",
    )


def _judge_rejection(ex: HttpExchange, verdict: Reject, ctx: Context) -> None:
    """Raise unless the answer is the rejection of one of the request's faults, under the reference
    reading or one the run accepts (and in an order no order-of-checks behaviour about exactly these
    faults forbids)."""
    answered = answered_fault(ex, verdict.faults, ctx, ids_outside=verdict.ids_outside)
    if answered is not None:
        order, named = order_departed(verdict.faults, answered), verdict.faults[answered].reason
        other = None
    else:
        other = _other_reading(ex, verdict, ctx)
        if other is None or not other.accepted:
            order, named = None, ""
        else:
            order, named = other.behaviour, "a fault of another reading the run accepts"
    if order is not None:
        raise _fail(
            InputAnswerViolation,
            ex,
            ctx,
            f"{verdict.operation_id or ex.path}: answered for a later check ({named}) before {verdict.first.reason}",
            order,
            _documented(verdict.faults[:1], verdict, ctx),
        )
    if answered is not None or (other is not None and other.accepted):
        return
    more = f" (and {len(verdict.faults) - 1} other fault(s))" if len(verdict.faults) > 1 else ""
    raise _fail(
        InputAnswerViolation,
        ex,
        ctx,
        f"{verdict.operation_id or ex.path}: {verdict.reason}{more}",
        _blame_rejection(ex, verdict, ctx, other.behaviour if other is not None else None),
        _documented(verdict.faults, verdict, ctx),
    )


def _documented(faults: Iterable[Fault], verdict: Reject, ctx: Context) -> str:
    """The answers that would pass, one per fault."""
    said: list[str] = []
    for f in faults:
        entry = contract.errors().code_for(f.meaning, ctx.reading)
        named = f" whose details name {', '.join(f.fields[:3])}" if f.fields else ""
        also = (
            " (or 404 resource_not_found: the request names ids not known to be the caller's)"
            if f.stage == "rules" and verdict.ids_outside
            else ""
        )
        said.append(f"{entry.status} {entry.code}{named}{also}")
    return "; or ".join(dict.fromkeys(said))


def _blame_rejection(ex: HttpExchange, verdict: Reject, ctx: Context, reading: str | None = None) -> str:
    """The behaviour an answer that answers none of the request's faults departs from: the order of
    ownership and validation, a permission the request relied on, the behaviour of the reading the
    answer follows (``reading``), else the strongest behaviour the request breaks."""
    err = ex.error or {}
    not_found = contract.errors().code_for("resource_not_found", ctx.reading)
    ids = {"sectionID", "brand_id", "branch_id"}
    # Only bad ids: a 404 reads one of them as an unknown id (a reading of ids, not of the order of checks).
    about_the_ids = all(f.fields and set(f.fields) <= ids for f in verdict.faults)
    if (
        ex.status == not_found.status
        and err.get("code") == not_found.code
        and verdict.ids_outside
        and not about_the_ids
    ):
        if verdict.meaning == "request_invalid":
            # Ownership checked before validation: which check wins is the stand-in's own choice.
            return "envelope.validation-before-tenancy"
        # Ownership answered before a check DESIGN's order puts ahead of validation (the credential, the
        # Idempotency-Key, body parsing): the order of checks is what the answer departs from.
        return "envelope.check-order"
    invalid = contract.errors().code_for("request_invalid", ctx.reading)
    if ex.status == invalid.status and err.get("code") == invalid.code:
        refused = _refused_null(err, verdict)
        if refused is not None:
            return refused
    return reading or verdict.behaviour


def _refused_null(err: Mapping[str, Any], verdict: Reject) -> str | None:
    """The permission an answer departs from when it names a field the request sent as ``null`` (a field
    the reference semantics read as absent) instead of one of the fields that break the contract."""
    every = [name for f in verdict.faults for name in f.fields]
    if verdict.body_schema is None or not isinstance(verdict.body, Mapping) or _names_field(err, every):
        return None
    for path in validation.paths_where(verdict.body, lambda value: value is None):
        if _names_field(err, [".".join(path)]):
            if len(path) > 1:
                return "input.null-means-absent"
            absent = set(schema_view.permissions_used(verdict.body_schema, {}))
            used = [b for b in schema_view.permissions_used(verdict.body_schema, {path[0]: None}) if b not in absent]
            return used[0] if used else "input.null-means-absent"
    return None


def _blame_refusal(ex: HttpExchange, verdict: Valid | Either, ctx: Context) -> str:
    """The behaviour a refused valid request departs from: a permission it relied on, else the operation's."""
    invalid = contract.errors().code_for("request_invalid", ctx.reading)
    err = ex.error or {}
    if ex.status == invalid.status and err.get("code") == invalid.code:
        relied = list(verdict.relies_on)
        if verdict.body_schema is not None and verdict.body is not None:
            relied += schema_view.permissions_used(verdict.body_schema, verdict.body)
        blamed = schema_view.strongest(relied, ctx.judgement)
        if blamed is not None:
            return blamed
    return verdict.behaviour
