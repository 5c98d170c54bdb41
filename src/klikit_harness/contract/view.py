"""The behaviour each constraint of openapi.yaml encodes, and the documented view of the contract.

Owns: reading the ``x-behaviour`` / ``x-behaviours`` annotations of
contracts/openapi.yaml (which behaviour of behaviours.yaml a ``required``
entry, an ``additionalProperties: false``, a ``pattern``, a ``maximum``, a
success payload's shape ... encodes), naming the behaviours a JSON Schema
validation error breaks, the permissions (``null`` for an optional field, an
optional property left out) a request relies on, and ``documented_view``: a
copy of the raw document in which every constraint whose behaviour the run
only observes is dropped and every permission it only observes is withdrawn.
Must not: judge a behaviour (the caller passes its judgement) or send anything.

Annotation rules (also stated in openapi.yaml's description):

- ``x-behaviour: <id>`` on a schema, parameter or header names the behaviour
  of every constraint in it and in the schemas nested in it, up to a ``$ref``
  (a referenced component carries its own annotations), unless a nearer
  ``x-behaviour`` names another;
- ``x-behaviours: {<keyword>: <id>}`` names the behaviour of one keyword in
  the schema and the schemas nested in it, and wins over any ``x-behaviour``;
  ``required.<name>`` names one entry of ``required``; ``optional.<name>``
  the permission to leave the property out; ``null`` (or ``null.<name>``)
  the permission to send ``null`` for an optional property. Permissions are
  named only explicitly (no ``x-behaviour`` default applies to them).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import pairwise
from typing import Any

from .. import contract
from . import Judgement

__all__ = [
    "ANNOTATION",
    "CONSTRAINT_KEYWORDS",
    "KEYWORDS",
    "STATUS",
    "SUCCESS_RANGE",
    "annotated",
    "behaviour_in",
    "best_branch",
    "constraints",
    "documented_view",
    "error_behaviours",
    "listed_success_status",
    "permissions_used",
    "response_key",
    "response_schema_name",
    "strongest",
    "success_key",
    "success_status_behaviour",
]

ANNOTATION = "x-behaviour"
KEYWORDS = "x-behaviours"

Judge = Callable[[str], Judgement]
Chain = Sequence[Mapping[str, Any]]

#: keywords that restrict what a value may be (``type`` stays: the view never changes a value's type)
CONSTRAINT_KEYWORDS = (
    "required",
    "additionalProperties",
    "propertyNames",
    "pattern",
    "format",
    "enum",
    "const",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minLength",
    "maxLength",
    "minProperties",
    "maxProperties",
)
#: keywords whose values are schemas (one, a list, or a map of them)
_ONE = (
    "additionalProperties",
    "propertyNames",
    "items",
    "not",
    "contains",
    "if",
    "then",
    "else",
    "unevaluatedProperties",
    "unevaluatedItems",
)
_MANY = ("allOf", "anyOf", "oneOf", "prefixItems")
_MAP = ("properties", "patternProperties", "$defs", "dependentSchemas")
_RANK = {"documented": 0, "contested": 0, "assumed": 1, "incidental": 2}
#: kept in the view whatever their behaviour: upper size bounds bound what the generator draws (without
#: them it builds bodies of hundreds of kB), and a target taking a larger value is still settled by the
#: bound's behaviour when the fuzzer sends one on purpose; ``required`` is handled entry by entry
_KEPT = frozenset({"required", "maxItems", "maxProperties", "maxLength"})


# ------------------------------------------------------------------ reading annotations


def behaviour_in(chain: Chain, keyword: str, name: str | None = None, *, fallback: bool = True) -> str | None:
    """The behaviour ``keyword`` (for property ``name``) encodes in the last node of ``chain``.

    ``chain`` runs from the component (or parameter) down to the node holding the
    keyword. A keyword annotation of the node or an enclosing one wins; else the
    nearest ``x-behaviour`` (unless ``fallback`` is False: permissions).
    """
    keys = ([f"{keyword}.{name}"] if name is not None else []) + [keyword]
    if any(child is parent.get("propertyNames") for parent, child in pairwise(chain)):
        keys.append("propertyNames")  # a constraint on the keys of a map is its propertyNames rule
    for node in reversed(chain):
        named = node.get(KEYWORDS)
        if isinstance(named, Mapping):
            for key in keys:
                if key in named:
                    return str(named[key])
    if not fallback:
        return None
    for node in reversed(chain):
        if ANNOTATION in node:
            return str(node[ANNOTATION])
    return None


def _children(node: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for key in _ONE:
        value = node.get(key)
        if isinstance(value, Mapping):
            yield value
    for key in _MANY:
        for value in node.get(key) or ():
            if isinstance(value, Mapping):
                yield value
    for key in _MAP:
        for value in (node.get(key) or {}).values():
            if isinstance(value, Mapping):
                yield value


def walk(node: Mapping[str, Any], chain: tuple[Mapping[str, Any], ...] = ()) -> Iterator[tuple[Mapping[str, Any], ...]]:
    """Every schema node under ``node`` (itself included) as its chain, never following a ``$ref``."""
    here = (*chain, node)
    yield here
    for child in _children(node):
        yield from walk(child, here)


def _roots(doc: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any], bool]]:
    """(location, node, is a parameter or header) of every annotated root."""
    components = doc.get("components") or {}
    for name, schema in (components.get("schemas") or {}).items():
        yield f"components/schemas/{name}", schema, False
    for name, param in (components.get("parameters") or {}).items():
        yield f"components/parameters/{name}", param, True
    for name, header in (components.get("headers") or {}).items():
        yield f"components/headers/{name}", header, True
    for rname, response in (components.get("responses") or {}).items():
        for hname, header in (response.get("headers") or {}).items():
            if "$ref" not in header:
                yield f"components/responses/{rname}/headers/{hname}", header, True
    for path, item in (doc.get("paths") or {}).items():
        for method, op in item.items():
            if not isinstance(op, Mapping):
                continue
            for i, param in enumerate(op.get("parameters") or ()):
                if "$ref" not in param:
                    yield f"paths/{path}/{method}/parameters/{i}", param, True


def _chains(doc: Mapping[str, Any]) -> Iterator[tuple[str, tuple[Mapping[str, Any], ...]]]:
    """(location, chain) of every node of every annotated root; a parameter heads its schema's chains."""
    for location, root, carrier in _roots(doc):
        if not isinstance(root, Mapping):
            continue
        schema = root.get("schema") if carrier else None
        if carrier:
            yield location, (root,)
            if isinstance(schema, Mapping):
                for chain in walk(schema, (root,)):
                    yield location, chain
        else:
            for chain in walk(root):
                yield location, chain


