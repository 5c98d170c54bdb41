"""Every catalogued code on every write: retried or raised, which class, with which request_id."""

from __future__ import annotations

import pytest

from klikit_harness.partner.errors import CLASS_BY_MEANING, TransientError, error_class
from klikit_harness.suites.chaos.world import (
    CATALOGUE,
    EXPECTED_CLASS,
    POLICY,
    WRITE_OPERATIONS,
    expected_class,
    write,
)

REFERENCE_CODES = sorted(CATALOGUE.reference)
CONCEPT_CODES = sorted(CATALOGUE.concepts)
RETRYABLE_CODES = [code for code in REFERENCE_CODES if CATALOGUE.reference[code].retryable]


def test_every_reference_code_has_an_expected_class():
    assert set(EXPECTED_CLASS) == set(CATALOGUE.reference)
    assert dict(CLASS_BY_MEANING) == EXPECTED_CLASS


@pytest.mark.behaviour("envelope.retryable-codes")
@pytest.mark.parametrize("code", REFERENCE_CODES)
def test_transient_classes_are_exactly_the_retryable_codes(code):
    assert issubclass(EXPECTED_CLASS[code], TransientError) == CATALOGUE.reference[code].retryable


@pytest.mark.behaviour(
    "envelope.retryable-codes",
    "client.retries-only-retryable",
    "client.request-id-surfaced",
    "client.key-reused-on-retry",
)
@pytest.mark.parametrize("operation_id", WRITE_OPERATIONS)
@pytest.mark.parametrize("code", REFERENCE_CODES)
def test_one_error_answer_then_the_real_one(sim, client, code, operation_id):
    entry = CATALOGUE.reference[code]
    sim.fail(operation_id, code)

    if entry.retryable:
        reply = write(client, operation_id)
        assert reply.attempts == 2
        assert [c.step for c in sim.calls] == [code, "real"]
        assert [c.status for c in sim.calls] == [entry.status, 200]
        assert len({c.idempotency_key for c in sim.calls}) == 1
        assert len(sim.slept) == 1
        assert sim.writes == 1
        return

    with pytest.raises(EXPECTED_CLASS[code]) as raised:
        write(client, operation_id)
    error = raised.value
    (call,) = sim.calls
    assert (error.code, error.status, error.retryable) == (code, entry.status, False)
    assert call.request_id and error.request_id == call.request_id
    assert error.attempts == 1
    assert error.operation_id == operation_id
    assert error.idempotency_key == call.idempotency_key
    assert sim.slept == []
    assert sim.writes == 0


@pytest.mark.behaviour("client.backoff-bounded", "client.request-id-surfaced")
@pytest.mark.parametrize("operation_id", WRITE_OPERATIONS)
@pytest.mark.parametrize("code", RETRYABLE_CODES)
def test_a_retryable_code_that_persists_is_raised_after_the_last_attempt(sim, client, code, operation_id):
    sim.fail(operation_id, code, times=POLICY.max_attempts)

    with pytest.raises(EXPECTED_CLASS[code]) as raised:
        write(client, operation_id)
    error = raised.value
    assert error.attempts == len(sim.calls) == POLICY.max_attempts
    assert error.request_id == sim.calls[-1].request_id
    assert len({c.request_id for c in sim.calls}) == POLICY.max_attempts  # each answer its own id
    assert len(sim.slept) == POLICY.max_attempts - 1
    assert all(0 <= wait <= POLICY.max_delay for wait in sim.slept)
    assert sim.writes == 0
    assert sim.pending() == 0


@pytest.mark.behaviour("client.vocabularies-equivalent", "codes.vocabulary")
@pytest.mark.parametrize("operation_id", WRITE_OPERATIONS)
@pytest.mark.parametrize("code", CONCEPT_CODES)
def test_a_concepts_code_raises_the_class_of_its_meaning(sim, client, code, operation_id):
    entry = CATALOGUE.concepts[code]
    sim.fail(operation_id, code, times=POLICY.max_attempts)

    with pytest.raises(EXPECTED_CLASS[entry.maps_to[0]]) as raised:
        write(client, operation_id)
    error = raised.value
    assert (error.code, error.status) == (code, entry.status)
    assert error.request_id == sim.calls[-1].request_id
    assert error.attempts == (POLICY.max_attempts if entry.retryable else 1)


@pytest.mark.behaviour("client.vocabularies-equivalent")
@pytest.mark.parametrize("code", [*REFERENCE_CODES, *CONCEPT_CODES, *sorted(CATALOGUE.aliases)])
def test_error_class_follows_the_first_meaning(code):
    assert error_class(code) is expected_class(code)


@pytest.mark.behaviour("client.vocabularies-equivalent")
def test_the_not_found_alias_raises_not_found(sim, client):
    sim.fail("publishMenu", "not_found")
    with pytest.raises(EXPECTED_CLASS["resource_not_found"]) as raised:
        write(client, "publishMenu")
    assert raised.value.code == "not_found"
    assert raised.value.status == CATALOGUE.reference["resource_not_found"].status
