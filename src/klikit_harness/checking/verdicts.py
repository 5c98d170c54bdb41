"""The input oracle: what the reference semantics say a request must be answered with.

Owns: ``expected_answer`` and the ``Verdict`` it gives (``Reject`` with its
``Fault``s, ``Valid``, ``Either``, ``Unknown``), decided from the request alone
(route, credential, Idempotency-Key, body, query), never from the target's
state; it calls ``core.validation.walk`` and keeps only the judging. Must not:
send requests, judge an answer (that is ``checks``) or read the stand-in's
internals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from ..contract import view as schema_view
from ..core import validation
from ..core.credentials import parse_basic
from ..partner.exchange import HttpExchange
from .context import Context

__all__ = [
    "NO_CREDENTIAL",
    "Either",
    "Fault",
    "Reject",
    "Unknown",
    "Valid",
    "Verdict",
    "api_request",
    "expected_answer",
    "fault_of",
    "operation_of",
    "route_table",
]


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
class Fault:
    """One thing wrong with a request, as the rejection that says so: the error ``meaning`` (a reference
    code) with its catalogue status, ``details`` naming one of ``fields``."""

    meaning: str
    fields: tuple[str, ...]
    #: every behaviour the fault breaks (the first is the one broken first)
    behaviours: tuple[str, ...]
    #: a stage of ``core.validation`` or ``auth`` (the credential, looked at after the route)
    stage: str
    reason: str

    @property
    def step(self) -> str | None:
        """The step of DESIGN's order of checks the fault belongs to (None: routing, before them all)."""
        return "auth" if self.stage == "auth" else validation.CHECK_STEP.get(self.stage)


def fault_of(found: validation.Fault) -> Fault:
    assert isinstance(found, validation.Rejected)  # only a defect crashes, and the oracle passes none
    return Fault(found.meaning, found.fields, found.behaviours, found.stage, found.message)


NO_CREDENTIAL = Fault("auth_missing", (), ("auth.missing",), "auth", "no usable Basic credential")


@dataclass(frozen=True)
class Reject:
    """The request must be rejected for one of its ``faults`` (reference order; the reference semantics
    answer the first, and an answer for any other is accepted unless an order-of-checks behaviour is
    about exactly these faults).

    A fault of the ``rules`` stage (what schemas cannot express) may instead be answered 404 when the
    request names ids not known to be the caller's: the contract does not order ownership before
    business rules.
    """

    operation_id: str | None
    faults: tuple[Fault, ...]
    #: the behaviour blamed when the answer answers none of the faults (an enforced one first)
    behaviour: str
    ids_outside: bool = False
    body_schema: str | None = None
    body: Any = field(default=None, compare=False, repr=False)

    @property
    def first(self) -> Fault:
        return self.faults[0]

    @property
    def meaning(self) -> str:
        return self.first.meaning

    @property
    def fields(self) -> tuple[str, ...]:
        return self.first.fields

    @property
    def reason(self) -> str:
        return self.first.reason

    @property
    def stage(self) -> str:
        return self.first.stage

    @property
    def behaviours(self) -> tuple[str, ...]:
        """Every behaviour the request breaks, fault by fault."""
        return tuple(dict.fromkeys(b for f in self.faults for b in f.behaviours))


@dataclass(frozen=True)
class _Accepting:
    operation_id: str
    behaviour: str
    ids_outside: bool = False
    has_explicit_times: bool = False
    #: behaviours of the reference semantics' permissions the request relies on (a query id with
    #: leading zeros); those of its body are found from ``body`` when an answer rejects it
    relies_on: tuple[str, ...] = ()
    body_schema: str | None = None
    body: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Valid(_Accepting):
    """The request must be accepted: 2xx (404 only for ids not known to be the caller's; a 400 only for
    the state-dependent schedule overlap of populate / sync)."""


@dataclass(frozen=True)
class Either(_Accepting):
    """The contract does not decide (a repeated query parameter): a 2xx and a 400 both pass."""


@dataclass(frozen=True)
class Unknown:
    """The oracle cannot tell (a credential it does not know)."""

    operation_id: str | None
    reason: str


#: what the reference semantics say a request must be answered with
Verdict = Reject | Valid | Either | Unknown


