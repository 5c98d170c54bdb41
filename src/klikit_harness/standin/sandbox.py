"""The embedded stand-in: the domain core served over ASGI (Starlette + uvicorn).

Owns: turning ASGI requests into ``ApiRequest`` (with a hard 1 MiB body cap),
answering ``ApiResponse``, the optional write delay that makes "in flight"
observable, and running the app on a loopback socket — in a background thread
(tests, ``klikit-harness run``) or in the foreground (``klikit-harness sandbox``).
Must not: decide any contract behaviour; ``core.service`` does.

Why Starlette: the routing and every rule live in the transport-neutral core
(the respx simulator must route identically), so the web layer only needs
request/body streaming and responses — Starlette's primitives do that with
almost no overhead, and uvicorn serves it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gzip
import logging
import socket
import threading
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

import uvicorn
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ..contract import Reading
from ..contract.limits import BASE_PATH, MAX_BODY_BYTES
from ..core import variants as v
from ..core.build import build_service
from ..core.clock import Clock
from ..core.defects import DefectSet
from ..core.errors import ServiceError
from ..core.seed import Seed, load
from ..core.service import ApiRequest, ApiResponse, InFlight, Prepared, Service
from ..core.variants import IN_FLIGHT_WAITS, VariantSet

log = logging.getLogger("klikit_harness.standin.sandbox")

#: how long a duplicate waits for its in-flight first request (in-flight-waits variant)
IN_FLIGHT_WAIT_S = 30.0
_IN_FLIGHT_POLL_S = 0.005


class SandboxApp:
    """An ASGI app over one ``Service``."""

    def __init__(self, service: Service, *, write_delay: float = 0.0) -> None:
        self.service = service
        self.write_delay = write_delay
        if service.variants.on(v.CLOCK_SKEW) and not isinstance(service.clock, AheadClock):
            # a transport variant: the server this adapter fronts keeps its own time
            service.clock = AheadClock(service.clock, v.CLOCK_SKEW_S)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":  # pragma: no cover - websockets are not served
            return
        request = Request(scope, receive)
        api_request = await self._read(request)
        response = await self._answer(api_request)
        headers, body = self._transport(api_request, dict(response.headers), response.body)
        await Response(body, status_code=response.status, headers=headers)(scope, receive, send)

    def _transport(self, request: ApiRequest, headers: dict[str, str], body: bytes) -> tuple[dict[str, str], bytes]:
        """The answer as the transport variants send it; the Date header always follows the service's clock."""
        variants = self.service.variants
        headers["date"] = formatdate(self.service.clock.now(), usegmt=True)
        if variants.on(v.GZIP) and body and _accepts_gzip(request.header("accept-encoding")):
            body = gzip.compress(body, mtime=0)
            headers["content-encoding"] = "gzip"
            headers["vary"] = "accept-encoding"
        if variants.on(v.CONNECTION_CLOSE):
            headers["connection"] = "close"
        return headers, body

    async def _read(self, request: Request) -> ApiRequest:
        headers = {k.lower(): v for k, v in request.headers.items()}
        too_large = False
        chunks: list[bytes] = []
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            too_large = True
        else:
            size = 0
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    too_large = True
                    break
                chunks.append(chunk)
        return ApiRequest(
            method=request.method,
            path=request.url.path,
            query=request.query_params.multi_items(),
            headers=headers,
            body=b"" if too_large else b"".join(chunks),
            body_too_large=too_large,
        )

    async def _answer(self, api_request: ApiRequest) -> ApiResponse:
        if self.service.variants.on(v.LATENCY):
            await asyncio.sleep(v.LATENCY_S)
        try:
            prepared = self.service.prepare(api_request)
            if isinstance(prepared, InFlight) and self.service.variants.on(IN_FLIGHT_WAITS):
                prepared = await self._wait_in_flight(api_request, prepared)
            if isinstance(prepared, ApiResponse):
                return prepared
            if self.write_delay and prepared.operation.is_write:
                try:
                    await asyncio.sleep(self.write_delay)
                except asyncio.CancelledError:
                    self.service.abandon(prepared)
                    raise
            return self.service.execute(prepared)
        except Exception:  # a bug in the stand-in: answer like a real server would
            log.error("unhandled error\n%s", traceback.format_exc())
            return self.service.error_response(
                ServiceError("internal", "unexpected stand-in failure"), f"req_{uuid.uuid4()}"
            )

    async def _wait_in_flight(self, api_request: ApiRequest, answer: InFlight) -> Prepared | ApiResponse:
        """Prepare a duplicate again until its first request has finished (then it replays)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + IN_FLIGHT_WAIT_S
        prepared: Prepared | ApiResponse = answer
        while isinstance(prepared, InFlight) and loop.time() < deadline:
            await asyncio.sleep(_IN_FLIGHT_POLL_S)
            prepared = self.service.prepare(api_request)
        return prepared


class AheadClock:
    """A clock ``ahead`` seconds ahead of another (the clock-skew variant)."""

    def __init__(self, base: Clock, ahead: float) -> None:
        self.base = base
        self.ahead = ahead

    def now(self) -> float:
        return self.base.now() + self.ahead


def _accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether an Accept-Encoding value accepts gzip (``gzip;q=0`` refuses it)."""
    for part in (accept_encoding or "").split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in {"gzip", "*"}:
            q = params.strip().removeprefix("q=").strip() if params.strip().startswith("q=") else "1"
            try:
                return float(q) > 0
            except ValueError:
                return True
    return False


