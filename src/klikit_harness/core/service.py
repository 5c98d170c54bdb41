"""The API as a pure function: an ``ApiRequest`` in, an ``ApiResponse`` out.

Owns: routing (from ``contracts/openapi.yaml``), the order of checks (auth,
rate limit, scope, Idempotency-Key, body, replay/conflict, validation), the
envelope and the code → status mapping of the reading in force. Both adapters
— the ASGI stand-in and the respx simulator — call this, so every answer they
give is the same contract answer. Must not: do I/O, sleep or read the wall
clock directly.

A write is handled in two steps, ``prepare`` (everything up to reserving the
Idempotency-Key) and ``execute``, so an adapter can hold a request "in
flight" between them; ``handle`` does both at once.
"""

from __future__ import annotations

import functools
import json
import math
import re
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import contract
from ..contract import Reading
from . import defects as d
from . import variants as v
from .clock import Clock, SystemClock
from .credentials import (
    CONCEPTS_ROTATION_WINDOW_S,
    READ_SCOPE,
    WRITE_SCOPE,
    Credential,
    Credentials,
    parse_basic,
)
from .defects import DefectSet
from .errors import ApiError, invalid
from .idempotency import Conflict, IdempotencyStore, Replay, Reserved, Stored, fingerprint
from .ratelimit import RateLimiter
from .variants import VariantSet
from .world import INT32_MAX, World

BASE_PATH = "/v1/partner"
MAX_BODY_BYTES = 1024 * 1024
MAX_DEPTH = 32
#: the nesting limit under the depth-64 variant
VARIANT_MAX_DEPTH = 64
#: the Retry-After every 429 says under the retry-after-60 variant
VARIANT_RETRY_AFTER = 60
#: operations whose success payload the success-data-empty variant empties
_EMPTIED_PAYLOADS = frozenset(
    {"setSectionVisibilities", "enableSections", "populateMenu", "syncMenuToStores", "resetStoreOverrides"}
)
#: the body cap under the body-cap-decimal-mb defect
DECIMAL_MB = 1_000_000
MAX_KEY_LENGTH = 64
JSON_TYPE = "application/json"


@dataclass
class ApiRequest:
    method: str
    path: str
    query: Sequence[tuple[str, str]] = ()
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""
    #: set by an adapter that stopped reading a body over MAX_BODY_BYTES
    body_too_large: bool = False

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def param(self, name: str) -> str | None:
        for key, value in self.query:
            if key == name:
                return value
        return None


@dataclass
class ApiResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


class InFlight(ApiResponse):
    """The 409 answer to a duplicate whose first request is still in flight.

    An adapter that can wait (the in-flight-waits variant) prepares the request
    again once the first one has finished instead of answering this.
    """


class _InFlightError(ApiError):
    pass


@dataclass
class Prepared:
    """A request that passed every check up to its Idempotency-Key reservation."""

    request: ApiRequest
    request_id: str
    operation: contract.Operation
    credential: Credential
    path_params: dict[str, str]
    body: Any
    reserved: Reserved | None


@dataclass(frozen=True)
class _Route:
    pattern: re.Pattern[str]
    template: str
    methods: dict[str, contract.Operation]


def _compile_routes(base_path: str, overrides: Mapping[str, str] | None) -> list[_Route]:
    grouped: dict[str, dict[str, contract.Operation]] = {}
    for op in contract.operations().values():
        path = (overrides or {}).get(op.operation_id, op.path)
        grouped.setdefault(path, {})[op.method] = op
    routes = []
    # Literal paths before templated ones, so /menus/sections/enable is not a sectionID.
    for template in sorted(grouped, key=lambda p: ("{" in p, p)):
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(base_path + template))
        routes.append(_Route(re.compile(f"^{regex}$"), template, grouped[template]))
    return routes


