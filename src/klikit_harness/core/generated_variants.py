"""Variants generated from the response side of the annotated contract: one per departure it allows.

Owns: reading openapi.yaml's response-side schemas and success responses through
their ``x-behaviour`` / ``x-behaviours`` annotations and listing, for every
constraint the docs leave to the server (its behaviour ``assumed`` or
``incidental``, or no constraint at all), the legitimate answer that departs
from it:

- ``extra-member.<schema>``: every instance of an object schema that is open,
  or closed by an assumed/incidental ``additionalProperties``, carries one more
  member (``EXTRA_MEMBER``);
- ``drop-member.<schema>.<member>``: a member that is not required, or whose
  ``required`` entry is assumed/incidental, is left out of every instance;
- ``status-<2xx>.<operation>``: an operation whose success status behaviour
  (``x-behaviours: {status: <id>}`` on its success response) is assumed or
  incidental answers its successes with another 2xx that carries a body.

A departure from no constraint (an open object, an optional member) changes the
stand-in's own incidental choice: ``OPEN_OBJECTS`` / ``OPTIONAL_MEMBERS``. A
constraint whose behaviour is documented or contested yields no departure.
Must not: register anything (``variants`` does) or reshape answers (``reshape``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..contract.view import behaviour_in

#: the behaviour statuses a generated variant may depart from
CHANGEABLE = ("assumed", "incidental")
#: the stand-in's incidental choices a departure from an open object / an optional member / a 2xx changes
OPEN_OBJECTS = "response.closed-objects"
OPTIONAL_MEMBERS = "response.required-members"
SUCCESS_STATUS = "response.success-status"
#: the member an extra-member variant adds, and its value
EXTRA_MEMBER = "x_trace"
EXTRA_VALUE: Mapping[str, Any] = {"k": 1}
#: the other success statuses a status variant answers (204 carries no body: every answer has one)
OTHER_SUCCESS = (201, 202)
#: the response-side root every error answer is built from
ERROR_SCHEMA = "components/schemas/ErrorEnvelope"

Kind = Literal["extra-member", "drop-member", "status"]


@dataclass(frozen=True)
class Departure:
    """One legitimate departure from the contract's response side."""

    name: str
    kind: Kind
    #: the schema node (``components/schemas/X`` or a path below it) for member edits
    location: str
    #: the member dropped (drop-member), else ""
    member: str
    #: the operation (status), else ""
    operation: str
    #: the success status answered instead (status), else 0
    status: int
    changes: tuple[str, ...]

    @property
    def description(self) -> str:
        where = self.location.removeprefix("components/schemas/")
        if self.kind == "extra-member":
            return f"every {where} in an answer carries one more member, {EXTRA_MEMBER!s}"
        if self.kind == "drop-member":
            return f"no {where} in an answer carries {self.member}"
        return f"{self.operation} answers its successes with {self.status}"


def kebab(text: str) -> str:
    """``MenuSection`` → ``menu-section``, ``blackoutDates`` → ``blackout-dates``, ``request_id`` → ``request-id``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", text).replace("_", "-")
    return re.sub(r"[^a-z0-9]+", "-", spaced.lower()).strip("-")


def _label(location: str) -> str:
    """The readable name of a schema location: component, then the members and keywords below it."""
    parts = location.split("/")
    if parts[:2] == ["components", "schemas"]:
        head, rest = [kebab(parts[2])], parts[3:]
    else:  # inline under a response: paths/<path>/<method>/responses/<status>/... (or components/responses/<n>/...)
        prefix, _, tail = location.partition("/responses/")
        status, *rest = tail.split("/")
        head = [kebab(prefix.removeprefix("paths/").removeprefix("components")) or "response", kebab(status)]
    words: list[str] = []
    skip = False
    for part in rest:
        if skip:
            skip = False
            words.append(kebab(part))
            continue
        if part == "properties":
            skip = True
        elif part in {"content", "application/json", "schema"}:
            continue
        else:
            words.append(kebab(part))
    return ".".join(head + [w for w in words if w])


def resolve(doc: Mapping[str, Any], ref: str) -> tuple[str, Mapping[str, Any]]:
    """(location, node) of a local ``$ref`` such as ``#/components/schemas/Id``."""
    if not ref.startswith("#/"):
        raise ValueError(f"only local $refs are supported in the contract, got {ref!r}")
    node: Any = doc
    parts = [p.replace("~1", "/").replace("~0", "~") for p in ref[2:].split("/")]
    for part in parts:
        node = node[part]
    return "/".join(parts), node


def forbidden(schema: Any) -> bool:
    """Whether a member schema admits no value (``false`` or ``{not: {}}``): a member the answer must not carry."""
    return schema is False or (isinstance(schema, Mapping) and schema.get("not") == {})


def is_member_object(node: Mapping[str, Any]) -> bool:
    """A schema of an object with named members (not a map keyed by data such as ``Visibilities``)."""
    types = node.get("type")
    typed = types == "object" or (isinstance(types, list) and "object" in types)
    if "propertyNames" in node or "patternProperties" in node or isinstance(node.get("additionalProperties"), Mapping):
        return False
    return typed or isinstance(node.get("properties"), Mapping)


