"""Reading a write's body: size, Content-Type, emptiness, depth, strict JSON, an object.

Owns: decoding a body as the contract reads it (``decode``) and the JSON hooks
the core shares (``reject_constant``, ``finite_float``, ``json_depth``). Must
not: validate fields (the schema is the walk's, in ``validation``).
"""

from __future__ import annotations

import json
import math
from typing import Any

from ... import contract
from ...contract.limits import JSON_TYPE, MAX_BODY_BYTES, MAX_DEPTH
from .. import defects as d
from .. import variants as v
from ..defects import DefectSet
from ..variants import VariantSet
from .request import ApiRequest, Crashed, _invalid, _Stop

#: the nesting limit under the depth-64 variant
VARIANT_MAX_DEPTH = 64
#: the body cap under the body-cap-decimal-mb defect
DECIMAL_MB = 1_000_000


def reject_constant(name: str) -> float:
    """``json.loads`` hook: NaN and Infinity are not JSON numbers."""
    raise ValueError(f"{name} is not a JSON number")


def finite_float(text: str) -> float:
    """``json.loads`` hook: a float that overflows (1e400) is out of range."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]} is out of range")
    return value


def json_depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """How deeply a parsed JSON value nests (stops counting past ``limit``)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            deepest = max(deepest, level)
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            deepest = max(deepest, level)
            stack.extend((v, level + 1) for v in item)
        if deepest > limit:
            break
    return deepest


def decode(request: ApiRequest, op: contract.Operation, variants: VariantSet, defects: DefectSet) -> dict[str, Any]:
    cap = DECIMAL_MB if defects.on(d.BODY_CAP_DECIMAL) else MAX_BODY_BYTES
    if request.body_too_large or len(request.body) > cap:
        raise _invalid("body", ["body"], f"request bodies are limited to {cap} bytes", ["input.body-too-large"])
    ctype = (request.header("content-type") or "").split(";")[0].strip().lower()
    if ctype != JSON_TYPE:
        raise _invalid(
            "body", ["Content-Type"], f"must be {JSON_TYPE}, got {ctype or 'nothing'}", ["input.wrong-content-type"]
        )
    if not request.body.strip():
        raise _invalid("body", ["body"], "a JSON object is required", ["input.malformed-json"])
    max_depth = VARIANT_MAX_DEPTH if variants.on(v.DEPTH_64) else MAX_DEPTH
    if defects.on(d.DEPTH_OFF_BY_ONE):
        max_depth += 1
    too_deep = f"JSON nested deeper than {max_depth} levels"
    try:
        body = json.loads(request.body, parse_constant=reject_constant, parse_float=finite_float)
    except RecursionError:
        raise _invalid("body", ["body"], too_deep, ["input.deep-nesting"]) from None
    except ValueError as exc:
        if defects.on(d.HTML_500_MALFORMED):
            raise _Stop(Crashed("body", op)) from exc
        raise _invalid("body", ["body"], f"malformed JSON: {exc}", ["input.malformed-json"]) from None
    if json_depth(body, max_depth) > max_depth:
        raise _invalid("body", ["body"], too_deep, ["input.deep-nesting"])
    if not isinstance(body, dict):
        raise _invalid("body", ["body"], f"must be a JSON object, got {type(body).__name__}", ["input.non-object-body"])
    return body
