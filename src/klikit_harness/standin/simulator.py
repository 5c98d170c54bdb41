"""The respx simulator: the domain core behind httpx, plus chaos on demand.

Owns: turning an ``httpx.Request`` into an ``ApiRequest`` for ``Service.handle``
and the answer back into an ``httpx.Response`` (so every ordinary answer is a
real contract answer), the registry of fault kinds, scripted fault sequences
per operation, secret rotation at a chosen moment, holding a write in flight,
the record of calls. (The ``klikit_simulator`` pytest fixture lives in the plugin.)
Must not: decide any contract behaviour (``core.service`` does), read the
wall clock or sleep — a held write waits on an event, and ``Simulator.sleep``
only records and advances the simulator's clock.

Two ways in::

    with Simulator() as sim:                      # patches httpx through respx
        client = KlikitClient(sim.base_url, sim.partner_key, sim.secret_key, sleep=sim.sleep)

    sim = Simulator()                             # no patching: an explicit transport
    client = KlikitClient(sim.base_url, sim.partner_key, sim.secret_key,
                          transport=sim.transport(), sleep=sim.sleep)

Chaos, consumed one step per request to the operation, then "real" again::

    sim.fail("publishMenu", "downstream_unavailable", times=2)
    sim.inject("publishMenu", "read_timeout")
    sim.script("populateMenu", ["rate_limit_exceeded", ("internal", {"retry_after": 3}), "real"])

A step is ``"real"``, a registered fault (``faults()``), or a code of either
vocabulary of ``contracts/errors.yaml`` (answered with the catalogue's status,
an envelope and a fresh request_id; a rate-limit code also gets
``Retry-After``). New fault kinds register with ``@fault(name, reaches_core=…)``.
"""

from __future__ import annotations

import copy
import json
import os
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from os import PathLike
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, Self

import httpx
import respx

from .. import contract
from ..contract import Reading
from ..core.clock import Clock, ManualClock
from ..core.defects import DefectSet
from ..core.seed import Seed, load
from ..core.service import BASE_PATH, ApiRequest, ApiResponse, InFlight, Prepared, Service
from ..core.validation import RouteTable
from ..core.variants import IN_FLIGHT_WAITS, VariantSet
from .sandbox import build_service

if TYPE_CHECKING:
    from .cassettes import CassetteSimulator, Secrets

DEFAULT_BASE_URL = "https://sim.klikit.test/v1/partner"
ANY_OPERATION = "*"
#: how long a held write's caller waits for ``release()`` before giving up
HOLD_TIMEOUT_S = 10.0

Step = str | tuple[str, Mapping[str, Any]]
FaultHandler = Callable[["FaultContext"], httpx.Response]
HoldMode = Literal["block", "timeout"]

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_CODE_OPTIONS = frozenset({"retry_after", "status", "message", "details"})


# ------------------------------------------------------------------ registry


@dataclass(frozen=True)
class FaultKind:
    """A named way of answering a request (or of failing to)."""

    name: str
    handler: FaultHandler
    #: whether the request reaches the domain core (so a write may execute)
    reaches_core: bool
    #: option names a script step may pass to it
    options: frozenset[str]
    description: str


_REGISTRY: dict[str, FaultKind] = {}


def faults() -> Mapping[str, FaultKind]:
    """Every registered fault kind by name (read-only)."""
    return MappingProxyType(_REGISTRY)


def fault(name: str, *, reaches_core: bool, options: Iterable[str] = ()) -> Callable[[FaultHandler], FaultHandler]:
    """Register a fault kind under ``name``.

    The handler gets a ``FaultContext`` and returns the ``httpx.Response`` to
    give the client, or raises an ``httpx.TransportError``. ``reaches_core``
    says whether it lets the request reach the domain core (through
    ``ctx.real()``). A name already registered, or one that is an errors.yaml
    code, is refused: a step name must mean one thing.
    """
    if not _NAME.match(name):
        raise ValueError(f"fault names are lower_snake_case, got {name!r}")
    if _is_code(name):
        raise ValueError(f"{name!r} is an errors.yaml code; a fault needs a name of its own")

    def register(handler: FaultHandler) -> FaultHandler:
        if name in _REGISTRY:
            raise ValueError(
                f"fault {name!r} is already registered (by {_REGISTRY[name].handler.__qualname__}); pick another name"
            )
        doc = (handler.__doc__ or "").strip().splitlines()
        _REGISTRY[name] = FaultKind(name, handler, reaches_core, frozenset(options), doc[0] if doc else "")
        return handler

    return register


