"""No secret in any exception, repr or log line — even when the server echoes it back."""

from __future__ import annotations

import base64
import logging
import traceback

import httpx
import pytest

from klikit_harness.partner import errors
from klikit_harness.partner.errors import KlikitError
from klikit_harness.standin.simulator import FaultContext, fault
from klikit_harness.suites.chaos.world import CATALOGUE, POLICY, TRANSPORT_OUTCOME, make_client, write

ECHO_ERRORS = {
    "connect": httpx.ConnectError,
    "read_timeout": httpx.ReadTimeout,
    "read": httpx.ReadError,
    "protocol": httpx.RemoteProtocolError,
    "pool_timeout": httpx.PoolTimeout,
    "unsupported": httpx.UnsupportedProtocol,
}


@fault("echo_transport_error", reaches_core=False, options=("error",))
def _echo_transport_error(ctx: FaultContext) -> httpx.Response:
    """A transport error whose message quotes the request's Authorization header."""
    cls = ECHO_ERRORS[ctx.options["error"]]
    raise cls(f"failed for {ctx.request.headers['authorization']}", request=ctx.request)


def leaf_classes() -> set[type[KlikitError]]:
    found: set[type[KlikitError]] = set()
    pending: list[type[KlikitError]] = [KlikitError]
    while pending:
        cls = pending.pop()
        subclasses = cls.__subclasses__()
        if not subclasses:
            found.add(cls)
        pending.extend(subclasses)
    return {cls for cls in found if cls.__module__ == errors.__name__}


def secrets_of(sim) -> list[str]:
    token = base64.b64encode(f"{sim.partner_key}:{sim.secret_key}".encode()).decode()
    return [sim.secret_key, token]


def assert_clean(text: str, needles: list[str]) -> None:
    for needle in needles:
        assert needle not in text, f"a secret leaked into: {text[:300]!r}"


@pytest.mark.behaviour("client.secrets-never-leak")
def test_every_exception_type_keeps_echoed_secrets_out(sim, caplog):
    caplog.set_level(logging.DEBUG, logger="klikit_harness")
    needles = secrets_of(sim)
    echo = f"you sent {needles[0]} as Basic {needles[1]}"
    raised: dict[type[KlikitError], KlikitError] = {}

    def provoke(step, times: int = POLICY.max_attempts) -> None:
        sim.script("publishMenu", [step] * times)
        with make_client(sim) as client:
            try:
                write(client, "publishMenu")
            except KlikitError as exc:
                raised.setdefault(type(exc), exc)
                assert_clean(str(exc), needles)
                assert_clean(repr(exc), needles)
                assert_clean(repr(exc.details), needles)
                assert_clean("".join(traceback.format_exception(exc)), needles)
                if isinstance(exc, errors.ContractViolation):
                    assert_clean(exc.body_excerpt, needles)
        sim.clear("publishMenu")  # a non-retryable step leaves the rest unconsumed

    for code in [*CATALOGUE.reference, *CATALOGUE.concepts]:
        provoke((code, {"message": echo, "details": {"echo": echo, "nested": [echo]}}))
    for name in TRANSPORT_OUTCOME:
        provoke(name)
    for error in ECHO_ERRORS:
        provoke(("echo_transport_error", {"error": error}))
    provoke(("raw", {"status": 502, "body": f"<html>{echo}</html>", "content_type": "text/html"}))
    provoke(("raw", {"status": 200, "body": {"request_id": "r", "data": None, "error": echo}}))

    assert leaf_classes() <= set(raised), sorted(c.__name__ for c in leaf_classes() - set(raised))
    assert_clean(caplog.text, needles)
    assert "retrying" in caplog.text  # the retries were logged, just not the secret


@pytest.mark.behaviour("client.secrets-never-leak")
def test_the_client_and_its_answers_never_show_the_secret(sim):
    needles = secrets_of(sim)
    with make_client(sim) as client:
        reply = write(client, "publishMenu")
        for text in (repr(client), str(client), repr(reply), repr(vars(client)), repr(sim), repr(sim.calls)):
            assert_clean(text, needles)
        assert "secret_key=***" in repr(client)


@pytest.mark.behaviour("client.secrets-never-leak", "client.secret-rotation-recovery")
def test_old_and_new_secrets_stay_hidden_across_a_rotation(sim, caplog):
    caplog.set_level(logging.DEBUG, logger="klikit_harness")
    old = secrets_of(sim)
    with make_client(sim, credentials_provider=lambda: (sim.partner_key, sim.secret_key)) as client:
        sim.rotate_secret()
        write(client, "publishMenu")
        new = secrets_of(sim)
        sim.script("publishMenu", [("internal", {"message": f"{old[0]} {new[0]} {old[1]} {new[1]}"})] * 5)
        with pytest.raises(errors.InternalServerError) as raised:
            write(client, "publishMenu")
        assert_clean(repr(vars(client)), old + new)
    assert_clean(str(raised.value), old + new)
    assert_clean(caplog.text, old + new)
