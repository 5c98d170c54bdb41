"""The target under test: the embedded stand-in or a real environment, seen the same way.

Owns: ``Target`` (base URL, credentials, stores, run id, reading, profile,
request cap, redaction) and ``TargetClient`` (httpx, one credential, fresh
Idempotency-Keys, the ``KLIKIT_MAX_RPS`` cap, a record of every exchange for
reports and copy-paste reproductions). Must not: know the stand-in's internals
beyond offering its ``Service`` to self-tests; suites against a real target
use only what a partner can observe.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from .. import contract
from ..contract import WRITE_METHODS, Judgement, Reading
from ..contract.limits import JSON_TYPE
from ..core.clock import Clock
from ..core.service import Service
from ..partner import bounded, envelope
from ..partner.bounded import BoundedTransport
from ..partner.exchange import HttpExchange
from ..partner.redact import Redactor
from .config import MAIN_CREDENTIAL, Credential, Settings, Store, host_of
from .failures import Violation
from .observations import ObservationLog, settle
from .profiles import Profile
from .safety import Blocked, Guard, GuardedASGI, NotSent

AUTO: Any = object()
USER_AGENT = "klikit-harness"
#: ``httpx.Response.extensions`` key: the operationId ``TargetClient.call`` sent the request as
OPERATION = "klikit_operation"


class _Ahead:
    """A clock ``offset`` seconds ahead of another one (time only moves forward for the stand-in)."""

    def __init__(self, base: Clock, offset: float) -> None:
        self.base, self.offset = base, offset

    def now(self) -> float:
        return self.base.now() + self.offset


@dataclass(repr=False)
class Target:
    """What every suite talks to.

    Its repr names the target only: Hypothesis prints the fixtures of a failing
    example, and the settings, the service and the exchanges are neither short
    nor safe to print.
    """

    base_url: str
    settings: Settings
    reading: Reading = "reference"
    strict: bool = False
    profile: Profile = "smoke"
    read_only: bool = False
    service: Service | None = None
    #: the stand-in's ASGI app for in-process calls; kept behind the target's guard
    app: Any = None
    run_id: str = field(default_factory=lambda: datetime.now(UTC).strftime("kh-%Y%m%d%H%M%S-") + uuid.uuid4().hex[:4])
    paths: Mapping[str, str] = field(default_factory=dict)
    exchanges: deque[HttpExchange] = field(default_factory=lambda: deque(maxlen=200))
    observed_readings: dict[str, str] = field(default_factory=dict)
    #: names of the stand-in's variants switched on (empty: the reference semantics)
    variants: tuple[str, ...] = ()
    observations: ObservationLog = field(default_factory=ObservationLog)
    #: checks every answer goes through, ``check(client, response)`` (the contract suite installs its own)
    answer_checks: list[Any] = field(default_factory=list)

    def __repr__(self) -> str:
        variants = f", {len(self.variants)} variant(s)" if self.variants else ""
        mode = ", strict" if self.strict else ""
        return f"Target({self.base_url!r}, reading={self.reading!r}{mode}{variants})"

    def __post_init__(self) -> None:
        self.redactor = Redactor()
        for key, secret in self.settings.secrets():
            self.redactor.add(secret, key)
        self.guard = Guard(
            read_only=self.read_only,
            allowed=None if self.is_standin else self.settings.writable_stores(),
            max_rps=self.max_rps,
            menu_path=urlsplit(self.base_url).path.rstrip("/") + self.path("getMenu"),
            host=host_of(self.base_url),
            bounds=self.settings.bounds(),
        )
        if self.app is not None and not isinstance(self.app, GuardedASGI):
            self.app = GuardedASGI(self.app, self.guard)
        self._fresh = list(self.settings.fresh_stores)
        self._lock = threading.Lock()

    @property
    def requests_sent(self) -> int:
        """Requests sent to the target so far, counted as each left (every transport, checks' own included)."""
        return self.guard.sent

    @property
    def not_sent(self) -> list[Blocked]:
        """Requests the guard refused (never sent): read-only run, or a store outside the allowlist."""
        return list(self.guard.blocked)

    @property
    def is_standin(self) -> bool:
        return self.service is not None

    @property
    def reference_target(self) -> bool:
        """Only the embedded stand-in without variants is held to every rule of the reference semantics."""
        return self.is_standin and not self.variants

    def judgement(self, behaviour: str) -> Judgement:
        """Whether a failure of ``behaviour`` fails this run or is an observation."""
        status = contract.behaviour(behaviour).status
        return contract.judgement(status, reference_target=self.reference_target, strict=self.strict)

    def settle(self, violation: Violation, source: str = "") -> None:
        """Raise ``violation`` if its behaviour is enforced on this run, else record an observation."""
        settle(violation, judgement=self.judgement, log=self.observations, source=source)

    @property
    def max_rps(self) -> float | None:
        return self.settings.effective_max_rps(standin=self.is_standin)

    @property
    def main(self) -> tuple[str, str]:
        cred = self.settings.main
        if cred is None:  # pragma: no cover - settings validation prevents it
            raise RuntimeError("KLIKIT_PARTNER_KEY and KLIKIT_SECRET_KEY are not set")
        return cred.pair()

    @property
    def stores(self) -> list[dict[str, int]]:
        return [s.as_json() for s in self.settings.stores]

    def take_fresh_store(self) -> Store | None:
        """A never-populated store, consumed (first-time-push checks use each once).

        The embedded stand-in never runs out: it opens a new branch when its
        seeded fresh stores are used up. A real target's come from KLIKIT_FRESH_STORES.
        """
        with self._lock:
            if self._fresh:
                return self._fresh.pop(0)
            if self.service is None:
                return None
            from ..core.world import Store as WorldStore
            from ..core.world import StoreKey

            with self.service.lock:  # the stand-in serves requests from another thread
                world = self.service.world
                business = self.service.credentials.get(self.main[0])
                assert business is not None
                brand = world.businesses[business.business_id].brand_ids[0]
                branch = max(k.branch_id for k in world.stores) + 1
                world.add_store(WorldStore(StoreKey(brand, branch), business.business_id))
            return Store(brand, branch)

    def advance_clock(self, seconds: float) -> None:
        """Move the embedded stand-in's clock ``seconds`` ahead (a 24-hour window checked without waiting)."""
        if self.service is None:
            raise RuntimeError("only the embedded stand-in's clock can be moved; a real target keeps its own time")
        if seconds < 0:
            raise ValueError("the stand-in's time only moves forward")
        with self.service.lock:  # the stand-in serves requests from another thread
            self.service.clock = _Ahead(self.service.clock, seconds)

    def client(
        self,
        credential: Credential | tuple[str, str] | Any | None = AUTO,
        *,
        variable: str = MAIN_CREDENTIAL,
        capped: bool = True,
    ) -> TargetClient:
        """A client signing as ``credential`` (the main one by default; None = no auth)."""
        if credential is AUTO:
            pair: tuple[str, str] | None = self.main
        elif isinstance(credential, Credential):
            pair = credential.pair()
        else:
            pair = credential
        return TargetClient(self, pair, variable if pair else None, capped=capped)

    def path(self, operation_id: str, **params: Any) -> str:
        template = self.paths.get(operation_id) or contract.operations()[operation_id].path
        return template.format(**params)

    def observe_reading(self, behaviour: str, reading: str) -> None:
        """Record which reading of a contested behaviour the target follows."""
        self.observed_readings[behaviour] = reading

    def record(self, exchange: HttpExchange) -> None:
        """Keep ``exchange`` for reports (the guard counts requests when they leave)."""
        with self._lock:
            self.exchanges.append(exchange.kept())

    def section_ids(self) -> list[int]:
        """The ids of the business-mode sections; a node without an integer ``id`` is not listed.

        Whether getMenu's answer holds is the suites' to judge: here a missing or odd
        member only leaves that section out of the ones the checks may name.
        """
        with self.client() as client:
            return listed_section_ids(client.call("getMenu").json())


class TargetClient:
    """httpx over one credential; every write gets a fresh Idempotency-Key unless told otherwise."""

    def __init__(
        self, target: Target, credential: tuple[str, str] | None, variable: str | None, *, capped: bool = True
    ) -> None:
        self.target = target
        self.capped = capped
        self.credential = credential
        self.variable = variable
        # the guard's hooks run for every request this client sends, just before it leaves
        bounds = target.guard.bounds
        self._http = httpx.Client(
            base_url=target.base_url,
            auth=credential,
            transport=BoundedTransport(bounds=bounds),
            timeout=bounds.httpx_timeout(),
            headers={"user-agent": USER_AGENT},
            event_hooks=target.guard.httpx_hooks(capped=capped),
        )
        self.last: HttpExchange | None = None

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> TargetClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(
        self,
        operation_id: str,
        body: Any = AUTO,
        *,
        params: Mapping[str, Any] | None = None,
        key: Any = AUTO,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        method: str | None = None,
        path: str | None = None,
        **path_params: Any,
    ) -> httpx.Response:
        op = contract.operations()[operation_id]
        verb = method or op.method
        url_path = path if path is not None else self.target.path(operation_id, **path_params)
        hdrs = dict(headers or {})
        if verb in WRITE_METHODS:
            if key is AUTO:
                hdrs.setdefault("Idempotency-Key", str(uuid.uuid4()))
            elif key is not None:
                hdrs["Idempotency-Key"] = str(key)
        payload: bytes | None = content
        if payload is None and body is not AUTO:
            payload = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", JSON_TYPE)
        response = self.send(verb, url_path, params=params, headers=hdrs, content=payload)
        response.extensions[OPERATION] = operation_id  # whose success status expect.ok judges
        return response

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        request = self._http.build_request(method, path, params=params, headers=dict(headers or {}), content=content)
        credential = self.variable or ""  # how a reproduction signs: the variables, never the secret
        try:
            response = self._http.send(request)
        except NotSent:
            raise  # refused by the guard: never sent, nothing to record or reproduce
        except BaseException as exc:
            # sent (or attempted): a transport error is still reproducible
            self.last = HttpExchange.unanswered(request, credential=credential)
            self.target.record(self.last)
            reason = bounded.unreadable(exc)
            if reason is None:
                raise
            # the target answered, but not in HTTP: the failure of the answer's behaviour, not a transport trouble
            garbled = envelope.not_http(reason)
            raise self._violation(
                self.last, garbled, received=f"{request.method} {request.url.path}: {reason}"
            ) from None
        self.last = exchange = HttpExchange.from_httpx(response, credential=credential)
        self.target.record(exchange)
        # an answer cut at a bound, broken off or redirected is no answer of the endpoint: named at once;
        # any 429 the harness meets, in any check, must carry the envelope and Retry-After
        breach = envelope.whole(exchange, self.target.reading) or envelope.rate_limited(exchange, self.target.reading)
        if breach is not None:
            raise self._violation(exchange, breach)
        for check in self.target.answer_checks:
            check(self, response)
        return response

    def _violation(self, ex: HttpExchange, breach: envelope.Breach, *, received: str | None = None) -> Violation:
        """The failure an envelope rule's ``breach`` of ``ex`` stands for; its title is redacted too (it may
        quote what a hostile target sent: a header line, a Location, an error's text)."""
        return Violation.of(
            ex,
            self.target.redactor(breach.title),
            behaviour=breach.behaviour,
            documented=breach.documented,
            redact=self.target.redactor,
            expected={"check": breach.check},
            received=received,
        )

    # ---------------------------------------------------------- partner views

    def get_menu(self, store: Store | Mapping[str, int] | None = None) -> httpx.Response:
        if store is None:
            return self.call("getMenu")
        s = store.as_json() if isinstance(store, Store) else store
        return self.call("getMenu", params={"brand_id": s["brandID"], "branch_id": s["branchID"]})

    def publish(self, stores: Iterable[Store | Mapping[str, int]]) -> httpx.Response:
        body = {"stores": [s.as_json() if isinstance(s, Store) else dict(s) for s in stores], "providerIDs": [1]}
        return self.call("publishMenu", body)


def listed_section_ids(body: Any) -> list[int]:
    """The integer ``id`` of every section node of a getMenu answer; what is missing or malformed is skipped."""
    data = body.get("data") if isinstance(body, dict) else None
    menu = data.get("menu") if isinstance(data, dict) else None
    sections = menu.get("sections") if isinstance(menu, dict) else None
    if not isinstance(sections, list):
        return []
    ids = (node.get("id") for node in sections if isinstance(node, dict))
    return [sid for sid in ids if isinstance(sid, int) and not isinstance(sid, bool)]
