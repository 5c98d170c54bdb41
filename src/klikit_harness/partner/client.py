"""The reference client of the klikit Partner API's menu-publish operations.

Owns: one method per operation (paths from ``contracts/openapi.yaml``,
overridable), HTTP Basic auth and recovery from a rotated secret, one
Idempotency-Key per logical write reused on every retry, retries with
tenacity under the policy of ``contracts/errors.yaml``, and turning every
answer into ``data`` or a typed exception (``klikit_harness.partner.errors``) —
including answers that break the envelope contract (``ContractViolation``:
the rules are ``klikit_harness.partner.envelope``'s, every vocabulary accepted, a 429
held to its integer ``Retry-After``).

Must not: sleep or do I/O except through its injected ``sleep`` and httpx
``transport``; let a secret reach a message, a log line or a repr; know
anything about the stand-in or the simulator.

What is retried, and why (errors page: "retry only RATE_LIMITED,
DOWNSTREAM_UNAVAILABLE, INTERNAL and network timeouts"):

* answers whose code errors.yaml marks ``retryable`` (429, 500, 502);
* ``ConnectFailed`` (nothing was sent) and ``RequestTimeout``;
* a non-envelope answer whose status is that of a retryable code — a proxy's
  HTML 502 page: the gateway failed, so it is retried like
  ``downstream_unavailable``; if it persists the client raises
  ``ContractViolation`` (the target answered outside the contract), with
  ``retryable`` true.

Never retried: every other code (each 4xx), ``ConnectionLost`` (the answer was
cut off; the exception carries the key to repeat the call safely), and any
other contract violation. After ``auth_invalid_credential`` the client asks its
``credentials_provider`` once for fresh credentials and, if they differ,
repeats the request once at once (same Idempotency-Key); that repeat counts
towards ``max_attempts``.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import tenacity

from .. import contract
from . import bounded, envelope
from .basic import basic_header
from .bounded import BoundedTransport, Bounds
from .errors import (
    ApiError,
    ConnectFailed,
    ConnectionLost,
    ContractViolation,
    InvalidCredentialError,
    KlikitError,
    RequestTimeout,
    TransportError,
    error_class,
)
from .exchange import HttpExchange
from .redact import MASK, Redactor

log = logging.getLogger("klikit_harness.partner.client")

CredentialsProvider = Callable[[], tuple[str, str]]
EXCERPT_CHARS = 200
USER_AGENT = "klikit-harness-client"


@dataclass(frozen=True)
class RetryPolicy:
    """How hard the client retries: exponential backoff with full jitter.

    The wait before retry *n* (1-based) is drawn uniformly from
    ``[0, min(max_delay, initial_delay * 2**(n-1))]``, raised to the answer's
    ``Retry-After`` when that is longer, and never above ``max_delay``.
    ``max_attempts`` counts every HTTP request of one call, the first included.
    """

    initial_delay: float = 0.5
    max_delay: float = 30.0
    max_attempts: int = 5

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"RetryPolicy.max_attempts must be >= 1, got {self.max_attempts}")
        if not 0 <= self.initial_delay <= self.max_delay:
            raise ValueError(
                "RetryPolicy needs 0 <= initial_delay <= max_delay, got "
                f"initial_delay={self.initial_delay}, max_delay={self.max_delay}"
            )

    @classmethod
    def from_catalogue(cls) -> RetryPolicy:
        """The policy ``contracts/errors.yaml`` documents (``retry_policy``)."""
        raw = contract.errors().retry_policy
        return cls(
            initial_delay=float(raw["initial_delay_s"]),
            max_delay=float(raw["max_delay_s"]),
            max_attempts=int(raw["max_attempts"]),
        )

    def window(self, retry: int) -> float:
        """The upper end of the jittered backoff before retry number ``retry`` (1-based)."""
        if retry < 1:
            raise ValueError("retries are numbered from 1")
        return float(min(self.max_delay, self.initial_delay * 2 ** (retry - 1)))


@dataclass(frozen=True)
class KlikitResponse:
    """A successful answer: its ``data`` and what a caller may want to log about it."""

    operation_id: str
    status: int
    data: Any
    request_id: str
    idempotency_key: str | None
    attempts: int
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def replayed(self) -> bool:
        """True when the server replayed a recorded answer (``Idempotent-Replayed: true``)."""
        return self.headers.get("idempotent-replayed", "").lower() == "true"


class _Credentials:
    """A key and secret; the secret stays out of every repr."""

    __slots__ = ("partner_key", "secret_key")

    def __init__(self, partner_key: str, secret_key: str) -> None:
        if not partner_key or not secret_key:
            raise ValueError(
                "KlikitClient needs a partner_key and a secret_key (set KLIKIT_PARTNER_KEY and KLIKIT_SECRET_KEY)"
            )
        self.partner_key = partner_key
        self.secret_key = secret_key

    def header(self) -> str:
        return basic_header(self.partner_key, self.secret_key)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _Credentials):
            return NotImplemented
        return (self.partner_key, self.secret_key) == (other.partner_key, other.secret_key)

    __hash__ = None  # type: ignore[assignment]  # mutable holder; never a dict key

    def __repr__(self) -> str:
        return f"_Credentials(partner_key={self.partner_key!r}, secret_key={MASK})"


@dataclass
class _Call:
    """One logical call: fixed bytes and key, shared by all of its attempts."""

    operation: contract.Operation
    url: str
    params: tuple[tuple[str, str], ...]
    content: bytes | None
    key: str | None
    attempts: int = 0
    refreshed: bool = False


class _CredentialsRefreshed(Exception):
    """Internal signal: the credentials changed after a 401; repeat at once."""

    def __init__(self, error: InvalidCredentialError) -> None:
        super().__init__("credentials refreshed")
        self.error = error


def _should_retry(exc: BaseException) -> bool:
    if isinstance(exc, _CredentialsRefreshed):
        return True
    return isinstance(exc, KlikitError) and exc.retryable


class KlikitClient:
    """A synchronous client of the menu-publish operations.

    ``base_url`` includes ``/v1/partner``. ``transport`` is any httpx
    transport (``Simulator.transport()``, ``httpx.ASGITransport`` is async and
    does not fit — use the loopback stand-in instead). ``retry`` defaults to
    ``RetryPolicy.from_catalogue()``. ``credentials_provider`` returns
    ``(partner_key, secret_key)`` and is asked once after a credential stops
    verifying. ``paths`` overrides operation paths by operationId.
    ``sleep`` waits between attempts (inject a fake one in tests).
    ``bounds`` (``partner.bounded.Bounds``) caps how much of an answer is read
    and how long the whole answer may take; ``transport`` is wrapped in it.
    Redirects are never followed: a 3xx is a ``ContractViolation``.

    Writes return ``data`` and raise a ``KlikitError`` subclass on failure;
    ``call()`` returns the whole ``KlikitResponse`` (``request_id``,
    ``replayed``, ``attempts``).
    """

    def __init__(
        self,
        base_url: str,
        partner_key: str,
        secret_key: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float | httpx.Timeout = 10.0,
        retry: RetryPolicy | None = None,
        credentials_provider: CredentialsProvider | None = None,
        paths: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] | None = None,
        bounds: Bounds | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(
                f"base_url must be an http(s) URL ending in /v1/partner, got {base_url!r} (check KLIKIT_BASE_URL)"
            )
        self._base_url = base_url.rstrip("/")
        self._redactor = Redactor()
        self._credentials = _Credentials(partner_key, secret_key)
        self._remember(self._credentials)
        self._provider = credentials_provider
        self._policy = retry if retry is not None else RetryPolicy.from_catalogue()
        self._sleep = sleep if sleep is not None else time.sleep
        self._jitter = tenacity.wait_random_exponential(
            multiplier=self._policy.initial_delay, max=self._policy.max_delay
        )
        self._operations = _resolve_operations(paths)
        catalogue = contract.errors()
        self._retryable_statuses = frozenset(
            entry.status
            for entries in (catalogue.reference, catalogue.concepts)
            for entry in entries.values()
            if entry.retryable
        )
        # the domain core's constants, loaded on first use: importing the package reads no contract file
        from ..contract.limits import JSON_TYPE

        self._json_type = JSON_TYPE
        self._http = httpx.Client(
            base_url=self._base_url,
            # every answer read within bounds (``partner.bounded``); one cut off mid-body stays ConnectionLost
            transport=BoundedTransport(transport, bounds=bounds, raise_broken_off=True),
            timeout=timeout,
            headers={"user-agent": USER_AGENT, "accept": JSON_TYPE},
            follow_redirects=False,
        )

    # --------------------------------------------------------------- plumbing

    @property
    def base_url(self) -> str:
        return self._base_url

    @property
    def partner_key(self) -> str:
        return self._credentials.partner_key

    @property
    def retry_policy(self) -> RetryPolicy:
        return self._policy

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> KlikitClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"KlikitClient(base_url={self._base_url!r}, "
            f"partner_key={self._credentials.partner_key!r}, secret_key={MASK})"
        )

    # ------------------------------------------------------------- operations

    def create_section(self, body: Mapping[str, Any], *, idempotency_key: str | None = None) -> Any:
        """createSection: ``data`` is ``{"id": <new section id>}``."""
        return self.call("createSection", body, idempotency_key=idempotency_key).data

    def set_section_visibilities(
        self, section_id: int | str, body: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> Any:
        """setSectionVisibilities: replaces the section's whole visibility map."""
        return self.call(
            "setSectionVisibilities",
            body,
            path_params={"sectionID": section_id},
            idempotency_key=idempotency_key,
        ).data

    def enable_sections(self, body: Mapping[str, Any], *, idempotency_key: str | None = None) -> Any:
        """enableSections: a missing or null ``isEnabled`` means false."""
        return self.call("enableSections", body, idempotency_key=idempotency_key).data

    def populate(self, body: Mapping[str, Any], *, idempotency_key: str | None = None) -> Any:
        """populateMenu: first-time push; stores that have a menu are skipped."""
        return self.call("populateMenu", body, idempotency_key=idempotency_key).data

    def sync(self, body: Mapping[str, Any], *, idempotency_key: str | None = None) -> Any:
        """syncMenuToStores: push named sections to stores that have a menu."""
        return self.call("syncMenuToStores", body, idempotency_key=idempotency_key).data

    def publish(self, body: Mapping[str, Any], *, idempotency_key: str | None = None) -> Any:
        """publishMenu: ``data`` is ``{"success": n, "failed": m}``."""
        return self.call("publishMenu", body, idempotency_key=idempotency_key).data

    def reset(self, body: Mapping[str, Any], *, idempotency_key: str | None = None) -> Any:
        """resetStoreOverrides: drop every store-level override of the listed stores."""
        return self.call("resetStoreOverrides", body, idempotency_key=idempotency_key).data

    def get_menu(self, brand_id: int | None = None, branch_id: int | None = None) -> Any:
        """getMenu: store mode with both ids (last published snapshot), business mode with none."""
        pairs = (("brand_id", brand_id), ("branch_id", branch_id))
        params = {name: value for name, value in pairs if value is not None}
        return self.call("getMenu", params=params).data

    def call(
        self,
        operation_id: str,
        body: Mapping[str, Any] | None = None,
        *,
        path_params: Mapping[str, int | str] | None = None,
        params: Mapping[str, int | str] | None = None,
        idempotency_key: str | None = None,
    ) -> KlikitResponse:
        """Run one logical call of any operation, with retries; the whole successful answer."""
        op = self._operations.get(operation_id)
        if op is None:
            known = ", ".join(sorted(self._operations))
            raise ValueError(f"unknown operation {operation_id!r}; known: {known}")
        call = _Call(
            operation=op,
            url=_fill_path(op, path_params or {}),
            params=tuple((k, str(v)) for k, v in (params or {}).items()),
            content=_encode_body(op, body),
            key=_choose_key(op, idempotency_key),
        )
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self._policy.max_attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception(_should_retry),
            sleep=self._pause,
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            return retrying(self._attempt, call)
        except _CredentialsRefreshed as signal:  # the refresh came on the last allowed attempt
            signal.error.provider_outcome = "untried"
            raise signal.error from None

    # ----------------------------------------------------------------- attempt

    def _attempt(self, call: _Call) -> KlikitResponse:
        call.attempts += 1
        credentials = self._credentials
        headers = {"authorization": credentials.header()}
        if call.content is not None:
            headers["content-type"] = self._json_type
        if call.key is not None:
            headers["idempotency-key"] = call.key
        try:
            response = self._http.request(
                call.operation.method,
                call.url,
                params=call.params,
                content=call.content,
                headers=headers,
            )
        except httpx.RequestError as exc:
            garbled = bounded.unreadable(exc)
            if garbled is not None:  # it answered, but not in HTTP: outside the contract, not a lost connection
                breach = envelope.not_http(garbled)
                raise ContractViolation(
                    self._redact(breach.title),
                    documented=breach.documented,
                    behaviour=breach.behaviour,
                    operation_id=call.operation.operation_id,
                    idempotency_key=call.key,
                    attempts=call.attempts,
                ) from None
            # Not chained: httpx's message is repeated (redacted) in ours, and a chained
            # original would print unredacted in every traceback.
            raise self._transport_error(call, exc) from None
        try:
            return self._interpret(call, response)
        except InvalidCredentialError as exc:
            if self._provider is None or call.refreshed:
                if call.refreshed:
                    exc.provider_outcome = "refreshed"
                raise
            call.refreshed = True
            fresh = _Credentials(*self._provider())
            if fresh == credentials:
                exc.provider_outcome = "unchanged"
                raise
            self._credentials = fresh
            self._remember(fresh)
            raise _CredentialsRefreshed(exc) from exc

    def _interpret(self, call: _Call, response: httpx.Response) -> KlikitResponse:
        status = response.status_code
        headers = {k.lower(): v for k, v in response.headers.items()}
        common: dict[str, Any] = {
            "status": status,
            "response_headers": headers,
            "operation_id": call.operation.operation_id,
            "idempotency_key": call.key,
            "attempts": call.attempts,
        }

        ex = HttpExchange.from_httpx(response)
        breach = envelope.first_breach(ex)  # every rule, either vocabulary: the client reads both
        if breach is not None:
            code = (ex.error or {}).get("code")
            raise ContractViolation(
                self._redact(breach.title),
                content_type=headers.get("content-type"),
                body_excerpt=self._excerpt(response.content),
                documented=breach.documented,
                behaviour=breach.behaviour,
                request_id=ex.request_id,
                code=code if isinstance(code, str) else None,
                retryable=status in self._retryable_statuses,
                **common,
            )
        body = ex.envelope or {}
        if envelope.is_success(status):
            return KlikitResponse(
                operation_id=call.operation.operation_id,
                status=status,
                data=body["data"],
                request_id=str(ex.request_id),
                idempotency_key=call.key,
                attempts=call.attempts,
                headers=headers,
            )
        # the rules held: an error object whose code the catalogue knows, with its status
        error = body["error"]
        code = str(error["code"])
        entry = contract.errors().lookup(code)
        raise (error_class(code) or ApiError)(
            self._redact(str(error["message"])),
            code=code,
            request_id=ex.request_id,
            details=self._redact_data(error.get("details")),
            retryable=bool(entry and entry.retryable),
            **common,
        )

    def _transport_error(self, call: _Call, exc: httpx.RequestError) -> TransportError:
        cls: type[TransportError]
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
            cls, retryable = ConnectFailed, True
        elif isinstance(exc, httpx.TimeoutException):
            cls, retryable = RequestTimeout, True
        elif isinstance(exc, httpx.ReadError | httpx.WriteError | httpx.RemoteProtocolError):
            cls, retryable = ConnectionLost, False
        else:
            cls, retryable = TransportError, False
        return cls(
            self._redact(f"{type(exc).__name__}: {exc}"),
            retryable=retryable,
            operation_id=call.operation.operation_id,
            idempotency_key=call.key,
            attempts=call.attempts,
        )

    # ------------------------------------------------------------------ retries

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, _CredentialsRefreshed):
            return 0.0
        wait = self._jitter(state)
        retry_after = exc.retry_after if isinstance(exc, KlikitError) else None
        if retry_after is not None:
            wait = max(wait, retry_after)
        return float(min(wait, self._policy.max_delay))

    def _pause(self, seconds: float) -> None:
        if seconds > 0:
            self._sleep(seconds)

    def _log_retry(self, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        call = state.args[0] if state.args else None
        op = call.operation.operation_id if isinstance(call, _Call) else "?"
        if isinstance(exc, _CredentialsRefreshed):
            log.info(
                "%s: credentials did not verify (request_id %s); re-read them and repeating once",
                op,
                exc.error.request_id,
            )
            return
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        log.warning(
            "%s attempt %d/%d failed (%s, request_id %s); retrying in %.2f s",
            op,
            state.attempt_number,
            self._policy.max_attempts,
            _summary(exc),
            exc.request_id if isinstance(exc, KlikitError) else None,
            wait,
        )

    # ------------------------------------------------------------------ secrets

    def _remember(self, credentials: _Credentials) -> None:
        self._redactor.add(credentials.secret_key, credentials.partner_key)

    def _redact(self, text: str) -> str:
        return self._redactor(text)

    def _redact_data(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._redact(value)
        if isinstance(value, list):
            return [self._redact_data(v) for v in value]
        if isinstance(value, dict):
            return {k: self._redact_data(v) for k, v in value.items()}
        return value

    def _excerpt(self, raw: bytes) -> str:
        # Redact before cutting, so a secret straddling the cut cannot leave a prefix behind.
        return self._redact(raw[:4096].decode("utf-8", errors="replace"))[:EXCERPT_CHARS]


# ------------------------------------------------------------------- helpers


def _resolve_operations(paths: Mapping[str, str] | None) -> dict[str, contract.Operation]:
    operations = dict(contract.operations())
    for op_id, path in (paths or {}).items():
        if op_id not in operations:
            known = ", ".join(sorted(operations))
            raise ValueError(f"paths names unknown operation {op_id!r}; known: {known}")
        if not path.startswith("/"):
            raise ValueError(f"paths[{op_id!r}] must start with '/', got {path!r}")
        old = operations[op_id]
        operations[op_id] = contract.Operation(op_id, old.method, path, old.body_schema, old.unverified)
    return operations


def _fill_path(op: contract.Operation, values: Mapping[str, int | str]) -> str:
    path = op.path
    for name, value in values.items():
        placeholder = "{" + name + "}"
        if placeholder not in path:
            raise ValueError(f"{op.operation_id} has no path parameter {name!r} (path {op.path})")
        path = path.replace(placeholder, quote(str(value), safe=""))
    if "{" in path:
        raise ValueError(f"{op.operation_id} needs path parameters for {op.path}, got {dict(values)!r}")
    return path


def _encode_body(op: contract.Operation, body: Mapping[str, Any] | None) -> bytes | None:
    if not op.is_write:
        if body is not None:
            raise ValueError(f"{op.operation_id} is a {op.method} and takes no body")
        return None
    if body is None:
        raise ValueError(f"{op.operation_id} needs a JSON object body")
    # Serialised once, so every attempt sends the very same bytes.
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def _choose_key(op: contract.Operation, key: str | None) -> str | None:
    if not op.is_write:
        if key is not None:
            raise ValueError(f"{op.operation_id} is a read; reads take no Idempotency-Key")
        return None
    if key is None:
        return str(uuid.uuid4())
    from ..contract.limits import MAX_KEY_LENGTH  # the stand-in's limit is the contract's: one definition

    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise ValueError(f"idempotency_key must be 1-{MAX_KEY_LENGTH} characters, got {len(key)}")
    return key


def _summary(exc: BaseException | None) -> str:
    if isinstance(exc, ContractViolation):
        return f"status {exc.status} outside the contract"
    if isinstance(exc, ApiError):
        return f"{exc.status} {exc.code}"
    return type(exc).__name__
