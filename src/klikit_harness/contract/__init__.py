"""The contract as data: loads ``contracts/*.yaml`` and answers questions about it.

Owns: locating the contract files, the error catalogue (both vocabularies), the
behaviour catalogue and the OpenAPI document with its request-body validators.
Must not: know anything about HTTP transports, the stand-in's state or pytest.
Every other layer asks this module for codes and statuses instead of writing
them down again.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal, cast

import yaml
from jsonschema import Draft202012Validator
from jsonschema.validators import extend

Reading = Literal["reference", "concepts"]
#: the HTTP methods that change state: they carry an Idempotency-Key and need the write scope
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
READINGS: tuple[Reading, ...] = ("reference", "concepts")

_PACKAGE_DATA = Path(__file__).parent.parent / "_data"
_REPO_ROOT = Path(__file__).resolve().parents[3]


class ContractError(RuntimeError):
    """The contract files are missing or inconsistent."""


def data_dir() -> Path:
    """The folder holding ``openapi.yaml``, ``errors.yaml`` and ``behaviours.yaml``.

    ``KLIKIT_CONTRACTS_DIR`` wins; then the copy shipped inside a wheel; then the
    repository's own ``contracts/`` (editable installs and a plain checkout).
    """
    override = os.environ.get("KLIKIT_CONTRACTS_DIR")
    candidates = [Path(override)] if override else []
    candidates += [_PACKAGE_DATA / "contracts", _REPO_ROOT / "contracts"]
    for candidate in candidates:
        if (candidate / "errors.yaml").is_file():
            return candidate
    tried = ", ".join(str(c) for c in candidates)
    raise ContractError(
        f"contract files not found (looked in {tried}); set KLIKIT_CONTRACTS_DIR to the "
        "folder holding errors.yaml, openapi.yaml and behaviours.yaml"
    )


def default_seed_path() -> Path:
    """The seeded world the stand-in starts with when no ``--seed`` is given."""
    for candidate in (_PACKAGE_DATA / "sandbox-seed.yaml", _REPO_ROOT / "fixtures" / "sandbox-seed.yaml"):
        if candidate.is_file():
            return candidate
    raise ContractError("fixtures/sandbox-seed.yaml not found; pass --seed FILE")


def _load_yaml(name: str) -> Any:
    path = data_dir() / name
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except (OSError, yaml.YAMLError) as exc:
        raise ContractError(f"cannot read {path}: {exc}") from exc


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class ErrorCode:
    """One row of ``errors.yaml`` in one vocabulary."""

    code: str
    status: int
    retryable: bool
    meaning: str
    source: str
    reading: Reading
    #: reference codes this code stands for (itself, for a reference code)
    maps_to: tuple[str, ...]
    provenance: str = "documented"


@dataclass(frozen=True)
class Catalogue:
    """Both code vocabularies, with the mapping between them."""

    reference: Mapping[str, ErrorCode]
    concepts: Mapping[str, ErrorCode]
    aliases: Mapping[str, str]
    retry_policy: Mapping[str, float]

    def code_for(self, meaning: str, reading: Reading = "reference") -> ErrorCode:
        """The code a server following ``reading`` answers for ``meaning`` (a reference code)."""
        if meaning not in self.reference:
            raise ContractError(f"{meaning!r} is not a reference code in errors.yaml")
        if reading == "reference":
            return self.reference[meaning]
        for entry in self.concepts.values():
            if meaning in entry.maps_to:
                return entry
        raise ContractError(f"errors.yaml maps no concepts code to {meaning!r}")

    def lookup(self, code: str) -> ErrorCode | None:
        """The catalogue entry for a code of either vocabulary (or a known alias)."""
        code = self.aliases.get(code, code)
        return self.reference.get(code) or self.concepts.get(code)

    def meanings(self, code: str) -> tuple[str, ...]:
        """The reference codes a received code stands for; empty when unknown."""
        entry = self.lookup(code)
        return entry.maps_to if entry else ()

    def codes(self, reading: Reading) -> Mapping[str, ErrorCode]:
        return self.reference if reading == "reference" else self.concepts


@cache
def errors() -> Catalogue:
    """The error catalogue, loaded once."""
    raw = _load_yaml("errors.yaml")
    reference = {
        code: ErrorCode(
            code=code,
            status=int(row["status"]),
            retryable=bool(row["retryable"]),
            meaning=str(row["meaning"]),
            source=str(row["source"]),
            reading="reference",
            maps_to=(code,),
            provenance=str(row.get("provenance", "documented")),
        )
        for code, row in raw["reference"].items()
    }
    concepts: dict[str, ErrorCode] = {}
    for code, row in raw["concepts"].items():
        maps_to = tuple(row["maps_to"])
        unknown = [m for m in maps_to if m not in reference]
        if unknown:
            raise ContractError(f"errors.yaml: {code} maps to unknown reference codes {unknown}")
        concepts[code] = ErrorCode(
            code=code,
            status=int(row["status"]),
            retryable=any(reference[m].retryable for m in maps_to),
            meaning=str(row["meaning"]),
            source=str(row["source"]),
            reading="concepts",
            maps_to=maps_to,
            provenance="documented" if str(row["source"]).startswith("http") else "assumed",
        )
    aliases = {str(k): str(v) for k, v in (raw.get("aliases") or {}).items()}
    policy = {k: float(v) for k, v in raw["retry_policy"].items() if k != "source"}
    return Catalogue(reference=reference, concepts=concepts, aliases=aliases, retry_policy=policy)


# ----------------------------------------------------------------------- behaviours

BehaviourStatus = Literal["documented", "contested", "assumed", "incidental"]
BEHAVIOUR_STATUSES: tuple[BehaviourStatus, ...] = ("documented", "contested", "assumed", "incidental")
Judgement = Literal["enforced", "observed"]


def judgement(status: BehaviourStatus, *, reference_target: bool, strict: bool) -> Judgement:
    """Whether a failure of a behaviour with ``status`` fails the run or is an observation.

    ``reference_target`` is True only for the embedded stand-in without variants (a
    server built to these reference semantics); a real environment, or a variant of
    the stand-in, is judged as a real target: documented and contested behaviours
    are enforced, ``assumed`` ones only with ``strict``, ``incidental`` ones never.
    """
    if reference_target or status in {"documented", "contested"}:
        return "enforced"
    if status == "assumed" and strict:
        return "enforced"
    return "observed"


@dataclass(frozen=True)
class Behaviour:
    """One checkable rule of the contract."""

    id: str
    statement: str
    status: BehaviourStatus
    source: tuple[str, ...]
    operations: tuple[str, ...]
    readings: Mapping[str, str] = field(default_factory=dict)
    dossier: tuple[str, ...] = ()


@cache
def behaviours() -> Mapping[str, Behaviour]:
    """Every behaviour of ``behaviours.yaml`` by id, in file order."""
    raw = _load_yaml("behaviours.yaml")
    out: dict[str, Behaviour] = {}
    for row in raw["behaviours"]:
        bid = str(row["id"])
        if bid in out:
            raise ContractError(f"behaviours.yaml: duplicate id {bid}")
        source = row.get("source", [])
        if row.get("status") not in BEHAVIOUR_STATUSES:
            raise ContractError(
                f"behaviours.yaml: {bid} has status {row.get('status')!r}; use one of {', '.join(BEHAVIOUR_STATUSES)}"
            )
        out[bid] = Behaviour(
            id=bid,
            statement=str(row["statement"]).strip(),
            status=cast(BehaviourStatus, row["status"]),
            source=tuple(str(s) for s in (source if isinstance(source, list) else [source])),
            operations=tuple(str(o) for o in row.get("operations", [])),
            readings={str(k): str(v) for k, v in (row.get("readings") or {}).items()},
            dossier=tuple(str(d) for d in row.get("dossier", []) or []),
        )
    return out


def behaviour(bid: str) -> Behaviour:
    """One behaviour; a clear error names the file when the id is unknown."""
    try:
        return behaviours()[bid]
    except KeyError:
        raise ContractError(f"unknown behaviour id {bid!r}: add it to contracts/behaviours.yaml") from None


# -------------------------------------------------------------------------- openapi


@cache
def openapi() -> Mapping[str, Any]:
    """The parsed ``openapi.yaml``."""
    return cast(Mapping[str, Any], _load_yaml("openapi.yaml"))


def openapi_path() -> Path:
    return data_dir() / "openapi.yaml"


def _is_strict_integer(_checker: object, instance: object) -> bool:
    # A typed backend decodes 2.0 like "2": not an integer (DESIGN, "Odds and ends").
    return isinstance(instance, int) and not isinstance(instance, bool)


_StrictValidator = extend(  # type: ignore[no-untyped-call]
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_strict_integer),
)


@cache
def body_validator(schema_name: str) -> Draft202012Validator:
    """A validator for ``components/schemas/<schema_name>`` with strict integers."""
    doc = openapi()
    schemas = doc.get("components", {}).get("schemas", {})
    if schema_name not in schemas:
        raise ContractError(f"openapi.yaml has no components/schemas/{schema_name}")
    # Resolve local $refs against the whole document. Python's "$" also matches before a
    # trailing newline ("1022\n" would pass ^[1-9][0-9]*$): anchor patterns with \Z instead.
    components = _anchor_patterns(copy.deepcopy(doc["components"]))
    root = {"$defs": {}, "components": components, "$ref": f"#/components/schemas/{schema_name}"}
    validator = _StrictValidator(root)
    return cast(Draft202012Validator, validator)


def _anchor_patterns(node: Any) -> Any:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str) and value.endswith("$") and not value.endswith("\\$"):
                node[key] = value[:-1] + r"\Z"
            else:
                _anchor_patterns(value)
    elif isinstance(node, list):
        for item in node:
            _anchor_patterns(item)
    return node


@dataclass(frozen=True)
class Operation:
    """One operation of ``openapi.yaml``."""

    operation_id: str
    method: str
    path: str
    body_schema: str | None
    unverified: bool

    @property
    def is_write(self) -> bool:
        return self.method in WRITE_METHODS


@cache
def operations() -> Mapping[str, Operation]:
    """The operations of the contract by operationId."""
    out: dict[str, Operation] = {}
    for path, item in openapi()["paths"].items():
        for method, op in item.items():
            if method not in {"get", "post", "patch", "put", "delete"}:
                continue
            schema = None
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            ref = body.get("schema", {}).get("$ref", "")
            if ref.startswith("#/components/schemas/"):
                schema = ref.rsplit("/", 1)[1]
            out[op["operationId"]] = Operation(
                operation_id=op["operationId"],
                method=method.upper(),
                path=path,
                body_schema=schema,
                unverified=bool(op.get("x-unverified", False)),
            )
    return out
