"""Replays, conflicts and in-flight duplicates as the reference client meets them."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from klikit_harness.partner.errors import IdempotencyConflictError, KlikitError, RequestTimeout
from klikit_harness.standin.simulator import Simulator
from klikit_harness.suites.chaos.world import POLICY, WRITE_OPERATIONS, WRITES, make_client, write

#: a valid body different from WRITES[operation_id]'s
OTHER_BODIES: dict[str, dict[str, Any]] = {
    "createSection": {"title": {"en": "Another section"}},
    "setSectionVisibilities": {"visibilities": {"1": False}},
    "enableSections": {"ids": [1022], "isEnabled": False},
    "populateMenu": {
        "stores": [{"brandID": 663, "branchID": 2002}],
        "sections": {"1022": {"sequence": 1, "availableTimes": {}}},
    },
    "syncMenuToStores": {
        "stores": [{"brandID": 663, "branchID": 1063}],
        "sections": {"1023": {"sequence": 2, "availableTimes": {}}},
    },
    "publishMenu": {"stores": [{"brandID": 663, "branchID": 1063}], "providerIDs": [1]},
    "resetStoreOverrides": {"stores": [{"brandID": 5297, "branchID": 1293}]},
}


@pytest.mark.behaviour(
    "idempotency.replay-same-response", "idempotency.replay-header", "idempotency.replay-no-second-write"
)
@pytest.mark.parametrize("operation_id", WRITE_OPERATIONS)
def test_a_replay_returns_the_original_data_and_request_id(sim, client, operation_id):
    first = write(client, operation_id, idempotency_key=f"replay-{operation_id}")
    again = write(client, operation_id, idempotency_key=f"replay-{operation_id}")

    assert again.data == first.data
    assert again.request_id == first.request_id
    assert again.replayed and not first.replayed
    assert sim.writes == 1


@pytest.mark.behaviour(
    "idempotency.conflict-different-body", "codes.idempotency-conflict", "client.conflict-not-retried"
)
@pytest.mark.parametrize("operation_id", WRITE_OPERATIONS)
def test_the_same_key_with_another_body_is_a_conflict_never_retried(sim, client, operation_id):
    body, path_params = WRITES[operation_id]
    client.call(operation_id, body, path_params=path_params or None, idempotency_key="conflict-key")
    other = OTHER_BODIES[operation_id]

    with pytest.raises(IdempotencyConflictError) as raised:
        client.call(operation_id, other, path_params=path_params or None, idempotency_key="conflict-key")
    error = raised.value
    assert (error.code, error.status) == ("state_idempotency_conflict", 409)
    assert not error.in_flight
    assert error.details["reason"] == "different_body"
    assert error.attempts == 1
    assert len(sim.calls) == 2
    assert sim.slept == []
    assert sim.writes == 1
    assert "new key per logical operation" in str(error)


@pytest.mark.behaviour("codes.idempotency-conflict", "client.vocabularies-equivalent")
def test_under_the_concepts_reading_the_conflict_raises_the_same_class():
    sim = Simulator(reading="concepts")
    with make_client(sim) as client:
        write(client, "publishMenu", idempotency_key="k")
        with pytest.raises(IdempotencyConflictError) as raised:
            client.call("publishMenu", OTHER_BODIES["publishMenu"], idempotency_key="k")
    assert (raised.value.code, raised.value.status) == ("IDEMPOTENCY_KEY_CONFLICT", 409)


@pytest.mark.behaviour("idempotency.in-flight-conflict", "client.conflict-not-retried")
@pytest.mark.parametrize("operation_id", ["populateMenu", "publishMenu"])
def test_a_concurrent_duplicate_gets_the_in_flight_conflict(sim, operation_id):
    sim.hold_in_flight(operation_id)
    outcome: dict[str, Any] = {}

    def first_caller() -> None:
        with make_client(sim) as mine:
            try:
                outcome["reply"] = write(mine, operation_id, idempotency_key="shared-key")
            except KlikitError as exc:  # surfaced below, in the test's thread
                outcome["error"] = exc

    worker = threading.Thread(target=first_caller)
    worker.start()
    try:
        sim.wait_until_held()
        with make_client(sim) as duplicate, pytest.raises(IdempotencyConflictError) as raised:
            write(duplicate, operation_id, idempotency_key="shared-key")
        assert sim.writes == 0  # the first is prepared, not executed
    finally:
        sim.release()
        worker.join(timeout=5)

    error = raised.value
    assert error.in_flight
    assert error.details["reason"] == "in_flight"
    assert error.attempts == 1
    assert "still being processed" in str(error)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["reply"].attempts == 1
    assert sim.writes == 1


@pytest.mark.behaviour(
    "idempotency.in-flight-conflict", "client.conflict-not-retried", "idempotency.replay-same-response"
)
def test_a_timed_out_write_still_in_flight_is_reported_then_replayed(sim, client):
    sim.hold_in_flight("syncMenuToStores", mode="timeout")

    with pytest.raises(IdempotencyConflictError) as raised:
        write(client, "syncMenuToStores")
    error = raised.value
    # attempt 1 timed out (retryable); attempt 2 met the in-flight 409 and stopped there
    assert [c.error or c.status for c in sim.calls] == ["ReadTimeout", 409]
    assert error.in_flight and error.attempts == 2

    answer = sim.release()
    assert answer is not None and answer.status == 200
    reply = write(client, "syncMenuToStores", idempotency_key=error.idempotency_key)
    assert reply.replayed
    assert reply.request_id == answer.json()["request_id"]
    assert sim.writes == 1


@pytest.mark.behaviour("idempotency.in-flight-conflict", "idempotency.only-2xx-stored")
def test_an_abandoned_held_write_frees_its_key(sim, client):
    sim.hold_in_flight("publishMenu", mode="timeout")
    with pytest.raises(IdempotencyConflictError) as raised:
        write(client, "publishMenu")
    assert sim.release(execute=False) is None
    reply = write(client, "publishMenu", idempotency_key=raised.value.idempotency_key)
    assert not reply.replayed
    assert sim.writes == 1


@pytest.mark.behaviour("client.key-reused-on-retry")
@pytest.mark.parametrize("operation_id", WRITE_OPERATIONS)
def test_one_key_per_logical_write_reused_on_every_retry(sim, client, operation_id):
    sim.script(operation_id, ["internal", "connect_error", "rate_limit_exceeded"])
    write(client, operation_id)
    write(client, operation_id)

    keys = [c.idempotency_key for c in sim.calls]
    assert len(keys) == 5
    assert len(set(keys[:4])) == 1
    assert keys[4] != keys[0]


@pytest.mark.behaviour("client.key-reused-on-retry")
def test_a_given_key_is_sent_verbatim_on_every_attempt(sim, client):
    sim.fail("resetStoreOverrides", "downstream_unavailable")
    reply = write(client, "resetStoreOverrides", idempotency_key="order-42-reset")
    assert reply.idempotency_key == "order-42-reset"
    assert [c.idempotency_key for c in sim.calls] == ["order-42-reset"] * 2


@pytest.mark.behaviour("idempotency.key-max-64")
@pytest.mark.parametrize("key", ["", "k" * 65])
def test_a_key_outside_1_to_64_characters_is_refused_before_sending(sim, client, key):
    with pytest.raises(ValueError, match="1-64 characters"):
        write(client, "publishMenu", idempotency_key=key)
    assert sim.calls == []


@pytest.mark.behaviour("client.at-most-once-under-faults", "idempotency.replay-no-second-write")
def test_timeouts_after_the_write_are_answered_by_replay(sim, client):
    sim.inject("createSection", "read_timeout", times=POLICY.max_attempts - 1)
    reply = write(client, "createSection")
    assert reply.attempts == POLICY.max_attempts
    assert reply.replayed
    assert sim.writes == 1
    assert len({c.request_id for c in sim.calls}) == 1  # one execution, one request_id


@pytest.mark.behaviour("client.retries-only-retryable")
def test_a_persistent_timeout_ends_as_request_timeout_after_one_write(sim, client):
    sim.inject("populateMenu", "read_timeout", times=POLICY.max_attempts)
    with pytest.raises(RequestTimeout) as raised:
        write(client, "populateMenu")
    assert raised.value.attempts == POLICY.max_attempts
    assert raised.value.retryable
    assert sim.writes == 1
