"""Never-populated stores: how many a run needs, and what a run did with them.

Owns: the contract suite's plan for fresh stores (``PLAN``: one populate per
fresh store, every first-time-push check shares it), ``FRESH_STORES_NEEDED``
(what ``doctor`` asks for, the same for every profile), ``is_fresh_menu`` (how
a store-mode getMenu answer shows a store without a menu) and the run's
``Ledger`` (stored under ``LEDGER`` in the pytest config stash, for reports).
Must not: send requests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from .config import Store

#: the populates of the contract suite, one fresh store each; every first-time-push
#: check asserts on one of these (checks whose correct answer is a rejection borrow a
#: fresh store first and hand it back once it is shown to be still fresh)
PLAN: dict[str, str] = {
    "menu_a": "one populate with sections at their business schedule and with overrides; "
    "publish, sync, zoneStores and store-mode checks read it",
    "menu_b": "one populate of a single section with sync fields; reset and has-a-menu checks read it",
}
FRESH_STORES_NEEDED = len(PLAN)


@dataclass
class Ledger:
    """What the run did with its fresh stores (rendered as ``brandID:branchID``)."""

    #: every store taken from KLIKIT_FRESH_STORES (or minted by the embedded stand-in)
    taken: list[str] = field(default_factory=list)
    #: plan entry -> the store it populated
    populated: dict[str, str] = field(default_factory=dict)
    #: stores a check left in an unknown state (a failed check, or one that wrote to it)
    lost: list[str] = field(default_factory=list)
    #: borrowings handed back still fresh, as (check, store)
    handed_back: list[tuple[str, str]] = field(default_factory=list)

    @property
    def consumed(self) -> int:
        """Stores that are no longer fresh after the run."""
        return len(self.populated) + len(self.lost)

    def as_json(self) -> dict[str, Any]:
        return {
            "needed": FRESH_STORES_NEEDED,
            "taken": list(self.taken),
            "consumed": self.consumed,
            "populated": dict(self.populated),
            "lost": list(self.lost),
            "handed_back": [list(pair) for pair in self.handed_back],
        }


LEDGER = pytest.StashKey[Ledger]()


def menu_sections(data: Any) -> list[Any] | None:
    """The sections of a store-mode getMenu ``data``: [] for a menu that is null or absent, None if unreadable."""
    if not isinstance(data, dict):
        return None
    menu = data.get("menu")
    if menu is None:
        return []
    if not isinstance(menu, dict):
        return None
    sections = menu.get("sections", [])
    if sections is None:
        return []
    return sections if isinstance(sections, list) else None


def is_fresh_menu(data: Any) -> bool:
    """A store-mode getMenu answer of a store that serves no section."""
    return menu_sections(data) == []


def label(store: Store) -> str:
    return str(store)
