"""The transport variants over a real loopback socket: what a client on the wire sees."""

from __future__ import annotations

import base64
import socket
import time
from collections.abc import Iterator
from email.utils import parsedate_to_datetime

import httpx
import pytest

from klikit_harness.core import variants as v
from klikit_harness.core.variants import VariantSet
from klikit_harness.standin.sandbox import RunningSandbox, serve_in_thread
from tests.support.standin import MAIN

AUTH = "Basic " + base64.b64encode(f"{MAIN[0]}:{MAIN[1]}".encode()).decode()


@pytest.fixture
def served(request) -> Iterator[RunningSandbox]:
    with serve_in_thread(variants=VariantSet(request.param)) as sandbox:
        yield sandbox


def raw_get(sandbox: RunningSandbox, *, accept: str = "identity", timeout: float = 3.0) -> tuple[bytes, bool]:
    """(the bytes of one GET /menus on a kept-alive connection, whether the server closed it after)."""
    with socket.create_connection((sandbox.host, sandbox.port), timeout=timeout) as sock:
        sock.sendall(
            f"GET {sandbox.base_url.split(str(sandbox.port), 1)[1]}/menus HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: {AUTH}\r\nAccept-Encoding: {accept}\r\nConnection: keep-alive\r\n\r\n".encode()
        )
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(
            next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
        )
        while len(body) < length:
            body += sock.recv(65536)
        sock.settimeout(0.5)
        try:
            closed = sock.recv(1) == b""
        except TimeoutError:
            closed = False
        return head + b"\r\n\r\n" + body, closed


@pytest.mark.behaviour("transport.plain-responses")
@pytest.mark.parametrize("served", [()], indirect=True)
def test_the_reference_answers_plainly_on_a_kept_alive_connection(served):
    answer, closed = raw_get(served, accept="gzip")
    assert not closed
    assert b"content-encoding" not in answer.lower()
    with httpx.Client(headers={"Authorization": AUTH}) as client:
        date = parsedate_to_datetime(client.get(f"{served.base_url}/menus").headers["date"]).timestamp()
    assert abs(date - time.time()) < 2


@pytest.mark.parametrize("served", [(v.GZIP,)], indirect=True)
def test_gzip_encodes_answers_for_clients_that_accept_it(served):
    answer, _ = raw_get(served, accept="gzip, deflate")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"content-encoding: gzip" in head.lower() and body[:2] == b"\x1f\x8b"
    plain, _ = raw_get(served, accept="identity")
    assert b"content-encoding" not in plain.lower()
    with httpx.Client(headers={"Authorization": AUTH}) as client:
        r = client.get(f"{served.base_url}/menus")
    assert r.headers["content-encoding"] == "gzip" and r.json()["data"]["menu"]["sections"]


@pytest.mark.parametrize("served", [(v.CONNECTION_CLOSE,)], indirect=True)
def test_connection_close_closes_after_every_answer(served):
    answer, closed = raw_get(served)
    assert b"connection: close" in answer.lower()
    assert closed


@pytest.mark.parametrize("served", [(v.CLOCK_SKEW,)], indirect=True)
def test_clock_skew_dates_answers_ahead_of_the_harness(served):
    with httpx.Client(headers={"Authorization": AUTH}) as client:
        date = parsedate_to_datetime(client.get(f"{served.base_url}/menus").headers["date"]).timestamp()
    assert abs(date - time.time() - v.CLOCK_SKEW_S) < 2


@pytest.mark.parametrize("served", [(v.LATENCY,)], indirect=True)
def test_latency_delays_every_answer(served):
    with httpx.Client(headers={"Authorization": AUTH}) as client:
        client.get(f"{served.base_url}/menus")  # connect first
        started = time.perf_counter()
        for _ in range(3):
            assert client.get(f"{served.base_url}/menus").status_code == 200
        assert (time.perf_counter() - started) / 3 >= v.LATENCY_S
