"""Contract checks over one HTTP exchange: plain functions that raise a typed ``Violation``.

Owns: the check registry (``CHECKS``, ``@check``), the checks every answer
must pass — the envelope / catalogue / rate-limit ones state the rules of
``envelope`` (their one definition), plus request_id uniqueness, no 5xx and no
echoed secret — and the input oracle
(``expected_answer``): what the reference semantics say a given request must
be answered with — decided from the request alone (route, credential,
Idempotency-Key, body, query), never from the target's state. Must not: send
requests, import Schemathesis or read the stand-in's internals; adapters (the
fuzz hooks, other suites) build an ``HttpExchange`` (``exchange``, re-exported
here) and call these.

Every failure is a ``failures.Violation`` subclass whose message carries a
title, ``Received:`` / ``Documented:`` lines, the behaviour id, the
``request_id`` and a curl reproduction without credentials.
"""

from __future__ import annotations

import base64
import json
import re
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any, Literal, cast
from urllib.parse import unquote

from . import contract, envelope, schema_view
from .contract import Judgement, Reading
from .core import schedules
from .core.credentials import parse_basic
from .core.service import (
    BASE_PATH,
    JSON_TYPE,
    MAX_BODY_BYTES,
    MAX_DEPTH,
    MAX_KEY_LENGTH,
    finite_float,
    json_depth,
    reject_constant,
)
from .core.world import INT32_MAX
from .envelope import Breach
from .envelope import is_success as _is_success
from .exchange import HttpExchange
from .failures import Violation

# the stand-in's limits are the contract's: one definition, in the core

