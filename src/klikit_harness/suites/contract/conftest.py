"""Fixtures of the contract suite: everything comes from ``klikit_target``.

The suite runs unchanged against the embedded stand-in and a real environment;
it relies only on what a partner observes (status, envelope, getMenu after
publish). A check that needs an optional variable is skipped with a reason
that names it.

Fresh stores are scarce on a real target (a staging environment gives two), so
the suite spends them by a plan (``klikit_harness.checking.freshstores.PLAN``): checks
whose correct answer leaves a store without a menu *borrow* a fresh store and
hand it back once getMenu after publish shows it still serves nothing; then
each planned populate *consumes* one store, and every first-time-push check
asserts on the state one of them left. Borrowing checks run first (see
``pytest_collection_modifyitems``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from klikit_harness import contract
from klikit_harness.checking import expect, freshstores
from klikit_harness.checking.config import Credential, Store
from klikit_harness.checking.freshstores import FRESH_STORES_NEEDED, PLAN, Ledger
from klikit_harness.checking.target import Target, TargetClient

#: a section id no business owns (within int32, so only ownership is wrong)
UNKNOWN_ID = 2147483000


def first_known(*ids: str) -> str:
    """The first of ``ids`` the catalogue knows (a rule split off in a newer catalogue, else the broader one)."""
    known = contract.behaviours()
    return next(b for b in ids if b in known)


def need(value: Any, variable: str, why: str) -> Any:
    if not value:
        pytest.skip(f"set {variable} to {why}")
    return value


@pytest.fixture(scope="session")
def target(klikit_target: Target) -> Target:
    """The session's target; every answer the suite reads goes through ``expect.every_answer``."""
    if expect.every_answer not in klikit_target.answer_checks:
        klikit_target.answer_checks.append(expect.every_answer)
    return klikit_target


@pytest.fixture(scope="session")
def api(target: Target) -> Iterator[TargetClient]:
    with target.client() as client:
        yield client


@pytest.fixture
def writes(target: Target) -> None:
    """Skip write checks on a read-only run (production host)."""
    if target.read_only:
        pytest.skip("read-only run: KLIKIT_BASE_URL is the production host, where the harness never writes")


@pytest.fixture
def store(target: Target, writes: None) -> Store:
    """A store the harness may write to (it has a menu)."""
    stores = need(target.settings.stores, "KLIKIT_STORES", "brandID:branchID of stores the harness may write to")
    return stores[0]  # type: ignore[no-any-return]


# ------------------------------------------------------------- fresh stores


class FreshStorePool:
    """The run's fresh stores: borrowed by checks that must leave them fresh, consumed by the plan."""

    def __init__(self, target: Target, ledger: Ledger) -> None:
        self.target = target
        self.ledger = ledger
        self._ready: list[Store] = []  # handed back, still fresh
        self._published: set[Store] = set()
        self._plan: dict[str, Store | None] = {}
        self._out: dict[Store, str] = {}  # borrowed: store -> check

    def _take(self, *, unpublished: bool = False) -> Store | None:
        for candidate in self._ready:
            if not (unpublished and candidate in self._published):
                self._ready.remove(candidate)
                return candidate
        taken = self.target.take_fresh_store()
        if taken is not None:
            self.ledger.taken.append(str(taken))
        return taken

    def borrow(self, check: str, *, unpublished: bool = False) -> Store:
        """A fresh store for a check that must leave it fresh (skips the check when none is left)."""
        taken = self._take(unpublished=unpublished)
        if taken is None:
            pytest.skip(
                f"no fresh store left for {check}: list at least {FRESH_STORES_NEEDED} never-populated "
                "stores in KLIKIT_FRESH_STORES"
            )
        self._out[taken] = check
        return taken

    def give_back(self, store: Store, check: str) -> None:
        """Hand back a store the check did not write to."""
        if self._out.pop(store, None) is None:
            return
        self._ready.insert(0, store)
        self.ledger.handed_back.append((check, str(store)))

    def settle_borrowing(self, store: Store) -> None:
        """After the check: a store neither handed back nor lost is in an unknown state."""
        if store in self._out:
            self.lose(store)

    def verify_still_fresh(self, api: TargetClient, store: Store, check: str, behaviour: str) -> None:
        """Publish, then getMenu: a store that serves no section is handed back; otherwise ``behaviour`` broke."""
        expect.ok(api, api.publish([store]), "publish.counts")
        self._published.add(store)
        data = expect.ok(api, api.get_menu(store), "getmenu.store-mode")
        if freshstores.is_fresh_menu(data):
            self.give_back(store, check)
            return
        self.lose(store)
        raise expect.mismatch(
            api,
            f"{check} left store {store} with a menu (the store is no longer fresh)",
            behaviour,
            freshstores.menu_sections(data),
            "no section attached: the request changed nothing",
        )

    def lose(self, store: Store) -> None:
        self._out.pop(store, None)
        self.ledger.lost.append(str(store))

    def consume(self, plan: str) -> Store | None:
        """The fresh store a planned populate uses (taken once per plan entry)."""
        if plan not in PLAN:
            raise KeyError(
                f"{plan!r} is not in klikit_harness.checking.freshstores.PLAN; add it there so doctor counts it"
            )
        if plan not in self._plan:
            taken = self._take()
            self._plan[plan] = taken
            if taken is not None:
                self.ledger.populated[plan] = str(taken)
        return self._plan[plan]


