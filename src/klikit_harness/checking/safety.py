"""The one place every request to a target passes before a byte is sent.

Owns: ``Guard`` — refuses writes on a read-only run (the production host),
refuses writes naming a store the harness may not write to on a real target,
paces requests under ``KLIKIT_MAX_RPS`` with a sliding window, and counts what
is sent at the moment it is sent; ``NotSent`` (the exception a refused request
raises); the adapters that put the guard in front of every transport the
harness uses (httpx event hooks, a ``requests.Session``, an ASGI wrapper); the
store-naming rules the fuzz hooks reuse to keep generated writes on allowed
stores. Must not: know the suites; decide a contract rule.

A write *names a store* when its JSON body holds an object with ``brandID``
and ``branchID`` (``stores`` / ``zoneStores`` entries, at any depth) or its
query holds ``brand_id`` and ``branch_id``, and both values are valid ids:
a number equal to a positive int32 (``663.0`` included: a lenient server reads
it as 663; in a query, digits). Anything else cannot name a real store (a
negative case: ``-1``, ``0``, ``"663"``, ``true``, a body that is not JSON)
and passes. getMenu's ``brand_id`` / ``branch_id`` are a read: never refused.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import requests

from ..contract import WRITE_METHODS
from ..contract.limits import INT32_MAX
from ..partner import bounded, envelope
from ..partner.basic import parse_basic
from .config import host_of, is_production_url

__all__ = [
    "WRITE_METHODS",
    "Blocked",
    "Guard",
    "GuardedASGI",
    "GuardedSession",
    "NotHttp",
    "NotSent",
    "Sent",
    "SlidingWindow",
    "current_test",
    "named_stores",
    "rewrite_stores",
    "valid_id",
]

StorePair = tuple[int, int]


def current_test() -> str:
    """The pytest test running now (``PYTEST_CURRENT_TEST`` without its phase), or ``(no test)``."""
    running = os.environ.get("PYTEST_CURRENT_TEST", "")
    return running.rsplit(" ", 1)[0] if running else "(no test)"


class NotSent(Exception):
    """The guard refused a request: nothing was sent. Not a contract failure: reported as "not sent (safety)"."""

    def __init__(self, reason: str, *, method: str, url: str, test: str) -> None:
        self.reason, self.method, self.url, self.test = reason, method, url, test
        path = urlsplit(url).path or url
        super().__init__(f"not sent (safety): {method} {path} in {test}: {reason}")


class NotHttp(AssertionError):
    """The target answered something that is not HTTP (``bounded.unreadable``): a failure of the answer's
    behaviour (``behaviour``), raised from the fuzz session where no answer object can carry it."""

    def __init__(self, reason: str, *, method: str, url: str) -> None:
        breach = envelope.not_http(reason)
        self.behaviour, self.title, self.documented = breach.behaviour, breach.title, breach.documented
        self.received = f"{method} {urlsplit(url).path}: {reason}"
        super().__init__(f"{self.title}\nBehaviour: {self.behaviour}\nReceived: {self.received}")


@dataclass(frozen=True)
class Blocked:
    """One request the guard refused, as the report lists it."""

    test: str
    method: str
    url: str
    reason: str


# ------------------------------------------------------------------ stores


def valid_id(value: Any, *, text: bool = False) -> int | None:
    """``value`` as a store id if a server could read it as one (a positive int32), else None.

    JSON numbers count whatever their spelling (``663.0`` is 663 to a lenient
    decoder); strings count only for query values (``text=True``), where every
    value is text. Booleans, non-integral or out-of-range numbers never count.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            return None
        number = int(value)
    elif text and isinstance(value, str):
        digits = value.strip()
        if not digits.lstrip("+").isdigit() or not digits.isascii():
            return None
        number = int(digits)
    else:
        return None
    return number if 1 <= number <= INT32_MAX else None


