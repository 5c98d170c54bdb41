"""Request validation as one pure function: what a request's own bytes decide, in the documented order.

Owns: the ORDER of the stateless rules and the rules no other module of this
package holds: the Idempotency-Key rule, query and path ids (int32, positive,
leading zeros), the body's fields (nulls, the input defects' readings, schema
validation against ``contracts/openapi.yaml`` with the offending field paths and
the ``x-behaviour`` ids they break). Beside it: ``request`` (the request, its
outcomes, how a rule stops it), ``routes`` (the route table: method + path →
operation; an unknown path, a method the path does not serve), ``body`` (size,
Content-Type, empty, depth, strict JSON, non-finite numbers, non-object) and
``rules`` (what JSON Schema cannot express: schedule validity, blackout dates,
int32 section keys, ``scheduledAt``). One walk (``walk``) finds every fault of a
request in that order (``faults``), going on past a fault wherever a later rule
can still be read; ``validate`` returns ``Accepted`` or the first fault, a
``Rejected`` (or ``Crashed``), each rejection tagged with the stage it belongs
to. The stand-in (``core.service``) calls ``validate``, the fuzz oracle
(``verdicts.expected_answer``) ``walk``; a variant or defect that changes
validation is passed in (none: the reference semantics; ``READING_VARIANTS``
lists the variants read in this package). Every name other layers use is
importable from here. Must not: read state (stores, sections, credentials,
idempotency entries), do I/O, render an answer, or judge one.

Stages, in order: ``route``, ``key``, ``body``, ``query``, ``input`` (nulls,
schema, path ids), ``rules`` (what JSON Schema cannot express). The stand-in
interleaves its stateful checks between them (auth after ``route``;
replay/conflict after ``body``; ownership before ``rules``).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from ... import contract
from ...contract import Reading
from ...contract import view as schema_view
from ...contract.limits import INT32_MAX, MAX_KEY_LENGTH
from .. import defects as d
from .. import variants as v
from ..defects import DefectSet
from ..errors import ServiceError
from ..variants import VariantSet
from .body import DECIMAL_MB, VARIANT_MAX_DEPTH, decode, finite_float, json_depth, reject_constant
from .request import Accepted, ApiRequest, Crashed, Fault, Outcome, Rejected, Stage, _invalid, _rejected, _Stop
from .routes import MethodNotAllowed, Route, Routed, RouteTable, UnknownPath, query_parameters
from .rules import business_rules, is_calendar_date, publish_time, rule_problems, scheduled_at_problem

__all__ = [
    "CHECK_ORDER",
    "CHECK_STEP",
    "DECIMAL_MB",
    "READING_VARIANTS",
    "VARIANT_MAX_DEPTH",
    "Accepted",
    "ApiRequest",
    "Crashed",
    "Fault",
    "MethodNotAllowed",
    "Outcome",
    "Rejected",
    "Route",
    "RouteTable",
    "Routed",
    "Stage",
    "UnknownPath",
    "Walked",
    "as_integers",
    "faults",
    "finite_float",
    "idempotency_key",
    "int32_id",
    "is_calendar_date",
    "json_depth",
    "paths_where",
    "publish_time",
    "query_parameters",
    "read_id",
    "reject_constant",
    "rule_problems",
    "scheduled_at_problem",
    "validate",
    "walk",
]

_NO_VARIANTS = VariantSet()
_NO_DEFECTS = DefectSet()

#: DESIGN's order of checks (``envelope.check-order``), with the stateful steps the stand-in interleaves
CHECK_ORDER = ("auth", "rate limit", "scope", "Idempotency-Key", "body parsing", "replay/conflict", "validation")
#: the step of ``CHECK_ORDER`` each stage belongs to (``route`` comes before all: ``envelope.routing-before-auth``)
CHECK_STEP: Mapping[str, str] = {
    "key": "Idempotency-Key",
    "body": "body parsing",
    "query": "validation",
    "input": "validation",
    "rules": "validation",
}
#: the variants whose readings change what this module finds wrong with a request (the readings of a
#: request the oracle may have to accept); ``last-fault-first`` changes only which fault is answered
READING_VARIANTS = (
    v.NO_405,
    v.DEPTH_64,
    v.UNKNOWN_QUERY_400,
    v.LEADING_ZERO_IDS_400,
    v.ZERO_IDS_404,
    v.NULL_REJECTED,
    v.FLOAT_INTEGERS_ACCEPTED,
    v.TIMES_REQUIRED,
    v.UNKNOWN_FIELDS_IGNORED,
    v.CREATE_NOTHING_REQUIRED,
    v.SEQUENCE_OPTIONAL,
)


@dataclass(frozen=True)
class Walked:
    """Every stateless rule applied to a request: each fault found, in the reference order, and the answer
    a server gives (the first fault, or the last under the ``last-fault-first`` variant; else ``Accepted``)."""

    faults: tuple[Fault, ...]
    outcome: Outcome


def validate(
    request: ApiRequest,
    routes: RouteTable,
    *,
    reading: Reading = "reference",
    variants: VariantSet = _NO_VARIANTS,
    defects: DefectSet = _NO_DEFECTS,
) -> Outcome:
    """Every stateless rule, in order; the first broken one is the answer.

    ``request.path`` is read percent-decoded, as servers route it.
    """
    return walk(request, routes, reading=reading, variants=variants, defects=defects).outcome


def faults(
    request: ApiRequest,
    routes: RouteTable,
    *,
    reading: Reading = "reference",
    variants: VariantSet = _NO_VARIANTS,
    defects: DefectSet = _NO_DEFECTS,
) -> tuple[Fault, ...]:
    """Every fault of a request, in the reference order (the first is what ``validate`` answers).

    The walk goes on past a fault wherever a later rule can still be read: a key fault does not stop
    the body, a body fault does not stop the query or the path ids. What cannot be read stops only what
    depends on it: an unknown path or an unserved method stops everything, an unparseable body its
    schema and business rules, a schema-invalid body its business rules, a crash (a defect) the walk.
    """
    return walk(request, routes, reading=reading, variants=variants, defects=defects).faults


def walk(
    request: ApiRequest,
    routes: RouteTable,
    *,
    reading: Reading = "reference",
    variants: VariantSet = _NO_VARIANTS,
    defects: DefectSet = _NO_DEFECTS,
) -> Walked:
    """``faults`` and ``validate`` at once (one walk)."""
    routed = routes.match(request.method, request.path)
    if isinstance(routed, UnknownPath):
        lost = _rejected(
            "route",
            ServiceError("resource_not_found", f"no operation at {request.path}", {"path": request.path}),
            ["routing.unknown-path-404"],
            ["path"],
        )
        return Walked((lost,), lost)
    if isinstance(routed, MethodNotAllowed):
        if variants.on(v.NO_405):
            unserved = ServiceError(
                "resource_not_found", f"no operation at {request.method} {request.path}", {"path": request.path}
            )
            lost = _rejected("route", unserved, ["routing.method-not-allowed-405"], ["path"])
            return Walked((lost,), lost)
        allow = ", ".join(routed.allowed)
        dropped = "GET" not in routed.allowed and defects.on(d.ALLOW_MISSING_ON_WRITE_PATHS)
        lost = _rejected(
            "route",
            ServiceError(
                "method_not_allowed",
                f"{request.method} is not allowed on {routed.template}; use {allow}",
                {"allowed": list(routed.allowed)},
                headers={} if dropped else {"allow": allow},
            ),
            ["routing.method-not-allowed-405"],
        )
        return Walked((lost,), lost)
    op, params = routed.operation, routed.params
    state = _State()
    found = _walk(request, op, params, state, reading, variants, defects)
    ids = dict(state.ids)
    placed = tuple(
        Rejected(
            f.stage,
            f.meaning,
            f.message,
            f.behaviour,
            f.behaviours,
            f.fields,
            f.details,
            f.headers,
            op,
            params,
            state.key,
            state.parsed,
            state.body,
            ids,
        )
        if isinstance(f, Rejected)
        else f
        for f in found
    )
    if placed:
        return Walked(placed, placed[-1] if variants.on(v.LAST_FAULT_FIRST) else placed[0])
    relies = tuple(dict.fromkeys(state.relies))
    return Walked((), Accepted(op, params, state.key, state.parsed, state.body, ids, relies))


@dataclass
class _State:
    key: str | None = None
    parsed: Any = None
    body: Any = None
    ids: dict[str, int] = field(default_factory=dict)
    #: behaviours of the reference semantics' permissions the request relies on
    relies: list[str] = field(default_factory=list)
    found: list[Fault] = field(default_factory=list)

    def attempt(self, step: Callable[..., _T], *args: Any) -> _T | None:
        """``step(*args)``, or None with its fault recorded."""
        try:
            return step(*args)
        except _Stop as stop:
            self.found.append(stop.outcome)
            return None

    def passes(self, step: Callable[[], None]) -> bool:
        """Does ``step()`` find nothing wrong? (Its fault is recorded when it does.)"""
        try:
            step()
        except _Stop as stop:
            self.found.append(stop.outcome)
            return False
        return True

    @property
    def crashed(self) -> bool:
        return any(isinstance(f, Crashed) for f in self.found)


_T = TypeVar("_T")


def _walk(
    request: ApiRequest,
    op: contract.Operation,
    params: Mapping[str, str],
    state: _State,
    reading: Reading,
    variants: VariantSet,
    defects: DefectSet,
) -> list[Fault]:
    """The faults of a routed request, in the reference order; ``state`` holds what was read."""
    decoded: dict[str, Any] | None = None
    if op.is_write:
        state.key = state.attempt(_key, request.header("idempotency-key"), reading, defects)
        decoded = state.attempt(decode, request, op, variants, defects)
        if state.crashed:
            return state.found
        if decoded is not None:
            state.parsed = decoded
            state.body = copy.deepcopy(decoded)
    unknown = _query(request, op, state, variants)
    if op.is_write:
        assert op.body_schema is not None
        schema_name = op.body_schema
        read = None
        if decoded is not None:
            read = _read_body(op.operation_id, schema_name, state.body, state, variants, defects)
            if read is not None:
                state.body = read
        if "sectionID" in params:
            section_id = state.attempt(_id, "sectionID", params["sectionID"], state.relies, "input", variants)
            if section_id is not None:
                state.ids["sectionID"] = section_id
        if read is not None:
            state.passes(lambda: business_rules(op.operation_id, read))
    if unknown:
        state.relies.append("routing.unknown-query-ignored")
    return state.found


# ------------------------------------------------------------- Idempotency-Key


def idempotency_key(header: str | None) -> str | None:
    """The Idempotency-Key a server reads: leading and trailing spaces and tabs are not part of an HTTP
    field value (RFC 9110 §5.5), so they are dropped; empty means absent."""
    key = header.strip(" \t") if header is not None else None
    return key or None


def _key(header: str | None, reading: Reading, defects: DefectSet) -> str | None:
    key = idempotency_key(header)
    if key is None:
        if reading == "reference" and not defects.on(d.MISSING_KEY_ACCEPTED):
            raise _Stop(
                _rejected(
                    "key",
                    ServiceError(
                        "request_missing_idempotency_key",
                        f"write endpoints need an Idempotency-Key header (1-{MAX_KEY_LENGTH} characters, e.g. a UUID)",
                        {"field": "Idempotency-Key"},
                    ),
                    ["idempotency.key-required-on-writes"],
                    ["Idempotency-Key"],
                )
            )
        return None
    if len(key) > MAX_KEY_LENGTH:
        raise _invalid(
            "key",
            ["Idempotency-Key"],
            f"must be at most {MAX_KEY_LENGTH} characters, got {len(key)}",
            ["idempotency.key-over-64-invalid"],
        )
    return key


# ---------------------------------------------------------------- query, ids


def _query(request: ApiRequest, op: contract.Operation, state: _State, variants: VariantSet) -> bool:
    """Reads the query (ids into ``state``, faults recorded); True when it carries a parameter the
    operation does not define."""
    known = query_parameters(op.operation_id)
    unknown = [name for name, _ in request.query if name not in known]
    if unknown and variants.on(v.UNKNOWN_QUERY_400):
        allowed = ", ".join(sorted(known)) or "none"
        state.found.append(
            _invalid(
                "query",
                [unknown[0]],
                f"unknown query parameter; this operation takes: {allowed}",
                ["routing.unknown-query-ignored"],
            ).outcome
        )
    if op.operation_id != "getMenu":
        return bool(unknown)
    for name in ("brand_id", "branch_id"):
        raw = request.param(name)
        if raw is not None:
            value = state.attempt(_id, name, raw, state.relies, "query", variants)
            if value is not None:
                state.ids[name] = value
    sent = {name for name in ("brand_id", "branch_id") if request.param(name) is not None}
    if len(sent) == 1:
        missing = "brand_id" if "brand_id" not in sent else "branch_id"
        other = "branch_id" if missing == "brand_id" else "brand_id"
        state.found.append(
            _rejected(
                "query",
                ServiceError(
                    "request_invalid",
                    "brand_id and branch_id must be passed together or omitted together",
                    {"field": missing},
                ),
                ["getmenu.one-param-400"],
                [missing, other],
            )
        )
    return bool(unknown)


def int32_id(raw: str) -> int | None:
    """A positive int32 written in ASCII digits, else None.

    ``str.isdigit`` alone also accepts "²" (int() then raises: a 500) and
    Arabic-Indic digits (read as an id a typed backend rejects).
    """
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10:
        return None
    value = int(raw)
    return value if 1 <= value <= INT32_MAX else None


def read_id(raw: str, variants: VariantSet = _NO_VARIANTS) -> int | None:
    """A query or path id as the variants in force read it (None: 400; 0: looked up, so 404).

    Leading zeros are read as the integer they spell (unless the leading-zero-ids-400 variant is on).
    """
    if variants.on(v.LEADING_ZERO_IDS_400) and raw.startswith("0") and len(raw) > 1:
        return None
    if variants.on(v.ZERO_IDS_404) and _spells_zero(raw):
        return 0
    return int32_id(raw)


def _spells_zero(raw: str) -> bool:
    return raw.isascii() and raw.isdigit() and len(raw) <= 10 and int(raw) == 0


def _id(name: str, raw: str, relies: list[str], stage: Stage, variants: VariantSet) -> int:
    value = read_id(raw, variants)
    if value is None:
        behaviour = (
            "input.query-id-leading-zeros"
            if int32_id(raw) is not None
            else "input.query-id-zero-invalid"
            if _spells_zero(raw)
            else "input.wrong-types"
        )
        raise _invalid(stage, [name], f"must be a positive 32-bit integer, got {raw[:40]!r}", [behaviour])
    if raw.startswith("0") and value:
        relies.append("input.query-id-leading-zeros")
    return value


# -------------------------------------------------------------- body fields


def _read_body(
    op_id: str, schema_name: str, body: dict[str, Any], state: _State, variants: VariantSet, defects: DefectSet
) -> dict[str, Any] | None:
    """The body after the variants' and defects' readings of it, if the schema accepts it (None when it
    does not: the business rules cannot be read then); each fault recorded in ``state``."""
    if variants.on(v.NULL_REJECTED):
        state.passes(lambda: _reject_nulls(op_id, body))
    state.passes(lambda: _misread(defects, body))
    if defects.on(d.LOOSE_INTEGERS) or variants.on(v.FLOAT_INTEGERS_ACCEPTED):
        body = as_integers(body)
    read = body
    if not state.passes(lambda: _check_schema(schema_name, read, variants)):
        return None
    if variants.on(v.TIMES_REQUIRED) and op_id in {"populateMenu", "syncMenuToStores"}:
        untimed = [
            f"sections.{raw_id}.availableTimes"
            for raw_id, entry in body["sections"].items()
            if entry.get("availableTimes") is None
        ]
        if untimed:
            state.found.append(
                _invalid(
                    "input",
                    untimed,
                    "is required; send {} to use the business-level schedule",
                    ["populate.times-optional"],
                ).outcome
            )
    return body


#: fields whose null the null-rejected variant still reads as the docs do
_NULL_ALLOWED = {"enableSections": {"isEnabled"}}


def _reject_nulls(operation_id: str, body: dict[str, Any]) -> None:
    """The null-rejected variant: an optional field sent as null is a 400 (details name the first found)."""
    if operation_id == "resetStoreOverrides":  # a passthrough body: only stores is ours
        body = {"stores": body.get("stores")} if body.get("stores") is not None else {}
    stack: list[tuple[str, Any]] = [
        (k, val) for k, val in body.items() if k not in _NULL_ALLOWED.get(operation_id, set())
    ]
    nulls: list[str] = []
    while stack:
        where, value = stack.pop()
        if value is None:
            nulls.append(where)
        elif isinstance(value, dict):
            stack.extend((f"{where}.{k}", val) for k, val in value.items())
        elif isinstance(value, list):
            stack.extend((f"{where}[{i}]", val) for i, val in enumerate(value))
    if nulls:
        raise _invalid("input", nulls, "null is not accepted; leave the field out instead", ["input.null-means-absent"])


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
            raise _invalid("input", [where], f"must be below {INT32_MAX}", ["input.absurd-numbers"])


def paths_where(value: Any, match: Callable[[Any], bool], path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The paths (keys and list indexes as strings) of every value in a JSON value that ``match`` picks."""
    if match(value):
        yield path
    elif isinstance(value, dict):
        for k, item in value.items():
            yield from paths_where(item, match, (*path, str(k)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from paths_where(item, match, (*path, str(i)))


def _integral_float(value: Any) -> bool:
    return isinstance(value, float) and value.is_integer()


def as_integers(value: Any) -> Any:
    """``value`` with every integral float (``2.0``) written as an integer."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: as_integers(item) for k, item in value.items()}
    if isinstance(value, list):
        return [as_integers(item) for item in value]
    return value


def _check_schema(schema_name: str, body: dict[str, Any], variants: VariantSet) -> None:
    validator = contract.body_validator(schema_name)
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    if variants.on(v.UNKNOWN_FIELDS_IGNORED) and any(e.validator == "additionalProperties" for e in errors):
        for e in errors:
            if e.validator == "additionalProperties" and isinstance(e.instance, dict):
                defined = set(e.schema.get("properties", {}))
                for name in [k for k in e.instance if k not in defined]:
                    del e.instance[name]
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    errors = [e for e in errors if not _excused(schema_name, e, variants)]
    if not errors:
        return
    fields = [_field_of(e) for e in errors]
    broken = _schema_behaviours(errors, body, schema_name)
    raise _invalid("input", fields, _short(errors[0].message), broken, rule=str(errors[0].validator))


def _field_of(error: Any) -> str:
    """The field a schema error names: its path, and the property a required / additionalProperties names."""
    path = ".".join(str(part) for part in error.absolute_path)
    if error.validator in {"required", "additionalProperties"}:
        names = re.findall(r"'([^']+)'", error.message)
        if names:
            return f"{path}.{names[0]}" if path else names[0]
    return path or "body"


def _excused(schema_name: str, error: Any, variants: VariantSet) -> bool:
    """A schema error a variant in force does not count (a field it makes optional)."""
    if error.validator != "required":
        return False
    missing = set(re.findall(r"'([^']+)'", error.message))
    path = list(error.absolute_path)
    if variants.on(v.CREATE_NOTHING_REQUIRED) and schema_name == "CreateSectionRequest" and not path:
        return missing <= {"title"}
    if variants.on(v.SEQUENCE_OPTIONAL) and schema_name == "PushRequest" and path[:1] == ["sections"]:
        return missing <= {"sequence"}
    return False


def _schema_behaviours(errors: list[Any], body: Any, schema_name: str) -> list[str]:
    """The behaviours a schema-invalid body breaks: those its failed constraints name in openapi.yaml."""
    validator = contract.body_validator(schema_name)
    if any(True for _ in paths_where(body, _integral_float)) and validator.is_valid(as_integers(body)):
        # Every error goes away when 2.0 is read as 2: integers were sent as floats.
        return ["input.strict-integers"]
    root = cast(Mapping[str, Any], validator.schema)
    found = [b for error in errors for b in schema_view.error_behaviours(error, root)]
    return found or ["input.wrong-types"]


def _short(message: str) -> str:
    return message if len(message) <= 200 else message[:197] + "..."