@pytest.fixture(scope="session")
def fresh_pool(target: Target, request: pytest.FixtureRequest) -> FreshStorePool:
    ledger = Ledger()
    request.config.stash[freshstores.LEDGER] = ledger
    return FreshStorePool(target, ledger)


@pytest.fixture
def pristine_store(fresh_pool: FreshStorePool, writes: None, request: pytest.FixtureRequest) -> Iterator[Store]:
    """A fresh store this check must leave fresh (``fresh_pool.verify_still_fresh`` hands it back)."""
    store = fresh_pool.borrow(request.node.nodeid)
    yield store
    fresh_pool.settle_borrowing(store)  # a check that stopped before proving the store still fresh loses it


@pytest.fixture
def never_published_store(fresh_pool: FreshStorePool, writes: None, request: pytest.FixtureRequest) -> Iterator[Store]:
    """A fresh store this run has not published yet; only read."""
    store = fresh_pool.borrow(request.node.nodeid, unpublished=True)
    yield store
    fresh_pool.give_back(store, request.node.nodeid)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Borrowing checks run before any planned populate consumes the fresh stores."""

    def rank(item: pytest.Item) -> int:
        names = getattr(item, "fixturenames", ())
        return 0 if "never_published_store" in names else 1 if "pristine_store" in names else 2

    here = Path(__file__).parent
    slots = [i for i, item in enumerate(items) if here in Path(item.path).parents]
    ordered = sorted((items[i] for i in slots), key=rank)
    for slot, item in zip(slots, ordered, strict=True):
        items[slot] = item


# ----------------------------------------------------------------- helpers


@pytest.fixture
def client_for(target: Target) -> Iterator[Callable[[Credential | None, str], TargetClient]]:
    made: list[TargetClient] = []

    def factory(cred: Credential | None, variable: str) -> TargetClient:
        client = target.client(cred.pair() if cred else None, variable=f"{variable}_KEY:{variable}_SECRET")
        made.append(client)
        return client

    yield factory
    for client in made:
        client.close()


def create_section(api: TargetClient, name: str = "section", **fields: Any) -> int:
    """Create a business-level section named with the run id (always with a title); returns its id."""
    body = {"title": {"en": f"{api.target.run_id} {name}"}, **fields}
    data = expect.ok(api, api.call("createSection", body), "section.create-returns-id")
    sid = expect.members(data, "id")["id"]
    if not isinstance(sid, int) or isinstance(sid, bool) or sid < 1:
        raise expect.mismatch(
            api,
            "createSection answered no positive integer data.id",
            "section.create-returns-id",
            data,
            {"id": "<positive integer>"},
        )
    return sid


@pytest.fixture
def new_section(api: TargetClient, writes: None) -> Callable[..., int]:
    """Create a business-level section named with the run id; returns its id."""

    def create(**fields: Any) -> int:
        return create_section(api, fields.pop("name", "section"), **fields)

    return create


def served(api: TargetClient, store: Store) -> list[dict[str, Any]]:
    """The store's menu as getMenu serves it (the last published snapshot; [] for none)."""
    data = expect.ok(api, api.get_menu(store), "getmenu.store-mode")
    sections = freshstores.menu_sections(data)
    if sections is None:
        raise expect.mismatch(
            api, "store-mode getMenu without data.menu.sections", "getmenu.store-mode", data, "data.menu.sections[]"
        )
    return sections