def response_roots(doc: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(location, schema) of every JSON response body the contract defines."""
    seen: set[str] = set()

    def bodies(location: str, response: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
        if "$ref" in response:
            location, response = resolve(doc, str(response["$ref"]))
            if location in seen:
                return
            seen.add(location)
        schema = ((response.get("content") or {}).get("application/json") or {}).get("schema")
        if isinstance(schema, Mapping):
            yield f"{location}/content/application/json/schema", schema

    for path, item in (doc.get("paths") or {}).items():
        for method, op in item.items():
            if not isinstance(op, Mapping):
                continue
            for status, response in (op.get("responses") or {}).items():
                yield from bodies(f"paths/{path}/{method}/responses/{status}", response)
    for name, response in ((doc.get("components") or {}).get("responses") or {}).items():
        yield from bodies(f"components/responses/{name}", response)


def request_roots(doc: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(location, schema) of every request body the contract defines."""
    for path, item in (doc.get("paths") or {}).items():
        for method, op in item.items():
            if not isinstance(op, Mapping):
                continue
            for media, body in ((op.get("requestBody") or {}).get("content") or {}).items():
                schema = (body or {}).get("schema")
                if isinstance(schema, Mapping):
                    yield f"paths/{path}/{method}/requestBody/content/{media}/schema", schema


def response_objects(doc: Mapping[str, Any]) -> dict[str, tuple[Mapping[str, Any], ...]]:
    """Every object schema with named members only answers use: location → chain (component down to the node).

    A schema requests use too (``Slot`` of a schedule echoed by getMenu) is left out: its
    annotations name what the server accepts, not what it may answer.
    """
    shared = set(_objects(doc, request_roots(doc)))
    return {loc: chain for loc, chain in _objects(doc, response_roots(doc)).items() if loc not in shared}


def _objects(
    doc: Mapping[str, Any], roots: Iterator[tuple[str, Mapping[str, Any]]]
) -> dict[str, tuple[Mapping[str, Any], ...]]:
    found: dict[str, tuple[Mapping[str, Any], ...]] = {}
    visited: set[str] = set()

    def visit(node: Any, chain: tuple[Mapping[str, Any], ...], location: str) -> None:
        if not isinstance(node, Mapping):
            return
        if "$ref" in node:
            target_location, target = resolve(doc, str(node["$ref"]))
            if target_location not in visited:
                visited.add(target_location)
                visit(target, (), target_location)
            return
        here = (*chain, node)
        if is_member_object(node):
            found[location] = here
        for name, sub in (node.get("properties") or {}).items():
            visit(sub, here, f"{location}/properties/{name}")
        for key in ("items", "additionalProperties"):
            visit(node.get(key), here, f"{location}/{key}")
        for key in ("allOf", "anyOf", "oneOf"):
            for i, sub in enumerate(node.get(key) or ()):
                visit(sub, here, f"{location}/{key}/{i}")

    for location, schema in roots:
        visit(schema, (), location)
    return found


def departures(doc: Mapping[str, Any], status_of: Callable[[str], str]) -> list[Departure]:
    """Every departure the contract's response side allows, sorted by name (names are unique)."""

    def changeable(bid: str | None) -> bool:
        return bid is not None and status_of(bid) in CHANGEABLE

    out: dict[str, Departure] = {}

    def add(dep: Departure) -> None:
        if dep.name in out:
            raise ValueError(f"two departures are both named {dep.name!r}: rename a schema of openapi.yaml")
        out[dep.name] = dep

    for location, chain in response_objects(doc).items():
        node = chain[-1]
        label = _label(location)
        closed = node.get("additionalProperties")
        properties = node.get("properties") or {}
        if EXTRA_MEMBER not in properties:
            if closed is None or closed is True:
                add(Departure(f"extra-member.{label}", "extra-member", location, "", "", 0, (OPEN_OBJECTS,)))
            elif closed is False:
                bid = behaviour_in(chain, "additionalProperties")
                if changeable(bid):
                    assert bid is not None
                    add(Departure(f"extra-member.{label}", "extra-member", location, "", "", 0, (bid,)))
        required = set(node.get("required") or ())
        for member, schema in properties.items():
            if not isinstance(schema, Mapping) or forbidden(schema):  # a member the answer must not carry
                continue
            name = f"drop-member.{label}.{kebab(member)}"
            if member not in required:
                add(Departure(name, "drop-member", location, member, "", 0, (OPTIONAL_MEMBERS,)))
                continue
            bid = behaviour_in(chain, "required", member)
            if changeable(bid):
                assert bid is not None
                add(Departure(name, "drop-member", location, member, "", 0, (bid,)))
    for item in (doc.get("paths") or {}).values():
        for op in item.values():
            if not isinstance(op, Mapping) or "operationId" not in op:
                continue
            for code, response in (op.get("responses") or {}).items():
                if not str(code).startswith("2") or not isinstance(response, Mapping):
                    continue
                bid = (response.get("x-behaviours") or {}).get("status")
                if not changeable(bid):
                    continue
                for status in OTHER_SUCCESS:
                    if str(status) == str(code):
                        continue
                    name = f"status-{status}.{kebab(op['operationId'])}"
                    add(Departure(name, "status", "", "", str(op["operationId"]), status, (str(bid),)))
    return [out[name] for name in sorted(out)]