def _is_code(name: str) -> bool:
    try:
        return contract.errors().lookup(name) is not None
    except contract.ContractError:
        # Importing the plugin must not fail without contract files; the first
        # use of the catalogue will say what is missing.
        return False


@dataclass(frozen=True)
class _Step:
    kind: FaultKind
    options: Mapping[str, Any]
    label: str


def _resolve(spec: Step) -> _Step:
    """A script step, checked now so a typo fails where it was written."""
    if isinstance(spec, str):
        name, options = spec, {}
    elif isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str) and isinstance(spec[1], Mapping):
        name, options = spec[0], dict(spec[1])
    else:
        raise TypeError(f"a step is a name or a (name, {{options}}) pair, got {spec!r}")
    if name in _REGISTRY:
        kind = _REGISTRY[name]
    elif contract.errors().lookup(name) is not None:
        kind = _CODE_KIND
        options = {**options, "code": name}
    else:
        raise ValueError(
            f"unknown chaos step {name!r}: use 'real', a fault ({', '.join(sorted(_REGISTRY))}) "
            "or a code of contracts/errors.yaml"
        )
    unknown = set(options) - kind.options - ({"code"} if kind is _CODE_KIND else set())
    if unknown:
        allowed = ", ".join(sorted(kind.options)) or "none"
        raise ValueError(f"step {name!r} takes no option {sorted(unknown)} (allowed: {allowed})")
    return _Step(kind, MappingProxyType(options), name)


# --------------------------------------------------------------------- calls


