"""The limits the contract fixes, each defined once.

Owns: the base path, the JSON media type, the Idempotency-Key's length, the
int32 bound of ids, the body size cap and the JSON nesting limit. A value
``contracts/openapi.yaml`` writes down is read from there (the servers' path,
the ``IdempotencyKey`` parameter's ``maxLength``, the ``Id`` schema's
``maximum``); the others are stated only in a behaviour's sentence of
``contracts/behaviours.yaml`` and are written here, next to its id. Must not:
hold a variant's or a defect's limit (those belong to the core), or anything
that is not a number or a name the contract fixes. The core, the stand-in,
the client and the checks import these names from here.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import urlsplit

from . import ContractError, openapi


def _at(*keys: str) -> Any:
    """The value at ``keys`` of ``openapi.yaml``; a clear error names the missing entry."""
    node: Any = openapi()
    for depth, key in enumerate(keys):
        if not isinstance(node, dict) or key not in node:
            raise ContractError(f"openapi.yaml has no {'/'.join(keys[: depth + 1])}; the harness reads a limit there")
        node = node[key]
    return node


def _base_path() -> str:
    paths = {urlsplit(str(server["url"])).path.rstrip("/") for server in _at("servers")}
    if len(paths) != 1:
        raise ContractError(f"openapi.yaml's servers disagree on the base path ({sorted(paths)}); give them one path")
    return paths.pop()


#: the path every operation's path is relative to (``/v1/partner``): the servers' path
BASE_PATH: Final[str] = _base_path()
#: the media type of every request and answer body
JSON_TYPE: Final[str] = "application/json"
#: the longest Idempotency-Key a write may carry (longer: 400 request_invalid)
MAX_KEY_LENGTH: Final[int] = int(_at("components", "parameters", "IdempotencyKey", "schema", "maxLength"))
#: the largest id (brand, branch, section, provider): the int32 bound of the ``Id`` schema
INT32_MAX: Final[int] = int(_at("components", "schemas", "Id", "maximum"))
#: the largest body a write may send, in bytes: 1 MiB (behaviour ``input.body-too-large``)
MAX_BODY_BYTES: Final[int] = 1024 * 1024
#: the deepest JSON nesting a body may have (behaviour ``input.deep-nesting``)
MAX_DEPTH: Final[int] = 32
