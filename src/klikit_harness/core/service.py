"""The API as a pure function: an ``ApiRequest`` in, an ``ApiResponse`` out.

Owns: the order of the stateful checks around ``validation`` (routing; auth,
rate limit, scope; Idempotency-Key and body; replay/conflict; the rest of
validation; ownership before the business rules), the envelope and the
code → status mapping of the reading in force. Both adapters
— the ASGI stand-in and the respx simulator — call this, so every answer they
give is the same contract answer. Must not: do I/O, sleep or read the wall
clock directly.

A write is handled in two steps, ``prepare`` (everything up to reserving the
Idempotency-Key) and ``execute``, so an adapter can hold a request "in
flight" between them; ``handle`` does both at once.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .. import contract
from ..contract import Reading
from ..contract.limits import BASE_PATH, JSON_TYPE
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
from .errors import ServiceError
from .generated_variants import ERROR_SCHEMA, resolve
from .idempotency import Conflict, IdempotencyStore, Replay, Reserved, Stored, fingerprint
from .ratelimit import RateLimiter
from .reshape import reshape, success_schema
from .validation import (
    Accepted,
    ApiRequest,
    Crashed,
    Rejected,
    RouteTable,
    Stage,
    finite_float,
    json_depth,
    read_id,
    reject_constant,
    validate,
)
from .variants import VariantSet
from .world import World

# the request type lives in ``validation`` (the limits in ``contract.limits``); it is part of this module's public face
__all__ = [
    "VARIANT_RETRY_AFTER",
    "ApiRequest",
    "ApiResponse",
    "InFlight",
    "Prepared",
    "Service",
    "finite_float",
    "html_500",
    "json_depth",
    "reject_constant",
]

#: the Retry-After every 429 says under the retry-after-60 variant
VARIANT_RETRY_AFTER = 60
#: operations whose success payload the success-data-empty variant empties
_EMPTIED_PAYLOADS = frozenset(
    {"setSectionVisibilities", "enableSections", "populateMenu", "syncMenuToStores", "resetStoreOverrides"}
)


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


class _InFlightError(ServiceError):
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
    #: what ``validation`` made of the request; a rejection of a later stage is answered by ``execute``
    checked: Accepted | Rejected


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
        self.routes = RouteTable(base_path, path_overrides)
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
            except ServiceError as exc:
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

    def error_response(self, exc: ServiceError, request_id: str) -> ApiResponse:
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
        if self.variants.member_edits:
            # every error response of the contract is an ErrorEnvelope
            doc = contract.openapi()
            location, schema = resolve(doc, f"#/{ERROR_SCHEMA}")
            body = reshape(doc, location, schema, body, self.variants.member_edits)
        return _json_response(status, body, headers)

    # -------------------------------------------------------------- pipeline

    def _raise(self, checked: Accepted | Rejected | Crashed, *stages: Stage) -> None:
        """Answer the validation's rejection here if it belongs to one of these stages."""
        if isinstance(checked, Crashed) and checked.stage in stages:
            raise _Html500()
        if isinstance(checked, Rejected) and checked.stage in stages:
            raise checked.error()

    def _authenticate(self, request: ApiRequest, now: float) -> Credential:
        try:
            return self._verify(request, now)
        except ServiceError as exc:
            if exc.meaning != "auth_invalid_credential":
                raise
            return self._misverify(request, exc)

    def _misverify(self, request: ApiRequest, exc: ServiceError) -> Credential:
        """What the auth defects let through (or answer) where the secret did not verify."""
        key, secret = parse_basic(request.header("authorization")) or ("", "")
        cred = self.credentials.get(key)
        if cred is None:
            if self.defects.on(d.UNKNOWN_KEY_403):
                raise ServiceError("auth_forbidden", "partner_key is not allowed here", {"scope": READ_SCOPE}) from exc
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
        checked = validate(request, self.routes, reading=self.reading, variants=self.variants, defects=self.defects)
        if self.variants.on(v.AUTH_BEFORE_ROUTING):
            cred = self._authenticate(request, now)
            self._raise(checked, "route")
        else:
            self._raise(checked, "route")
            cred = self._authenticate(request, now)
        op = checked.operation
        assert op is not None
        retry_after = None
        if op.is_write or not self.variants.on(v.WRITES_TAKE_TOKENS):
            retry_after = self.limiter.take(cred.key, rate=cred.rate, burst=cred.burst, now=now)
        if retry_after is not None and self.variants.on(v.RETRY_AFTER_60):
            retry_after = VARIANT_RETRY_AFTER
        if retry_after is not None:
            dropped = op.is_write and self.defects.on(d.RETRY_AFTER_MISSING_ON_WRITES)
            raise ServiceError(
                "rate_limit_exceeded",
                f"rate cap of {cred.rate:g} requests/s hit; retry after {retry_after}s",
                {"retry_after": retry_after},
                headers={} if dropped else {"retry-after": str(retry_after)},
            )
        needed = WRITE_SCOPE if op.is_write else READ_SCOPE
        if needed not in cred.scopes and not (op.is_write and self.defects.on(d.SCOPE_NOT_ENFORCED)):
            raise ServiceError("auth_forbidden", f"credential is not scoped for {needed}", {"scope": needed})
        self.world.run_due(now)
        self._raise(checked, "key", "body")
        assert not isinstance(checked, Crashed)
        params, body, key = dict(checked.params), checked.parsed, checked.key
        if not op.is_write or key is None:
            return Prepared(request, request_id, op, cred, params, body, None, checked)
        scope = "*" if self.defects.on(d.KEYS_GLOBAL) else cred.key
        fp = fingerprint(op.method, request.path, body)
        decision = self.idempotency.begin(scope, key, fp, now)
        if isinstance(decision, Replay):
            if self.defects.on(d.REPLAY_REEXECUTES):
                return Prepared(request, request_id, op, cred, params, body, None, checked)
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
                return Prepared(request, request_id, op, cred, params, body, None, checked)
            reason = "in_flight" if decision.in_flight else "different_body"
            message = (
                "a request with this Idempotency-Key is still in flight; retry later"
                if decision.in_flight
                else "this Idempotency-Key was used with a different request; use a new key per logical operation"
            )
            details = {"field": "Idempotency-Key", "reason": reason}
            if decision.in_flight:
                raise _InFlightError("state_idempotency_conflict", message, details)
            raise ServiceError("state_idempotency_conflict", message, details)
        return Prepared(request, request_id, op, cred, params, body, decision, checked)

    def _execute(self, p: Prepared) -> ApiResponse:
        try:
            data = self._dispatch(p)
        except ServiceError as exc:
            return self.error_response(exc, p.request_id)
        if self.variants.on(v.SUCCESS_DATA_EMPTY) and p.operation.operation_id in _EMPTIED_PAYLOADS:
            data = {}
        body: Any = {"request_id": p.request_id, "data": data}
        if self.variants.member_edits:
            doc = contract.openapi()
            location, schema = success_schema(doc, p.operation.path, p.operation.method)
            body = reshape(doc, location, schema, body, self.variants.member_edits)
        response = _json_response(self.variants.success_status(p.operation.operation_id), body, {})
        if self.defects.on(d.SUCCESS_TEXT_PLAIN):
            response.headers = [("content-type", "text/plain; charset=utf-8"), *response.headers[1:]]
        return response

    def _dispatch(self, p: Prepared) -> Any:
        op = p.operation
        biz = p.credential.business_id
        checked = p.checked
        self._raise(checked, "query")
        section_id = checked.ids.get("sectionID")
        if self.variants.on(v.TENANCY_BEFORE_VALIDATION) and op.operation_id != "getMenu":
            raw = p.path_params.get("sectionID")
            path_id = None if raw is None else read_id(raw, self.variants)
            self.world.check_ownership(biz, op.operation_id, p.body, path_id)
        self._raise(checked, "input")
        if isinstance(checked, Rejected):
            # the business rules come after ownership: a foreign id is a 404 whatever its schedule says
            self.world.check_ownership(biz, op.operation_id, checked.body, section_id)
            raise checked.error()
        body = checked.body
        match op.operation_id:
            case "getMenu":
                return self.world.get_menu(biz, checked.ids.get("brand_id"), checked.ids.get("branch_id"))
            case "createSection":
                return self.world.create_section(biz, body)
            case "setSectionVisibilities":
                assert section_id is not None
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


class _Html500(Exception):
    """The html-500-on-malformed-json defect: the handler crashes."""


def html_500() -> ApiResponse:
    return ApiResponse(
        500, [("content-type", "text/html")], b"<html><body><h1>500 Internal Server Error</h1></body></html>"
    )


def _json_response(status: int, body: Mapping[str, Any], headers: Mapping[str, str]) -> ApiResponse:
    payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return ApiResponse(status, [("content-type", JSON_TYPE), *headers.items()], payload)


def _with_request_id(body: bytes, request_id: str) -> bytes:
    """A stored JSON envelope with another request_id (same keys, same order)."""
    envelope = json.loads(body)
    envelope["request_id"] = request_id
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()
