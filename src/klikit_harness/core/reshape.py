"""Reshaping one answer's JSON by the generated variants switched on: pure, schema-guided.

Owns: walking an answer's JSON alongside its response schema (resolving
``$ref``, following ``properties``, ``items``, a map's ``additionalProperties``,
every ``allOf`` and the ``oneOf``/``anyOf`` branch the value matches) and
applying, at each object whose schema location a departure names, its edit:
an extra member added, a member dropped. Must not: decide which departures
exist (``generated_variants``) or which are on (``variants``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .generated_variants import EXTRA_MEMBER, EXTRA_VALUE, Departure, forbidden, resolve

Edits = Mapping[str, Sequence[Departure]]

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def by_location(active: Sequence[Departure]) -> dict[str, list[Departure]]:
    """The member edits of ``active`` keyed by the schema location they apply to."""
    out: dict[str, list[Departure]] = {}
    for dep in active:
        if dep.kind in {"extra-member", "drop-member"}:
            out.setdefault(dep.location, []).append(dep)
    return out


def matches(doc: Mapping[str, Any], node: Mapping[str, Any], value: Any) -> bool:
    """Whether ``value`` has the type of ``node`` and (an object) every member it requires and none it forbids."""
    if "$ref" in node:
        node = resolve(doc, str(node["$ref"]))[1]
    types = node.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        is_bool = isinstance(value, bool)
        if not any(isinstance(value, _JSON_TYPES.get(t, ())) and (t == "boolean" or not is_bool) for t in names):
            return False
    if isinstance(value, dict):
        if not set(node.get("required") or ()) <= value.keys():
            return False
        if any(forbidden(sub) and name in value for name, sub in (node.get("properties") or {}).items()):
            return False
    return all(matches(doc, sub, value) for sub in node.get("allOf") or () if isinstance(sub, Mapping))


def reshape(doc: Mapping[str, Any], location: str, schema: Mapping[str, Any], value: Any, edits: Edits) -> Any:
    """``value`` (an answer's JSON, or part of it, described by ``schema`` at ``location``) with ``edits`` applied.

    Returns a new value; ``value`` is not changed. Members added by an edit are not walked.
    """
    if not edits:
        return value
    if "$ref" in schema:
        location, schema = resolve(doc, str(schema["$ref"]))
    for i, sub in enumerate(schema.get("allOf") or ()):
        if isinstance(sub, Mapping):
            value = reshape(doc, f"{location}/allOf/{i}", sub, value, edits)
    for key in ("oneOf", "anyOf"):
        for i, sub in enumerate(schema.get(key) or ()):
            if isinstance(sub, Mapping) and matches(doc, sub, value):
                value = reshape(doc, f"{location}/{key}/{i}", sub, value, edits)
                break
    if isinstance(value, dict):
        out = dict(value)
        for dep in edits.get(location, ()):
            if dep.kind == "drop-member":
                out.pop(dep.member, None)
            elif dep.kind == "extra-member":
                out.setdefault(EXTRA_MEMBER, dict(EXTRA_VALUE))
        properties = schema.get("properties") or {}
        rest = schema.get("additionalProperties")
        for key in list(out):
            if key not in value:
                continue
            sub = properties.get(key)
            if isinstance(sub, Mapping):
                out[key] = reshape(doc, f"{location}/properties/{key}", sub, out[key], edits)
            elif key not in properties and isinstance(rest, Mapping):
                out[key] = reshape(doc, f"{location}/additionalProperties", rest, out[key], edits)
        return out
    items = schema.get("items")
    if isinstance(value, list) and isinstance(items, Mapping):
        return [reshape(doc, f"{location}/items", items, item, edits) for item in value]
    return value


def success_schema(
    doc: Mapping[str, Any], path: str, method: str, status: str = "200"
) -> tuple[str, Mapping[str, Any]]:
    """(location, schema) of an operation's success body."""
    response: Mapping[str, Any] = doc["paths"][path][method.lower()]["responses"][status]
    location = f"paths/{path}/{method.lower()}/responses/{status}"
    if "$ref" in response:
        location, response = resolve(doc, str(response["$ref"]))
    return f"{location}/content/application/json/schema", response["content"]["application/json"]["schema"]