def annotated(doc: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(location, behaviour id) of every annotation in ``doc``, success statuses included."""
    for location, chain in _chains(doc):
        node = chain[-1]
        if ANNOTATION in node:
            yield location, str(node[ANNOTATION])
        for key, bid in (node.get(KEYWORDS) or {}).items():
            yield f"{location} {key}", str(bid)
    for path, item in (doc.get("paths") or {}).items():
        for method, op in item.items():
            for code, response in (op.get("responses") or {}).items() if isinstance(op, Mapping) else ():
                for key, bid in (response.get(KEYWORDS) or {}).items() if isinstance(response, Mapping) else ():
                    yield f"paths/{path}/{method}/responses/{code} {key}", str(bid)


def constraints(doc: Mapping[str, Any]) -> Iterator[tuple[str, str, str | None]]:
    """(location, keyword or ``required.<name>``, behaviour or None) of every constraint in ``doc``."""
    for location, chain in _chains(doc):
        node = chain[-1]
        for keyword in CONSTRAINT_KEYWORDS:
            if keyword not in node:
                continue
            value = node[keyword]
            if keyword == "required" and isinstance(value, list):
                for name in value:
                    yield location, f"required.{name}", behaviour_in(chain, "required", name)
            elif keyword == "required" and value is True:  # a required parameter or header
                yield location, "required", behaviour_in(chain, "required")
            elif keyword == "additionalProperties" and value is not False:
                continue
            elif keyword != "required":
                yield location, keyword, behaviour_in(chain, keyword)


# ----------------------------------------------------------------------- errors


_INDEXES: dict[int, tuple[Mapping[str, Any], dict[int, tuple[Mapping[str, Any], ...]]]] = {}


def _chain_of(root: Mapping[str, Any], node: Any) -> tuple[Mapping[str, Any], ...] | None:
    """The chain of ``node`` inside ``root`` (a validator's document, kept alive by the validator cache)."""
    entry = _INDEXES.get(id(root))
    if entry is None or entry[0] is not root:
        index: dict[int, tuple[Mapping[str, Any], ...]] = {}
        for _, chain in _chains(root):
            index.setdefault(id(chain[-1]), chain)
        entry = _INDEXES[id(root)] = (root, index)
    return entry[1].get(id(node))


def best_branch(error: Any) -> list[Any]:
    """The errors of the branch a failed ``anyOf`` / ``oneOf`` value matches best.

    The branch whose errors sit deepest in the value matched the most of it (a
    business-mode menu fails the store-mode branch at ``menu`` itself, the
    business-mode branch only inside ``businessInfo``), as ``jsonschema``'s
    ``relevance`` ranks deeper errors as more specific; among equals, a branch
    whose type the value has, then the one with the fewest errors, then the
    first. A ``null`` branch is never the best match of a value that is not
    null. A ``oneOf`` value matching several branches has no failing branch: ``[]``.
    """
    branches: dict[int, list[Any]] = {}
    for sub in error.context or ():
        if sub.validator == "type" and sub.validator_value == "null":
            continue
        index = sub.relative_schema_path[0] if sub.relative_schema_path else 0
        branches.setdefault(int(index), []).append(sub)
    if not branches:
        return []

    def score(item: tuple[int, list[Any]]) -> tuple[int, bool, int, int]:
        index, errors = item
        depth = min(len(e.absolute_path) for e in errors)
        typed = not any(e.validator == "type" and len(e.absolute_path) == depth for e in errors)
        return depth, typed, -len(errors), -index

    return max(branches.items(), key=score)[1]


def error_behaviours(error: Any, root: Mapping[str, Any]) -> list[str]:
    """The behaviours one ``jsonschema`` error breaks; ``root`` is the validator's document.

    A failure is blamed on the innermost constraint that broke, never on a
    container's annotation while an inner constraint names a behaviour: a failed
    ``anyOf`` / ``oneOf`` on the constraints its best-matching branch broke
    (``best_branch``); ``allOf`` and ``$ref`` need nothing here, as ``jsonschema``
    reports their errors at the inner keyword itself.
    """
    if error.validator in {"anyOf", "oneOf"} and error.context:
        found: list[str] = []
        for sub in best_branch(error):
            found += error_behaviours(sub, root)
        if found:
            return found
    chain = _chain_of(root, error.schema)
    if chain is None:
        return []
    keyword = str(error.validator)
    if keyword == "required" and isinstance(error.instance, Mapping):
        names = [n for n in error.validator_value if n not in error.instance] or [None]
        return [b for n in names if (b := behaviour_in(chain, "required", n)) is not None]
    found_one = behaviour_in(chain, keyword)
    return [found_one] if found_one is not None else []


def strongest(behaviours: Iterable[str], judge: Judge) -> str | None:
    """The behaviour to blame among several broken at once: an enforced one first, then the best documented."""
    known = contract.behaviours()
    unique = [b for b in dict.fromkeys(behaviours) if b in known]
    if not unique:
        return None
    return min(unique, key=lambda b: (judge(b) != "enforced", _RANK.get(known[b].status, 3)))


# ------------------------------------------------------------------ permissions


def _resolve(doc: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    seen = 0
    while "$ref" in node and seen < 20:
        target: Any = doc
        for part in str(node["$ref"]).removeprefix("#/").split("/"):
            target = target[part]
        node = target
        seen += 1
    return node


def allows_null(schema: Mapping[str, Any]) -> bool:
    kinds = schema.get("type")
    if kinds == "null" or (isinstance(kinds, list) and "null" in kinds):
        return True
    return any(isinstance(b, Mapping) and b.get("type") == "null" for b in schema.get("anyOf") or ())


def permissions_used(schema_name: str, instance: Any, doc: Mapping[str, Any] | None = None) -> list[str]:
    """The behaviours of the permissions a (schema-valid) body relies on: a ``null`` sent for an
    optional property, an optional property left out (only those the contract names)."""
    document = doc if doc is not None else contract.openapi()
    found: list[str] = []

    def visit(node: Mapping[str, Any], chain: tuple[Mapping[str, Any], ...], value: Any, depth: int) -> None:
        if depth > 40:
            return
        if "$ref" in node:
            target = _resolve(document, node)
            visit(target, (target,), value, depth + 1)
            return
        here = (*chain, node)
        for key in ("allOf", "anyOf", "oneOf"):
            for branch in node.get(key) or ():
                if isinstance(branch, Mapping) and branch.get("type") != "null":
                    visit(branch, here, value, depth + 1)
        if isinstance(value, Mapping):
            properties = node.get("properties") or {}
            required = set(node.get("required") or ())
            for name, sub in properties.items():
                if name not in value:
                    if name not in required:
                        bid = behaviour_in(here, "optional", name, fallback=False)
                        if bid:
                            found.append(bid)
                    continue
                if value[name] is None and name not in required and allows_null(sub):
                    bid = behaviour_in((*here, sub), "null", name, fallback=False)
                    if bid:
                        found.append(bid)
                    continue
                visit(sub, here, value[name], depth + 1)
            extra = node.get("additionalProperties")
            if isinstance(extra, Mapping):
                for name, item in value.items():
                    if name not in properties:
                        visit(extra, here, item, depth + 1)
        elif isinstance(value, list) and isinstance(node.get("items"), Mapping):
            for item in value:
                visit(node["items"], here, item, depth + 1)

    start = (document.get("components") or {}).get("schemas", {}).get(schema_name)
    if isinstance(start, Mapping):
        visit(start, (), instance, 0)
    return list(dict.fromkeys(found))


# ------------------------------------------------------------------ documented view


def _reachable(doc: Mapping[str, Any], starts: Iterable[Any]) -> set[str]:
    """Names of the component schemas reachable from ``starts`` through ``$ref``s."""
    seen: set[str] = set()
    stack = list(starts)
    schemas = (doc.get("components") or {}).get("schemas") or {}
    while stack:
        node = stack.pop()
        if isinstance(node, Mapping):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
                name = ref.rsplit("/", 1)[1]
                if name not in seen and name in schemas:
                    seen.add(name)
                    stack.append(schemas[name])
            stack.extend(v for k, v in node.items() if k != "$ref")
        elif isinstance(node, list):
            stack.extend(node)
    return seen


def _request_side(doc: Mapping[str, Any]) -> set[str]:
    starts: list[Any] = [(doc.get("components") or {}).get("parameters") or {}]
    for item in (doc.get("paths") or {}).values():
        for op in item.values():
            if isinstance(op, Mapping):
                starts += [op.get("requestBody") or {}, op.get("parameters") or []]
    return _reachable(doc, starts)


def _drop_null(schema: dict[str, Any]) -> None:
    kinds = schema.get("type")
    if isinstance(kinds, list) and "null" in kinds:
        rest = [k for k in kinds if k != "null"]
        schema["type"] = rest[0] if len(rest) == 1 else rest
    if isinstance(schema.get("anyOf"), list):
        branches = [b for b in schema["anyOf"] if not (isinstance(b, Mapping) and b.get("type") == "null")]
        if len(branches) == 1 and isinstance(branches[0], Mapping):
            del schema["anyOf"]
            schema["allOf"] = [*schema.get("allOf", []), branches[0]]
        else:
            schema["anyOf"] = branches


def _relax_node(chain: tuple[Mapping[str, Any], ...], judge: Judge) -> None:
    node: dict[str, Any] = chain[-1]  # type: ignore[assignment]

    def observed(bid: str | None) -> bool:
        return bid is not None and judge(bid) == "observed"

    for keyword in CONSTRAINT_KEYWORDS:
        if keyword not in node or keyword in _KEPT:
            continue
        if keyword == "additionalProperties" and node[keyword] is not False:
            continue
        if observed(behaviour_in(chain, keyword)):
            del node[keyword]
    required = node.get("required", [] if isinstance(node.get("properties"), Mapping) else None)
    if isinstance(required, list):
        kept = [n for n in required if not observed(behaviour_in(chain, "required", n))]
        properties = node.get("properties") or {}
        for name, sub in properties.items():
            if name in required:
                continue
            if name not in kept and observed(behaviour_in(chain, "optional", name, fallback=False)):
                kept.append(name)  # leaving it out is only the stand-in's permission: always send it
            if (
                isinstance(sub, dict)
                and allows_null(sub)
                and observed(behaviour_in((*chain, sub), "null", name, fallback=False))
            ):
                _drop_null(sub)  # null for "absent" is only the stand-in's permission: never send it
        if kept:
            node["required"] = kept
        else:
            del node["required"]
    elif required is True and observed(behaviour_in(chain, "required")):
        node["required"] = False


def documented_view(doc: Mapping[str, Any], judge: Judge) -> dict[str, Any]:
    """A copy of ``doc`` holding a target only to the behaviours ``judge`` enforces.

    Every constraint whose behaviour is observed is dropped (a ``required``
    entry, ``additionalProperties: false``, ``pattern``, ``minimum`` / ``maximum``
    ...; upper size bounds stay, see ``_KEPT``); every
    permission whose behaviour is observed is withdrawn (the optional property
    becomes required, ``null`` is no longer offered); a component found only in
    responses whose own behaviour is observed (an undocumented success payload)
    becomes ``{}``, and links reading from it are dropped. With every behaviour
    enforced the copy equals ``doc``.
    """
    view: dict[str, Any] = copy.deepcopy(dict(doc))
    schemas: dict[str, Any] = (view.get("components") or {}).get("schemas") or {}
    request_side = _request_side(view)
    replaced: set[str] = set()
    for name, schema in list(schemas.items()):
        bid = schema.get(ANNOTATION) if isinstance(schema, Mapping) else None
        if name not in request_side and bid is not None and judge(str(bid)) == "observed":
            schemas[name] = {ANNOTATION: bid, "description": f"Not held to a shape on this run ({bid} observed)."}
            replaced.add(name)
    for _, chain in list(_chains(view)):
        _relax_node(chain, judge)
    if replaced:
        _drop_links_from(view, replaced)
    _relax_statuses(view, judge)
    return view


STATUS = "status"
SUCCESS_RANGE = "2XX"


def _operations(doc: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for item in (doc.get("paths") or {}).values():
        for op in item.values() if isinstance(item, Mapping) else ():
            if isinstance(op, Mapping) and "responses" in op:
                yield op


def success_key(responses: Mapping[str, Any]) -> str | None:
    """The key of an operation's success response (``200``, another 2xx, or ``2XX``)."""
    return next((str(k) for k in responses if str(k).startswith("2")), None)


def success_status_behaviour(operation_id: str, doc: Mapping[str, Any] | None = None) -> str | None:
    """The behaviour that fixes the status of ``operation_id``'s success (its ``x-behaviours: {status}``)."""
    for op in _operations(doc if doc is not None else contract.openapi()):
        if op.get("operationId") == operation_id:
            key = success_key(op["responses"])
            response = op["responses"][key] if key else None
            named = response.get(KEYWORDS) if isinstance(response, Mapping) else None
            return str(named[STATUS]) if isinstance(named, Mapping) and STATUS in named else None
    return None


def listed_success_status(operation_id: str, doc: Mapping[str, Any] | None = None) -> int | None:
    """The success status openapi.yaml lists for ``operation_id`` (None: a range such as ``2XX``)."""
    for op in _operations(doc if doc is not None else contract.openapi()):
        if op.get("operationId") == operation_id:
            key = success_key(op["responses"])
            return int(key) if key is not None and key.isdigit() else None
    return None


def response_key(responses: Mapping[str, Any], status: int) -> str | None:
    """The key of ``responses`` an answer with ``status`` is judged by: the exact status, its
    range (``2XX``), the success response for any 2xx (its status is settled by its own
    behaviour), else ``default``."""
    exact, ranged = str(status), f"{str(status)[0]}XX"
    for key in (exact, ranged):
        if key in responses:
            return key
    success = success_key(responses) if 200 <= status < 300 else None
    if success is not None:
        return success
    return "default" if "default" in responses else None


def _relax_statuses(view: dict[str, Any], judge: Judge) -> None:
    """A success response whose status behaviour is observed is keyed ``2XX``: any 2xx is judged by it."""
    for op in _operations(view):
        responses: dict[str, Any] = op["responses"]
        key = success_key(responses)
        response = responses.get(key) if key else None
        named = response.get(KEYWORDS) if isinstance(response, Mapping) else None
        if key is None or key == SUCCESS_RANGE or not isinstance(named, Mapping) or STATUS not in named:
            continue
        if judge(str(named[STATUS])) == "observed":
            # same position: Schemathesis reads the responses in order
            items = [(SUCCESS_RANGE if k == key else k, v) for k, v in responses.items()]
            responses.clear()
            responses.update(items)


def _drop_links_from(view: dict[str, Any], replaced: set[str]) -> None:
    schemas = view["components"]["schemas"]
    for item in (view.get("paths") or {}).values():
        for op in item.values():
            if not isinstance(op, Mapping):
                continue
            for response in (op.get("responses") or {}).values():
                if not isinstance(response, dict) or "links" not in response:
                    continue
                content = (response.get("content") or {}).get("application/json") or {}
                envelope = _resolve(view, content.get("schema") or {})
                data = (envelope.get("properties") or {}).get("data") or {}
                ref = str(data.get("$ref", ""))
                if ref.rsplit("/", 1)[-1] in replaced or any(schemas.get(n) is data for n in replaced):
                    response["links"] = {
                        k: v for k, v in response["links"].items() if "$response.body#/data" not in repr(v)
                    }
                    if not response["links"]:
                        del response["links"]


def response_schema_name(operation_id: str, status: int) -> str | None:
    """The component schema an operation's answer with ``status`` must match (None when undefined)."""
    doc = contract.openapi()
    for item in doc["paths"].values():
        for op in item.values():
            if not isinstance(op, Mapping) or op.get("operationId") != operation_id:
                continue
            responses = op.get("responses") or {}
            key = response_key(responses, status)
            response = responses.get(key) if key else None
            if not isinstance(response, Mapping):
                return None
            response = _resolve(doc, response)
            schema = ((response.get("content") or {}).get("application/json") or {}).get("schema") or {}
            ref = str(schema.get("$ref", ""))
            return ref.rsplit("/", 1)[1] if ref.startswith("#/components/schemas/") else None
    return None
