"""Concurrency over real loopback HTTP: duplicates write once, a fresh store is populated once."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from klikit_harness.standin.sandbox import serve_in_thread
from tests.support.standin import FRESH, LUNCH, MAIN, store

pytestmark = [pytest.mark.loopback]
N = 20


def fire(base_url: str, requests: list[tuple[str, dict, str]]) -> list[httpx.Response]:
    barrier = threading.Barrier(len(requests))

    def one(item: tuple[str, dict, str]) -> httpx.Response:
        path, body, key = item
        with httpx.Client(base_url=base_url, auth=MAIN, timeout=10) as client:
            barrier.wait()
            return client.post(path, json=body, headers={"Idempotency-Key": key})

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(one, requests))


@pytest.mark.behaviour("idempotency.in-flight-conflict", "idempotency.replay-no-second-write")
def test_twenty_duplicates_write_once():
    with serve_in_thread(write_delay=0.05) as sandbox:
        writes = sandbox.service.world.writes
        body = {"title": {"en": "Concurrent"}, "sequence": 1}
        responses = fire(sandbox.base_url, [("/menus/sections", body, "same-key")] * N)
        assert sandbox.service.world.writes == writes + 1
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 409}, statuses
    oks = [r for r in responses if r.status_code == 200]
    assert oks and len({r.content for r in oks}) == 1
    for r in responses:
        if r.status_code == 409:
            assert r.json()["error"]["details"]["reason"] == "in_flight"


@pytest.mark.behaviour("populate.skips-populated-stores", "populate.atomic")
def test_twenty_populates_of_one_fresh_store_populate_it_once():
    target = FRESH[-1]
    with serve_in_thread(write_delay=0.01) as sandbox:
        requests = [
            (
                "/menus/populate",
                {"stores": [store(target)], "sections": {str(LUNCH): {"sequence": i}}},
                str(uuid.uuid4()),
            )
            for i in range(N)
        ]
        responses = fire(sandbox.base_url, requests)
        attached = dict(sandbox.service.world.attachments[target])
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses if r.status_code != 200]
    populated = [r.json()["data"]["populated"] for r in responses]
    assert populated.count(1) == 1 and populated.count(0) == N - 1
    winner = populated.index(1)
    assert attached == {LUNCH: winner}
