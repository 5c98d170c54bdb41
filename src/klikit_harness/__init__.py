"""klikit-harness: contract and chaos tests for the klikit Partner API's menu-publish endpoints."""

from __future__ import annotations

from .client import KlikitClient, KlikitResponse, RetryPolicy
from .core.clock import ManualClock, SystemClock
from .core.defects import DefectSet
from .core.service import ApiRequest, ApiResponse, Service
from .errors import (
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
from .sandbox import SandboxApp, build_service, serve_in_thread
from .simulator import Simulator

__all__ = [
    "ApiError",
    "ApiRequest",
    "ApiResponse",
    "AuthError",
    "ConflictError",
    "ConnectFailed",
    "ConnectionLost",
    "ContractViolation",
    "DefectSet",
    "DownstreamUnavailableError",
    "ForbiddenScopeError",
    "IdempotencyConflictError",
    "InternalServerError",
    "InvalidCredentialError",
    "InvalidRangeError",
    "InvalidTransitionError",
    "KlikitClient",
    "KlikitError",
    "KlikitResponse",
    "ManualClock",
    "MethodNotAllowedError",
    "MissingAuthError",
    "MissingIdempotencyKeyError",
    "NotFoundError",
    "RateLimitedError",
    "RequestInvalidError",
    "RequestTimeout",
    "RetryPolicy",
    "RevokedCredentialError",
    "SandboxApp",
    "Service",
    "Simulator",
    "SystemClock",
    "TransientError",
    "TransportError",
    "UnmappedError",
    "build_service",
    "serve_in_thread",
]