class Service:
    """One stand-in: a world, its credentials and the cross-cutting machinery."""

    def __init__(
        self,
        world: World,
        credentials: Credentials,
        *,
        reading: Reading = "reference",
        clock: Clock | None = None,
        defects: DefectSet | None = None,
        base_path: str = BASE_PATH,
        path_overrides: Mapping[str, str] | None = None,
        idempotency: IdempotencyStore | None = None,
        variants: VariantSet | None = None,
    ) -> None:
        if reading not in contract.READINGS:
            raise ValueError(f"reading must be one of {contract.READINGS}, got {reading!r}")
        self.world = world
        self.credentials = credentials
        self.reading: Reading = reading
        self.clock = clock or SystemClock()
        self.defects = defects if defects is not None else world.defects
        world.defects = self.defects
        self.variants = variants if variants is not None else world.variants
        world.variants = self.variants
        self.idempotency = idempotency or IdempotencyStore()
        self.limiter = RateLimiter()
        self.catalogue = contract.errors()
        self._routes = _compile_routes(base_path, path_overrides)
        # The ASGI adapter runs on one event loop; the respx simulator may be called
        # from threads. One lock keeps every write atomic for both.
        self.lock = threading.RLock()

    # ------------------------------------------------------------------ public

    def handle(self, request: ApiRequest) -> ApiResponse:
        prepared = self.prepare(request)
        if isinstance(prepared, ApiResponse):
            return prepared
        return self.execute(prepared)

    def prepare(self, request: ApiRequest) -> Prepared | ApiResponse:
        request_id = f"req_{uuid.uuid4()}"
        with self.lock:
            try:
                return self._prepare(request, request_id)
            except _InFlightError as exc:
                answer = self.error_response(exc, request_id)
                return InFlight(answer.status, answer.headers, answer.body)
            except ApiError as exc:
                return self.error_response(exc, request_id)
            except _Html500:
                return html_500()

    def execute(self, prepared: Prepared) -> ApiResponse:
        with self.lock:
            try:
                response = self._execute(prepared)
            except BaseException:
                # a crash must not leave the key "in flight" for 24 hours
                self.abandon(prepared)
                raise
            if prepared.reserved is not None:
                keep = 200 <= response.status < 300 or (
                    (self.defects.on(d.ERRORS_STORED) or self.variants.on(v.ERRORS_REPLAYED))
                    and 400 <= response.status < 500
                )
                self.idempotency.complete(
                    prepared.reserved, Stored(response.status, response.headers, response.body), store=keep
                )
            return response

    def abandon(self, prepared: Prepared) -> None:
        """Forget a prepared write that will never execute (the client went away)."""
        with self.lock:
            if prepared.reserved is not None:
                self.idempotency.release(prepared.reserved)

    # --------------------------------------------------------------- envelope

    def error_response(self, exc: ApiError, request_id: str) -> ApiResponse:
        entry = self.catalogue.code_for(exc.meaning, self.reading)
        status = entry.status
        if exc.meaning == "request_invalid" and self.defects.on(d.WRONG_STATUS):
            status = 422
        headers = dict(exc.headers)
        if status == 429 and self.defects.on(d.RATE_LIMIT_NO_ENVELOPE):
            return ApiResponse(429, [("content-type", "text/plain")], b"Too Many Requests")
        error: dict[str, Any] = {"code": entry.code, "message": exc.message}
        if exc.details is not None:
            error["details"] = exc.details
        body: dict[str, Any] = {"request_id": request_id, "error": error}
        if self.defects.on(d.REQUEST_ID_MISSING):
            del body["request_id"]
        return _json_response(status, body, headers)

    # -------------------------------------------------------------- pipeline

    def _route(self, request: ApiRequest) -> tuple[contract.Operation, dict[str, str]]:
        for route in self._routes:
            match = route.pattern.match(request.path)
            if match is None:
                continue
            op = route.methods.get(request.method.upper())
            if op is None and self.variants.on(v.NO_405):
                raise ApiError(
                    "resource_not_found", f"no operation at {request.method} {request.path}", {"path": request.path}
                )
            if op is None:
                allow = ", ".join(sorted(route.methods))
                write_only = "GET" not in route.methods
                raise ApiError(
                    "method_not_allowed",
                    f"{request.method} is not allowed on {route.template}; use {allow}",
                    {"allowed": sorted(route.methods)},
                    headers={} if write_only and self.defects.on(d.ALLOW_MISSING_ON_WRITE_PATHS) else {"allow": allow},
                )
            return op, match.groupdict()
        raise ApiError("resource_not_found", f"no operation at {request.path}", {"path": request.path})

    def _authenticate(self, request: ApiRequest, now: float) -> Credential:
        try:
            return self._verify(request, now)
        except ApiError as exc:
            if exc.meaning != "auth_invalid_credential":
                raise
            return self._misverify(request, exc)

    def _misverify(self, request: ApiRequest, exc: ApiError) -> Credential:
        """What the auth defects let through (or answer) where the secret did not verify."""
        key, secret = parse_basic(request.header("authorization")) or ("", "")
        cred = self.credentials.get(key)
        if cred is None:
            if self.defects.on(d.UNKNOWN_KEY_403):
                raise ApiError("auth_forbidden", "partner_key is not allowed here", {"scope": READ_SCOPE}) from exc
            raise exc
        if cred.revoked:
            raise exc
        if self.defects.on(d.SECRET_PREFIX_ACCEPTED) and cred.secret.startswith(secret):
            return cred
        if self.defects.on(d.SECRET_OF_ANOTHER_KEY) and any(
            other.business_id == cred.business_id and other.secret == secret and not other.revoked
            for other in self.credentials
        ):
            return cred
        raise exc

    def _verify(self, request: ApiRequest, now: float) -> Credential:
        return self.credentials.authenticate(
            request.header("authorization"),
            now=now,
            rotation_window=CONCEPTS_ROTATION_WINDOW_S if self.reading == "concepts" else 0.0,
            accept_old_secrets=self.defects.on(d.OLD_SECRET_ACCEPTED),
            accept_revoked=self.defects.on(d.REVOKED_ACCEPTED),
            empty_key_invalid=self.variants.on(v.EMPTY_KEY_INVALID),
            revoked_first=self.variants.on(v.REVOKED_BEFORE_SECRET),
        )

    def _prepare(self, request: ApiRequest, request_id: str) -> Prepared | ApiResponse:
        now = self.clock.now()
        if self.variants.on(v.AUTH_BEFORE_ROUTING):
            cred = self._authenticate(request, now)
            op, params = self._route(request)
        else:
            op, params = self._route(request)
            cred = self._authenticate(request, now)
        retry_after = None
        if op.is_write or not self.variants.on(v.WRITES_TAKE_TOKENS):
            retry_after = self.limiter.take(cred.key, rate=cred.rate, burst=cred.burst, now=now)
        if retry_after is not None and self.variants.on(v.RETRY_AFTER_60):
            retry_after = VARIANT_RETRY_AFTER
        if retry_after is not None:
            dropped = op.is_write and self.defects.on(d.RETRY_AFTER_MISSING_ON_WRITES)
            raise ApiError(
                "rate_limit_exceeded",
                f"rate cap of {cred.rate:g} requests/s hit; retry after {retry_after}s",
                {"retry_after": retry_after},
                headers={} if dropped else {"retry-after": str(retry_after)},
            )
        needed = WRITE_SCOPE if op.is_write else READ_SCOPE
        if needed not in cred.scopes and not (op.is_write and self.defects.on(d.SCOPE_NOT_ENFORCED)):
            raise ApiError("auth_forbidden", f"credential is not scoped for {needed}", {"scope": needed})
        self.world.run_due(now)
        if not op.is_write:
            return Prepared(request, request_id, op, cred, params, None, None)

        key = request.header("idempotency-key")
        if not key:
            if self.reading == "reference" and not self.defects.on(d.MISSING_KEY_ACCEPTED):
                raise ApiError(
                    "request_missing_idempotency_key",
                    "write endpoints need an Idempotency-Key header (1-64 characters, e.g. a UUID)",
                    {"field": "Idempotency-Key"},
                )
            key = None
        elif len(key) > MAX_KEY_LENGTH:
            raise invalid("Idempotency-Key", f"must be at most {MAX_KEY_LENGTH} characters, got {len(key)}")
        body = self._parse_body(request)
        if key is None:
            return Prepared(request, request_id, op, cred, params, body, None)
        scope = "*" if self.defects.on(d.KEYS_GLOBAL) else cred.key
        fp = fingerprint(op.method, request.path, body)
        decision = self.idempotency.begin(scope, key, fp, now)
        if isinstance(decision, Replay):
            if self.defects.on(d.REPLAY_REEXECUTES):
                return Prepared(request, request_id, op, cred, params, body, None)
            stored = decision.response
            body = stored.body
            if self.variants.on(v.REPLAY_NEW_REQUEST_ID):
                body = _with_request_id(body, request_id)
            headers = list(stored.headers)
            if self.defects.on(d.REPLAY_WITHOUT_CONTENT_TYPE):
                headers = [(k, val) for k, val in headers if k.lower() != "content-type"]
            if self.variants.on(v.NO_REPLAYED_HEADER):
                return ApiResponse(stored.status, headers, body)
            return ApiResponse(stored.status, [*headers, ("idempotent-replayed", "true")], body)
        if isinstance(decision, Conflict):
            run_anyway = self.defects.on(d.NO_IN_FLIGHT) if decision.in_flight else self.defects.on(d.CONFLICT_200)
            if run_anyway:
                return Prepared(request, request_id, op, cred, params, body, None)
            reason = "in_flight" if decision.in_flight else "different_body"
            message = (
                "a request with this Idempotency-Key is still in flight; retry later"
                if decision.in_flight
                else "this Idempotency-Key was used with a different request; use a new key per logical operation"
            )
            details = {"field": "Idempotency-Key", "reason": reason}
            if decision.in_flight:
                raise _InFlightError("state_idempotency_conflict", message, details)
            raise ApiError("state_idempotency_conflict", message, details)
        return Prepared(request, request_id, op, cred, params, body, decision)

    def _parse_body(self, request: ApiRequest) -> Any:
        cap = DECIMAL_MB if self.defects.on(d.BODY_CAP_DECIMAL) else MAX_BODY_BYTES
        if request.body_too_large or len(request.body) > cap:
            raise invalid("body", f"request bodies are limited to {cap} bytes")
        ctype = (request.header("content-type") or "").split(";")[0].strip().lower()
        if ctype != JSON_TYPE:
            raise invalid("Content-Type", f"must be {JSON_TYPE}, got {ctype or 'nothing'}")
        if not request.body.strip():
            raise invalid("body", "a JSON object is required")
        max_depth = VARIANT_MAX_DEPTH if self.variants.on(v.DEPTH_64) else MAX_DEPTH
        if self.defects.on(d.DEPTH_OFF_BY_ONE):
            max_depth += 1
        try:
            body = json.loads(request.body, parse_constant=reject_constant, parse_float=finite_float)
        except RecursionError:
            raise invalid("body", f"JSON nested deeper than {max_depth} levels") from None
        except ValueError as exc:
            if self.defects.on(d.HTML_500_MALFORMED):
                raise _Html500() from exc
            raise invalid("body", f"malformed JSON: {exc}") from None
        if json_depth(body, max_depth) > max_depth:
            raise invalid("body", f"JSON nested deeper than {max_depth} levels")
        if not isinstance(body, dict):
            raise invalid("body", f"must be a JSON object, got {type(body).__name__}")
        return body

    def _execute(self, p: Prepared) -> ApiResponse:
        try:
            data = self._dispatch(p)
        except ApiError as exc:
            return self.error_response(exc, p.request_id)
        if self.variants.on(v.SUCCESS_DATA_EMPTY) and p.operation.operation_id in _EMPTIED_PAYLOADS:
            data = {}
        response = _json_response(200, {"request_id": p.request_id, "data": data}, {})
        if self.defects.on(d.SUCCESS_TEXT_PLAIN):
            response.headers = [("content-type", "text/plain; charset=utf-8"), *response.headers[1:]]
        return response

    def _dispatch(self, p: Prepared) -> Any:
        op = p.operation
        biz = p.credential.business_id
        if self.variants.on(v.UNKNOWN_QUERY_400):
            known = _query_parameters(op.operation_id)
            for name, _ in p.request.query:
                if name not in known:
                    allowed = ", ".join(sorted(known)) or "none"
                    raise invalid(name, f"unknown query parameter; this operation takes: {allowed}")
        if op.operation_id == "getMenu":
            brand = self._query_id(p.request, "brand_id")
            branch = self._query_id(p.request, "branch_id")
            if (brand is None) != (branch is None):
                raise ApiError(
                    "request_invalid",
                    "brand_id and branch_id must be passed together or omitted together",
                    {"field": "brand_id" if brand is None else "branch_id"},
                )
            return self.world.get_menu(biz, brand, branch)
        body = p.body
        if self.variants.on(v.TENANCY_BEFORE_VALIDATION):
            self.world.check_ownership(biz, op.operation_id, body, self._path_section_id(p))
        if self.variants.on(v.NULL_REJECTED):
            _reject_nulls(op.operation_id, body)
        _misread(self.defects, body)
        if op.body_schema:
            self._validate(op.body_schema, body)
        if self.variants.on(v.TIMES_REQUIRED) and op.operation_id in {"populateMenu", "syncMenuToStores"}:
            for raw_id, entry in body["sections"].items():
                if entry.get("availableTimes") is None:
                    raise invalid(
                        f"sections.{raw_id}.availableTimes", "is required; send {} to use the business-level schedule"
                    )
        match op.operation_id:
            case "createSection":
                return self.world.create_section(biz, body)
            case "setSectionVisibilities":
                raw = p.path_params.get("sectionID", "")
                section_id = self._int32_id(raw)
                if section_id is None:
                    raise invalid("sectionID", f"must be a positive 32-bit integer, got {raw[:40]!r}")
                return self.world.set_visibilities(biz, section_id, body)
            case "enableSections":
                return self.world.enable_sections(biz, body)
            case "populateMenu":
                return self.world.populate(biz, body)
            case "syncMenuToStores":
                return self.world.sync(biz, body)
            case "publishMenu":
                return self.world.publish(biz, body, self.clock.now())
            case "resetStoreOverrides":
                return self.world.reset(biz, body)
        raise AssertionError(f"operation {op.operation_id} has no handler")  # pragma: no cover

    def _path_section_id(self, p: Prepared) -> int | None:
        raw = p.path_params.get("sectionID")
        return None if raw is None else self._int32_id(raw)

    def _query_id(self, request: ApiRequest, name: str) -> int | None:
        raw = request.param(name)
        if raw is None:
            return None
        value = self._int32_id(raw)
        if value is None:
            raise invalid(name, f"must be a positive 32-bit integer, got {raw[:40]!r}")
        return value

    def _int32_id(self, raw: str) -> int | None:
        """A path/query id as the variants in force read it (None: 400)."""
        if self.variants.on(v.LEADING_ZERO_IDS_400) and raw.startswith("0") and len(raw) > 1:
            return None
        if self.variants.on(v.ZERO_IDS_404) and raw.isascii() and raw.isdigit() and len(raw) <= 10 and int(raw) == 0:
            return 0  # looked up like any id: nothing has it, so 404
        return _int32_id(raw)

    def _validate(self, schema_name: str, body: Any) -> None:
        if self.defects.on(d.LOOSE_INTEGERS) or self.variants.on(v.FLOAT_INTEGERS_ACCEPTED):
            _coerce_in_place(body)
        validator = contract.body_validator(schema_name)
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        if self.variants.on(v.UNKNOWN_FIELDS_IGNORED) and any(e.validator == "additionalProperties" for e in errors):
            for e in errors:
                if e.validator == "additionalProperties" and isinstance(e.instance, dict):
                    defined = set(e.schema.get("properties", {}))
                    for name in [k for k in e.instance if k not in defined]:
                        del e.instance[name]
            errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        errors = [e for e in errors if not self._excused(schema_name, e)]
        error = errors[0] if errors else None
        if error is None:
            return
        path = ".".join(str(part) for part in error.absolute_path)
        field_name = path or "body"
        if error.validator in {"required", "additionalProperties"}:
            names = re.findall(r"'([^']+)'", error.message)
            if names:
                field_name = f"{path}.{names[0]}" if path else names[0]
        raise invalid(field_name, _short(error.message), rule=str(error.validator))


    def _excused(self, schema_name: str, error: Any) -> bool:
        """A schema error a variant in force does not count (a field it makes optional)."""
        if error.validator != "required":
            return False
        missing = set(re.findall(r"'([^']+)'", error.message))
        path = list(error.absolute_path)
        if self.variants.on(v.CREATE_NOTHING_REQUIRED) and schema_name == "CreateSectionRequest" and not path:
            return missing <= {"title"}
        if self.variants.on(v.SEQUENCE_OPTIONAL) and schema_name == "PushRequest" and path[:1] == ["sections"]:
            return missing <= {"sequence"}
        return False


