"""The one exception the domain core raises for an answer that is an error.

Owns: ``ServiceError`` — the stand-in's decision to answer with an error: a
reference code (its *meaning*), a message and details. It is not the client's
``klikit_harness.partner.errors.ApiError`` (an error answer a client *received*).
Must not: know statuses: the service looks them up in contracts/errors.yaml
for the reading in force.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    def __init__(
        self, meaning: str, message: str, details: Any = None, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{meaning}: {message}")
        self.meaning = meaning
        self.message = message
        self.details = details
        self.headers = headers or {}


def invalid(field: str, reason: str, **extra: Any) -> ServiceError:
    """400 request_invalid whose details name the field."""
    return ServiceError("request_invalid", f"{field}: {reason}", {"field": field, "reason": reason, **extra})


def not_found(what: str, **ids: Any) -> ServiceError:
    return ServiceError("resource_not_found", f"{what} not found", {"resource": what, **ids})
