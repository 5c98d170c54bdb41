"""Routing: which operation of ``openapi.yaml`` a method and path name.

Owns: the route table (method + path → operation and path parameters; an
unknown path, a method the path does not serve) and the query parameters each
operation defines. Must not: read a body or a header.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ... import contract
from ...contract.limits import BASE_PATH


@dataclass(frozen=True)
class Routed:
    operation: contract.Operation
    params: Mapping[str, str]


@dataclass(frozen=True)
class UnknownPath:
    path: str


@dataclass(frozen=True)
class MethodNotAllowed:
    template: str
    allowed: tuple[str, ...]


Route = Routed | UnknownPath | MethodNotAllowed


@dataclass(frozen=True)
class _Entry:
    pattern: re.Pattern[str]
    template: str
    methods: Mapping[str, contract.Operation]


class RouteTable:
    """The operations of openapi.yaml under a base path (with per-operation path overrides)."""

    def __init__(self, base_path: str = BASE_PATH, overrides: Mapping[str, str] | None = None) -> None:
        self._entries = _entries(base_path.rstrip("/"), tuple(sorted((overrides or {}).items())))

    def match(self, method: str, path: str) -> Route:
        """Where a (percent-decoded) path and method lead."""
        for entry in self._entries:
            found = entry.pattern.fullmatch(path)
            if found is None:
                continue
            op = entry.methods.get(method.upper())
            if op is None:
                return MethodNotAllowed(entry.template, tuple(sorted(entry.methods)))
            return Routed(op, found.groupdict())
        return UnknownPath(path)

    def operation_id(self, method: str, path: str) -> str | None:
        routed = self.match(method, path)
        return routed.operation.operation_id if isinstance(routed, Routed) else None


@functools.cache
def _entries(base_path: str, overrides: tuple[tuple[str, str], ...]) -> tuple[_Entry, ...]:
    paths = dict(overrides)
    grouped: dict[str, dict[str, contract.Operation]] = {}
    for op in contract.operations().values():
        grouped.setdefault(paths.get(op.operation_id, op.path), {})[op.method] = op
    # Literal paths before templated ones, so /menus/sections/enable is not a sectionID.
    return tuple(
        _Entry(re.compile(re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(base_path + t))), t, grouped[t])
        for t in sorted(grouped, key=lambda p: ("{" in p, p))
    )


@functools.cache
def query_parameters(operation_id: str) -> frozenset[str]:
    """The query parameter names openapi.yaml defines for an operation; any other one is "unknown"."""
    doc = contract.openapi()
    for item in doc["paths"].values():
        for op in item.values():
            if isinstance(op, dict) and op.get("operationId") == operation_id:
                params = [*item.get("parameters", []), *op.get("parameters", [])]
                return frozenset(p["name"] for p in (_resolve_ref(doc, p) for p in params) if p.get("in") == "query")
    return frozenset()


def _resolve_ref(doc: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in node:
        target: Any = doc
        for part in str(node["$ref"])[2:].split("/"):
            target = target[part]
        node = target
    return node