def _misread(defects: DefectSet, body: Any) -> None:
    """What the input defects make of a body before it is validated (in place)."""
    if not (defects.on(d.WEEKDAY_7_ACCEPTED) or defects.on(d.HHMM_2400_ACCEPTED) or defects.on(d.INT32_MAX_REJECTED)):
        return
    stack: list[tuple[str, Any]] = [("", body)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, dict):
            if where.endswith("availableTimes") and "7" in value and defects.on(d.WEEKDAY_7_ACCEPTED):
                value.setdefault("0", value.pop("7"))  # ISO Sunday
            if value.get("endTime") == 2400 and defects.on(d.HHMM_2400_ACCEPTED):
                value["endTime"] = 2359  # "midnight" stored as the end of the day
            stack.extend((f"{where}.{k}" if where else str(k), val) for k, val in value.items())
        elif isinstance(value, list):
            stack.extend((f"{where}[{i}]", val) for i, val in enumerate(value))
        elif value == INT32_MAX and type(value) is int and defects.on(d.INT32_MAX_REJECTED):
            raise invalid(where, f"must be below {INT32_MAX}")


class _Html500(Exception):
    """The html-500-on-malformed-json defect: the handler crashes."""


def html_500() -> ApiResponse:
    return ApiResponse(
        500, [("content-type", "text/html")], b"<html><body><h1>500 Internal Server Error</h1></body></html>"
    )


