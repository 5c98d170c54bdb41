"""Fixtures of the contract suite: everything comes from ``klikit_target``.

The suite runs unchanged against the embedded stand-in and a real environment;
it relies only on what a partner observes (status, envelope, getMenu after
publish). A check that needs an optional variable is skipped with a reason
that names it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from klikit_harness import expect
from klikit_harness.config import Credential, Store
from klikit_harness.target import Target, TargetClient


def need(value: Any, variable: str, why: str) -> Any:
    if not value:
        pytest.skip(f"set {variable} to {why}")
    return value


@pytest.fixture(scope="session")
def target(klikit_target: Target) -> Target:
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


@pytest.fixture
def fresh_store(target: Target, writes: None) -> Store:
    """A never-populated store, consumed by this test."""
    fresh = target.take_fresh_store()
    if fresh is None:
        pytest.skip("no KLIKIT_FRESH_STORES left: first-time-push checks need never-populated stores; list more")
    return fresh


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


@pytest.fixture
def new_section(api: TargetClient, target: Target, writes: None) -> Callable[..., int]:
    """Create a business-level section named with the run id; returns its id."""

    def create(**fields: Any) -> int:
        body = {"title": {"en": f"{target.run_id} {fields.pop('name', 'section')}"}, "fromAPI": True, **fields}
        data = expect.ok(api, api.call("createSection", body), "section.create-returns-id")
        return int(data["id"])

    return create


def served(api: TargetClient, store: Store) -> list[dict[str, Any]]:
    """The store's menu as getMenu serves it (the last published snapshot)."""
    data = expect.ok(api, api.get_menu(store), "getmenu.store-mode")
    return data["menu"]["sections"]  # type: ignore[no-any-return]


def publish(api: TargetClient, *stores: Store) -> dict[str, Any]:
    return expect.ok(api, api.publish(stores), "publish.counts")  # type: ignore[no-any-return]


def section_in(menu: list[dict[str, Any]], sid: int) -> dict[str, Any] | None:
    return next((s for s in menu if s["id"] == sid), None)


def week(start: int, end: int) -> dict[str, Any]:
    return {str(d): {"disabled": False, "slots": [{"startTime": start, "endTime": end}]} for d in range(7)}