def business_sections(api: TargetClient) -> list[dict[str, Any]]:
    return expect.ok(api, api.call("getMenu"), "getmenu.business-mode")["menu"]["sections"]  # type: ignore[no-any-return]


def publish(api: TargetClient, *stores: Store) -> dict[str, Any]:
    return expect.ok(api, api.publish(stores), "publish.counts")  # type: ignore[no-any-return]


def section_in(menu: list[dict[str, Any]], sid: object) -> dict[str, Any] | None:
    return next((s for s in menu if isinstance(s, dict) and s.get("id") == sid), None)


def member(section: dict[str, Any] | None, name: str) -> Any:
    """A member of a served section node (None: no such section).

    A node without it makes the check not observable (skipped with that reason):
    no docs page states that a section node always carries it (only ``id`` and
    ``enabled`` are stated, and the schema checks those).
    """
    if section is None:
        return None
    if name not in section:
        pytest.skip(f"not observable: getMenu's section nodes carry no {name} (no docs page states it is always there)")
    return section[name]


#: the members of a section node a write sets: what "the store's menu changed" is judged by (a target
#: may serve further members, timestamps among them, and leave out members no docs page states)
WRITTEN = ("sequence", "title", "description", "enabled", "visibilities", "availableTimes", "blackoutDates")


def node(section: dict[str, Any] | None) -> dict[str, Any] | None:
    """A served section node as the writes see it: only the members they set (None: no such section)."""
    return None if section is None else {k: section.get(k) for k in WRITTEN}


def snapshot(menu: list[dict[str, Any]]) -> dict[Any, dict[str, Any] | None]:
    """A served menu as the writes see it, keyed by section id."""
    return {s.get("id"): node(s) for s in menu if isinstance(s, dict)}


def week(start: int, end: int) -> dict[str, Any]:
    return {str(d): {"disabled": False, "slots": [{"startTime": start, "endTime": end}]} for d in range(7)}


def day(weekday: int, start: int, end: int, *, disabled: bool = False) -> dict[str, Any]:
    return {str(weekday): {"disabled": disabled, "slots": [{"startTime": start, "endTime": end}]}}


def entry(sequence: int, times: dict[str, Any] | None = None) -> dict[str, Any]:
    """A populate/sync section entry valid under every reading: sequence and availableTimes always given."""
    return {"sequence": sequence, "availableTimes": times if times is not None else {}}


def push_body(stores: list[Store], sections: dict[int, dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"stores": [s.as_json() for s in stores], "sections": {str(k): v for k, v in sections.items()}, **extra}


# ------------------------------------------------------- the planned populates


@dataclass
class Planned:
    """A fresh store populated once by the plan, and what the target answered on the way."""

    store: Store
    #: name -> section id
    ids: dict[str, int]
    #: name -> business-level createSection fields
    business: dict[str, dict[str, Any]]
    #: name -> the populate entry
    entries: dict[str, dict[str, Any]]
    populate_data: Any = None
    #: store-mode sections after populate, before any publish
    before_publish: list[Any] | None = None
    #: the scheduledAt-2099 publish and the sections served after it
    scheduled: Any = None
    after_scheduled: list[Any] | None = None
    #: sections served after the publish with the zero scheduledAt
    after_zero: list[Any] | None = None
    #: sections served after the plain publish
    served: list[dict[str, Any]] = field(default_factory=list)
    business_menu: list[dict[str, Any]] = field(default_factory=list)
    #: a populate with sync fields that the target rejected (the plan then populates without them)
    sync_fields_rejected: Any = None


#: menu_a: every schedule on its own weekday, so no two checks' sections meet
PLAN_A: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    # name: (createSection fields, populate entry)
    "lunch": ({"availableTimes": day(0, 1100, 1500)}, entry(3)),
    "override": ({"availableTimes": day(0, 1700, 2200)}, entry(1, day(0, 700, 1000))),
    "persist": ({"availableTimes": day(2, 1100, 1300), "visibilities": {"1": True}}, entry(2, day(2, 1500, 1600))),
    "details": ({"availableTimes": day(3, 1100, 1300), "isEnabled": True}, entry(4, day(3, 1500, 1600))),
    "zone": ({"visibilities": {"1": True}, "isEnabled": True}, entry(5)),
    "early": ({"availableTimes": day(4, 1100, 1500)}, entry(6)),
    "late": ({"availableTimes": day(4, 1700, 2200)}, entry(7)),
    "fifth": ({"availableTimes": day(5, 1100, 1300)}, entry(8)),
    "sixth": ({"availableTimes": day(6, 1100, 1500)}, entry(9)),
    "blank": ({}, entry(10)),
}
PLAN_B: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "single": ({"availableTimes": day(0, 1700, 2200), "visibilities": {"1": True}}, entry(1, day(0, 700, 1000))),
}
#: populate.sync-fields-inert: sent with menu_b's populate
SYNC_FIELDS = {"fieldIncludeOnSync": ["availableTimes"], "persistFieldOnSync": {"sections": []}}


