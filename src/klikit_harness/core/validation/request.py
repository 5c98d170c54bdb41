"""The request validation reads and what it makes of one: the outcomes and the faults.

Owns: ``ApiRequest`` (what an adapter hands the core), the stages of validation,
``Accepted`` / ``Rejected`` / ``Crashed`` and the one way a rule stops a request
(``_invalid``: 400 request_invalid naming the first field). Must not: apply a rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ... import contract
from ..errors import ServiceError, invalid

Stage = Literal["route", "key", "body", "query", "input", "rules"]


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


# ------------------------------------------------------------------ outcomes


@dataclass(frozen=True)
class Accepted:
    """A request every stateless rule accepts."""

    operation: contract.Operation
    params: Mapping[str, str] = field(default_factory=dict)
    #: the Idempotency-Key as a server reads it (None: absent, where the reading allows it)
    key: str | None = None
    #: the body as decoded: what the idempotency fingerprint reads
    parsed: Any = None
    #: the body as the operation reads it (after the variants' and defects' readings of it)
    body: Any = None
    #: query and path ids, as read: brand_id, branch_id, sectionID
    ids: Mapping[str, int] = field(default_factory=dict)
    #: behaviours of the reference semantics' permissions the request relies on (a query id
    #: with leading zeros, an unknown query parameter)
    relies_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rejected:
    """One fault of a request (a rule it breaks), as the answer that says so; ``validate`` answers the
    first of ``faults``."""

    stage: Stage
    meaning: str
    message: str
    #: the behaviour broken first; ``behaviours`` lists every one this fault breaks
    behaviour: str
    behaviours: tuple[str, ...]
    #: the offending fields (details name the first)
    fields: tuple[str, ...] = ()
    details: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    operation: contract.Operation | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    key: str | None = None
    parsed: Any = None
    body: Any = None
    ids: Mapping[str, int] = field(default_factory=dict)

    def error(self) -> ServiceError:
        return ServiceError(self.meaning, self.message, self.details, headers=dict(self.headers))


@dataclass(frozen=True)
class Crashed:
    """A defect makes the handler crash on this request (the html-500-on-malformed-json defect)."""

    stage: Stage
    operation: contract.Operation


Outcome = Accepted | Rejected | Crashed


class _Stop(Exception):
    def __init__(self, outcome: Rejected | Crashed) -> None:
        self.outcome = outcome


def _rejected(stage: Stage, error: ServiceError, behaviours: Iterable[str], fields: Sequence[str] = ()) -> Rejected:
    broken = tuple(dict.fromkeys(behaviours))
    return Rejected(stage, error.meaning, error.message, broken[0], broken, tuple(fields), error.details, error.headers)


def _invalid(stage: Stage, fields: Sequence[str], reason: str, behaviours: Iterable[str], **extra: Any) -> _Stop:
    """400 request_invalid whose details name the first field."""
    return _Stop(_rejected(stage, invalid(fields[0], reason, **extra), behaviours, fields))


#: one thing wrong with a request: the rejection that says so (or the crash a defect makes of it)
Fault = Rejected | Crashed