__all__ = [
    "CHECKS",
    "CatalogueViolation",
    "Check",
    "Context",
    "DuplicateRequestId",
    "EnvelopeViolation",
    "HttpExchange",
    "InputAnswerViolation",
    "RateLimitViolation",
    "RequestIdLog",
    "SecretEchoed",
    "ServerErrorViolation",
    "Verdict",
    "check",
    "expected_answer",
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


# ------------------------------------------------------------------- context


class RequestIdLog:
    """The ``request_id`` of every answer seen, to prove they are distinct.

    A replay (``Idempotent-Replayed: true``) repeats the first answer's id by
    design, and the same exchange may be checked twice (Schemathesis re-runs
    checks while shrinking); both are told apart from a real duplicate by the
    exchange's identity: method, URL, request body and answer body.
    """

    def __init__(self, capacity: int = 200_000) -> None:
        self._seen: OrderedDict[str, int] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def seen(self, request_id: str, exchange: HttpExchange) -> bool:
        """Record ``request_id``; True when a *different* exchange already carried it."""
        identity = hash((exchange.method, exchange.url, exchange.request_body, exchange.body,
                         exchange.request_headers.get("x-schemathesis-testcaseid")))
        with self._lock:
            previous = self._seen.get(request_id)
            if previous is None:
                self._seen[request_id] = identity
                if len(self._seen) > self._capacity:
                    self._seen.popitem(last=False)
                return False
            return previous != identity


def everything_enforced(_behaviour: str) -> Judgement:
    """The judgement of the embedded stand-in without variants: every behaviour is enforced."""
    return "enforced"


@dataclass
class Context:
    """What the checks need to know about the run; nothing secret is ever printed."""

    reading: Reading = "reference"
    #: the full-scope credential the requests are signed with; the oracle judges only its requests
    main: tuple[str, str] | None = None
    #: (partner_key, secret_key) pairs whose secrets must never be echoed
    credentials: tuple[tuple[str, str], ...] = ()
    #: stores and sections known to belong to the caller's business
    own_stores: frozenset[tuple[int, int]] = frozenset()
    own_sections: frozenset[int] = frozenset()
    request_ids: RequestIdLog = field(default_factory=RequestIdLog)
    redact: Callable[[str], str] = str
    #: operationId -> path template, for targets whose undocumented paths differ
    paths: Mapping[str, str] = field(default_factory=dict)
    #: the path of the target's base URL (``/v1/partner`` on klikit)
    base_path: str = BASE_PATH
    #: scheme://host[:port] reproductions point at (in-process exchanges have a placeholder host)
    origin: str | None = None
    #: whether a behaviour fails the run or is only observed (``Target.judgement``); the oracle blames
    #: an enforced behaviour first when one request breaks several
    judgement: Callable[[str], Judgement] = everything_enforced


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
    return kind(
        title,
        behaviour=behaviour,
        received=ex.received(ctx.redact),
        documented=documented,
        request_id=ex.request_id,
        reproduction=ex.curl(ctx.redact, ctx.origin),
        expected={"check": name} if name else None,
    )


def _breached(kind: type[Violation], ex: HttpExchange, ctx: Context, breach: Breach | None) -> None:
    """Raise ``breach`` (a rule of ``envelope``) as a ``kind`` naming the check that states the rule."""
    if breach is None:
        return
    raise kind(
        breach.title,
        behaviour=breach.behaviour,
        received=ex.received(ctx.redact),
        documented=breach.documented,
        request_id=ex.request_id,
        reproduction=ex.curl(ctx.redact, ctx.origin),
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
        raise _fail(DuplicateRequestId, ex, ctx, f"request_id {rid!r} was already used by another answer",
                    "envelope.request-id", "a request_id per request (only an idempotent replay repeats one)")


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
        raise _fail(ServerErrorViolation, ex, ctx, f"HTTP {ex.status} for a client's request",
                    "input.no-server-error",
                    "2xx, or a 4xx of errors.yaml naming what is wrong with the request (input.malformed-json: "
                    "never a 500)")


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
            needles += [secret, base64.b64encode(f"{key}:{secret}".encode()).decode()]
    if not needles:
        return
    haystack = ex.body.decode("utf-8", "replace") + "\n" + "\n".join(f"{k}: {v}" for k, v in ex.headers.items())
    if any(needle in haystack for needle in needles):
        # The message never repeats the secret: the received text goes through the redactor.
        raise _fail(SecretEchoed, ex, ctx, "the answer echoes the secret key", "client.secrets-never-leak",
                    "no answer, success or error, carries the secret key or the Authorization header")


def _status_of(meaning: str, ctx: Context) -> int:
    """The status errors.yaml gives ``meaning`` in the run's reading."""
    return contract.errors().code_for(meaning, ctx.reading).status


# ---------------------------------------------------------------- the oracle

Kind = Literal["valid", "reject", "either", "unknown"]
Stage = Literal["decode", "rules"]

_OPERATION_BEHAVIOUR = {
    "createSection": "section.create-returns-id",
    "setSectionVisibilities": "visibility.replaces-map",
    "enableSections": "enable.missing-is-false",
    "populateMenu": "populate.attaches-fresh-stores",
    "syncMenuToStores": "sync.persisted-fields-kept",
    "publishMenu": "publish.counts",
    "resetStoreOverrides": "reset.drops-overrides",
    "getMenu": "getmenu.store-mode",
}


@dataclass(frozen=True)
class Verdict:
    """What the reference semantics say a request must be answered with.

    ``reject``: the error ``meaning`` (a reference code) with its catalogue
    status, ``details`` naming one of ``fields``; a ``rules``-stage rejection
    may instead be 404 when the request names ids not known to be the
    caller's (the contract does not order ownership before business rules).
    ``valid``: 2xx (404 only for ids not known to be the caller's; a 400 only
    for the state-dependent schedule overlap of populate / sync).
    ``either``: the contract does not decide (both answers pass).
    ``unknown``: the oracle cannot tell (a credential it does not know).
    """

    kind: Kind
    operation_id: str | None = None
    meaning: str | None = None
    fields: tuple[str, ...] = ()
    behaviour: str | None = None
    reason: str = ""
    stage: Stage = "decode"
    ids_outside: bool = False
    has_explicit_times: bool = False
    #: every behaviour the request breaks (``behaviour`` is the one blamed first)
    behaviours: tuple[str, ...] = ()
    #: behaviours of the reference semantics' permissions the request relies on (a query id with
    #: leading zeros); those of its body are found from ``body`` when an answer rejects it
    relies_on: tuple[str, ...] = ()
    body_schema: str | None = None
    body: Any = field(default=None, compare=False, repr=False)


class _Reject(Exception):
    def __init__(self, meaning: str, fields: Iterable[str], behaviour: str, reason: str, stage: Stage = "decode",
                 behaviours: Iterable[str] = ()):
        super().__init__(reason)
        self.meaning, self.fields, self.behaviour, self.reason, self.stage = (
            meaning, tuple(fields), behaviour, reason, stage)
        self.behaviours = tuple(dict.fromkeys((behaviour, *behaviours)))


@dataclass(frozen=True)
class _Route:
    pattern: re.Pattern[str]
    methods: Mapping[str, contract.Operation]


@cache
def _routes(base_path: str, paths: tuple[tuple[str, str], ...]) -> tuple[_Route, ...]:
    overrides = dict(paths)
    grouped: dict[str, dict[str, contract.Operation]] = {}
    for op in contract.operations().values():
        grouped.setdefault(overrides.get(op.operation_id, op.path), {})[op.method] = op
    routes = []
    # Literal paths before templated ones, so /menus/sections/enable is not a sectionID.
    for template in sorted(grouped, key=lambda p: ("{" in p, p)):
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(base_path.rstrip("/") + template))
        routes.append(_Route(re.compile(regex), grouped[template]))
    return tuple(routes)


def _route(method: str, path: str, ctx: Context) -> tuple[contract.Operation | None, dict[str, str], bool]:
    """(operation, path parameters, path known); the path is read percent-decoded, as servers route it."""
    decoded = unquote(path)
    for route in _routes(ctx.base_path, tuple(sorted(ctx.paths.items()))):
        match = route.pattern.fullmatch(decoded)
        if match is not None:
            return route.methods.get(method.upper()), match.groupdict(), True
    return None, {}, False


def operation_of(ex: HttpExchange, ctx: Context) -> str | None:
    """The operationId an exchange was routed to (None for an unknown path or an unserved method)."""
    op, _, _ = _route(ex.method, ex.path, ctx)
    return op.operation_id if op is not None else None


def _credential(header: str | None) -> tuple[str, str] | None:
    return parse_basic(header)


def _parse_body(ex: HttpExchange) -> Any:
    raw = ex.request_body or b""
    if len(raw) > MAX_BODY_BYTES:
        raise _Reject("request_invalid", ["body"], "input.body-too-large", "body over 1 MiB")
    media = ex.request_headers.get("content-type", "").split(";")[0].strip().lower()
    if media != JSON_TYPE:
        raise _Reject("request_invalid", ["Content-Type"], "input.wrong-content-type", f"Content-Type {media!r}")
    if not raw.strip():
        raise _Reject("request_invalid", ["body"], "input.malformed-json", "empty body")
    try:
        body = json.loads(raw, parse_constant=reject_constant, parse_float=finite_float)
    except RecursionError:
        raise _Reject("request_invalid", ["body"], "input.deep-nesting", "JSON nested too deep") from None
    except ValueError:
        raise _Reject("request_invalid", ["body"], "input.malformed-json", "not JSON / non-finite number") from None
    if json_depth(body) > MAX_DEPTH:
        raise _Reject("request_invalid", ["body"], "input.deep-nesting", f"JSON nested deeper than {MAX_DEPTH}")
    if not isinstance(body, dict):
        raise _Reject("request_invalid", ["body"], "input.non-object-body", f"a JSON {type(body).__name__}")
    return body


def _integral_floats(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    if isinstance(value, float) and value.is_integer():
        yield path
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _integral_floats(v, (*path, str(k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _integral_floats(v, (*path, str(i)))


def as_integers(value: Any) -> Any:
    """``value`` with every integral float (``2.0``) written as an integer."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: as_integers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_integers(v) for v in value]
    return value


def _schema_fields(errors: Iterable[Any]) -> list[str]:
    fields = []
    for error in errors:
        path = ".".join(str(p) for p in error.absolute_path)
        named = error.validator in {"required", "additionalProperties"}
        names = re.findall(r"'([^']+)'", error.message) if named else []
        fields.append(".".join(p for p in (path, names[0] if names else "") if p) or "body")
    return fields


def _schema_behaviours(errors: list[Any], body: Any, schema_name: str) -> list[str]:
    """The behaviours a schema-invalid body breaks: those its failed constraints name in openapi.yaml."""
    if any(True for _ in _integral_floats(body)) and contract.body_validator(schema_name).is_valid(as_integers(body)):
        # Every error goes away when 2.0 is read as 2: integers were sent as floats.
        return ["input.strict-integers"]
    root = cast(Mapping[str, Any], contract.body_validator(schema_name).schema)
    found = [b for error in errors for b in schema_view.error_behaviours(error, root)]
    return found or ["input.wrong-types"]


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _scheduled_at_problem(value: Any) -> str | None:
    """Why a scheduledAt cannot be read (None when it can): RFC 3339 with an offset, or null."""
    if value is None:
        return None
    if not isinstance(value, str) or not _RFC3339.match(value):
        return f"{value!r} is not an RFC 3339 date-time with an offset"
    normal = value.upper()
    fraction = re.search(r"\.(\d+)", normal)
    if fraction and len(fraction.group(1)) > 6:  # Python reads microseconds at most
        normal = normal.replace(fraction.group(0), "." + fraction.group(1)[:6])
    try:
        datetime.fromisoformat(normal.replace("Z", "+00:00"))
    except ValueError:
        return f"{value!r} is not a calendar date-time"
    return None


def is_calendar_date(value: Any) -> bool:
    """A ``YYYY-MM-DD`` string naming a real day."""
    try:
        datetime.strptime(value, "%Y-%m-%d")
    except (TypeError, ValueError):
        return False
    return True


def _business_rules(op_id: str, body: Mapping[str, Any]) -> None:
    """Rules on schema-valid bodies that JSON Schema cannot express (raise ``_Reject``)."""
    problems: list[tuple[str, str, str]] = []  # (field, behaviour, reason)

    def schedule(times: Any, where: str) -> None:
        if isinstance(times, Mapping) and times:
            for p in schedules.problems(times):
                kind = ("schedule.hhmm-range" if "HHMM" in p.reason else
                        "schedule.start-before-end" if "before" in p.reason else "schedule.no-overlap-within-day")
                problems.append((f"{where}.{p.field}", kind, p.reason))

    if op_id == "createSection":
        schedule(body.get("availableTimes"), "availableTimes")
        for i, value in enumerate(body.get("blackoutDates") or []):
            if not is_calendar_date(value):
                problems.append((f"blackoutDates[{i}]", "section.blackout-dates-format", f"{value!r} is not a date"))
    elif op_id in {"populateMenu", "syncMenuToStores"}:
        for key, entry in body["sections"].items():
            if int(key) > INT32_MAX:
                problems.append((f"sections.{key}", "input.id-keyed-map-keys", "section ids are int32"))
            elif isinstance(entry, Mapping):
                schedule(entry.get("availableTimes"), f"sections.{key}.availableTimes")
    elif op_id == "publishMenu":
        reason = _scheduled_at_problem(body.get("scheduledAt"))
        if reason:
            problems.append(("scheduledAt", "publish.scheduled", reason))
    if problems:
        raise _Reject("request_invalid", [p[0] for p in problems], problems[0][1], problems[0][2], stage="rules",
                      behaviours=[p[1] for p in problems])


def _ids_outside(op_id: str, body: Mapping[str, Any] | None, params: Mapping[str, str],
                 query: Mapping[str, str], ctx: Context) -> bool:
    """Does the request name a store or section not known to be the caller's?"""
    stores: list[Any] = []
    sections: list[Any] = []
    if body is not None:
        stores += list(body.get("stores") or []) + list(body.get("zoneStores") or [])
        sections += list(body.get("ids") or []) if op_id == "enableSections" else []
        sections += list((body.get("sections") or {}).keys()) if op_id in {"populateMenu", "syncMenuToStores"} else []
    if "sectionID" in params:
        sections.append(params["sectionID"])
    if op_id == "getMenu" and "brand_id" in query and "branch_id" in query:
        stores.append({"brandID": query["brand_id"], "branchID": query["branch_id"]})
    for s in stores:
        try:
            key = (_int32(str(s["brandID"])), _int32(str(s["branchID"])))
        except (KeyError, TypeError):
            return True
        if key not in ctx.own_stores:
            return True
    for sid in sections:
        value = sid if isinstance(sid, int) and not isinstance(sid, bool) else _int32(str(sid))
        if value is None or value not in ctx.own_sections:
            return True
    return False


def _query_id(name: str, values: list[str], relies: list[str]) -> int | None:
    if not values:
        return None
    return _path_id(name, values[0], relies)


def _path_id(name: str, raw: str, relies: list[str]) -> int:
    """A query or path id; ``0`` and non-ids are rejected, leading zeros are read as the integer they spell
    (a reading the request then relies on)."""
    value = _int32(raw)
    if value is None:
        if raw.isascii() and raw.isdigit() and len(raw) <= 10 and int(raw) == 0:
            raise _Reject("request_invalid", [name], "input.query-id-zero-invalid", f"{name}={raw!r} is not positive")
        raise _Reject("request_invalid", [name], "input.wrong-types", f"{name}={raw[:40]!r} is not a positive int32")
    if raw.startswith("0"):
        relies.append("input.query-id-leading-zeros")
    return value


def _int32(raw: str) -> int | None:
    """A positive int32 written in ASCII digits ("²", "١٠٢٢" and 5,000 digits are not)."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10:
        return None
    value = int(raw)
    return value if 1 <= value <= INT32_MAX else None


def expected_answer(ex: HttpExchange, ctx: Context) -> Verdict:
    """The answer the reference semantics give this request, decided from the request alone.

    Checks apply in the documented order: route, auth, Idempotency-Key, body
    parsing, validation (schema, then the rules schemas cannot express).
    """
    op, params, known_path = _route(ex.method, ex.path, ctx)
    if not known_path:
        return Verdict("reject", None, "resource_not_found", ("path",), "routing.unknown-path-404", "unknown path")
    if op is None:
        return Verdict("reject", None, "method_not_allowed", (), "routing.method-not-allowed-405",
                       f"{ex.method} is not served on this path")
    op_id = op.operation_id
    credential = _credential(ex.request_headers.get("authorization"))
    if credential is None:
        return Verdict("reject", op_id, "auth_missing", (), "auth.missing", "no usable Basic credential")
    if ctx.main is None or credential != ctx.main:
        return Verdict("unknown", op_id, reason="not the run's main credential")
    query: dict[str, list[str]] = {}
    for name, value in ex.query:
        query.setdefault(name, []).append(value)
    body: dict[str, Any] | None = None
    relies: list[str] = []
    try:
        if op.is_write:
            key = ex.request_headers.get("idempotency-key")
            key = key.strip(" \t") if key is not None else None
            if not key:
                if ctx.reading == "reference":
                    raise _Reject("request_missing_idempotency_key", ["Idempotency-Key"],
                                  "idempotency.key-required-on-writes", "write without Idempotency-Key")
            elif len(key) > MAX_KEY_LENGTH:
                raise _Reject("request_invalid", ["Idempotency-Key"], "idempotency.key-over-64-invalid",
                              f"Idempotency-Key of {len(key)} characters")
            body = _parse_body(ex)
            assert op.body_schema is not None
            errors = list(contract.body_validator(op.body_schema).iter_errors(body))
            if errors:
                broken = _schema_behaviours(errors, body, op.body_schema)
                blamed = schema_view.strongest(broken, ctx.judgement) or broken[0]
                raise _Reject("request_invalid", _schema_fields(errors), blamed, errors[0].message[:200],
                              behaviours=broken)
            if "sectionID" in params:
                _path_id("sectionID", params["sectionID"], relies)
            _business_rules(op_id, body)
        elif op_id == "getMenu":
            brand = _query_id("brand_id", query.get("brand_id", []), relies)
            branch = _query_id("branch_id", query.get("branch_id", []), relies)
            if (brand is None) != (branch is None):
                raise _Reject("request_invalid", ["brand_id", "branch_id"], "getmenu.one-param-400",
                              "exactly one of brand_id and branch_id")
    except _Reject as rejected:
        outside = _ids_outside_safely(op_id, body, params, _first(query), ctx)
        behaviour = schema_view.strongest(rejected.behaviours, ctx.judgement) or rejected.behaviour
        return Verdict("reject", op_id, rejected.meaning, rejected.fields, behaviour, rejected.reason,
                       rejected.stage, ids_outside=outside, behaviours=rejected.behaviours,
                       body_schema=op.body_schema, body=body)
    outside = _ids_outside(op_id, body, params, _first(query), ctx)
    explicit = op_id in {"populateMenu", "syncMenuToStores"} and any(
        isinstance(e, Mapping) and bool(e.get("availableTimes")) for e in ((body or {}).get("sections") or {}).values()
    )
    if set(query) - _query_names().get(op_id, frozenset()):
        # an unknown query parameter is ignored by the reference semantics: a 400 departs from that reading
        relies.append("routing.unknown-query-ignored")
    duplicated = any(len(query.get(name, [])) > 1 for name in ("brand_id", "branch_id"))
    # The contract says nothing about a repeated query parameter: the first value or a 400 are both fine.
    return Verdict("either" if duplicated else "valid", op_id, behaviour=_OPERATION_BEHAVIOUR[op_id],
                   ids_outside=outside, has_explicit_times=explicit, relies_on=tuple(dict.fromkeys(relies)),
                   body_schema=op.body_schema, body=body)


@cache
def _query_names() -> dict[str, frozenset[str]]:
    """The query parameters each operation of openapi.yaml defines; any other one is "unknown"."""
    out: dict[str, frozenset[str]] = {}
    for item in contract.openapi()["paths"].values():
        for op in item.values():
            if isinstance(op, Mapping) and "operationId" in op:
                params = [p for p in op.get("parameters", []) if isinstance(p, Mapping)]
                out[op["operationId"]] = frozenset(p["name"] for p in params if p.get("in") == "query")
    return out


def _ids_outside_safely(op_id: str, body: Any, params: Mapping[str, str], query: Mapping[str, str],
                        ctx: Context) -> bool:
    """``_ids_outside`` for a body that may not match its schema (then: can it name a foreign id at all?)."""
    try:
        return _ids_outside(op_id, body if isinstance(body, Mapping) else None, params, query, ctx)
    except (AttributeError, TypeError, ValueError):
        return True


def _first(query: Mapping[str, list[str]]) -> dict[str, str]:
    return {k: v[0] for k, v in query.items() if v}


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


def matches_rejection(ex: HttpExchange, verdict: Verdict, ctx: Context) -> bool:
    """Is the answer exactly the rejection the verdict documents?"""
    assert verdict.meaning is not None
    entry = contract.errors().code_for(verdict.meaning, ctx.reading)
    err = ex.error
    if ex.status == entry.status and err is not None and err.get("code") == entry.code:
        return not verdict.fields or _names_field(err, verdict.fields)
    if verdict.stage == "rules" and verdict.ids_outside:
        nf = contract.errors().code_for("resource_not_found", ctx.reading)
        return ex.status == nf.status and err is not None and err.get("code") == nf.code
    return False


def matches_acceptance(ex: HttpExchange, verdict: Verdict, ctx: Context) -> bool:
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
            err, ["availableTimes"])
    return False


@check("input_answer", "input.strict-integers", "getmenu.one-param-400", "schedule.invalid-details-field",
       "routing.unknown-query-ignored", "tenancy.unknown-same-as-foreign")
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
    if verdict.kind == "unknown":
        return
    if verdict.kind == "reject":
        if matches_rejection(ex, verdict, ctx):
            return
        assert verdict.meaning is not None
        entry = contract.errors().code_for(verdict.meaning, ctx.reading)
        named = f" whose details name {', '.join(verdict.fields[:3])}" if verdict.fields else ""
        also = " (or 404 resource_not_found: the request names ids not known to be the caller's)" \
            if verdict.stage == "rules" and verdict.ids_outside else ""
        raise _fail(InputAnswerViolation, ex, ctx, f"{verdict.operation_id or ex.path}: {verdict.reason}",
                    _blame_rejection(ex, verdict, ctx), f"{entry.status} {entry.code}{named}{also}")
    if verdict.kind == "either" and (_is_success(ex.status) or ex.status == _status_of("request_invalid", ctx)):
        return
    if matches_acceptance(ex, verdict, ctx):
        return
    if ex.status == _status_of("resource_not_found", ctx):
        title, behaviour = "a request naming only the caller's own stores and sections got 404", \
            "tenancy.unknown-same-as-foreign"
    else:
        title, behaviour = f"a request the contract accepts got {ex.status}", _blame_refusal(ex, verdict, ctx)
    raise _fail(InputAnswerViolation, ex, ctx, f"{verdict.operation_id}: {title}", behaviour,
                "2xx (404 only for ids outside the caller's business; unknown query parameters are ignored)")


def _blame_rejection(ex: HttpExchange, verdict: Verdict, ctx: Context) -> str:
    """The behaviour an answer other than the documented rejection departs from."""
    err = ex.error or {}
    not_found = contract.errors().code_for("resource_not_found", ctx.reading)
    about_the_ids = bool(verdict.fields) and set(verdict.fields) <= {"sectionID", "brand_id", "branch_id"}
    if ex.status == not_found.status and err.get("code") == not_found.code and verdict.ids_outside \
            and verdict.meaning == "request_invalid" and not about_the_ids:
        # Ownership checked before validation: which check wins is the stand-in's own choice.
        return "envelope.validation-before-tenancy"
    return verdict.behaviour or "input.wrong-types"


def _blame_refusal(ex: HttpExchange, verdict: Verdict, ctx: Context) -> str:
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
    return verdict.behaviour or "input.wrong-types"
