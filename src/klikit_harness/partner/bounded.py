"""Reading an answer within bounds: the one rule for how much of a target's answer the harness reads, and for how long.

Owns: ``Bounds`` (body size after decoding, connect and read timeouts, the
whole-answer deadline); ``BoundedTransport``, the httpx transport every httpx
user of the harness sends through (the contract suite's client, the reference
client, doctor, reproductions, the fuzz hooks' own client); ``read_requests``,
the same reading for a ``requests`` response (the fuzz suite's session); and
``broken``, why an answer is not whole — cut at the size bound, broken off
mid-body, not decodable, or a redirect that was not followed — as
``HttpExchange`` reads it for the envelope rule that reports it.

A body is read at most ``max_body_bytes`` past its ``Content-Encoding`` (gzip
and deflate are decoded here, a chunk at a time, never past the bound, so a
compression bomb stops at the same bound); the rest is never read and the
connection is closed. The header section is bounded by the HTTP parsers
(httpx: 100 KiB in all; requests: 64 KiB a line, 100 lines): past it the
answer is not HTTP and the client raises its protocol error. Every read of the
socket waits at most ``read_timeout``; the whole answer, headers included,
at most ``answer_timeout`` (a target that drips a byte a second never reaches
the read timeout). Redirects are never followed: the clients are built with
redirects off and this module never follows one.

Must not: judge an answer (``envelope`` does), know the guard's hosts
(``checking.safety`` names a forbidden redirect), or keep more of a body than
the bound.
"""

from __future__ import annotations

import contextlib
import threading
import time
import weakref
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import h11
import httpcore
import httpx

__all__ = [
    "BROKEN",
    "DEFAULT_ANSWER_TIMEOUT",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_READ_TIMEOUT",
    "BoundedTransport",
    "Bounds",
    "broken",
    "mark_broken",
    "read_requests",
    "unreadable",
]

DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 30.0
DEFAULT_ANSWER_TIMEOUT = 60.0
#: the extension of an ``httpx.Response`` (and the key of a requests one) saying why the answer is not whole
BROKEN = "klikit_broken"
_CHUNK = 64 * 1024
_DECODED = frozenset({"gzip", "x-gzip", "deflate"})


@dataclass(frozen=True)
class Bounds:
    """How much of an answer is read, and how long it may take (``checking.config`` fills it from KLIKIT_*)."""

    #: bytes of body kept, after decoding; the rest is never read (KLIKIT_MAX_BODY_BYTES)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    #: seconds to open a connection (KLIKIT_CONNECT_TIMEOUT)
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    #: seconds any one read of the socket may wait (KLIKIT_READ_TIMEOUT)
    read_timeout: float = DEFAULT_READ_TIMEOUT
    #: seconds the whole answer (status line to last byte) may take (KLIKIT_ANSWER_TIMEOUT)
    answer_timeout: float = DEFAULT_ANSWER_TIMEOUT

    def __post_init__(self) -> None:
        if self.max_body_bytes < 1:
            raise ValueError("max_body_bytes must be at least 1 (KLIKIT_MAX_BODY_BYTES)")
        for name in ("connect_timeout", "read_timeout", "answer_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0 seconds (KLIKIT_{name.upper()})")

    def httpx_timeout(self) -> httpx.Timeout:
        """The per-operation timeouts of an ``httpx.Client`` (the whole-answer one is the transport's)."""
        return httpx.Timeout(self.read_timeout, connect=self.connect_timeout)

    def requests_timeout(self) -> tuple[float, float]:
        return (self.connect_timeout, self.read_timeout)

    def cut_reason(self) -> str:
        return (
            f"the body passed the {_size(self.max_body_bytes)} bound and was cut there, the rest unread "
            "(KLIKIT_MAX_BODY_BYTES)"
        )

    def timed_out(self, exc: BaseException) -> str:
        """What timed out, naming the variable that sets it (for an error or a report line)."""
        text = str(exc)
        if "KLIKIT_" in text:  # the whole-answer deadline names itself
            return text
        if isinstance(exc, httpx.ConnectTimeout):
            return f"no connection within {self.connect_timeout:g} s (KLIKIT_CONNECT_TIMEOUT)"
        if isinstance(exc, httpx.ReadTimeout | TimeoutError):
            return f"no byte of answer within {self.read_timeout:g} s (KLIKIT_READ_TIMEOUT)"
        return f"{type(exc).__name__}: {text}"

    def late_reason(self) -> str:
        return f"the whole answer took longer than {self.answer_timeout:g} s and was cut (KLIKIT_ANSWER_TIMEOUT)"


