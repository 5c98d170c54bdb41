"""A rotated secret: the old one fails at once; a provider recovers in one extra request."""

from __future__ import annotations

import pytest

from klikit_harness.partner.client import RetryPolicy
from klikit_harness.partner.errors import InvalidCredentialError
from klikit_harness.standin.simulator import Simulator
from klikit_harness.suites.chaos.world import make_client, write

CONCEPTS_ROTATION_WINDOW_S = 15 * 60  # the auth page's overlap window (DOSSIER C1)


@pytest.mark.behaviour("auth.rotated-secret-rejected", "client.secret-rotation-recovery")
@pytest.mark.parametrize("after_requests", [0, 1, 3])
def test_the_old_secret_fails_from_the_first_request_after_rotation(sim, client, after_requests):
    sim.rotate_secret(after_requests=after_requests)
    for _ in range(after_requests):
        write(client, "publishMenu")

    with pytest.raises(InvalidCredentialError) as raised:
        write(client, "publishMenu")
    error = raised.value
    assert error.status == 401
    assert error.attempts == 1  # no retry storm on an auth error
    assert len(sim.calls) == after_requests + 1
    text = str(error)
    assert "rotated" in text
    assert "KLIKIT_SECRET_KEY" in text
    assert "credentials_provider" in text


@pytest.mark.behaviour("client.secret-rotation-recovery", "client.key-reused-on-retry")
def test_a_provider_recovers_in_exactly_one_extra_request(sim):
    asked: list[int] = []

    def provider() -> tuple[str, str]:
        asked.append(1)
        return sim.partner_key, sim.secret_key

    with make_client(sim, credentials_provider=provider) as client:
        write(client, "publishMenu")
        sim.rotate_secret()
        reply = write(client, "syncMenuToStores")
        after = write(client, "publishMenu")

    assert reply.attempts == 2
    first, second = sim.calls_to("syncMenuToStores")
    assert (first.status, second.status) == (401, 200)
    assert first.idempotency_key == second.idempotency_key
    assert first.headers["authorization"] != second.headers["authorization"]
    assert asked == [1]
    assert sim.slept == []  # the repeat is immediate: nothing to back off from
    assert after.attempts == 1  # the new secret is kept for later calls
    assert sim.writes == 3


@pytest.mark.behaviour("client.secret-rotation-recovery")
def test_a_provider_returning_the_stale_secret_fails_fast(sim):
    stale = (sim.partner_key, sim.secret_key)
    with make_client(sim, credentials_provider=lambda: stale) as client:
        sim.rotate_secret()
        with pytest.raises(InvalidCredentialError) as raised:
            write(client, "publishMenu")
    assert raised.value.attempts == 1
    assert len(sim.calls) == 1
    assert raised.value.provider_outcome == "unchanged"
    assert "returned the same credentials" in str(raised.value)
    assert "KLIKIT_SECRET_KEY" in str(raised.value)


@pytest.mark.behaviour("client.secret-rotation-recovery")
def test_a_provider_with_a_wrong_secret_costs_one_request_and_no_more(sim):
    asked: list[int] = []

    def provider() -> tuple[str, str]:
        asked.append(1)
        return sim.partner_key, "sk_not_the_right_one"

    with make_client(sim, credentials_provider=provider) as client:
        sim.rotate_secret()
        with pytest.raises(InvalidCredentialError) as raised:
            write(client, "publishMenu")
    assert raised.value.attempts == 2
    assert len(sim.calls) == 2
    assert asked == [1]
    assert raised.value.provider_outcome == "refreshed"
    assert sim.writes == 0


@pytest.mark.behaviour("client.secret-rotation-recovery")
def test_a_provider_is_asked_once_per_call_not_once_per_client(sim):
    asked: list[int] = []

    def provider() -> tuple[str, str]:
        asked.append(1)
        return sim.partner_key, sim.secret_key

    with make_client(sim, credentials_provider=provider) as client:
        sim.rotate_secret()
        write(client, "publishMenu")
        sim.rotate_secret()
        write(client, "publishMenu")
    assert asked == [1, 1]
    assert [c.status for c in sim.calls] == [401, 200, 401, 200]


@pytest.mark.behaviour("auth.rotated-secret-rejected")
def test_under_the_concepts_reading_the_old_secret_works_for_the_window():
    sim = Simulator(reading="concepts")
    with make_client(sim) as client:
        sim.rotate_secret()
        write(client, "publishMenu")  # inside the overlap window
        sim.sleep(CONCEPTS_ROTATION_WINDOW_S)
        with pytest.raises(InvalidCredentialError) as raised:
            write(client, "publishMenu")
    assert (raised.value.code, raised.value.status) == ("INVALID_CREDENTIALS", 401)


@pytest.mark.behaviour("client.secret-rotation-recovery", "client.backoff-bounded")
def test_the_repeat_after_a_refresh_counts_towards_the_attempt_limit(sim):
    policy = RetryPolicy(max_attempts=2)
    with make_client(sim, retry=policy, credentials_provider=lambda: (sim.partner_key, "sk_fresh")) as client:
        sim.script("publishMenu", ["internal", "auth_invalid_credential"])
        with pytest.raises(InvalidCredentialError) as raised:
            write(client, "publishMenu")
    assert len(sim.calls) == 2
    assert raised.value.provider_outcome == "untried"
    assert "repeat the call" in str(raised.value)
