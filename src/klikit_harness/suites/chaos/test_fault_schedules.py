"""Any schedule of faults, one logical write: at most one execution, one key, bounded retries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from klikit_harness.checking import profiles
from klikit_harness.partner.errors import ApiError, KlikitError
from klikit_harness.standin.simulator import Simulator, Step, faults
from klikit_harness.suites.chaos.world import (
    CATALOGUE,
    POLICY,
    TRANSPORT_OUTCOME,
    WRITE_OPERATIONS,
    expected_class,
    make_client,
    write,
)

CODES = sorted(CATALOGUE.reference) + sorted(CATALOGUE.concepts)
RETRYABLE_CODES = [code for code in CODES if CATALOGUE.lookup(code).retryable]  # type: ignore[union-attr]


def fault_steps() -> st.SearchStrategy[Step]:
    """One scripted answer: "real", a transport fault, a catalogued code of either vocabulary,
    or a retryable code with an explicit Retry-After (1-120 s, above the 30 s cap included).

    Shrinks towards "real" first, then transport faults, then codes.
    """
    return st.one_of(
        st.just("real"),
        st.sampled_from(sorted(TRANSPORT_OUTCOME)),
        st.sampled_from(CODES),
        st.tuples(
            st.sampled_from(RETRYABLE_CODES),
            st.fixed_dictionaries({"retry_after": st.integers(1, 120)}),
        ),
    )


@dataclass(frozen=True)
class Expected:
    """What the oracle predicts for one step."""

    error: type[KlikitError] | None  # None: the real success
    retryable: bool
    retry_after: float | None
    reaches_core: bool


def predict(step: Step) -> Expected:
    name, options = (step, {}) if isinstance(step, str) else step
    if name == "real":
        return Expected(None, False, None, True)
    if name in TRANSPORT_OUTCOME:
        error, retryable = TRANSPORT_OUTCOME[name]
        return Expected(error, retryable, None, faults()[name].reaches_core)
    entry = CATALOGUE.lookup(name)
    assert entry is not None
    retry_after: Any = options.get("retry_after")
    if retry_after is None and "rate_limit_exceeded" in entry.maps_to:
        retry_after = 1  # the simulator's default Retry-After
    return Expected(expected_class(name), entry.retryable, retry_after, False)


def consumed(schedule: list[Step]) -> list[Expected]:
    """The steps the client must meet: up to the first final one, within the attempt limit."""
    met: list[Expected] = []
    for attempt in range(POLICY.max_attempts):
        step = schedule[attempt] if attempt < len(schedule) else "real"
        met.append(predict(step))
        if not met[-1].retryable:
            break
    return met


@pytest.mark.behaviour(
    "client.at-most-once-under-faults",
    "client.key-reused-on-retry",
    "client.retries-only-retryable",
    "client.backoff-bounded",
    "client.gateway-errors-retried",
    "idempotency.replay-no-second-write",
)
@given(operation_id=st.sampled_from(WRITE_OPERATIONS), schedule=st.lists(fault_steps(), max_size=8))
@profiles.examples(smoke=100, release=500, nightly=2000)
def test_any_fault_schedule_keeps_a_write_at_most_once(operation_id: str, schedule: list[Step]) -> None:
    sim = Simulator()
    sim.script(operation_id, schedule)
    met = consumed(schedule)
    outcome: Any
    with make_client(sim) as client:
        try:
            outcome = write(client, operation_id)
        except KlikitError as exc:
            outcome = exc

    calls = sim.calls
    # attempts: exactly the steps the oracle says the client meets, never above the limit
    assert len(calls) == len(met) <= POLICY.max_attempts
    # non-retryable answers were never retried: every step but the last was retryable
    assert all(step.retryable for step in met[:-1])
    # one Idempotency-Key, identical on every attempt
    keys = {call.idempotency_key for call in calls}
    assert len(keys) == 1 and None not in keys
    # the final outcome: the real success or the predicted typed error
    final = met[-1]
    if final.error is None:
        assert not isinstance(outcome, KlikitError), outcome
        assert outcome.attempts == len(calls)
        assert outcome.idempotency_key in keys
    else:
        assert type(outcome) is final.error, (outcome, final)
        assert outcome.attempts == len(calls)
        assert outcome.idempotency_key in keys
        if isinstance(outcome, ApiError):
            assert outcome.request_id == calls[-1].request_id
    # the core executed the logical write at most once, and only if a request reached it
    assert sim.writes <= 1
    assert sim.writes == (1 if any(step.reaches_core for step in met) else 0)
    # fake time only: one wait per retry, each within the policy, the total bounded
    assert len(sim.slept) == len(calls) - 1
    for retry, (wait, cause) in enumerate(zip(sim.slept, met, strict=False), start=1):
        assert 0 <= wait <= POLICY.max_delay
        upper = max(POLICY.window(retry), cause.retry_after or 0)
        assert wait <= min(POLICY.max_delay, upper) + 1e-9
        if cause.retry_after is not None:
            assert wait >= min(POLICY.max_delay, cause.retry_after)
    assert sum(sim.slept) <= (POLICY.max_attempts - 1) * POLICY.max_delay
