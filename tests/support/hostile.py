"""A misbehaving HTTP server of the project's own: a raw asyncio socket server on 127.0.0.1 with named behaviours.

Each behaviour is what a broken staging environment does (a gateway that
redirects, a proxy answering HTML, a crashed pod dripping bytes or never
answering, a debug endpoint streaming without end). The first path segment
picks it: ``http://127.0.0.1:PORT/<behaviour>/v1/partner/menus`` is answered
the ``<behaviour>`` way, so a target's base URL is
``server.url("<behaviour>")``. ``hostile_server`` (a session fixture) starts
one server in a thread of its own and stops it at the end; ``HostileServer``
works as a context manager outside pytest (the benchmark uses it).

Bytes are written by hand on purpose: no HTTP library would send a lying
Content-Length, a malformed header line or a reset mid-body.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import threading
import zlib
from collections.abc import Awaitable, Callable, Iterator

import pytest

Writer = asyncio.StreamWriter
Behaviour = Callable[[Writer, str], Awaitable[None]]

#: the production host a hostile gateway may redirect to (the guard forbids it)
PRODUCTION = "https://gateway-enterprise.klikit.io/v1/partner/menus"
ENVELOPE = json.dumps({"request_id": "req-hostile-1", "data": {"menu": {"sections": []}}}).encode()
#: how long a dripping answer waits between two bytes
DRIP_SECONDS = 0.2
#: bytes a compression bomb decodes to (its compressed size is about a thousandth of it)
BOMB_BYTES = 64 * 1024 * 1024
#: bytes of one chunk of an endless answer
CHUNK = 64 * 1024

_bombs: dict[str, bytes] = {}


def bomb(encoding: str) -> bytes:
    """``BOMB_BYTES`` of spaces, compressed as ``gzip`` or ``deflate`` (made once)."""
    if encoding not in _bombs:
        wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
        packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
        block = b" " * (1024 * 1024)
        _bombs[encoding] = b"".join(packer.compress(block) for _ in range(BOMB_BYTES // len(block))) + packer.flush()
    return _bombs[encoding]


def head(status: str, *headers: str, version: str = "HTTP/1.1") -> bytes:
    return (f"{version} {status}\r\n" + "".join(f"{h}\r\n" for h in headers) + "\r\n").encode("latin-1")


async def _send(writer: Writer, data: bytes) -> None:
    writer.write(data)
    await writer.drain()


def _answer(status: str, body: bytes, content_type: str = "application/json", *extra: str) -> Behaviour:
    async def answer(writer: Writer, request: str) -> None:
        headers = [f"Content-Type: {content_type}", f"Content-Length: {len(body)}", "Connection: close", *extra]
        await _send(writer, head(status, *headers) + body)

    return answer


def _redirect(status: str, location: str) -> Behaviour:
    page = b"<html><body>Moved</body></html>"
    return _answer(status, page, "text/html", f"Location: {location}")


async def _endless(writer: Writer, request: str) -> None:
    await _send(writer, head("200 OK", "Content-Type: application/json", "Transfer-Encoding: chunked"))
    chunk = f"{CHUNK:x}\r\n".encode() + b"[" * CHUNK + b"\r\n"
    while True:
        await _send(writer, chunk)


async def _gigabyte(writer: Writer, request: str) -> None:
    """1 GiB announced with Content-Length and streamed (the memory benchmark's answer)."""
    size = 1024**3
    await _send(writer, head("200 OK", "Content-Type: application/json", f"Content-Length: {size}"))
    block = b" " * CHUNK
    for _ in range(size // CHUNK):
        await _send(writer, block)


def _bomb(encoding: str) -> Behaviour:
    async def answer(writer: Writer, request: str) -> None:
        body = bomb(encoding)
        headers = ["Content-Type: application/json", f"Content-Encoding: {encoding}", f"Content-Length: {len(body)}"]
        await _send(writer, head("200 OK", *headers) + body)

    return answer


async def _huge_headers(writer: Writer, request: str) -> None:
    lines = [f"X-Filler-{n}: {'x' * 100}" for n in range(20_000)]  # about 2 MiB of header section
    await _send(writer, head("200 OK", "Content-Type: application/json", *lines, f"Content-Length: {len(ENVELOPE)}"))
    await _send(writer, ENVELOPE)


async def _drip(writer: Writer, request: str) -> None:
    """Headers at once, then the body a byte at a time, without end (a slowloris answer)."""
    await _send(writer, head("200 OK", "Content-Type: application/json", "Content-Length: 1000000"))
    while True:
        await _send(writer, b" ")
        await asyncio.sleep(DRIP_SECONDS)


async def _drip_head(writer: Writer, request: str) -> None:
    """The status line and headers a byte at a time, without end."""
    for byte in head("200 OK", *(f"X-Slow-{n}: yes" for n in range(100_000))):
        await _send(writer, bytes([byte]))
        await asyncio.sleep(DRIP_SECONDS)


async def _never(writer: Writer, request: str) -> None:
    """Accept, read the request, never answer."""
    await asyncio.Event().wait()


async def _lying_length(writer: Writer, request: str) -> None:
    await _send(writer, head("200 OK", "Content-Type: application/json", "Content-Length: 100000") + ENVELOPE)
    writer.close()


async def _reset(writer: Writer, request: str) -> None:
    """Headers and half the body, then a TCP reset."""
    await _send(writer, head("200 OK", "Content-Type: application/json", f"Content-Length: {len(ENVELOPE)}"))
    await _send(writer, ENVELOPE[: len(ENVELOPE) // 2])
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _http10(writer: Writer, request: str) -> None:
    """An HTTP/1.0 answer without Content-Length: the body ends when the connection closes."""
    await _send(writer, head("200 OK", "Content-Type: application/json", version="HTTP/1.0") + ENVELOPE)
    writer.close()


async def _duplicate_headers(writer: Writer, request: str) -> None:
    headers = ["Content-Type: text/html", "Content-Type: application/json", f"Content-Length: {len(ENVELOPE)}"]
    await _send(writer, head("200 OK", *headers, "Connection: close") + ENVELOPE)


async def _malformed_header(writer: Writer, request: str) -> None:
    headers = ["Content-Type: application/json", "this line has no colon at all", f"Content-Length: {len(ENVELOPE)}"]
    await _send(writer, head("200 OK", *headers) + ENVELOPE)


async def _echo_malformed(writer: Writer, request: str) -> None:
    """A malformed header line that quotes the request's Authorization header (a parser error repeats it)."""
    sent = next((line for line in request.split("\r\n") if line.lower().startswith("authorization:")), "none")
    echoed = "echo " + sent.split(":", 1)[1].strip()  # no colon: not a header line
    headers = ["Content-Type: application/json", echoed, f"Content-Length: {len(ENVELOPE)}"]
    await _send(writer, head("200 OK", *headers) + ENVELOPE)


async def _not_http(writer: Writer, request: str) -> None:
    await _send(writer, b"SSH-2.0-OpenSSH_9.6\r\nProtocol mismatch.\r\n\r\n")
    writer.close()


BEHAVIOURS: dict[str, Behaviour] = {
    "ok": _answer("200 OK", ENVELOPE),
    **{
        f"redirect-{code}-{where}": _redirect(status, location)
        for code, status in (
            ("301", "301 Moved Permanently"),
            ("302", "302 Found"),
            ("307", "307 Temporary Redirect"),
            ("308", "308 Permanent Redirect"),
        )
        for where, location in (
            ("path", "/ok/v1/partner/menus"),
            ("host", "http://elsewhere.invalid/v1/partner/menus"),
            ("production", PRODUCTION),
            ("scheme", "ftp://files.invalid/menu.json"),
        )
    },
    "endless": _endless,
    "gigabyte": _gigabyte,
    "gzip-bomb": _bomb("gzip"),
    "deflate-bomb": _bomb("deflate"),
    "huge-headers": _huge_headers,
    "drip": _drip,
    "drip-head": _drip_head,
    "never": _never,
    "invalid-utf8": _answer("200 OK", b'{"request_id": "req-\xff\xfe", "data": {}}'),
    "not-json": _answer("200 OK", b"<html><body>Bad gateway</body></html>"),
    "script-html": _answer("502 Bad Gateway", b"<script>alert('owned')</script>" + b"A" * 200_000, "text/html"),
    "proxy-html": _answer("502 Bad Gateway", b"<html><body>502 Bad Gateway</body></html>", "text/html"),
    "duplicate-headers": _duplicate_headers,
    "malformed-header": _malformed_header,
    "echo-malformed": _echo_malformed,
    "lying-length": _lying_length,
    "reset": _reset,
    "http10": _http10,
    "not-http": _not_http,
}


class HostileServer:
    """The server, on its own event loop in a daemon thread; ``url(behaviour)`` is a target's base URL."""

    def __init__(self) -> None:
        self.port = 0
        self.requests: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="hostile-server", daemon=True)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def url(self, behaviour: str) -> str:
        if behaviour not in BEHAVIOURS:
            raise KeyError(f"no hostile behaviour {behaviour!r}; known: {', '.join(sorted(BEHAVIOURS))}")
        return f"http://127.0.0.1:{self.port}/{behaviour}/v1/partner"

    def __enter__(self) -> HostileServer:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the hostile server did not start within 10 s")
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stop)
        self._thread.join(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def start() -> None:
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, limit=1024 * 1024)
            self.port = self._server.sockets[0].getsockname()[1]
            self._ready.set()

        self._loop.run_until_complete(start())
        try:
            self._loop.run_forever()
        finally:
            self._loop.run_until_complete(asyncio.sleep(0.05))  # cancelled handlers close their sockets
            self._loop.close()

    def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in asyncio.all_tasks(self._loop):
            task.cancel()
        self._loop.call_later(0.2, self._loop.stop)

    async def _handle(self, reader: asyncio.StreamReader, writer: Writer) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # held until done: a pending handler is never garbage-collected mid-answer
        try:
            with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError, OSError):
                request = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                length = next(
                    (
                        int(line.split(":", 1)[1])
                        for line in request.split("\r\n")
                        if line.lower().startswith("content-length:")
                    ),
                    0,
                )
                if length:
                    await reader.readexactly(length)
                line = request.split("\r\n", 1)[0]
                self.requests.append(line)
                path = line.split(" ")[1] if line.count(" ") >= 2 else "/"
                name = path.lstrip("/").split("/", 1)[0]
                behaviour = BEHAVIOURS.get(name, _answer("404 Not Found", b'{"error": "no such behaviour"}'))
                answering = asyncio.ensure_future(behaviour(writer, request))
                hung_up = asyncio.ensure_future(reader.read())  # the client closed: stop answering
                try:
                    await asyncio.wait({answering, hung_up}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for pending in (answering, hung_up):
                        pending.cancel()
                    await asyncio.gather(answering, hung_up, return_exceptions=True)
        finally:
            writer.close()
            self._tasks.discard(task)


@pytest.fixture(scope="session")
def hostile_server() -> Iterator[HostileServer]:
    """A misbehaving server on 127.0.0.1 for the whole session: ``hostile_server.url("drip")``."""
    with HostileServer() as server:
        yield server
