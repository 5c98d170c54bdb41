"""The simulator's chaos API: registry, scripts, rotation, holds and records."""

from __future__ import annotations

import threading

import httpx
import pytest

from klikit_harness.core import defects as d
from klikit_harness.core.defects import DefectSet
from klikit_harness.partner.errors import ContractViolation, KlikitError
from klikit_harness.standin.simulator import FaultContext, Simulator, fault, faults
from klikit_harness.suites.chaos.world import CATALOGUE, TRANSPORT_OUTCOME, make_client, write


def raw_client(sim: Simulator) -> httpx.Client:
    return httpx.Client(base_url=sim.base_url, transport=sim.transport(), auth=(sim.partner_key, sim.secret_key))


def test_every_transport_fault_of_the_suite_is_registered_and_described():
    registered = faults()
    assert set(TRANSPORT_OUTCOME) | {"real", "raw"} <= set(registered)
    for kind in registered.values():
        assert kind.description, f"fault {kind.name} needs a docstring"


def test_the_registry_refuses_a_duplicate_name():
    with pytest.raises(ValueError, match="already registered"):

        @fault("connect_error", reaches_core=False)
        def _again(ctx: FaultContext) -> httpx.Response:  # pragma: no cover - never registered
            raise AssertionError


@pytest.mark.parametrize(("name", "message"), [("internal", "errors.yaml code"), ("Bad-Name", "lower_snake_case")])
def test_the_registry_refuses_codes_and_odd_names(name, message):
    with pytest.raises(ValueError, match=message):
        fault(name, reaches_core=False)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda s: s.script("publishMenu", ["tea_pot"]), ValueError, "unknown chaos step 'tea_pot'"),
        (lambda s: s.script("publishMenu", [("internal", {"colour": 1})]), ValueError, "takes no option"),
        (lambda s: s.script("publishMenu", [42]), TypeError, "a step is a name"),
        (lambda s: s.script("publish", ["real"]), ValueError, "unknown operation 'publish'"),
        (lambda s: s.fail("publishMenu", "read_timeout"), ValueError, "use inject"),
        (lambda s: s.fail("publishMenu", "internal", times=0), ValueError, "times must be"),
        (lambda s: s.inject("publishMenu", "internal"), ValueError, "unknown fault 'internal'"),
        (lambda s: s.hold_in_flight("publishMenu", mode="later"), ValueError, "'block' or 'timeout'"),
        (lambda s: s.release(), RuntimeError, "nothing is held"),
        (lambda s: s.rotate_secret(partner_key="pk_nobody"), ValueError, "no credential"),
    ],
)
def test_misuse_is_caught_where_it_is_written(sim, call, error, message):
    with pytest.raises(error, match=message):
        call(sim)
    assert sim.pending() == 0


def test_steps_for_an_operation_come_before_steps_for_any(sim, client):
    sim.script("*", ["internal"])
    sim.fail("publishMenu", "downstream_unavailable")
    write(client, "publishMenu")
    write(client, "resetStoreOverrides")
    assert [(c.operation_id, c.step) for c in sim.calls] == [
        ("publishMenu", "downstream_unavailable"),
        ("publishMenu", "internal"),
        ("publishMenu", "real"),
        ("resetStoreOverrides", "real"),
    ]


def test_unconsumed_steps_are_reported(sim, client):
    sim.fail("publishMenu", "request_invalid", times=3)
    with pytest.raises(Exception, match="request_invalid"):
        write(client, "publishMenu")
    assert sim.pending("publishMenu") == 2
    with pytest.raises(AssertionError, match="never reached"):
        sim.assert_all_consumed()
    assert sim.clear() == 2
    sim.assert_all_consumed()


@pytest.mark.behaviour("ratelimit.429-envelope-retry-after", "ratelimit.retry-after-seconds")
@pytest.mark.parametrize("code", ["rate_limit_exceeded", "RATE_LIMITED"])
def test_an_injected_code_is_a_proper_envelope(sim, code):
    sim.fail("getMenu", code)
    with raw_client(sim) as http:
        response = http.get("/menus")
    body = response.json()
    entry = CATALOGUE.lookup(code)
    assert entry is not None
    assert response.status_code == entry.status == 429
    assert response.headers["retry-after"] == "1"
    assert body["request_id"].startswith("req_")
    assert body["error"]["code"] == code
    assert body["error"]["details"] == {"retry_after": 1}
    assert "data" not in body