def _json_response(status: int, body: Mapping[str, Any], headers: Mapping[str, str]) -> ApiResponse:
    payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return ApiResponse(status, [("content-type", JSON_TYPE), *headers.items()], payload)


def reject_constant(name: str) -> float:
    """``json.loads`` hook: NaN and Infinity are not JSON numbers."""
    raise ValueError(f"{name} is not a JSON number")


def finite_float(text: str) -> float:
    """``json.loads`` hook: a float that overflows (1e400) is out of range."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]} is out of range")
    return value


def json_depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """How deeply a parsed JSON value nests (stops counting past ``limit``)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            deepest = max(deepest, level)
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            deepest = max(deepest, level)
            stack.extend((v, level + 1) for v in item)
        if deepest > limit:
            break
    return deepest


@functools.cache
def _query_parameters(operation_id: str) -> frozenset[str]:
    """The query parameter names openapi.yaml defines for an operation."""
    doc = contract.openapi()
    for item in doc["paths"].values():
        for op in item.values():
            if isinstance(op, dict) and op.get("operationId") == operation_id:
                params = [*item.get("parameters", []), *op.get("parameters", [])]
                return frozenset(p["name"] for p in (_resolve_ref(doc, p) for p in params) if p.get("in") == "query")
    return frozenset()