def _plan(
    api: TargetClient, pool: FreshStorePool, name: str, plan: dict[str, tuple[dict[str, Any], dict[str, Any]]]
) -> tuple[Store, dict[str, int]]:
    if api.target.read_only:
        pytest.skip("read-only run: KLIKIT_BASE_URL is the production host, where the harness never writes")
    store = pool.consume(name)
    if store is None:
        pytest.skip(
            f"no fresh store left for the {name} populate: list {FRESH_STORES_NEEDED} never-populated stores "
            "in KLIKIT_FRESH_STORES"
        )
    ids = {key: create_section(api, f"{name} {key}", **fields) for key, (fields, _) in plan.items()}
    return store, ids


def _publish_and_read(api: TargetClient, planned: Planned) -> None:
    publish(api, planned.store)
    planned.served = served(api, planned.store)
    planned.business_menu = business_sections(api)


@pytest.fixture(scope="session")
def menu_a(api: TargetClient, fresh_pool: FreshStorePool) -> Planned:
    """A fresh store populated once with PLAN_A, published (a scheduled publish first)."""
    store, ids = _plan(api, fresh_pool, "menu_a", PLAN_A)
    entries = {key: e for key, (_, e) in PLAN_A.items()}
    planned = Planned(store, ids, {k: f for k, (f, _) in PLAN_A.items()}, entries)
    r = api.call("populateMenu", push_body([store], {ids[k]: e for k, e in entries.items()}))
    planned.populate_data = expect.ok(api, r, "populate.attaches-fresh-stores")
    planned.before_publish = freshstores.menu_sections(expect.ok(api, api.get_menu(store), "getmenu.store-mode"))
    later = {"stores": [store.as_json()], "providerIDs": [1], "scheduledAt": "2099-01-01T00:00:00Z"}
    planned.scheduled = api.call("publishMenu", later)
    planned.after_scheduled = freshstores.menu_sections(expect.ok(api, api.get_menu(store), "getmenu.store-mode"))
    zero = api.call("publishMenu", {**later, "scheduledAt": "0001-01-01T00:00:00Z"})
    if expect.success(zero):
        planned.after_zero = freshstores.menu_sections(expect.ok(api, api.get_menu(store), "getmenu.store-mode"))
    _publish_and_read(api, planned)
    return planned


@pytest.fixture(scope="session")
def menu_b(api: TargetClient, fresh_pool: FreshStorePool) -> Planned:
    """A second fresh store populated once with PLAN_B (sync fields sent along), published."""
    store, ids = _plan(api, fresh_pool, "menu_b", PLAN_B)
    entries = {key: e for key, (_, e) in PLAN_B.items()}
    planned = Planned(store, ids, {k: f for k, (f, _) in PLAN_B.items()}, entries)
    sections = {ids[k]: e for k, e in entries.items()}
    r = api.call("populateMenu", push_body([store], sections, **SYNC_FIELDS))
    if r.status_code == 400:
        # a target that rejects sync fields on populate wrote nothing (populate is atomic): populate without them
        planned.sync_fields_rejected = r.text[:300]
        r = api.call("populateMenu", push_body([store], sections))
    planned.populate_data = expect.ok(api, r, "populate.attaches-fresh-stores")
    _publish_and_read(api, planned)
    return planned


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    ledger = config.stash.get(freshstores.LEDGER, None)
    if ledger is None or not ledger.taken:
        return
    plan = ", ".join(f"{name}={store}" for name, store in ledger.populated.items()) or "none"
    terminalreporter.write_line(
        f"fresh stores: {len(ledger.taken)} taken, {ledger.consumed} consumed (populated: {plan}; "
        f"lost: {', '.join(ledger.lost) or 'none'}); {len(ledger.handed_back)} borrowing(s) handed back still fresh; "
        f"the plan needs {FRESH_STORES_NEEDED}"
    )
