"""The idempotency store: replay, conflict, in-flight, 24 h expiry, scoping, bounded memory."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from klikit_harness.core.clock import ManualClock
from klikit_harness.core.idempotency import (
    DAY,
    Conflict,
    IdempotencyStore,
    Replay,
    Reserved,
    Stored,
    fingerprint,
)

OK = Stored(200, [("content-type", "application/json")], b'{"request_id":"r1","data":{}}')

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3),
    max_leaves=10,
)


@pytest.mark.behaviour("idempotency.replay-same-response")
@given(st.dictionaries(st.text(max_size=4), json_values, max_size=5))
def test_fingerprint_ignores_key_order(body):
    reordered = dict(reversed(list(body.items())))
    assert fingerprint("POST", "/p", body) == fingerprint("POST", "/p", reordered)


@pytest.mark.behaviour("idempotency.fingerprint-includes-path")
def test_fingerprint_includes_method_and_path():
    assert fingerprint("POST", "/a", {}) != fingerprint("POST", "/b", {})
    assert fingerprint("POST", "/a", {}) != fingerprint("PATCH", "/a", {})


@pytest.mark.behaviour(
    "idempotency.replay-same-response", "idempotency.conflict-different-body", "idempotency.in-flight-conflict"
)
def test_reserve_inflight_replay_conflict():
    store = IdempotencyStore()
    first = store.begin("cred", "k", "fp1", 0.0)
    assert isinstance(first, Reserved)
    assert store.begin("cred", "k", "fp1", 1.0) == Conflict(in_flight=True)
    store.complete(first, OK, store=True)
    assert store.begin("cred", "k", "fp1", 2.0) == Replay(OK)
    assert store.begin("cred", "k", "fp2", 3.0) == Conflict(in_flight=False)


@pytest.mark.behaviour("idempotency.only-2xx-stored")
def test_unstored_response_forgets_the_key():
    store = IdempotencyStore()
    first = store.begin("cred", "k", "fp1", 0.0)
    assert isinstance(first, Reserved)
    store.complete(first, Stored(400, [], b"{}"), store=False)
    assert isinstance(store.begin("cred", "k", "fp-other", 1.0), Reserved)


@pytest.mark.behaviour("idempotency.expires-24h")
def test_keys_expire_after_24_hours_with_the_injected_clock():
    clock = ManualClock()
    store = IdempotencyStore()
    first = store.begin("cred", "k", "fp", clock.now())
    assert isinstance(first, Reserved)
    store.complete(first, OK, store=True)
    clock.advance(DAY - 1)
    assert isinstance(store.begin("cred", "k", "fp", clock.now()), Replay)
    clock.advance(1)
    assert isinstance(store.begin("cred", "k", "other", clock.now()), Reserved)


@pytest.mark.behaviour("idempotency.scoped-per-credential")
def test_keys_are_scoped_per_credential():
    store = IdempotencyStore()
    a = store.begin("cred-a", "k", "fp", 0.0)
    assert isinstance(a, Reserved)
    store.complete(a, OK, store=True)
    assert isinstance(store.begin("cred-b", "k", "different", 0.0), Reserved)


@given(st.integers(1, 50), st.integers(0, 300))
def test_memory_is_bounded(cap, n):
    store = IdempotencyStore(max_entries=cap)
    for i in range(n):
        r = store.begin("c", f"k{i}", "fp", float(i))
        assert isinstance(r, Reserved)
        store.complete(r, OK, store=True)
    assert len(store) == min(cap, n)