def _resolve_ref(doc: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in node:
        target: Any = doc
        for part in str(node["$ref"])[2:].split("/"):
            target = target[part]
        node = target
    return node


def _with_request_id(body: bytes, request_id: str) -> bytes:
    """A stored JSON envelope with another request_id (same keys, same order)."""
    envelope = json.loads(body)
    envelope["request_id"] = request_id
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()


#: fields whose null the null-rejected variant still reads as the docs do
_NULL_ALLOWED = {"enableSections": {"isEnabled"}}


def _reject_nulls(operation_id: str, body: Any) -> None:
    """The null-rejected variant: an optional field sent as null is a 400."""
    if not isinstance(body, dict):
        return
    if operation_id == "resetStoreOverrides":  # a passthrough body: only stores is ours
        body = {"stores": body.get("stores")} if body.get("stores") is not None else {}
    stack: list[tuple[str, Any]] = [
        (k, val) for k, val in body.items() if k not in _NULL_ALLOWED.get(operation_id, set())
    ]
    while stack:
        where, value = stack.pop()
        if value is None:
            raise invalid(where, "null is not accepted; leave the field out instead")
        if isinstance(value, dict):
            stack.extend((f"{where}.{k}", val) for k, val in value.items())
        elif isinstance(value, list):
            stack.extend((f"{where}[{i}]", val) for i, val in enumerate(value))


def _int32_id(raw: str) -> int | None:
    """A positive int32 written in ASCII digits, else None.

    ``str.isdigit`` alone also accepts "²" (int() then raises: a 500) and
    Arabic-Indic digits (read as an id a typed backend rejects).
    """
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10:
        return None
    value = int(raw)
    return value if 1 <= value <= INT32_MAX else None


def _short(message: str) -> str:
    return message if len(message) <= 200 else message[:197] + "..."


def _coerce_in_place(value: Any) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, float) and v.is_integer():
                value[k] = int(v)
            else:
                _coerce_in_place(v)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            if isinstance(v, float) and v.is_integer():
                value[i] = int(v)
            else:
                _coerce_in_place(v)
