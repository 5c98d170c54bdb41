"""The respx simulator: the domain core behind httpx, plus chaos on demand.

Owns: turning an ``httpx.Request`` into an ``ApiRequest`` for ``Service.handle``
and the answer back into an ``httpx.Response`` (so every ordinary answer is a
real contract answer), scripted fault sequences per operation (the fault
kinds and their registry live in ``faults``), secret rotation at a chosen
moment, holding a write in flight, the record of calls. (The
``klikit_simulator`` pytest fixture lives in the plugin.)
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
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal, Self

import httpx
import respx

from .. import contract
from ..contract import Reading
from ..contract.limits import BASE_PATH
from ..core.build import build_service
from ..core.clock import Clock, ManualClock
from ..core.defects import DefectSet
from ..core.seed import Seed, load
from ..core.service import ApiRequest, ApiResponse, InFlight, Prepared
from ..core.validation import RouteTable
from ..core.variants import IN_FLIGHT_WAITS, VariantSet
from .faults import _REAL_STEP, _REGISTRY, _BrokenStream, _resolve, _Step
from .faults import FaultContext as FaultContext
from .faults import FaultHandler as FaultHandler
from .faults import FaultKind as FaultKind
from .faults import Step as Step
from .faults import fault as fault
from .faults import faults as faults

DEFAULT_BASE_URL = "https://sim.klikit.test/v1/partner"
ANY_OPERATION = "*"
#: how long a held write's caller waits for ``release()`` before giving up
HOLD_TIMEOUT_S = 10.0

HoldMode = Literal["block", "timeout"]


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
        self.service = build_service(
            self.seed, reading=reading, defects=defects, clock=self.clock, variants=variants, path_overrides=paths
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
        ctx = FaultContext(self._through_core, request, api_request, operation_id, step.options)
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