def _store_objects(value: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object under ``value`` that carries both ``brandID`` and ``branchID``."""
    if isinstance(value, dict):
        if "brandID" in value and "branchID" in value:
            yield value
        for item in value.values():
            yield from _store_objects(item)
    elif isinstance(value, list):
        for item in value:
            yield from _store_objects(item)


def _query_pairs(query: Mapping[str, list[str]]) -> list[StorePair]:
    brands = [b for b in (valid_id(v, text=True) for v in query.get("brand_id", [])) if b is not None]
    branches = [b for b in (valid_id(v, text=True) for v in query.get("branch_id", [])) if b is not None]
    return [(brand, branch) for brand in brands for branch in branches]


def named_stores(body: Any, query: Mapping[str, list[str]] | None = None) -> list[StorePair]:
    """The stores a request names (see the module's rule); ``body`` is parsed JSON."""
    pairs: list[StorePair] = []
    for obj in _store_objects(body):
        brand, branch = valid_id(obj["brandID"]), valid_id(obj["branchID"])
        if brand is not None and branch is not None:
            pairs.append((brand, branch))
    return pairs + _query_pairs(query or {})


def rewrite_stores(value: Any, pick: Callable[[], Mapping[str, int]]) -> Any:
    """``value`` with every store it names replaced by ``pick()``'s, in place; returns ``value``.

    Only a pair of valid ids is replaced, and by valid ids of the same JSON type
    (``2.0`` stays a float), so a negative case keeps what makes it negative.
    """
    for obj in _store_objects(value):
        if valid_id(obj["brandID"]) is not None and valid_id(obj["branchID"]) is not None:
            store = pick()
            for key in ("brandID", "branchID"):
                obj[key] = float(store[key]) if isinstance(obj[key], float) else int(store[key])
    return value


def _parse_body(body: bytes | str | None) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None  # not JSON: no server reads a store out of it


def _basic_key(authorization: str | None) -> str | None:
    """The partner key of a Basic header (the secret is never kept)."""
    pair = parse_basic(authorization)
    return pair[0] if pair is not None else None


# ------------------------------------------------------------------ pacing


class SlidingWindow:
    """At most ``ceil(rps)`` requests in any window of one second (plus ``margin``), evenly spaced.

    A sliding log of send times: a request waits until the ``limit``-th most
    recent one is older than the window, and until ``window / limit`` after the
    previous one (no bursts: a burst queues at the server, and queueing is
    jitter). The margin absorbs the jitter between the moment a request leaves
    and the moment the server stamps it, so the server's own one-second
    windows stay within the cap too. Uncapped requests (the deliberate bursts)
    are logged without waiting, so capped ones that follow still respect the
    window. A hand-written log rather than pyrate-limiter: the guard needs an
    injectable clock, a blocking acquire that returns the send time, spacing,
    and un-paced entries in the same log.
    """

    def __init__(
        self,
        rps: float,
        *,
        window: float = 1.0,
        margin: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rps <= 0:
            raise ValueError("rps must be > 0")
        self.limit = math.ceil(rps)
        self.span = window + margin
        self.spacing = self.span / self.limit
        self._clock, self._sleep = clock, sleep
        self._log: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self, *, wait: bool = True) -> float:
        """Block until a request may leave (unless ``wait`` is False); returns its send time."""
        with self._lock:  # waiters queue here: the first in line sleeps, the others follow in turn
            while True:
                now = self._clock()
                while self._log and self._log[0] <= now - self.span:
                    self._log.popleft()
                if not wait:
                    self._log.append(now)
                    return now
                ready = self._log[-1] + self.spacing if self._log else now
                if len(self._log) >= self.limit:
                    ready = max(ready, self._log[-self.limit] + self.span)
                if ready <= now:
                    self._log.append(now)
                    return now
                self._sleep(ready - now)


# --------------------------------------------------------------- observers


@dataclass(frozen=True)
class Sent:
    """One answered request as it passed the guard (for recorders: secrets still in it, scrub before keeping)."""

    method: str
    url: str
    request_headers: list[tuple[str, str]]
    request_body: bytes
    status: int
    response_headers: list[tuple[str, str]]
    response_body: bytes
    elapsed_ms: float = 0.0
    http_version: str = "HTTP/1.1"


#: called with every answered request, whatever the transport
Observer = Callable[[Sent], None]


# ------------------------------------------------------------------- guard


@dataclass
class Guard:
    """Read-only rule, store allowlist, pacing and the count of requests sent, for one target."""

    read_only: bool = False
    #: stores writes may name; None = no allowlist (the embedded stand-in)
    allowed: frozenset[StorePair] | None = None
    max_rps: float | None = None
    #: the path getMenu is served at (store-mode 404s there show a store unknown to the caller)
    menu_path: str = "/menus"
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    sent: int = 0
    blocked: list[Blocked] = field(default_factory=list)
    #: stores a store-mode getMenu answered 404 to, per partner key
    unknown: dict[str | None, set[StorePair]] = field(default_factory=dict)
    #: called with every answered request (recorders); none by default, so nothing is read or kept
    observers: list[Observer] = field(default_factory=list)
    #: the target's host (normalised): a redirect elsewhere is named as one the guard forbids
    host: str = ""
    #: how much of an answer the guarded sessions read, and for how long (``partner.bounded``)
    bounds: bounded.Bounds = field(default_factory=bounded.Bounds)
    #: the last request sent and not yet answered (``METHOD /path``), for a report saying what timed out
    waiting: str | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._window = SlidingWindow(self.max_rps, clock=self.clock, sleep=self.sleep) if self.max_rps else None

    @property
    def not_sent(self) -> int:
        return len(self.blocked)

    def refusal(self, method: str, url: str, body: Any, authorization: str | None) -> str | None:
        """Why this request must not be sent, or None."""
        verb = method.upper()
        if verb not in WRITE_METHODS:
            return None
        if self.read_only:
            return (
                f"{verb} is a write and this run is read-only (the production host, KLIKIT_ALLOW_PRODUCTION=1): "
                "only reads are sent there"
            )
        if self.allowed is None:
            return None
        key = _basic_key(authorization)
        with self._lock:
            shown_unknown = set(self.unknown.get(key, ()))
        named = named_stores(body, parse_qs(urlsplit(url).query))
        outside = [s for s in named if s not in self.allowed and s not in shown_unknown]
        if not outside:
            return None
        listed = ", ".join(f"{b}:{c}" for b, c in dict.fromkeys(outside))
        return (
            f"it would write to store(s) {listed}, outside KLIKIT_STORES, KLIKIT_FRESH_STORES and "
            "KLIKIT_FOREIGN_STORE (and not shown unknown to this credential by a getMenu 404): "
            "add them to KLIKIT_STORES if the harness may change them"
        )

    def admit(
        self, method: str, url: str, body: bytes | str | None, authorization: str | None, *, capped: bool = True
    ) -> None:
        """Check, pace and count one request about to leave; raises ``NotSent`` instead of sending it."""
        reason = self.refusal(method, url, _parse_body(body) if self.allowed is not None else None, authorization)
        if reason is not None:
            test = current_test()
            with self._lock:
                self.blocked.append(Blocked(test, method.upper(), url, reason))
            raise NotSent(reason, method=method.upper(), url=url, test=test)
        if self._window is not None:
            self._window.acquire(wait=capped)
        with self._lock:
            self.sent += 1
            self.waiting = f"{method.upper()} {urlsplit(url).path}"

    def learn(self, method: str, url: str, status: int, authorization: str | None) -> None:
        """Remember a store a store-mode getMenu answered 404 to: writes may name it (they cannot change it)."""
        self.waiting = None
        if status != 404 or method.upper() != "GET":
            return
        parts = urlsplit(url)
        if parts.path.rstrip("/") != self.menu_path.rstrip("/"):
            return
        pairs = _query_pairs(parse_qs(parts.query))
        if len(pairs) == 1:
            with self._lock:
                self.unknown.setdefault(_basic_key(authorization), set()).add(pairs[0])

    def redirect_note(self, status: int, location: str | None, url: str) -> str | None:
        """What a redirect answer is, for its failure (None: not a redirect). It is never followed; one that
        points at the production host, another host or another scheme is named as a place the guard forbids."""
        if not 300 <= status < 400:
            return None
        where = (location or "").strip()
        head = f"HTTP {status} redirect to {where or '(no Location)'}: not followed (the harness never follows one)"
        if not where:
            return head
        target = urlsplit(urljoin(url, where))
        if target.scheme not in {"http", "https"}:
            return f"{head}; it leads to a {target.scheme or 'schemeless'}: URL, which the guard forbids"
        host = host_of(target.geturl())
        own = self.host or host_of(url)
        if host != own and is_production_url(target.geturl()):
            return (
                f"{head}; it leads to {host}, klikit's production host, which the guard forbids "
                "(only KLIKIT_BASE_URL is ever called)"
            )
        if host != own:
            return f"{head}; it leads to another host, {host}, which the guard forbids (only {own} is called)"
        return head

    def notify(self, sent: Sent) -> None:
        """Hand an answered request to every observer, in the order they were added."""
        for observer in list(self.observers):
            observer(sent)

    # -------------------------------------------------------------- adapters

    def httpx_hooks(self, *, capped: bool = True) -> dict[str, list[Callable[..., Any]]]:
        """``event_hooks`` for an ``httpx.Client``: they run for every request it sends (redirects and
        proxied requests included), after auth is applied and before the request leaves."""

        def on_request(request: httpx.Request) -> None:
            authorization = request.headers.get("authorization")
            self.admit(request.method, str(request.url), request.read(), authorization, capped=capped)

        def on_response(response: httpx.Response) -> None:
            request = response.request
            self.learn(request.method, str(request.url), response.status_code, request.headers.get("authorization"))
            note = self.redirect_note(response.status_code, response.headers.get("location"), str(request.url))
            if note is not None:
                bounded.mark_broken(response, note, first=False)
            if self.observers:
                body = response.read()
                try:
                    elapsed = response.elapsed.total_seconds() * 1000
                except RuntimeError:  # set only once the response is closed
                    elapsed = 0.0
                self.notify(
                    Sent(
                        request.method,
                        str(request.url),
                        list(request.headers.multi_items()),
                        request.read(),
                        response.status_code,
                        list(response.headers.multi_items()),
                        body,
                        elapsed,
                        response.http_version,
                    )
                )

        return {"request": [on_request], "response": [on_response]}


class GuardedSession(requests.Session):
    """A ``requests.Session`` whose every send passes the guard and is read within the guard's bounds.

    Redirects are never followed; the answer's body is read here, at most
    ``bounds.max_body_bytes`` of it (``partner.bounded.read_requests``), with
    the bounds' connect and read timeouts.
    """

    def __init__(self, guard: Guard, *, capped: bool = True) -> None:
        super().__init__()
        self.guard = guard
        self.capped = capped

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        # requests would read a redirect's whole body before its own check of allow_redirects: no target, no read
        return None

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        body = request.body if isinstance(request.body, (bytes, str)) else None
        header = request.headers.get("Authorization")
        authorization = header.decode("latin-1") if isinstance(header, bytes) else header
        self.guard.admit(str(request.method), str(request.url), body, authorization, capped=self.capped)
        kwargs.update(allow_redirects=False, stream=True, timeout=self.guard.bounds.requests_timeout())
        try:
            response = super().send(request, **kwargs)
        except requests.RequestException as exc:
            reason = bounded.unreadable(exc)
            if reason is None:
                raise
            raise NotHttp(reason, method=str(request.method), url=str(request.url)) from None
        bounded.read_requests(response, self.guard.bounds)
        note = self.guard.redirect_note(response.status_code, response.headers.get("location"), str(request.url))
        if note is not None:
            bounded.mark_broken(response, note, first=False)
        self.guard.learn(str(request.method), str(request.url), response.status_code, authorization)
        if self.guard.observers:
            raw = body.encode() if isinstance(body, str) else body or b""
            self.guard.notify(
                Sent(
                    str(request.method),
                    str(request.url),
                    [(k, v.decode("latin-1") if isinstance(v, bytes) else str(v)) for k, v in request.headers.items()],
                    raw,
                    response.status_code,
                    list(response.headers.items()),
                    response.content,
                    response.elapsed.total_seconds() * 1000,
                )
            )
        return response


class GuardedASGI:
    """An ASGI app behind the guard: in-process requests are checked, paced and counted like the rest."""

    def __init__(self, app: Any, guard: Guard) -> None:
        self.app = app
        self.guard = guard

    def __getattr__(self, name: str) -> Any:  # the stand-in's own attributes (service, ...) stay reachable
        return getattr(self.app, name)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        messages: list[dict[str, Any]] = []
        while True:
            message = await receive()
            messages.append(message)
            if message.get("type") != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        query = scope.get("query_string", b"").decode("latin-1")
        url = f"http://{headers.get('host', 'testserver')}{scope.get('path', '')}" + (f"?{query}" if query else "")
        method = str(scope.get("method", "GET"))
        self.guard.admit(method, url, b"".join(chunks), headers.get("authorization"))
        replay: Iterable[dict[str, Any]] = iter(messages)

        async def replayed() -> dict[str, Any]:
            for message in replay:
                return message
            return dict(await receive())

        status: list[int] = []
        answer_headers: list[tuple[str, str]] = []
        answer_body: list[bytes] = []
        observed = bool(self.guard.observers)
        began = time.perf_counter()

        async def sending(message: dict[str, Any]) -> None:
            if message.get("type") == "http.response.start":
                status.append(int(message["status"]))
                if observed:
                    answer_headers.extend(
                        (k.decode("latin-1"), v.decode("latin-1")) for k, v in message.get("headers", [])
                    )
            elif observed and message.get("type") == "http.response.body":
                answer_body.append(message.get("body", b""))
            await send(message)

        await self.app(scope, replayed, sending)
        if status:
            self.guard.learn(method, url, status[0], headers.get("authorization"))
            if observed:
                self.guard.notify(
                    Sent(
                        method,
                        url,
                        [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope.get("headers", [])],
                        b"".join(chunks),
                        status[0],
                        answer_headers,
                        b"".join(answer_body),
                        (time.perf_counter() - began) * 1000,
                    )
                )
