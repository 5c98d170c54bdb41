"""klikit-harness: contract and chaos tests for the klikit Partner API's menu-publish endpoints.

The front door is the partner library: the reference client (``KlikitClient``),
its errors, the respx ``Simulator`` with the ``fault`` registry, and
``Violation``, the failure every harness check raises. Importing the package
loads the client and its errors only; the simulator (and respx) loads on first
use, and nothing here imports pytest, uvicorn or Starlette. Everything else
(the stand-in, the domain core, the runner) is reached through its own module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .checking.failures import Violation
from .partner.client import KlikitClient, KlikitResponse, RetryPolicy
from .partner.errors import (
    ApiError,
    AuthError,
    ConflictError,
    ConnectFailed,
    ConnectionLost,
    ContractViolation,
    DownstreamUnavailableError,
    ForbiddenScopeError,
    IdempotencyConflictError,
    InternalServerError,
    InvalidCredentialError,
    InvalidRangeError,
    InvalidTransitionError,
    KlikitError,
    MethodNotAllowedError,
    MissingAuthError,
    MissingIdempotencyKeyError,
    NotFoundError,
    RateLimitedError,
    RequestInvalidError,
    RequestTimeout,
    RevokedCredentialError,
    TransientError,
    TransportError,
    UnmappedError,
)

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .simulator import FaultContext, Simulator, fault

#: names served on first use, so importing the package does not import respx
_LAZY = {"Simulator": "simulator", "FaultContext": "simulator", "fault": "simulator"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'klikit_harness' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "ApiError",
    "AuthError",
    "ConflictError",
    "ConnectFailed",
    "ConnectionLost",
    "ContractViolation",
    "DownstreamUnavailableError",
    "FaultContext",
    "ForbiddenScopeError",
    "IdempotencyConflictError",
    "InternalServerError",
    "InvalidCredentialError",
    "InvalidRangeError",
    "InvalidTransitionError",
    "KlikitClient",
    "KlikitError",
    "KlikitResponse",
    "MethodNotAllowedError",
    "MissingAuthError",
    "MissingIdempotencyKeyError",
    "NotFoundError",
    "RateLimitedError",
    "RequestInvalidError",
    "RequestTimeout",
    "RetryPolicy",
    "RevokedCredentialError",
    "Simulator",
    "TransientError",
    "TransportError",
    "UnmappedError",
    "Violation",
    "fault",
]