def route_table(ctx: Context) -> validation.RouteTable:
    return validation.RouteTable(ctx.base_path, ctx.paths)


def api_request(ex: HttpExchange) -> validation.ApiRequest:
    """The request as a server reads it: the path percent-decoded, as servers route it."""
    return validation.ApiRequest(ex.method, unquote(ex.path), ex.query, ex.request_headers, ex.request_body or b"")


def operation_of(ex: HttpExchange, ctx: Context) -> str | None:
    """The operationId an exchange was routed to (None for an unknown path or an unserved method)."""
    return route_table(ctx).operation_id(ex.method, unquote(ex.path))


def _ids_outside(
    op_id: str, body: Mapping[str, Any] | None, params: Mapping[str, str], query: Mapping[str, str], ctx: Context
) -> bool:
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
            key = (validation.int32_id(str(s["brandID"])), validation.int32_id(str(s["branchID"])))
        except (KeyError, TypeError):
            return True
        if key not in ctx.own_stores:
            return True
    for sid in sections:
        value = sid if isinstance(sid, int) and not isinstance(sid, bool) else validation.int32_id(str(sid))
        if value is None or value not in ctx.own_sections:
            return True
    return False


def expected_answer(ex: HttpExchange, ctx: Context) -> Verdict:
    """The answer the reference semantics give this request, decided from the request alone.

    ``core.validation`` finds every fault of the request in the documented order (route,
    Idempotency-Key, body parsing, query, validation: schema, path ids, then the rules schemas cannot
    express); the credential is looked at after the route, as the stand-in does.
    """
    walked = validation.walk(api_request(ex), route_table(ctx), reading=ctx.reading)
    found = tuple(fault_of(f) for f in walked.faults)
    outcome = walked.outcome
    assert not isinstance(outcome, validation.Crashed)  # only a defect crashes
    credential = parse_basic(ex.request_headers.get("authorization"))
    op = outcome.operation
    if op is None:
        faults = (*found, NO_CREDENTIAL) if credential is None else found
        return Reject(None, faults, found[0].behaviours[0])
    op_id = op.operation_id
    if credential is None:
        found = (NO_CREDENTIAL, *found)
    elif ctx.main is None or credential != ctx.main:
        return Unknown(op_id, "not the run's main credential")
    query: dict[str, list[str]] = {}
    for name, value in ex.query:
        query.setdefault(name, []).append(value)
    body = outcome.parsed
    if found:
        outside = _ids_outside_safely(op_id, body, outcome.params, _first(query), ctx)
        broken = [b for f in found for b in f.behaviours]
        behaviour = schema_view.strongest(broken, ctx.judgement) or broken[0]
        return Reject(op_id, found, behaviour, ids_outside=outside, body_schema=op.body_schema, body=body)
    assert isinstance(outcome, validation.Accepted)
    outside = _ids_outside(op_id, body, outcome.params, _first(query), ctx)
    explicit = op_id in {"populateMenu", "syncMenuToStores"} and any(
        isinstance(e, Mapping) and bool(e.get("availableTimes")) for e in ((body or {}).get("sections") or {}).values()
    )
    duplicated = any(len(query.get(name, [])) > 1 for name in ("brand_id", "branch_id"))
    # The contract says nothing about a repeated query parameter: the first value or a 400 are both fine.
    kind = Either if duplicated else Valid
    return kind(
        op_id,
        _OPERATION_BEHAVIOUR[op_id],
        ids_outside=outside,
        has_explicit_times=explicit,
        relies_on=outcome.relies_on,
        body_schema=op.body_schema,
        body=body,
    )


def _ids_outside_safely(
    op_id: str, body: Any, params: Mapping[str, str], query: Mapping[str, str], ctx: Context
) -> bool:
    """``_ids_outside`` for a body that may not match its schema (then: can it name a foreign id at all?)."""
    try:
        return _ids_outside(op_id, body if isinstance(body, Mapping) else None, params, query, ctx)
    except (AttributeError, TypeError, ValueError):
        return True


def _first(query: Mapping[str, list[str]]) -> dict[str, str]:
    return {k: v[0] for k, v in query.items() if v}
