"""Menu rules as pure functions — the rest of the oracle.

Owns: the persist list and its resolution, the effective (store-level) value of
a section, first-time-push decisions and how a section is rendered by getMenu.
Must not: hold state, know about HTTP, or consult defect switches — the suites
use these functions as their expectations, so they stay the documented rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

#: fields a store can override, and the default ``PersistFieldOnSync`` list
OVERRIDABLE_FIELDS: tuple[str, ...] = ("availableTimes", "isEnabled", "visibilities", "blackoutDates")
DEFAULT_PERSIST_LIST: frozenset[str] = frozenset(OVERRIDABLE_FIELDS)
SECTION_LEVEL = "sections"


def persist_list(
    field_include: Iterable[str] | None = None,
    persist_field_on_sync: Mapping[str, Iterable[str]] | None = None,
    *,
    level: str = SECTION_LEVEL,
) -> frozenset[str]:
    """The fields whose store override a sync keeps, for one level.

    An explicit ``persistFieldOnSync`` replaces the default list wholesale (a
    missing level means an empty list); ``fieldIncludeOnSync`` then subtracts.
    Unknown names are ignored.
    """
    if persist_field_on_sync is not None:
        base = frozenset(persist_field_on_sync.get(level, ()))
    else:
        base = DEFAULT_PERSIST_LIST
    return (base - frozenset(field_include or ())) & DEFAULT_PERSIST_LIST


def has_menu(attached_section_ids: Iterable[int]) -> bool:
    """A store "has a menu" when at least one section is attached to it."""
    return any(True for _ in attached_section_ids)


def synced_overrides(
    existing: Mapping[str, Any],
    keep: frozenset[str],
    explicit_times: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """A store-section's overrides after a sync.

    Fields on the persist list keep the existing override; every other field
    takes the business-level value (its override goes). A non-empty
    ``availableTimes`` in the request always wins.
    """
    out = {name: value for name, value in existing.items() if name in keep}
    if explicit_times:
        out["availableTimes"] = dict(explicit_times)
    return out


def effective_value(field: str, business_row: Mapping[str, Any], overrides: Mapping[str, Any]) -> Any:
    """A field as the store serves it: its override when present, else the business value."""
    return overrides[field] if field in overrides else business_row[field]


def effective_schedule(business_row: Mapping[str, Any], overrides: Mapping[str, Any]) -> Mapping[str, Any]:
    """The schedule a store applies to a section (``{}`` overrides never reach here)."""
    return effective_value("availableTimes", business_row, overrides)  # type: ignore[no-any-return]


def render_section(
    business_row: Mapping[str, Any],
    *,
    sequence: int | None = None,
    overrides: Mapping[str, Any] | None = None,
    store_mode: bool = False,
) -> dict[str, Any]:
    """One section as getMenu shows it; ``enabled`` is the documented read name."""
    ov = overrides or {}
    out: dict[str, Any] = {
        "id": business_row["id"],
        "sequence": business_row["sequence"] if sequence is None else sequence,
        "title": dict(business_row["title"]),
        "description": dict(business_row["description"]),
        "enabled": bool(effective_value("isEnabled", business_row, ov)),
        "image": business_row["image"],
        "isMealForOne": business_row["isMealForOne"],
        "visibilities": dict(effective_value("visibilities", business_row, ov)),
        "availableTimes": _copy_schedule(effective_value("availableTimes", business_row, ov)),
        "blackoutDates": list(effective_value("blackoutDates", business_row, ov)),
    }
    if store_mode:
        out["isAvailable"] = out["enabled"]
        out["stockEnabled"] = False
        out["attachedWithStore"] = True
    return out


def sort_sections(sections: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """getMenu order: by sequence, then id."""
    return sorted(sections, key=lambda s: (s["sequence"], s["id"]))


def _copy_schedule(schedule: Mapping[str, Any]) -> dict[str, Any]:
    return {
        day: {"disabled": bool(v["disabled"]), "slots": [dict(s) for s in v["slots"]]} for day, v in schedule.items()
    }