def _size(n: int) -> str:
    if n % (1024 * 1024) == 0:
        return f"{n // (1024 * 1024)} MiB"
    if n % 1024 == 0:
        return f"{n // 1024} KiB"
    return f"{n} bytes"


# ------------------------------------------------------------ broken answers

#: why a requests answer is not whole, by its request (Schemathesis copies the answer but keeps the request)
_BROKEN_REQUESTS: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def mark_broken(response: Any, reason: str, *, first: bool = True) -> None:
    """Record why ``response`` (httpx or requests-style) is not the whole answer; with ``first`` an earlier
    reason stays, otherwise ``reason`` replaces it (a redirect's note names more than its cut body)."""
    if isinstance(response, httpx.Response):
        if first and BROKEN in response.extensions:
            return
        response.extensions[BROKEN] = reason
        return
    request = getattr(response, "request", None)
    if request is not None and (not first or request not in _BROKEN_REQUESTS):
        _BROKEN_REQUESTS[request] = reason


def broken(response: Any) -> str | None:
    """Why ``response`` is not the whole answer — cut, broken off, a redirect not followed — or None."""
    if isinstance(response, httpx.Response):
        reason = response.extensions.get(BROKEN)
        return reason if isinstance(reason, str) else None
    request = getattr(response, "request", None)
    if request is None:
        return None
    try:
        return _BROKEN_REQUESTS.get(request)
    except TypeError:  # an unhashable request-like object: nothing was recorded for it
        return None


def unreadable(exc: BaseException) -> str | None:
    """Why ``exc`` means the target answered something that is not HTTP (a header section over the parser's
    bound, a malformed status or header line), or None for a transport trouble (refused, reset, closed before
    any answer: those stay the transport's errors)."""
    import http.client

    if isinstance(exc, httpx.RemoteProtocolError):
        # only the HTTP parser's own verdict (h11, below httpcore) says "not HTTP"; a connection closed before
        # or during the answer is raised by httpcore itself and stays a transport trouble
        if "peer closed connection" in str(exc):  # h11's word for a body broken off: the connection was lost
            return None
        chain: list[BaseException] = []
        cause: BaseException | None = exc
        while cause is not None and not any(cause is seen for seen in chain):  # a context chain may loop
            if isinstance(cause, h11.RemoteProtocolError):
                return f"the answer is not valid HTTP ({str(exc)[:200]})"
            chain.append(cause)
            cause = cause.__cause__ or cause.__context__
        return None
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:  # requests wraps urllib3 wraps http.client
        seen.add(id(current))
        for inner in current.args:
            if isinstance(inner, http.client.HTTPException) and not isinstance(inner, http.client.RemoteDisconnected):
                return f"the answer is not valid HTTP ({type(inner).__name__}: {str(inner)[:200]})"
        current = next((a for a in current.args if isinstance(a, BaseException)), None) or current.__cause__
    return None


# ------------------------------------------------------------------ decoding


