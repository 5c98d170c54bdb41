"""The seeded world: reads ``fixtures/sandbox-seed.yaml`` into a world and credentials.

Owns: the seed file format (documented in the README) and the ``KLIKIT_*``
block that describes a seeded world to anything pointed at it. Must not:
serve HTTP. A malformed seed raises ``SeedError`` naming the file and the
entry at fault.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .. import contract
from .credentials import Credential, Credentials
from .world import Business, Store, StoreKey, World


class SeedError(ValueError):
    """The seed file cannot be used; the message says where and why."""


ROLES = ("main", "second", "readonly", "revoked", "foreign", "burst")


@dataclass
class Seed:
    """What a seed file describes, before it becomes a live world."""

    path: Path
    raw: Mapping[str, Any]
    roles: dict[str, str] = field(default_factory=dict)
    writable_stores: list[StoreKey] = field(default_factory=list)
    fresh_stores: list[StoreKey] = field(default_factory=list)
    foreign_stores: list[StoreKey] = field(default_factory=list)

    def build(self) -> tuple[World, Credentials]:
        """A new world and credential set (each call starts from the seed again)."""
        world = World()
        creds = Credentials()
        try:
            for biz in self.raw["businesses"]:
                world.add_business(Business(int(biz["id"]), str(biz["name"]), [int(b) for b in biz.get("brands", [])]))
                for store in biz.get("stores", []):
                    key = _store_key(store)
                    world.add_store(
                        Store(
                            key=key,
                            business_id=int(biz["id"]),
                            currency_code=str(store.get("currencyCode", "IDR")),
                            provider_ids=tuple(int(p) for p in store.get("providerIDs", [1])),
                        )
                    )
                for section in biz.get("sections", []):
                    body = {k: v for k, v in section.items() if k != "id"}
                    world.add_section(int(biz["id"]), body, int(section["id"]))
                for att in biz.get("attachments", []):
                    key = _store_key(att["store"])
                    for sid, entry in att["sections"].items():
                        world.attach(key, int(sid), int(entry.get("sequence", 0)), entry.get("overrides"))
                    if att.get("published", True):
                        world.snapshots[key] = world.store_menu(key)
            for cred in self.raw["credentials"]:
                creds.add(
                    Credential(
                        key=str(cred["key"]),
                        secret=str(cred["secret"]),
                        business_id=int(cred["business"]),
                        scopes=frozenset(cred.get("scopes", [])),
                        revoked=bool(cred.get("revoked", False)),
                        old_secrets=[(str(s), 0.0) for s in cred.get("old_secrets", [])],
                        rate=float(cred.get("rate", 1000)),
                        burst=int(cred.get("burst", cred.get("rate", 1000))),
                    )
                )
        except (KeyError, TypeError, ValueError) as exc:
            raise SeedError(f"{self.path}: {type(exc).__name__}: {exc}") from None
        return world, creds

    def credential(self, role: str) -> Mapping[str, Any]:
        name = self.roles[role]
        for cred in self.raw["credentials"]:
            if cred["name"] == name:
                return cred  # type: ignore[no-any-return]
        raise SeedError(f"{self.path}: role {role} names unknown credential {name!r}")

    def env(self, base_url: str) -> dict[str, str]:
        """The ``KLIKIT_*`` block describing this world at ``base_url``."""
        main = self.credential("main")

        def pair(role: str) -> str:
            cred = self.credential(role)
            return f"{cred['key']}:{cred['secret']}"

        out = {
            "KLIKIT_BASE_URL": base_url,
            "KLIKIT_PARTNER_KEY": str(main["key"]),
            "KLIKIT_SECRET_KEY": str(main["secret"]),
            "KLIKIT_STORES": ",".join(str(s) for s in self.writable_stores),
            "KLIKIT_FRESH_STORES": ",".join(str(s) for s in self.fresh_stores),
        }
        if main.get("old_secrets"):
            out["KLIKIT_OLD_SECRET"] = str(main["old_secrets"][-1])
        optional = {
            "revoked": "KLIKIT_REVOKED_CREDENTIAL",
            "readonly": "KLIKIT_LIMITED_CREDENTIAL",
            "second": "KLIKIT_SECOND_CREDENTIAL",
            "foreign": "KLIKIT_FOREIGN_CREDENTIAL",
            "burst": "KLIKIT_BURST_CREDENTIAL",
        }
        for role, var in optional.items():
            if role in self.roles:
                out[var] = pair(role)
        if self.foreign_stores:
            out["KLIKIT_FOREIGN_STORE"] = str(self.foreign_stores[0])
        out["KLIKIT_ALLOW_BURST"] = "1"
        out["KLIKIT_MAX_RPS"] = "0"  # 0 = no cap: the stand-in is local
        return out


def _store_key(raw: Mapping[str, Any]) -> StoreKey:
    return StoreKey(int(raw["brandID"]), int(raw["branchID"]))


def load(path: str | Path | None = None) -> Seed:
    """Read and check a seed file (the packaged default when ``path`` is None)."""
    seed_path = Path(path) if path is not None else contract.default_seed_path()
    try:
        raw = yaml.safe_load(seed_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SeedError(f"cannot read seed file {seed_path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise SeedError(f"{seed_path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(raw, dict) or "businesses" not in raw or "credentials" not in raw:
        raise SeedError(f"{seed_path}: a seed needs top-level 'businesses' and 'credentials' (see README, 'Seed file')")
    seed = Seed(path=seed_path, raw=raw)
    roles = raw.get("roles") or {}
    names = {str(c.get("name")) for c in raw["credentials"]}
    for role, name in roles.items():
        if role not in ROLES:
            raise SeedError(f"{seed_path}: unknown role {role!r} (known: {', '.join(ROLES)})")
        if name not in names:
            raise SeedError(f"{seed_path}: role {role} names unknown credential {name!r}")
        seed.roles[str(role)] = str(name)
    if "main" not in seed.roles:
        raise SeedError(f"{seed_path}: roles.main must name the credential under test")
    main_business = int(seed.credential("main")["business"])
    try:
        for biz in raw["businesses"]:
            populated = {_store_key(a["store"]) for a in biz.get("attachments", [])}
            for store in biz.get("stores", []):
                key = _store_key(store)
                if int(biz["id"]) != main_business:
                    seed.foreign_stores.append(key)
                elif key in populated:
                    seed.writable_stores.append(key)
                else:
                    seed.fresh_stores.append(key)
    except (KeyError, TypeError, ValueError) as exc:
        raise SeedError(f"{seed_path}: {type(exc).__name__}: {exc}") from None
    seed.build()  # fail now, with the file named, rather than at the first request
    return seed
