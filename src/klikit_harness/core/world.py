"""The menu world: businesses, stores, sections, attachments, overrides and snapshots.

Owns: the state of one stand-in and the eight operations that read or change
it, each atomic — a request that fails changes nothing (every write first
plans, then applies a plan that cannot fail). Must not: parse HTTP, check
auth or idempotency (``service`` does), validate a request (``validation``
does: the world only sees bodies it accepted), or decide rules the oracle
(``menus``, ``schedules``) already states.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..contract.limits import INT32_MAX
from . import defects as d
from . import menus, schedules
from . import variants as v
from .defects import DefectSet
from .errors import ServiceError, not_found
from .validation import publish_time
from .variants import VariantSet


@dataclass(frozen=True, order=True)
class StoreKey:
    brand_id: int
    branch_id: int

    def as_json(self) -> dict[str, int]:
        return {"brandID": self.brand_id, "branchID": self.branch_id}

    def __str__(self) -> str:
        return f"{self.brand_id}:{self.branch_id}"


@dataclass
class Business:
    id: int
    name: str
    brand_ids: list[int] = field(default_factory=list)


@dataclass
class Store:
    key: StoreKey
    business_id: int
    country_id: int = 4
    currency_code: str = "IDR"
    currency_id: int = 4
    currency_symbol: str = "Rp"
    language_code: str = "id"
    provider_ids: tuple[int, ...] = (1,)

    def branch_info(self) -> dict[str, Any]:
        return {
            "branchID": self.key.branch_id,
            "brandID": self.key.brand_id,
            "businessID": self.business_id,
            "countryID": self.country_id,
            "currencyCode": self.currency_code,
            "currencyID": self.currency_id,
            "currencySymbol": self.currency_symbol,
            "languageCode": self.language_code,
            "providerIDs": ",".join(str(p) for p in self.provider_ids),
        }


SECTION_DEFAULTS: dict[str, Any] = {
    "title": {},
    "description": {},
    "isEnabled": True,
    "sequence": 0,
    "visibilities": {},
    "availableTimes": {},
    "blackoutDates": [],
    "fromAPI": False,
    "image": "",
    "isMealForOne": False,
}


@dataclass
class _Plan:
    """Changes a write will make, computed before anything is applied."""

    attachments: dict[StoreKey, dict[int, int]] = field(default_factory=dict)
    overrides: dict[tuple[StoreKey, int], dict[str, Any]] = field(default_factory=dict)


class World:
    """All state of one stand-in. Operations take the caller's business id."""

    def __init__(self, defects: DefectSet | None = None, variants: VariantSet | None = None) -> None:
        self.defects = defects or DefectSet()
        self.variants = variants or VariantSet()
        self.businesses: dict[int, Business] = {}
        self.stores: dict[StoreKey, Store] = {}
        self.sections: dict[int, dict[str, Any]] = {}
        self.attachments: dict[StoreKey, dict[int, int]] = {}
        self.overrides: dict[tuple[StoreKey, int], dict[str, Any]] = {}
        self.snapshots: dict[StoreKey, list[dict[str, Any]]] = {}
        self.scheduled: list[tuple[float, tuple[StoreKey, ...]]] = []
        self.next_section_id = 1000
        #: logical writes executed (proves "written once" in tests)
        self.writes = 0

    # ----------------------------------------------------------------- building

    def add_business(self, business: Business) -> None:
        self.businesses[business.id] = business

    def add_store(self, store: Store) -> None:
        if store.key in self.stores:
            raise ValueError(f"duplicate store {store.key}")
        self.stores[store.key] = store

    def add_section(self, business_id: int, body: Mapping[str, Any], section_id: int | None = None) -> int:
        sid = section_id if section_id is not None else self.next_section_id
        if sid in self.sections:
            raise ValueError(f"duplicate section id {sid}")
        row = {**copy.deepcopy(SECTION_DEFAULTS), **{k: copy.deepcopy(v) for k, v in body.items() if v is not None}}
        row["id"] = sid
        row["business_id"] = business_id
        self.sections[sid] = row
        self.next_section_id = max(self.next_section_id, sid + 1)
        return sid

    def attach(
        self, store: StoreKey, section_id: int, sequence: int, overrides: Mapping[str, Any] | None = None
    ) -> None:
        self.attachments.setdefault(store, {})[section_id] = sequence
        if overrides:
            self.overrides[(store, section_id)] = copy.deepcopy(dict(overrides))

    # --------------------------------------------------------------- ownership

    def _own_store(self, business_id: int, raw: Mapping[str, Any], where: str) -> StoreKey:
        key = StoreKey(int(raw["brandID"]), int(raw["branchID"]))
        store = self.stores.get(key)
        if store is None or (store.business_id != business_id and not self.defects.on(d.FOREIGN_STORE_REACHABLE)):
            raise not_found("store", field=where, brandID=key.brand_id, branchID=key.branch_id)
        return key

    def _own_stores(self, business_id: int, raw: Iterable[Mapping[str, Any]], where: str = "stores") -> list[StoreKey]:
        out: list[StoreKey] = []
        for i, item in enumerate(raw):
            key = self._own_store(business_id, item, f"{where}[{i}]")
            if key not in out:
                out.append(key)
        return out

    def _own_section(self, business_id: int, sid: int | str, where: str) -> int:
        try:
            section_id = int(sid)
        except (TypeError, ValueError):
            raise not_found("section", field=where, id=sid) from None
        row = self.sections.get(section_id)
        if row is None:
            raise not_found("section", field=where, id=section_id)
        if row["business_id"] != business_id:
            if self.defects.on(d.FOREIGN_SECTION_403):
                raise ServiceError("auth_forbidden", "section belongs to another business")
            raise not_found("section", field=where, id=section_id)
        return section_id

    def check_ownership(self, business_id: int, operation_id: str, body: Any, section_id: int | None) -> None:
        """Every well-formed store or section a request names is the caller's, else 404.

        Lenient about shape (the schema is checked after this, under the
        tenancy-before-validation variant): only entries that already look like
        ids are looked up.
        """
        if section_id is not None:
            self._own_section(business_id, section_id, "sectionID")
        if not isinstance(body, dict):
            return
        for where in ("stores", "zoneStores"):
            items = body.get(where)
            for i, item in enumerate(items if isinstance(items, list) else []):
                if isinstance(item, dict) and all(_is_int(item.get(k)) for k in ("brandID", "branchID")):
                    self._own_store(business_id, item, f"{where}[{i}]")
        sections = body.get("sections") if operation_id in {"populateMenu", "syncMenuToStores"} else None
        for raw_id in sections if isinstance(sections, dict) else {}:
            well_formed = isinstance(raw_id, str) and raw_id.isascii() and raw_id.isdigit()
            if well_formed and not raw_id.startswith("0") and int(raw_id) <= INT32_MAX:
                self._own_section(business_id, raw_id, f"sections.{raw_id}")
        ids = body.get("ids") if operation_id == "enableSections" else None
        for i, raw in enumerate(ids if isinstance(ids, list) else []):
            if _is_int(raw) and 1 <= raw <= INT32_MAX:
                self._own_section(business_id, raw, f"ids[{i}]")

    def has_menu(self, store: StoreKey) -> bool:
        return menus.has_menu(self.attachments.get(store, {}))

    # ----------------------------------------------------------------- overlap

    def _effective_schedule(self, plan: _Plan, store: StoreKey, sid: int) -> Mapping[str, Any]:
        ov = plan.overrides.get((store, sid), self.overrides.get((store, sid), {}))
        return menus.effective_schedule(self.sections[sid], ov)

    def _check_overlaps(self, plan: _Plan, store: StoreKey, explicit: Mapping[int, Mapping[str, Any]]) -> None:
        """Each non-empty override against every other section attached after the request."""
        if self.defects.on(d.OVERLAP_OFF):
            return
        touching = self.defects.on(d.OVERLAP_OFF_BY_ONE)
        attached = plan.attachments.get(store, self.attachments.get(store, {}))
        for sid, times in sorted(explicit.items()):
            for other in sorted(attached):
                if other == sid:
                    continue
                other_times = self._effective_schedule(plan, store, other)
                if self.defects.on(d.DISABLED_DAYS_CHECKED):
                    times = _enable_all_days(times)
                    other_times = _enable_all_days(other_times)
                day = schedules.collision(times, other_times, touching=touching)
                if day is not None:
                    raise ServiceError(
                        "request_invalid",
                        f"schedule of section {sid} collides with section {other} on weekday {day} at store {store}",
                        {
                            "field": f"sections.{sid}.availableTimes",
                            "store": store.as_json(),
                            "sections": [sid, other],
                            "weekday": day,
                        },
                    )

    def _apply(self, plan: _Plan, *, count: bool = True) -> None:
        for store, attached in plan.attachments.items():
            self.attachments[store] = attached
        for key, ov in plan.overrides.items():
            if ov:
                self.overrides[key] = ov
            else:
                self.overrides.pop(key, None)
        if count:
            self.writes += 1

    def _push_sections(self, business_id: int, body: Mapping[str, Any]) -> dict[int, Mapping[str, Any]]:
        pushed: dict[int, Mapping[str, Any]] = {}
        for raw_id, entry in body["sections"].items():
            pushed[self._own_section(business_id, raw_id, f"sections.{raw_id}")] = entry
        return pushed

    def _times_override(self, times: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """The override a pushed ``availableTimes`` stands for (None: fall back)."""
        if times:
            return dict(times)
        if times is not None and self.defects.on(d.EMPTY_TIMES_NO_FALLBACK):
            return {}
        return None

    # ------------------------------------------------------------- operations

    def populate(self, business_id: int, body: Mapping[str, Any]) -> dict[str, int]:
        """First-time push: stores that have a menu are skipped silently."""
        stores = self._own_stores(business_id, body["stores"])
        pushed = self._push_sections(business_id, body)
        partial = self.defects.on(d.POPULATE_PARTIAL)
        plan = _Plan()
        populated = skipped = 0
        for store in stores:
            if self.has_menu(store) and not self.defects.on(d.POPULATE_OVERWRITES):
                skipped += 1
                continue
            populated += 1
            attached = dict(self.attachments.get(store, {})) if self.has_menu(store) else {}
            explicit: dict[int, Mapping[str, Any]] = {}
            for sid, entry in pushed.items():
                attached[sid] = int(entry.get("sequence", 0))
                ov = dict(self.overrides.get((store, sid), {}))
                times = self._times_override(entry.get("availableTimes"))
                if times is None:
                    ov.pop("availableTimes", None)
                else:
                    ov["availableTimes"] = times
                    explicit[sid] = times
                plan.overrides[(store, sid)] = ov
            plan.attachments[store] = attached
            if partial:
                self._populate_partially(plan, store, explicit)
            else:
                self._check_overlaps(plan, store, explicit)
        self._apply(plan)
        return {"populated": populated, "skipped": skipped}

    def _populate_partially(self, plan: _Plan, store: StoreKey, explicit: Mapping[int, Mapping[str, Any]]) -> None:
        """The populate-partial-write defect: sections land one by one, and a failed check keeps the earlier ones."""
        order = list(plan.attachments[store])
        for i in range(len(order)):
            step = _Plan(
                attachments={store: {s: plan.attachments[store][s] for s in order[: i + 1]}},
                overrides={k: v for k, v in plan.overrides.items() if k[0] == store and k[1] in order[: i + 1]},
            )
            try:
                self._check_overlaps(step, store, {s: explicit[s] for s in order[: i + 1] if s in explicit})
            except ServiceError:
                if i:
                    previous = order[:i]
                    self._apply(
                        _Plan(
                            attachments={store: {s: plan.attachments[store][s] for s in previous}},
                            overrides={k: v for k, v in plan.overrides.items() if k[0] == store and k[1] in previous},
                        ),
                        count=False,
                    )
                raise

    def sync(self, business_id: int, body: Mapping[str, Any]) -> dict[str, int]:
        """Push named sections to stores that have a menu, honouring the persist list."""
        stores = self._own_stores(business_id, body["stores"])
        pushed = self._push_sections(business_id, body)
        include = body.get("fieldIncludeOnSync")
        explicit_list = body.get("persistFieldOnSync")
        if self.defects.on(d.FIELD_INCLUDE_IGNORED):
            include = None
        if explicit_list is not None and self.defects.on(d.PERSIST_LIST_MERGED):
            keep = menus.persist_list(include) | menus.persist_list(include, explicit_list)
        else:
            keep = menus.persist_list(include, explicit_list)
        if self.defects.on(d.SYNC_OVERWRITES_PERSISTED):
            keep = frozenset()
        plan = _Plan()
        synced = skipped = 0
        for store in stores:
            if not self.has_menu(store) and not self.defects.on(d.SYNC_POPULATES_EMPTY):
                skipped += 1
                continue
            synced += 1
            attached = dict(self.attachments.get(store, {}))
            explicit: dict[int, Mapping[str, Any]] = {}
            for sid, entry in pushed.items():
                attached[sid] = int(entry.get("sequence", 0))
                times = self._times_override(entry.get("availableTimes"))
                existing = self.overrides.get((store, sid), {})
                ov = menus.synced_overrides(existing, keep, times or None)
                if times is not None and not times:  # the {}-defect keeps an empty override
                    ov["availableTimes"] = {}
                if times:
                    explicit[sid] = times
                plan.overrides[(store, sid)] = ov
            plan.attachments[store] = attached
            self._check_overlaps(plan, store, explicit)
        self._apply(plan)
        return {"synced": synced, "skipped": skipped}

    def publish(self, business_id: int, body: Mapping[str, Any], now: float) -> dict[str, int]:
        stores = self._own_stores(business_id, body["stores"])
        due = publish_time(body.get("scheduledAt"), now)
        if self.defects.on(d.SCHEDULED_NEAR_IMMEDIATE) and due - now < 3600:
            due = now  # the UTC time read as local time one hour ahead
        empty_counts = self.defects.on(d.PUBLISH_COUNTS_EMPTY) or self.variants.on(v.PUBLISH_EMPTY_COUNTS_SUCCESS)
        success = sum(1 for s in stores if self.has_menu(s) or empty_counts)
        if due > now:
            self.scheduled.append((due, tuple(stores)))
        else:
            self._rebuild(stores)
        self.writes += 1
        return {"success": success, "failed": len(stores) - success}

    def run_due(self, now: float) -> None:
        """Run scheduled publishes whose time has come."""
        if not self.scheduled or self.defects.on(d.SCHEDULED_NEVER_RUNS):
            return
        due = [job for job in self.scheduled if job[0] <= now]
        self.scheduled = [job for job in self.scheduled if job[0] > now]
        for _, stores in sorted(due):
            self._rebuild(stores)

    def _rebuild(self, stores: Iterable[StoreKey]) -> None:
        for store in stores:
            if self.has_menu(store):
                self.snapshots[store] = self.store_menu(store)

    def store_menu(self, store: StoreKey) -> list[dict[str, Any]]:
        """The store's effective menu now, as getMenu would serve it after a publish."""
        return menus.sort_sections(
            menus.render_section(
                self.sections[sid],
                sequence=seq,
                overrides=self.overrides.get((store, sid), {}),
                store_mode=True,
            )
            for sid, seq in self.attachments.get(store, {}).items()
        )

    def reset(self, business_id: int, body: Mapping[str, Any]) -> dict[str, int]:
        """Drop every store-level override of the listed stores (``business_id`` is ignored)."""
        stores = self._own_stores(business_id, body["stores"])
        if not self.defects.on(d.RESET_KEEPS_OVERRIDES):
            for key in [k for k in self.overrides if k[0] in stores]:
                del self.overrides[key]
        self.writes += 1
        return {"reset": len(stores)}

    def get_menu(self, business_id: int, brand_id: int | None, branch_id: int | None) -> dict[str, Any]:
        if brand_id is None and branch_id is None:
            business = self.businesses[business_id]
            sections = [
                menus.render_section(row) for row in self.sections.values() if row["business_id"] == business_id
            ]
            info = {"businessID": business.id, "name": business.name, "brandIDs": list(business.brand_ids)}
            return {"menu": {"businessInfo": info, "sections": menus.sort_sections(sections)}}
        assert brand_id is not None
        assert branch_id is not None
        key = self._own_store(business_id, {"brandID": brand_id, "branchID": branch_id}, "brand_id,branch_id")
        served = self.store_menu(key) if self.defects.on(d.GETMENU_LIVE) else copy.deepcopy(self.snapshots.get(key, []))
        return {"menu": {"branchInfo": self.stores[key].branch_info(), "sections": served}}

    def create_section(self, business_id: int, body: Mapping[str, Any]) -> dict[str, int]:
        if self.defects.on(d.ASTRAL_TITLE_CRASH) and any(
            ord(ch) > 0xFFFF for text in (body.get("title") or {}).values() for ch in text
        ):
            raise UnicodeEncodeError("utf8mb3", "title", 0, 1, "character outside the BMP")
        if self.next_section_id > INT32_MAX:
            raise ServiceError("request_invalid", "section id space exhausted")
        sid = self.add_section(business_id, body)
        self.writes += 1
        return {"id": sid}

    def set_visibilities(self, business_id: int, section_id: int, body: Mapping[str, Any]) -> dict[str, int]:
        sid = self._own_section(business_id, section_id, "sectionID")
        zone = self._own_stores(business_id, body.get("zoneStores") or [], "zoneStores")
        new = dict(body["visibilities"])
        if zone:
            for store in zone:
                ov = self.overrides.setdefault((store, sid), {})
                if self.defects.on(d.VISIBILITY_MERGED):
                    current = menus.effective_value("visibilities", self.sections[sid], ov)
                    ov["visibilities"] = {**current, **new}
                else:
                    ov["visibilities"] = dict(new)
        if not zone or self.defects.on(d.ZONE_STORES_WRITE_BUSINESS):
            row = self.sections[sid]
            row["visibilities"] = {**row["visibilities"], **new} if self.defects.on(d.VISIBILITY_MERGED) else new
        self.writes += 1
        return {"id": sid}

    def enable_sections(self, business_id: int, body: Mapping[str, Any]) -> dict[str, int]:
        ids: list[int] = []
        for i, raw in enumerate(body["ids"]):
            sid = self._own_section(business_id, raw, f"ids[{i}]")
            if sid not in ids:
                ids.append(sid)
        zone = self._own_stores(business_id, body.get("zoneStores") or [], "zoneStores")
        value = body.get("isEnabled")
        enabled = bool(value) if value is not None else self.defects.on(d.ENABLE_NULL_TRUE)
        for sid in ids:
            for store in zone:
                self.overrides.setdefault((store, sid), {})["isEnabled"] = enabled
            if not zone or self.defects.on(d.ZONE_STORES_WRITE_BUSINESS):
                self.sections[sid]["isEnabled"] = enabled
        self.writes += 1
        return {"updated": len(ids)}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _enable_all_days(schedule: Mapping[str, Any]) -> dict[str, Any]:
    return {day: {**entry, "disabled": False} for day, entry in schedule.items()}