class _Decoder:
    """gzip / deflate / identity, decoded a chunk at a time and never past ``limit`` bytes."""

    def __init__(self, encoding: str, limit: int) -> None:
        self.encoding = encoding
        self.limit = limit
        self.size = 0
        self.over = False
        self._raw_deflate = False
        self._z: Any = None
        if encoding in {"gzip", "x-gzip"}:
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._z = zlib.decompressobj()

    def feed(self, data: bytes) -> bytes:
        """Decoded bytes of ``data``, at most up to the limit (``over`` is set when more would come)."""
        if self._z is None:
            room = self.limit - self.size
            out = data[:room]
            self.over = len(data) > room
            self.size += len(out)
            return out
        pieces: list[bytes] = []
        while data and not self.over:
            room = self.limit - self.size
            try:
                piece = self._z.decompress(data, room + 1)
            except zlib.error:
                if self.encoding != "deflate" or self._raw_deflate or self.size:
                    raise
                # a deflate body without the zlib header (what some servers send): raw deflate
                self._raw_deflate = True
                self._z = zlib.decompressobj(-zlib.MAX_WBITS)
                continue
            if len(piece) > room:
                piece, self.over = piece[:room], True
            pieces.append(piece)
            self.size += len(piece)
            data = self._z.unconsumed_tail
        return b"".join(pieces)


def _encodings(value: str) -> list[str]:
    return [part.strip().lower() for part in value.split(",") if part.strip() and part.strip().lower() != "identity"]


# ------------------------------------------------------------------ httpx


_deadline = threading.local()