class PortInUse(OSError):
    pass


def bind(host: str, port: int) -> socket.socket:
    """A listening socket; ``PortInUse`` says which address is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted connections only for
    # such sockets, and without it every kept-alive request waits ~40 ms (Nagle + delayed ACK).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(f"port {port} on {host} is already in use; pass --port with a free port (or 0)") from None
        raise
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _config(app: SandboxApp, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        # the app dates its answers by the service's clock (the clock-skew variant moves it)
        date_header=False,
        lifespan="on",
        timeout_graceful_shutdown=1,
    )


@dataclass
class RunningSandbox:
    """A stand-in serving on a loopback port in a background thread."""

    service: Service
    seed: Seed
    host: str
    port: int

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}{BASE_PATH}"

    def env(self) -> dict[str, str]:
        return self.seed.env(self.base_url)


@contextlib.contextmanager
def serve_in_thread(
    seed: Seed | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    reading: Reading = "reference",
    defects: DefectSet | None = None,
    write_delay: float = 0.0,
    service: Service | None = None,
    variants: VariantSet | None = None,
) -> Iterator[RunningSandbox]:
    """Serve a stand-in for the duration of a ``with`` block; always stopped after."""
    seed = seed or load()
    service = service or build_service(seed, reading=reading, defects=defects, variants=variants)
    sock = bind(host, port)
    actual_port = sock.getsockname()[1]
    server = uvicorn.Server(_config(SandboxApp(service, write_delay=write_delay), host, actual_port))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="klikit-sandbox", daemon=True)
    thread.start()
    try:
        for _ in range(500):
            if server.started:
                break
            if not thread.is_alive():
                raise RuntimeError("the stand-in stopped while starting; see the log above")
            threading.Event().wait(0.01)
        else:
            raise RuntimeError("the stand-in did not start within 5 s")
        yield RunningSandbox(service, seed, host, actual_port)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def serve_forever(app: SandboxApp, sock: socket.socket) -> None:
    """Serve in the foreground until Ctrl-C (uvicorn handles the signals)."""
    host, port = sock.getsockname()[:2]
    server = uvicorn.Server(_config(app, host, port))
    server.run(sockets=[sock])


def write_env_file(path: Path, env: dict[str, str]) -> None:
    """Write the KLIKIT_* block, readable by its owner only (it holds secrets)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(f"{k}={v}\n" for k, v in env.items())
    fd = path.open("w", encoding="utf-8")
    with fd:
        path.chmod(0o600)
        fd.write(text)