@dataclass
class Call:
    """One request the simulator received and what it did with it."""

    operation_id: str | None
    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    #: lower-case names; holds the Authorization header, so kept out of the repr
    headers: Mapping[str, str] = field(repr=False)
    body: bytes = field(repr=False)
    #: the step applied: "real", a fault name or an errors.yaml code
    step: str = "real"
    #: the HTTP status given, None when the client got an exception instead
    status: int | None = None
    request_id: str | None = None
    #: the exception the client got instead of an answer (class name)
    error: str | None = None

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("idempotency-key")

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class FaultContext:
    """What a fault handler works with."""

    simulator: Simulator
    request: httpx.Request
    api_request: ApiRequest
    operation_id: str | None
    options: Mapping[str, Any]
    #: the core's answer, once ``real()`` was called
    core_answer: ApiResponse | None = None

    def real(self) -> ApiResponse:
        """Hand the request to the domain core (honouring a hold); its answer."""
        self.core_answer = self.simulator._through_core(self)
        return self.core_answer

    def respond(self, answer: ApiResponse) -> httpx.Response:
        """An ``ApiResponse`` as the ``httpx.Response`` the client receives."""
        return httpx.Response(answer.status, headers=answer.headers, content=answer.body)

    def error(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """An error envelope with a fresh request_id."""
        error: dict[str, Any] = {"code": code, "message": message}
        if details is not None:
            error["details"] = details
        body = {"request_id": f"req_{uuid.uuid4()}", "error": error}
        return httpx.Response(status, headers=dict(headers or {}), json=body)


# -------------------------------------------------------------------- faults


def _answer_code(ctx: FaultContext) -> httpx.Response:
    """Answer an errors.yaml code with the catalogue's status and a proper envelope."""
    code = str(ctx.options["code"])
    entry = contract.errors().lookup(code)
    assert entry is not None  # checked by _resolve
    headers: dict[str, str] = {}
    retry_after = ctx.options.get("retry_after")
    rate_limited = "rate_limit_exceeded" in entry.maps_to
    if retry_after is None and rate_limited:
        retry_after = 1
    details = ctx.options.get("details")
    if retry_after is not None:
        headers["retry-after"] = str(retry_after)
        if details is None and rate_limited:
            details = {"retry_after": retry_after}
    message = str(ctx.options.get("message", f"{entry.meaning} (simulated)"))
    return ctx.error(int(ctx.options.get("status", entry.status)), code, message, details, headers)


_CODE_KIND = FaultKind("code", _answer_code, False, _CODE_OPTIONS, "answer an errors.yaml code")


@fault("real", reaches_core=True)
def _real(ctx: FaultContext) -> httpx.Response:
    """The domain core answers, unchanged."""
    return ctx.respond(ctx.real())


@fault("connect_error", reaches_core=False)
def _connect_error(ctx: FaultContext) -> httpx.Response:
    """The connection is refused: nothing reaches the API."""
    raise httpx.ConnectError("[simulated] connection refused", request=ctx.request)


@fault("read_timeout", reaches_core=True)
def _read_timeout(ctx: FaultContext) -> httpx.Response:
    """The API does the work, but its answer never arrives (httpx.ReadTimeout)."""
    ctx.real()
    raise httpx.ReadTimeout("[simulated] timed out waiting for the answer", request=ctx.request)


class _BrokenStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body that stops part-way with a transport error."""

    def __init__(self, head: bytes, error: httpx.TransportError) -> None:
        self._head = head
        self.error = error

    def __iter__(self) -> Iterator[bytes]:
        if self._head:
            yield self._head
        raise self.error

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._head:
            yield self._head
        raise self.error


@fault("reset_mid_body", reaches_core=True, options=("error",))
def _reset_mid_body(ctx: FaultContext) -> httpx.Response:
    """The API answers, but the connection drops half-way through the body.

    Option ``error``: ``"protocol"`` (default, httpx.RemoteProtocolError) or
    ``"read"`` (httpx.ReadError).
    """
    answer = ctx.real()
    message = "[simulated] peer closed connection without sending complete message body"
    error: httpx.TransportError = (
        httpx.ReadError(message, request=ctx.request)
        if ctx.options.get("error") == "read"
        else httpx.RemoteProtocolError(message, request=ctx.request)
    )
    headers = [(k, v) for k, v in answer.headers if k.lower() != "content-length"]
    headers.append(("content-length", str(len(answer.body))))
    stream = _BrokenStream(answer.body[: len(answer.body) // 2], error)
    return httpx.Response(answer.status, headers=headers, stream=stream)


@fault("truncated_json", reaches_core=True)
def _truncated_json(ctx: FaultContext) -> httpx.Response:
    """The API's answer arrives complete at the HTTP level, but its JSON is cut in half."""
    answer = ctx.real()
    return httpx.Response(answer.status, headers=answer.headers, content=answer.body[: len(answer.body) // 2])


@fault("malformed_json", reaches_core=True)
def _malformed_json(ctx: FaultContext) -> httpx.Response:
    """The API's answer with a stray comma before its last brace: not JSON."""
    answer = ctx.real()
    body = answer.body.rstrip()
    broken = body[:-1] + b",}" if body.endswith(b"}") else body + b","
    return httpx.Response(answer.status, headers=answer.headers, content=broken)


@fault("html_502", reaches_core=False)
def _html_502(ctx: FaultContext) -> httpx.Response:
    """A gateway in front of the API answers 502 with an HTML page."""
    page = (
        b"<html><head><title>502 Bad Gateway</title></head><body>"
        b"<center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
    )
    return httpx.Response(502, headers={"content-type": "text/html"}, content=page)


@fault("missing_request_id", reaches_core=True)
def _missing_request_id(ctx: FaultContext) -> httpx.Response:
    """The API's answer without its request_id."""
    answer = ctx.real()
    body = json.loads(answer.body)
    body.pop("request_id", None)
    headers = [(k, v) for k, v in answer.headers if k.lower() != "content-length"]
    return httpx.Response(answer.status, headers=headers, content=json.dumps(body).encode())


@fault("wrong_content_type", reaches_core=True, options=("content_type",))
def _wrong_content_type(ctx: FaultContext) -> httpx.Response:
    """The API's answer labelled with another content type (option ``content_type``)."""
    answer = ctx.real()
    ctype = str(ctx.options.get("content_type", "text/plain; charset=utf-8"))
    headers = [(k, v) for k, v in answer.headers if k.lower() != "content-type"]
    return httpx.Response(answer.status, headers=[*headers, ("content-type", ctype)], content=answer.body)


@fault("unknown_code", reaches_core=False, options=("code", "status"))
def _unknown_code(ctx: FaultContext) -> httpx.Response:
    """A proper envelope with a code the catalogue does not know (default status 400)."""
    code = str(ctx.options.get("code", "simulated_unknown_code"))
    return ctx.error(int(ctx.options.get("status", 400)), code, "a code outside errors.yaml (simulated)")


@fault("raw", reaches_core=False, options=("status", "body", "content_type", "headers"))
def _raw(ctx: FaultContext) -> httpx.Response:
    """Exactly the given answer: ``status`` (200), ``body`` (bytes, str or a JSON value),
    ``content_type`` (application/json) and extra ``headers``."""
    body = ctx.options.get("body", b"")
    content = body if isinstance(body, bytes) else body.encode() if isinstance(body, str) else json.dumps(body).encode()
    headers = {"content-type": str(ctx.options.get("content_type", "application/json"))}
    headers.update(ctx.options.get("headers", {}))
    return httpx.Response(int(ctx.options.get("status", 200)), headers=headers, content=content)


# ----------------------------------------------------------------- simulator


@dataclass
class _Hold:
    operation_id: str
    mode: HoldMode
    released: threading.Event = field(default_factory=threading.Event)
    prepared: Prepared | None = None
    answer: ApiResponse | None = None


@dataclass(frozen=True)
class _Rotation:
    at_call: int
    partner_key: str
    new_secret: str = field(repr=False)


@cache
def _packaged_seed() -> Seed:
    return load()


class Simulator:
    """The domain core served through respx, with a chaos API.

    ``reading`` picks the contract reading the core answers with; ``seed`` the
    world (the packaged seed by default; each Simulator starts from its own
    copy); ``clock`` the core's clock — a ``ManualClock`` by default, moved
    only by ``sleep()``; ``defects`` seeded defects of the core; ``paths``
    operation path overrides (as for ``KlikitClient``).
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        reading: Reading = "reference",
        seed: Seed | None = None,
        clock: Clock | None = None,
        defects: DefectSet | None = None,
        paths: Mapping[str, str] | None = None,
        variants: VariantSet | None = None,
    ) -> None:
        url = httpx.URL(base_url)
        if url.scheme not in {"http", "https"} or not url.host:
            raise ValueError(f"base_url must be an absolute http(s) URL, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._prefix = url.path.rstrip("/")
        # A private copy: worlds built from one Seed may share its nested dicts.
        self.seed = copy.deepcopy(seed if seed is not None else _packaged_seed())
        self.clock: Clock = clock if clock is not None else ManualClock()
        if paths:
            # build_service has no path overrides; build the same service with them.
            world, credentials = self.seed.build()
            self.service = Service(
                world,
                credentials,
                reading=reading,
                clock=self.clock,
                defects=defects or DefectSet(),
                path_overrides=paths,
                variants=variants or VariantSet(),
            )
        else:
            self.service = build_service(
                self.seed, reading=reading, defects=defects, clock=self.clock, variants=variants
            )
        self._routes = RouteTable(self._prefix, paths)
        self.calls: list[Call] = []
        #: every wait passed to ``sleep()``, in order
        self.slept: list[float] = []
        self._scripts: dict[str, deque[_Step]] = {}
        self._rotations: list[_Rotation] = []
        self._hold: _Hold | None = None
        self._held = threading.Event()
        self._lock = threading.RLock()
        self._started = False
        self.router = respx.MockRouter(assert_all_called=False, base_url=self.base_url)
        self.router.route(name="klikit-api").mock(side_effect=self._respond)

    @classmethod
    def from_cassette(
        cls,
        path: str | PathLike[str],
        *,
        base_url: str | None = None,
        strict: bool = True,
        secrets: Secrets = (),
    ) -> CassetteSimulator:
        """A simulator answering each request recorded in a HAR cassette with its recorded answer.

        Matched on method, path relative to the base URL, query (any order) and
        body (JSON in any key order); headers are ignored. Repeated identical
        requests get the recorded answers in order, then the last one again. A
        request the cassette never saw raises ``cassettes.CassetteMiss`` (with
        the nearest recorded requests) and is listed in ``unmatched``.
        ``base_url`` defaults to the recorded one; ``strict=False`` answers a
        near miss (same method and path) from its nearest recording; see
        ``klikit_harness.standin.cassettes``.
        """
        from .cassettes import CassetteSimulator, load

        return CassetteSimulator(load(path), base_url=base_url, strict=strict, secrets=secrets)

    # ------------------------------------------------------------ lifecycle

    def start(self) -> Self:
        """Patch httpx (through respx) so requests to ``base_url`` reach the simulator."""
        if not self._started:
            self.router.start()
            self._started = True
        return self

    def stop(self) -> None:
        """Stop patching (if started); a write still held is abandoned (its key freed)."""
        self._drop_hold()
        if self._started:
            # Only a started router may be stopped: stop() rolls routes back to the
            # snapshot start() took, and without one it would drop the catch-all route.
            self.router.stop(quiet=True)
            self._started = False

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @classmethod
    def like(
        cls,
        profile: str | os.PathLike[str],
        base_url: str = DEFAULT_BASE_URL,
        *,
        reading: Reading | None = None,
        variants: Iterable[str] = (),
        **options: Any,
    ) -> Simulator:
        """A simulator behaving like the target of a ``target-profile.yaml`` (a file or a report directory).

        It answers with the profile's contract reading (``reading`` overrides it;
        a mixed profile needs one) and its variants, plus ``variants``; other
        keyword arguments are the constructor's. ``twin.ProfileError`` says
        what is wrong with a bad file.
        """
        from pathlib import Path

        from . import twin

        chosen, names = twin.standin_options(twin.load(Path(profile)), reading=reading, variants=variants)
        return cls(base_url, reading=chosen, variants=VariantSet(names), **options)

    def transport(self) -> httpx.MockTransport:
        """An httpx transport into the simulator, for clients built without patching."""
        return httpx.MockTransport(self.router.handler)

    def __repr__(self) -> str:
        return (
            f"Simulator(base_url={self.base_url!r}, reading={self.service.reading!r}, "
            f"calls={len(self.calls)}, writes={self.writes})"
        )

    # ---------------------------------------------------------- credentials

    @property
    def partner_key(self) -> str:
        """The key of the seed's main credential."""
        return str(self.seed.credential("main")["key"])

    @property
    def secret_key(self) -> str:
        """The main credential's secret as the core holds it now (after any rotation)."""
        credential = self.service.credentials.get(self.partner_key)
        assert credential is not None
        return credential.secret

    def env(self) -> dict[str, str]:
        """The ``KLIKIT_*`` block describing this simulator (current secret included)."""
        env = self.seed.env(self.base_url)
        env["KLIKIT_SECRET_KEY"] = self.secret_key
        return env

    def rotate_secret(
        self, *, after_requests: int = 0, new_secret: str | None = None, partner_key: str | None = None
    ) -> str:
        """Rotate a credential's secret (the main one by default); returns the new secret.

        The rotation happens once ``after_requests`` more requests have been
        received (0: now), through ``service.credentials.rotate`` — so the old
        secret fails exactly as the core's reading says (at once, under the
        reference reading).
        """
        if after_requests < 0:
            raise ValueError("after_requests must be >= 0")
        key = partner_key or self.partner_key
        if self.service.credentials.get(key) is None:
            raise ValueError(f"no credential {key!r} in the seed")
        secret = new_secret or f"sk_rotated_{uuid.uuid4().hex[:12]}"
        with self._lock:
            self._rotations.append(_Rotation(len(self.calls) + after_requests, key, secret))
            self._apply_due_rotations()
        return secret

    def _apply_due_rotations(self) -> None:
        due = [r for r in self._rotations if r.at_call <= len(self.calls)]
        for rotation in due:
            self._rotations.remove(rotation)
            self.service.credentials.rotate(rotation.partner_key, rotation.new_secret, now=self.clock.now())

    # ----------------------------------------------------------------- chaos

    def script(self, operation_id: str, steps: Iterable[Step]) -> None:
        """Queue steps for the next requests to ``operation_id`` (``"*"``: any operation).

        Each request to the operation takes the next step; once the queue is
        empty, requests reach the core ("real"). Steps queued for the
        operation come before steps queued for ``"*"``.
        """
        target = self._check_operation(operation_id)
        resolved = [_resolve(step) for step in steps]
        with self._lock:
            self._scripts.setdefault(target, deque()).extend(resolved)

    def fail(self, operation_id: str, code: str, times: int = 1, retry_after: int | None = None) -> None:
        """Answer the next ``times`` requests to the operation with an errors.yaml code.

        ``code`` may be of either vocabulary (or an alias). The answer has the
        catalogue's status for that code and an envelope with a fresh
        request_id; a rate-limit code carries ``Retry-After`` (``retry_after``,
        1 by default), and ``retry_after`` adds the header to any other code.
        """
        if contract.errors().lookup(code) is None:
            raise ValueError(f"{code!r} is not a code of contracts/errors.yaml; for transport faults use inject()")
        options: dict[str, Any] = {} if retry_after is None else {"retry_after": retry_after}
        self.script(operation_id, [(code, options)] * _times(times))

    def inject(self, operation_id: str, fault_name: str, times: int = 1, **options: Any) -> None:
        """Apply a registered fault (``faults()``) to the next ``times`` requests to the operation."""
        if fault_name not in _REGISTRY:
            raise ValueError(f"unknown fault {fault_name!r}; registered: {', '.join(sorted(_REGISTRY))}")
        self.script(operation_id, [(fault_name, options)] * _times(times))

    def clear(self, operation_id: str | None = None) -> int:
        """Drop the steps not consumed yet (for one operation, or all); how many were dropped."""
        with self._lock:
            targets = [operation_id] if operation_id is not None else list(self._scripts)
            return sum(len(self._scripts.pop(t, ())) for t in targets)

    def pending(self, operation_id: str | None = None) -> int:
        """Steps not consumed yet (for one operation, or all)."""
        with self._lock:
            if operation_id is not None:
                return len(self._scripts.get(operation_id, ()))
            return sum(len(q) for q in self._scripts.values())

    def assert_all_consumed(self) -> None:
        """Fail when scripted steps were never reached — the test did less than it planned."""
        with self._lock:
            left = {op: [s.label for s in q] for op, q in self._scripts.items() if q}
        assert not left, f"scripted steps never reached: {left}; the client stopped earlier than the script expected"

    def hold_in_flight(self, operation_id: str, *, mode: HoldMode = "block") -> None:
        """Keep the next write to the operation in flight until ``release()``.

        The write is prepared (its Idempotency-Key reserved) but not executed,
        so a duplicate with the same key gets the core's real in-flight 409.
        ``mode="block"``: the held request's caller waits until ``release()``
        (make it from another thread); ``"timeout"``: its caller gets
        ``httpx.ReadTimeout`` at once while the write stays in flight, as when
        a client gives up before the server finishes.
        """
        target = self._check_operation(operation_id)
        if mode not in ("block", "timeout"):
            raise ValueError(f"mode is 'block' or 'timeout', got {mode!r}")
        with self._lock:
            if self._hold is not None:
                raise RuntimeError("a write is already held; release() it first")
            self._hold = _Hold(target, mode)
            self._held.clear()

    @property
    def held(self) -> bool:
        """True while a write is held in flight."""
        return self._held.is_set()

    def wait_until_held(self, timeout: float = 5.0) -> None:
        """Block until the held write has arrived (for tests that hold from another thread)."""
        if not self._held.wait(timeout):
            raise TimeoutError(f"no write arrived to hold within {timeout} s; did the request reach base_url?")

    def release(self, *, execute: bool = True) -> ApiResponse | None:
        """Finish the held write: execute it (default) or abandon it; the core's answer."""
        with self._lock:
            hold = self._hold
            if hold is None or hold.prepared is None:
                raise RuntimeError("nothing is held: call hold_in_flight() and let a write arrive first")
            self._hold = None
            self._held.clear()
        if execute:
            hold.answer = self.service.execute(hold.prepared)
        else:
            self.service.abandon(hold.prepared)
        hold.released.set()
        return hold.answer

    def _drop_hold(self) -> None:
        with self._lock:
            hold, self._hold = self._hold, None
            self._held.clear()
        if hold is not None:
            if hold.prepared is not None:
                self.service.abandon(hold.prepared)
            hold.released.set()

    # --------------------------------------------------------- time, counts

    def sleep(self, seconds: float) -> None:
        """A fake ``time.sleep`` for clients: records the wait and moves a ManualClock."""
        self.slept.append(seconds)
        if isinstance(self.clock, ManualClock):
            self.clock.advance(seconds)

    @property
    def writes(self) -> int:
        """Logical writes the core executed (``service.world.writes``)."""
        return self.service.world.writes

    def calls_to(self, operation_id: str) -> list[Call]:
        """The recorded calls of one operation."""
        return [c for c in self.calls if c.operation_id == operation_id]

    # ------------------------------------------------------------- plumbing

    def _check_operation(self, operation_id: str) -> str:
        if operation_id == ANY_OPERATION or operation_id in contract.operations():
            return operation_id
        known = ", ".join(sorted(contract.operations()))
        raise ValueError(f"unknown operation {operation_id!r}; use '*' or one of: {known}")

    def _next_step(self, operation_id: str | None) -> _Step:
        for target in (operation_id, ANY_OPERATION):
            queue = self._scripts.get(target) if target else None
            if queue:
                return queue.popleft()
        return _REAL_STEP

    def _api_request(self, request: httpx.Request) -> ApiRequest:
        headers: dict[str, str] = {}
        for name, value in request.headers.multi_items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        path = request.url.path
        if self._prefix and path.startswith(self._prefix):
            path = BASE_PATH + path[len(self._prefix) :]
        elif not self._prefix:
            path = BASE_PATH + path
        return ApiRequest(
            method=request.method,
            path=path,
            query=tuple(request.url.params.multi_items()),
            headers=headers,
            body=request.content,
        )

    def _operation_id(self, method: str, path: str) -> str | None:
        return self._routes.operation_id(method, path)

    def _respond(self, request: httpx.Request) -> httpx.Response:
        request.read()
        api_request = self._api_request(request)
        operation_id = self._operation_id(request.method, request.url.path)
        with self._lock:
            self._apply_due_rotations()
            step = self._next_step(operation_id)
            call = Call(
                operation_id=operation_id,
                method=request.method,
                path=request.url.path,
                query=tuple(api_request.query),
                headers=dict(api_request.headers),
                body=api_request.body,
                step=step.label,
            )
            self.calls.append(call)
        ctx = FaultContext(self, request, api_request, operation_id, step.options)
        try:
            response = step.kind.handler(ctx)
        except Exception as exc:
            call.error = type(exc).__name__
            call.request_id = _request_id(ctx.core_answer.body) if ctx.core_answer else None
            raise
        call.status = response.status_code
        if isinstance(response.stream, _BrokenStream):
            call.error = f"{type(response.stream.error).__name__} (mid-body)"
        if isinstance(response.stream, httpx.ByteStream):
            call.request_id = _request_id(response.content)
        elif ctx.core_answer is not None:
            call.request_id = _request_id(ctx.core_answer.body)
        return response

    def _through_core(self, ctx: FaultContext) -> ApiResponse:
        prepared = self.service.prepare(ctx.api_request)
        if isinstance(prepared, InFlight) and self.service.variants.on(IN_FLIGHT_WAITS):
            # the in-flight-waits variant: wait (real time, on this thread) for the first to finish
            deadline = time.monotonic() + HOLD_TIMEOUT_S
            while isinstance(prepared, InFlight) and time.monotonic() < deadline:
                time.sleep(0.005)
                prepared = self.service.prepare(ctx.api_request)
        if isinstance(prepared, ApiResponse):
            return prepared
        with self._lock:
            hold = self._hold
            take = (
                hold is not None
                and hold.prepared is None
                and prepared.operation.is_write
                and hold.operation_id in (ctx.operation_id, ANY_OPERATION)
            )
            if take:
                assert hold is not None
                hold.prepared = prepared
                self._held.set()
        if not take:
            return self.service.execute(prepared)
        assert hold is not None
        if hold.mode == "timeout":
            raise httpx.ReadTimeout("[simulated] the write is still in flight", request=ctx.request)
        if not hold.released.wait(HOLD_TIMEOUT_S):
            self._drop_hold()
            raise httpx.ReadTimeout(f"[simulated] held for {HOLD_TIMEOUT_S} s without release()", request=ctx.request)
        if hold.answer is None:  # abandoned: the server never answers this request
            raise httpx.ReadTimeout("[simulated] the held write was abandoned", request=ctx.request)
        return hold.answer


_REAL_STEP = _Step(_REGISTRY["real"], MappingProxyType({}), "real")


def _times(times: int) -> int:
    if times < 1:
        raise ValueError(f"times must be >= 1, got {times}")
    return times


def _request_id(body: bytes) -> str | None:
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    value = parsed.get("request_id") if isinstance(parsed, dict) else None
    return value if isinstance(value, str) else None