class _DeadlineStream(httpcore.NetworkStream):
    """A socket whose every read also stops at the whole-answer deadline of the request being answered."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        until: float | None = getattr(_deadline, "until", None)
        if until is None:
            return self._inner.read(max_bytes, timeout)
        left = until - time.monotonic()
        if left <= 0:
            raise httpcore.ReadTimeout(_deadline.reason)
        try:
            return self._inner.read(max_bytes, left if timeout is None else min(timeout, left))
        except httpcore.ReadTimeout:
            if time.monotonic() >= until:
                raise httpcore.ReadTimeout(_deadline.reason) from None
            raise

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.start_tls(*args, **kwargs))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.connect_tcp(*args, **kwargs))

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.connect_unix_socket(*args, **kwargs))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


@contextlib.contextmanager
def _answer_deadline(seconds: float, reason: str) -> Iterator[float]:
    until = time.monotonic() + seconds
    previous = getattr(_deadline, "until", None), getattr(_deadline, "reason", "")
    _deadline.until, _deadline.reason = until, reason
    try:
        yield until
    finally:
        _deadline.until, _deadline.reason = previous


class BoundedTransport(httpx.BaseTransport):
    """An httpx transport that reads every answer within ``bounds``; wraps ``inner`` (default: HTTP over sockets).

    The answer it returns is whole in memory (at most ``max_body_bytes`` of
    body, decoded: its ``Content-Encoding`` header is dropped) and carries
    ``broken`` when it was cut: past the size bound, past the whole-answer
    deadline, broken off mid-body (a reset, a ``Content-Length`` that lied),
    or not decodable. A failure before the status line and headers arrive is
    the transport's error, as without this wrapper: ``httpx.ConnectTimeout``,
    ``httpx.ReadTimeout`` (naming ``KLIKIT_ANSWER_TIMEOUT`` when the whole
    answer was too slow), ``httpx.RemoteProtocolError`` (not HTTP, or a header
    section over the parser's bound).
    """

    def __init__(
        self, inner: httpx.BaseTransport | None = None, *, bounds: Bounds | None = None, raise_broken_off: bool = False
    ) -> None:
        self.bounds = bounds or Bounds()
        #: re-raise a transport error met mid-body (the reference client's ``ConnectionLost``) instead of cutting
        self.raise_broken_off = raise_broken_off
        if inner is None:
            inner = httpx.HTTPTransport()
            # httpx builds its connection pool without a way to pass a network backend: set it on the pool, so
            # every read of every socket also stops at the request's whole-answer deadline
            pool: Any = inner._pool
            pool._network_backend = _DeadlineBackend(pool._network_backend)
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        bounds = self.bounds
        where = f"{request.method} {request.url.path}"
        with _answer_deadline(
            bounds.answer_timeout,
            f"no whole answer to {where} within {bounds.answer_timeout:g} s (KLIKIT_ANSWER_TIMEOUT)",
        ) as until:
            response = self.inner.handle_request(request)
            try:
                return self._read(request, response, until)
            finally:
                response.close()

    def _read(self, request: httpx.Request, response: httpx.Response, until: float) -> httpx.Response:
        headers = httpx.Headers(response.headers)
        encodings = _encodings(headers.get("content-encoding", ""))
        decoding = len(encodings) == 1 and encodings[0] in _DECODED
        decoder = _Decoder(encodings[0] if decoding else "identity", self.bounds.max_body_bytes)
        body, reason = _read_chunks(_raw(response), decoder, self.bounds, until, reraise=self.raise_broken_off)
        if decoding:
            del headers["content-encoding"]  # decoded here: httpx must not decode it again
        extensions = dict(response.extensions)
        if reason is not None:
            extensions[BROKEN] = reason
        return httpx.Response(
            response.status_code, headers=headers, content=body, extensions=extensions, request=request
        )

    def close(self) -> None:
        self.inner.close()


def _raw(response: httpx.Response) -> Iterator[bytes]:
    stream: Any = response.stream
    yield from stream


def _read_chunks(
    chunks: Iterable[bytes], decoder: _Decoder, bounds: Bounds, until: float, *, reraise: bool = False
) -> tuple[bytes, str | None]:
    """The body read from ``chunks`` through ``decoder``, and why it was cut (None: it is whole)."""
    kept: list[bytes] = []
    raw = 0
    try:
        for chunk in chunks:
            raw += len(chunk)
            kept.append(decoder.feed(chunk))
            if decoder.over or raw > bounds.max_body_bytes:
                return b"".join(kept), bounds.cut_reason()
            if time.monotonic() >= until:
                return b"".join(kept), bounds.late_reason()
    except zlib.error as exc:
        return b"".join(kept), f"the body is not valid {decoder.encoding} ({exc}), as its Content-Encoding says"
    except (httpx.TransportError, OSError) as exc:
        if reraise:
            raise
        return b"".join(kept), _broken_off(exc, raw, bounds)
    return b"".join(kept), None


def _broken_off(exc: BaseException, raw: int, bounds: Bounds) -> str:
    """Why a body read stopped at a transport error, after ``raw`` bytes."""
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return f"the body stopped after {raw} bytes: {bounds.timed_out(exc)}"
    return f"the connection broke after {raw} bytes of body: {type(exc).__name__}: {exc}"


# ------------------------------------------------------------------ requests


def read_requests(response: Any, bounds: Bounds) -> None:
    """Read a ``requests.Response`` sent with ``stream=True`` within ``bounds``; its ``content`` is then set.

    urllib3 decodes ``Content-Encoding`` a chunk at a time; the kept body stops
    at ``max_body_bytes`` decoded, and ``broken(response)`` says why it was cut.
    """
    import requests
    import urllib3.exceptions as u3

    until = time.monotonic() + bounds.answer_timeout
    decoder = _Decoder("identity", bounds.max_body_bytes)  # urllib3 decodes; this only counts
    decoder.encoding = response.headers.get("content-encoding", "identity")
    raw = response.raw

    def chunks() -> Iterator[bytes]:
        try:
            while True:
                chunk = raw.read1(_CHUNK, decode_content=True)  # what has arrived: a drip meets the deadline
                if not chunk:
                    return
                yield chunk
        except u3.DecodeError as exc:
            raise zlib.error(str(exc)) from exc
        except u3.ReadTimeoutError as exc:
            raise TimeoutError(str(exc)) from exc
        except (u3.HTTPError, requests.RequestException) as exc:
            raise OSError(f"{type(exc).__name__}: {exc}") from exc

    body, reason = _read_chunks(chunks(), decoder, bounds, until)
    response._content = body
    response._content_consumed = True
    if reason is not None:
        mark_broken(response, reason)
        response.close()  # the rest is never read
