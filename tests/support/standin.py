"""Fixtures that talk to the stand-in in-process (ASGI) and helpers for its tests.

``api`` is a synchronous client over ``httpx.ASGITransport`` on one persistent
event loop (Starlette's TestClient is slower and warns). It signs requests as
the main credential and gives every write a fresh Idempotency-Key unless told
otherwise, so a test states only what it is about.
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from klikit_harness.core.build import build_service
from klikit_harness.core.clock import ManualClock
from klikit_harness.core.defects import DefectSet
from klikit_harness.core.seed import Seed, load
from klikit_harness.core.service import Service
from klikit_harness.core.world import StoreKey
from klikit_harness.standin.sandbox import SandboxApp

BASE = "http://standin.test/v1/partner"
MAIN = ("pk_sandbox_main", "sk_sandbox_main_7f3a9c")
OLD_SECRET = "sk_sandbox_main_old_41d2"
SECOND = ("pk_sandbox_second", "sk_sandbox_second_b81e")
READONLY = ("pk_sandbox_readonly", "sk_sandbox_readonly_20c4")
REVOKED = ("pk_sandbox_revoked", "sk_sandbox_revoked_9e07")
FOREIGN = ("pk_sandbox_foreign", "sk_sandbox_foreign_c3d0")
BURST = ("pk_sandbox_burst", "sk_sandbox_burst_55aa")

POPULATED = [StoreKey(663, 1062), StoreKey(663, 1063), StoreKey(5297, 1293)]
FRESH = [StoreKey(663, b) for b in range(2001, 2013)]
FOREIGN_STORE = StoreKey(900, 3001)
FOREIGN_SECTION = 2001
LUNCH, DINNER, BREAKFAST, LATE = 1022, 1023, 1024, 1025

AUTO = object()


def store(key: StoreKey) -> dict[str, int]:
    return key.as_json()


def week(start: int, end: int, *, disabled: bool = False) -> dict[str, Any]:
    """The same one-slot schedule on all seven weekdays."""
    return {str(d): {"disabled": disabled, "slots": [{"startTime": start, "endTime": end}]} for d in range(7)}


class InProcessApi:
    """Synchronous calls into the ASGI stand-in."""

    def __init__(self, service: Service, *, write_delay: float = 0.0) -> None:
        self.service = service
        self.loop = asyncio.new_event_loop()
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=SandboxApp(service, write_delay=write_delay)), base_url=BASE
        )

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = AUTO,
        content: bytes | None = None,
        auth: tuple[str, str] | None = MAIN,
        key: Any = AUTO,
        headers: dict[str, str] | None = None,
        params: Any = None,
    ) -> httpx.Response:
        hdrs = dict(headers or {})
        if method in {"POST", "PATCH"} and key is AUTO:
            hdrs.setdefault("Idempotency-Key", str(uuid.uuid4()))
        elif isinstance(key, str):
            hdrs["Idempotency-Key"] = key
        kwargs: dict[str, Any] = {"headers": hdrs, "params": params}
        if auth is not None:
            kwargs["auth"] = auth
        if content is not None:
            kwargs["content"] = content
        elif json is not AUTO:
            kwargs["json"] = json
        return self.loop.run_until_complete(self.client.request(method, path, **kwargs))

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = AUTO, **kw: Any) -> httpx.Response:
        return self.request("POST", path, json=body, **kw)

    def patch(self, path: str, body: Any = AUTO, **kw: Any) -> httpx.Response:
        return self.request("PATCH", path, json=body, **kw)

    # --- the operations, as a partner calls them
    def store_menu(self, key: StoreKey, **kw: Any) -> list[dict[str, Any]]:
        r = self.get("/menus", params={"brand_id": key.brand_id, "branch_id": key.branch_id}, **kw)
        assert r.status_code == 200, r.text
        return r.json()["data"]["menu"]["sections"]  # type: ignore[no-any-return]

    def publish(self, *keys: StoreKey) -> httpx.Response:
        r = self.post("/menus/publish", {"stores": [store(k) for k in keys], "providerIDs": [1]})
        assert r.status_code == 200, r.text
        return r

    def create_section(self, **fields: Any) -> int:
        body = {"title": {"en": "Test section"}, **fields}
        r = self.post("/menus/sections", body)
        assert r.status_code == 200, r.text
        return int(r.json()["data"]["id"])


def state(service: Service) -> Any:
    """Everything a write could change, for "nothing changed" assertions."""
    w = service.world
    return copy.deepcopy((w.sections, w.attachments, w.overrides, w.snapshots, w.scheduled))


def assert_error(response: httpx.Response, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    """An error envelope with this status and code (and details naming ``field``)."""
    assert response.status_code == status, (
        f"expected {status} {code}, got {response.status_code}: {response.text[:300]}"
    )
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"request_id", "error"}, body
    assert isinstance(body["request_id"], str) and body["request_id"]
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if field is not None:
        assert field in str(body["error"].get("details", {}).get("field", "")), body
    return body  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def seed() -> Seed:
    return load()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def service(seed: Seed, clock: ManualClock) -> Service:
    return build_service(seed, clock=clock)


@pytest.fixture
def api(service: Service) -> Iterator[InProcessApi]:
    client = InProcessApi(service)
    yield client
    client.close()


@pytest.fixture
def make_api(seed: Seed, clock: ManualClock) -> Iterator[Any]:
    """Build an in-process API with a chosen reading or defects."""
    made: list[InProcessApi] = []

    def factory(*, reading: str = "reference", defects: tuple[str, ...] = (), write_delay: float = 0.0) -> InProcessApi:
        svc = build_service(seed, reading=reading, defects=DefectSet(defects), clock=clock)  # type: ignore[arg-type]
        client = InProcessApi(svc, write_delay=write_delay)
        made.append(client)
        return client

    yield factory
    for client in made:
        client.close()
