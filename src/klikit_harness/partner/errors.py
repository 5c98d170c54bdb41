"""Everything the reference client raises: one hierarchy rooted at ``KlikitError``.

Owns: the exception classes, which class stands for which catalogue code (both
vocabularies of ``contracts/errors.yaml`` and its aliases, through
``Catalogue.meanings``) and the wording of every message. Must not: do I/O,
decide retries (the client does, from ``retryable``) or hold a secret — the
client redacts text before it reaches an exception.

Hierarchy::

    KlikitError                            anything the client raises
    ├── ApiError                           an error envelope with a catalogued code
    │   ├── AuthError
    │   │   ├── MissingAuthError                auth_missing · MISSING_AUTH
    │   │   ├── InvalidCredentialError          auth_invalid_credential · INVALID_CREDENTIALS
    │   │   ├── RevokedCredentialError          auth_revoked
    │   │   └── ForbiddenScopeError             auth_forbidden · FORBIDDEN_SCOPE
    │   ├── RequestInvalidError                 request_invalid · REQUEST_INVALID
    │   │   ├── MissingIdempotencyKeyError      request_missing_idempotency_key
    │   │   │                                   · MISSING_IDEMPOTENCY_KEY
    │   │   └── InvalidRangeError               request_invalid_range
    │   ├── NotFoundError                       resource_not_found · RESOURCE_NOT_FOUND · not_found
    │   │   └── UnmappedError                   resource_unmapped
    │   ├── ConflictError
    │   │   ├── IdempotencyConflictError        state_idempotency_conflict
    │   │   │                                   · IDEMPOTENCY_KEY_CONFLICT
    │   │   └── InvalidTransitionError          state_invalid_transition · INVALID_TRANSITION
    │   ├── MethodNotAllowedError               method_not_allowed · METHOD_NOT_ALLOWED
    │   └── TransientError                      the codes errors.yaml marks retryable
    │       ├── RateLimitedError                rate_limit_exceeded · RATE_LIMITED
    │       ├── DownstreamUnavailableError      downstream_unavailable · DOWNSTREAM_UNAVAILABLE
    │       └── InternalServerError             internal · INTERNAL
    ├── TransportError                     no usable answer arrived
    │   ├── ConnectFailed                       nothing was sent (refused, DNS, connect timeout)
    │   ├── RequestTimeout                      sent, but the answer did not come in time
    │   └── ConnectionLost                      the connection broke in the middle of the answer
    └── ContractViolation                  an answer outside the envelope contract

``ContractViolation`` is a ``KlikitError`` so that one ``except KlikitError``
catches everything the client raises, but not an ``ApiError``: no catalogued
code was received, so no code-specific handling applies. It is the harness's
finding that the target broke the contract (not JSON, wrong content type, no
``request_id``, unknown code, a status other than the catalogue's for the
code, 2xx without ``data``).

A concepts code that stands for several reference codes takes the class of
the first (``INVALID_CREDENTIALS`` covers ``auth_invalid_credential`` and
``auth_revoked`` and raises ``InvalidCredentialError``: a client under that
reading cannot tell them apart).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

from .. import contract


class KlikitError(Exception):
    """Base of everything the reference client raises.

    Attributes (``None`` when the failure has no such thing): ``code`` and
    ``status`` of the answer, its ``request_id`` (quote it to klikit support),
    ``message`` (the server's, redacted), ``details``, ``retryable`` (from
    errors.yaml), ``response_headers`` (lower-case names), ``operation_id``,
    ``idempotency_key`` (repeat a write with it to learn its fate safely) and
    ``attempts`` (HTTP requests the client made for the call).
    """

    #: what a caller can do about it; appended to the message
    hint: ClassVar[str] = ""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        request_id: str | None = None,
        details: Any = None,
        retryable: bool = False,
        response_headers: Mapping[str, str] | None = None,
        operation_id: str | None = None,
        idempotency_key: str | None = None,
        attempts: int = 0,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.request_id = request_id
        self.details = details
        self.retryable = retryable
        headers = response_headers or {}
        self.response_headers: dict[str, str] = {k.lower(): v for k, v in headers.items()}
        self.operation_id = operation_id
        self.idempotency_key = idempotency_key
        self.attempts = attempts

    @property
    def retry_after(self) -> float | None:
        """Seconds the answer asked the client to wait (``Retry-After``), if any."""
        return parse_retry_after(self.response_headers.get("retry-after"))

    def _headline(self) -> str:
        where = f"{self.operation_id}: " if self.operation_id else ""
        if self.code is not None:
            return f"{where}{self.status} {self.code}: {self.message}"
        return f"{where}{self.message}"

    def __str__(self) -> str:
        lines = [self._headline()]
        lines.append(f"  request_id: {self.request_id or '(none received)'}")
        if self.attempts > 1:
            lines.append(f"  attempts: {self.attempts}")
        hint = self._hint()
        if hint:
            lines.append(f"  what to do: {hint}")
        return "\n".join(lines)

    def _hint(self) -> str:
        return self.hint

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, status={self.status!r}, "
            f"request_id={self.request_id!r}, attempts={self.attempts})"
        )


# ----------------------------------------------------------------- API errors


class ApiError(KlikitError):
    """The server answered with an error envelope whose code errors.yaml knows."""


class AuthError(ApiError):
    """The credential was not accepted for this request."""


class MissingAuthError(AuthError):
    hint = "send HTTP Basic partner_key:secret_key (set KLIKIT_PARTNER_KEY and KLIKIT_SECRET_KEY)"


class InvalidCredentialError(AuthError):
    """partner_key or secret_key did not verify — often a secret rotated by the operator."""

    #: set by the client: None (no credentials_provider), "unchanged" (it returned the
    #: credentials that failed), "refreshed" (the re-read credentials failed too) or
    #: "untried" (re-read, but the attempt limit was reached before they could be sent)
    provider_outcome: str | None = None

    def _hint(self) -> str:
        rotated = (
            "the secret may have been rotated (the old one stops working at once): ask your klikit "
            "operator for the current secret and update KLIKIT_SECRET_KEY"
        )
        if self.provider_outcome == "unchanged":
            return f"credentials_provider returned the same credentials; {rotated}"
        if self.provider_outcome == "untried":
            return "fresh credentials were read but no attempt was left to send them; repeat the call"
        if self.provider_outcome == "refreshed":
            return f"the credentials re-read from credentials_provider failed too; {rotated}"
        return f"{rotated}, or give KlikitClient a credentials_provider that re-reads it"


class RevokedCredentialError(AuthError):
    hint = "this credential is revoked: ask your klikit operator to issue a new one"


class ForbiddenScopeError(AuthError):
    hint = "the credential lacks the scope this operation needs (details name it): ask the operator"


class RequestInvalidError(ApiError):
    hint = "fix the request (details name the field); repeating it unchanged will fail again"


class MissingIdempotencyKeyError(RequestInvalidError):
    hint = "send an Idempotency-Key header (1-64 characters, one per logical operation)"


class InvalidRangeError(RequestInvalidError):
    hint = "narrow the date range to 90 days or less"


class NotFoundError(ApiError):
    hint = "check the ids: they must exist and belong to your business; do not retry"


class UnmappedError(NotFoundError):
    hint = "the SKU is not mapped; check the ids and do not retry"


class ConflictError(ApiError):
    """The request conflicts with the state of the resource or of its key."""


class IdempotencyConflictError(ConflictError):
    """The Idempotency-Key was used with another request, or its first use is still in flight."""

    @property
    def in_flight(self) -> bool:
        """True when the first request with this key had not finished yet."""
        return isinstance(self.details, Mapping) and self.details.get("reason") == "in_flight"

    def _hint(self) -> str:
        if self.in_flight:
            return (
                "the first request with this key is still being processed; repeat the call "
                f"later with idempotency_key={self.idempotency_key!r} to receive its answer"
            )
        return "this key was used for a different request: investigate, then use a new key per logical operation"


class InvalidTransitionError(ConflictError):
    hint = "the requested state change is not allowed from the current state: read it first"


class MethodNotAllowedError(ApiError):
    hint = "use one of the methods the Allow header lists (check configured operation paths)"


class TransientError(ApiError):
    """A code errors.yaml marks retryable; the client has already retried it."""


class RateLimitedError(TransientError):
    def _hint(self) -> str:
        wait = self.retry_after
        when = f"after {wait:g} s (Retry-After)" if wait is not None else "later"
        return f"slow down: the credential's rate cap was hit; retry {when}"


class DownstreamUnavailableError(TransientError):
    hint = "a klikit dependency is unreachable; retry later with the same idempotency_key"


class InternalServerError(TransientError):
    hint = "klikit failed unexpectedly; retry later, quote the request_id in a ticket if it lasts"


# ---------------------------------------------------------------- transport


class TransportError(KlikitError):
    """No usable HTTP answer arrived."""

    def _hint(self) -> str:
        if self.idempotency_key:
            return (
                "the write may or may not have been applied; repeat the call with "
                f"idempotency_key={self.idempotency_key!r} to find out safely "
                "(a replay returns the original answer)"
            )
        return "check the network path to KLIKIT_BASE_URL and retry"


class ConnectFailed(TransportError):
    """The connection could not be made; nothing was sent."""

    def _hint(self) -> str:
        return "nothing was sent: check KLIKIT_BASE_URL and the network, then retry"


class RequestTimeout(TransportError):
    """The request went out but its answer did not arrive in time."""


class ConnectionLost(TransportError):
    """The connection broke while the answer was being read."""


# --------------------------------------------------------- contract violation


class ContractViolation(KlikitError):
    """An answer that breaks the envelope contract; says what was received.

    Extra attributes: ``reason`` (one line), ``content_type``, ``body_excerpt``
    (the first 200 characters, secrets redacted), ``documented`` (what the
    contract says instead) and ``behaviour`` (the behaviours.yaml id broken).
    """

    def __init__(
        self,
        reason: str,
        *,
        content_type: str | None = None,
        body_excerpt: str = "",
        documented: str = "",
        behaviour: str = "",
        **fields: Any,
    ) -> None:
        super().__init__(reason, **fields)
        self.reason = reason
        self.content_type = content_type
        self.body_excerpt = body_excerpt
        self.documented = documented
        self.behaviour = behaviour

    def __str__(self) -> str:
        where = f"{self.operation_id} " if self.operation_id else ""
        lines = [f"{where}answered outside the contract: {self.reason}"]
        lines.append(
            f"  Received: status {self.status}, content-type {self.content_type or '(none)'}, "
            f"body {self.body_excerpt!r}"
        )
        if self.documented:
            suffix = f" ({self.behaviour})" if self.behaviour else ""
            lines.append(f"  Documented: {self.documented}{suffix}")
        lines.append(f"  request_id: {self.request_id or '(none received)'}")
        if self.attempts > 1:
            lines.append(f"  attempts: {self.attempts}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"ContractViolation(reason={self.reason!r}, status={self.status!r}, "
            f"request_id={self.request_id!r}, attempts={self.attempts})"
        )


# ------------------------------------------------------------ code → class

#: every reference code of errors.yaml and the class that stands for it
CLASS_BY_MEANING: Mapping[str, type[ApiError]] = {
    "auth_missing": MissingAuthError,
    "auth_invalid_credential": InvalidCredentialError,
    "auth_revoked": RevokedCredentialError,
    "auth_forbidden": ForbiddenScopeError,
    "request_invalid": RequestInvalidError,
    "request_missing_idempotency_key": MissingIdempotencyKeyError,
    "request_invalid_range": InvalidRangeError,
    "resource_not_found": NotFoundError,
    "resource_unmapped": UnmappedError,
    "state_invalid_transition": InvalidTransitionError,
    "state_idempotency_conflict": IdempotencyConflictError,
    "rate_limit_exceeded": RateLimitedError,
    "downstream_unavailable": DownstreamUnavailableError,
    "method_not_allowed": MethodNotAllowedError,
    "internal": InternalServerError,
}


def error_class(code: str) -> type[ApiError] | None:
    """The class a received code raises (either vocabulary, or an alias); None if unknown.

    A reference code errors.yaml gained after this module was written raises
    plain ``ApiError`` rather than being mistaken for a contract violation.
    """
    meanings = contract.errors().meanings(code)
    if not meanings:
        return None
    return CLASS_BY_MEANING.get(meanings[0], ApiError)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` value (delta-seconds or HTTP date); None if unreadable."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)