@pytest.mark.behaviour("envelope.request-id", "routing.unknown-path-404", "routing.method-not-allowed-405")
def test_ordinary_answers_are_the_core_answers(sim):
    with raw_client(sim) as http:
        missing = http.get("/menus/nowhere")
        wrong_method = http.delete("/menus")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "resource_not_found"
    assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "GET"
    assert [c.operation_id for c in sim.calls] == [None, None]


def test_the_concepts_reading_answers_in_its_vocabulary():
    sim = Simulator(reading="concepts")
    with raw_client(sim) as http:
        response = http.get("/menus", params={"brand_id": 1})
    assert response.json()["error"]["code"] == "REQUEST_INVALID"


@pytest.mark.behaviour("client.contract-violation-detected", "envelope.request-id")
def test_seeded_defects_reach_the_core_and_the_client_names_them():
    sim = Simulator(defects=DefectSet([d.REQUEST_ID_MISSING]))
    with make_client(sim) as client, pytest.raises(ContractViolation) as raised:
        client.get_menu(brand_id=1)
    assert raised.value.behaviour == "envelope.request-id"
    assert raised.value.status == 400


@pytest.mark.behaviour("auth.rotated-secret-rejected")
def test_rotation_is_scheduled_by_request_count(sim):
    old = sim.secret_key
    new = sim.rotate_secret(after_requests=2, new_secret="sk_sim_rotated_1")
    assert new == "sk_sim_rotated_1"
    assert sim.secret_key == old  # not yet
    with raw_client(sim) as http:
        statuses = [http.get("/menus").status_code for _ in range(3)]
    assert statuses == [200, 200, 401]
    assert sim.secret_key == new
    assert sim.env()["KLIKIT_SECRET_KEY"] == new
    assert sim.env()["KLIKIT_PARTNER_KEY"] == sim.partner_key


def test_calls_record_what_was_sent_and_answered(sim, client):
    sim.inject("publishMenu", "connect_error")
    reply = write(client, "publishMenu", idempotency_key="rec-1")
    refused, answered = sim.calls
    assert (refused.step, refused.status, refused.error) == ("connect_error", None, "ConnectError")
    assert (answered.step, answered.status, answered.error) == ("real", 200, None)
    assert answered.request_id == reply.request_id
    assert answered.idempotency_key == "rec-1"
    assert answered.json() == {"stores": [{"brandID": 663, "branchID": 1062}], "providerIDs": [1]}
    assert "authorization" not in repr(answered)
    assert sim.calls_to("publishMenu") == sim.calls
    assert sim.writes == 1


def test_sleep_moves_only_the_simulators_clock(sim):
    start = sim.clock.now()
    sim.sleep(2.5)
    sim.sleep(0.5)
    assert sim.slept == [2.5, 0.5]
    assert sim.clock.now() == start + 3.0


def test_stop_abandons_a_held_write_and_frees_its_key():
    sim = Simulator().start()
    sim.hold_in_flight("*")
    outcome: list[object] = []

    def first_caller() -> None:
        with make_client(sim) as client:
            try:
                outcome.append(write(client, "publishMenu", idempotency_key="held-1"))
            except KlikitError as exc:  # handed to the test thread
                outcome.append(exc)

    worker = threading.Thread(target=first_caller)
    worker.start()
    sim.wait_until_held()
    assert sim.held and sim.writes == 0
    sim.stop()
    worker.join(timeout=5)

    # the held attempt timed out; its retry found the key free and executed once
    (reply,) = outcome
    assert not isinstance(reply, KlikitError), reply
    assert [c.error or c.status for c in sim.calls] == ["ReadTimeout", 200]
    assert sim.writes == 1
    assert not sim.held


def test_stopping_is_safe_started_or_not(sim, client):
    sim.stop()
    write(client, "publishMenu")  # the transport still answers
    sim.start()
    sim.start()  # starting twice is harmless
    write(client, "publishMenu")
    sim.stop()
    write(client, "publishMenu")
    assert sim.writes == 3
