"""Helpers of the fuzz suite: the Schemathesis configuration per profile and the session's fuzz run.

The schema is loaded at import time (module level, no ``from_fixture``) with
an explicit configuration, so the repository's ``schemathesis.toml`` (meant
for the plain CLI and its ``KLIKIT_*`` variables) is never picked up here.
It is loaded as the documented view for the session's judgement (``JUDGE``,
decided in conftest.py from the options before collection): the raw contract
on the embedded stand-in without variants, the contract without what the run
only observes otherwise. The target comes from the ``klikit_target`` session
fixture and is handed to each call (``app=`` in-process, ``base_url=`` over
HTTP); every failure is raised as the ``Violation`` of the one behaviour it
breaks (``fuzz_hooks.judged``).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import schemathesis
from schemathesis.config import SchemathesisConfig

from klikit_harness import contract
from klikit_harness.checking import fuzz_hooks, profiles
from klikit_harness.checking.config import Store
from klikit_harness.checking.failures import Violation
from klikit_harness.checking.safety import GuardedSession
from klikit_harness.checking.target import Target
from klikit_harness.contract import Judgement

# The hooks are configured from the session target once it exists (see open_run).
fuzz_hooks.defer()

#: host the in-process (ASGI) calls are addressed to; nothing leaves the process
IN_PROCESS_BASE = "http://testserver/v1/partner"


@dataclass(frozen=True)
class Budget:
    """How hard one profile fuzzes (examples per operation and phase; HTTP transports)."""

    max_examples: int
    #: positive and negative coverage cases (boundaries, missing/extra parts): ~500 for a rich operation
    coverage: bool
    #: the in-process stand-in turns a crash into an exception, not a 500: the loopback run sees 5xx
    loopback: bool
    stateful_examples: int
    stateful_steps: int
    key_examples: int


BUDGETS: dict[profiles.Profile, Budget] = {
    # smoke: the whole fuzz suite, coverage phase included, in well under a minute in-process on 2 cores
    "smoke": Budget(
        max_examples=40, coverage=True, loopback=False, stateful_examples=20, stateful_steps=6, key_examples=8
    ),
    "release": Budget(
        max_examples=60, coverage=True, loopback=True, stateful_examples=40, stateful_steps=8, key_examples=20
    ),
    "nightly": Budget(
        max_examples=300, coverage=True, loopback=True, stateful_examples=150, stateful_steps=12, key_examples=60
    ),
}

#: a real target answers at most KLIKIT_MAX_RPS (5/s by default): smoke skips the coverage
#: phase (~1,000 requests) and stays near 150 requests, about half a minute at 5/s
REMOTE_BUDGETS: dict[profiles.Profile, Budget] = {
    "smoke": Budget(
        max_examples=8, coverage=False, loopback=False, stateful_examples=3, stateful_steps=4, key_examples=2
    ),
    "release": Budget(
        max_examples=40, coverage=True, loopback=False, stateful_examples=20, stateful_steps=6, key_examples=10
    ),
    "nightly": Budget(
        max_examples=150, coverage=True, loopback=False, stateful_examples=80, stateful_steps=10, key_examples=30
    ),
}

#: whether the session's target is a real environment (decided in conftest.py before collection)
REMOTE = False
#: the run's seed, chosen in the suite's conftest.py before any fuzz module is imported
SEED: int | None = None
#: the session's judgement of behaviours, decided in the suite's conftest.py before collection
#: (None: the embedded stand-in without variants, where every behaviour is enforced)
JUDGE: Callable[[str], Judgement] | None = None


def judgement_for(*, reference_target: bool, strict: bool) -> Callable[[str], Judgement] | None:
    """What the target will judge (``Target.judgement``), known before the target exists."""
    if reference_target:
        return None

    def judge(behaviour: str) -> Judgement:
        return contract.judgement(contract.behaviour(behaviour).status, reference_target=False, strict=strict)

    return judge


def budget() -> Budget:
    return (REMOTE_BUDGETS if REMOTE else BUDGETS)[profiles.current()]


def config(
    *, mode: str = "all", phases: tuple[str, ...] | None = None, max_examples: int | None = None
) -> SchemathesisConfig:
    """The Schemathesis configuration for the profile in force (every built-in check on)."""
    b = budget()
    chosen = phases or (("examples", "coverage", "fuzzing") if b.coverage else ("examples", "fuzzing"))
    data: dict[str, Any] = {
        "generation": {
            "mode": mode,
            "max-examples": max_examples or b.max_examples,
            # auth comes from the target's credential on every call, never generated
            "with-security-parameters": False,
        },
        "phases": {name: {"enabled": name in chosen} for name in ("examples", "coverage", "fuzzing", "stateful")},
        "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large"],
    }
    if SEED is not None:
        data["seed"] = SEED
    return SchemathesisConfig.from_dict(data)


def load_schema(**kwargs: Any) -> Any:
    """The contract as this session judges it (the documented view off the reference stand-in)."""
    fuzz_hooks.use_view(JUDGE)
    return schemathesis.openapi.from_path(contract.openapi_path(), config=config(**kwargs))


class _CappedSession(GuardedSession):
    """The fuzz run's session: every request passes the target's guard (read-only rule, store
    allowlist, ``KLIKIT_MAX_RPS`` and the request count) before it leaves."""

    def __init__(self, target: Target, *, user_agent: bool = True) -> None:
        super().__init__(target.guard)
        self._target = target
        if user_agent:
            self.headers["user-agent"] = f"klikit-harness fuzz {target.run_id}"


@contextlib.contextmanager
def _probes_guarded(target: Target) -> Iterator[None]:
    """Requests Schemathesis' checks send on their own (``ignored_auth``'s probes) drop the session
    they were given and open a bare one; route those through a guarded session too.

    Only calls without a session are redirected, only on the requests transport
    (the in-process ASGI app is guarded by the target itself), only while the run lasts.
    """
    from schemathesis.transport.requests import REQUESTS_TRANSPORT

    probes = _CappedSession(target, user_agent=False)
    original = REQUESTS_TRANSPORT.send
    # Two fuzz sessions may be open in one process (the suite's and a self-test's): each puts back
    # what it found, so the last to close leaves the class's method.
    shadowed = vars(REQUESTS_TRANSPORT).get("send")

    def send(case: Any, *, session: requests.Session | None = None, **kwargs: Any) -> Any:
        if session is None:
            probes.cookies.clear()  # a bare session each time, as Schemathesis would open
            session = probes
        return original(case, session=session, **kwargs)

    REQUESTS_TRANSPORT.send = send  # type: ignore[method-assign]
    try:
        yield
    finally:
        if shadowed is None:
            vars(REQUESTS_TRANSPORT).pop("send", None)  # the class's method again
        else:
            REQUESTS_TRANSPORT.send = shadowed  # type: ignore[method-assign]
        probes.close()


@dataclass
class FuzzRun:
    """The session's fuzzing context: target, transports and the sections and stores it writes to."""

    target: Target
    transports: tuple[str, ...]
    settings: fuzz_hooks.FuzzSettings
    session: requests.Session = field(repr=False)

    def __repr__(self) -> str:
        # Hypothesis prints a failing example's arguments: the target's exchange log would make it megabytes
        return f"FuzzRun(target={self.target.base_url!r}, transports={self.transports!r})"

    def kwargs(self, transport: str) -> dict[str, Any]:
        if transport == "in-process":
            return {"app": self.target.app, "base_url": IN_PROCESS_BASE, "auth": self.target.main}
        return {"base_url": self.target.base_url, "auth": self.target.main, "session": self.session}

    def use(self, case: Any, transport: str) -> dict[str, Any]:
        """Point ``case``'s schema at ``transport``; checks that send requests of their own
        (``ignored_auth``) use the schema's transport, so it has to follow the call's."""
        case.operation.schema.app = self.target.app if transport == "in-process" else None
        return self.kwargs(transport)

    def call_and_validate(self, case: Any, **extra: Any) -> list[Any]:
        """Send ``case`` over every transport of the profile; every check runs on every answer."""
        with fuzz_hooks.judged():
            return [case.call_and_validate(**self.use(case, t), **extra) for t in self.transports]

    def validate(self, case: Any, response: Any, transport: str, checks: list[Any]) -> None:
        """Run ``checks`` on one answer; a failure is the Violation of the behaviour it breaks."""
        with fuzz_hooks.judged():
            case.validate_response(response, checks=checks, transport_kwargs=self.kwargs(transport))

    def expect(self, ok: bool, title: str, behaviour: str, *, response: Any, documented: str) -> None:
        """A test's own expectation: settled like every check (observed behaviours are recorded)."""
        if ok:
            return
        rid = None
        with contextlib.suppress(ValueError, AttributeError):
            rid = response.json().get("request_id")
        self.target.settle(
            Violation(
                title,
                behaviour=behaviour,
                received=f"HTTP {response.status_code}: {self.target.redactor(response.text[:300])}",
                documented=documented,
                request_id=rid if isinstance(rid, str) else None,
            ),
            source=title,
        )

    def call(self, case: Any, transport: str | None = None) -> Any:
        return case.call(**self.use(case, transport or self.transports[0]))

    def writes(self) -> int | None:
        return self.settings.writes() if self.settings.writes is not None else None


TRANSPORTS_VAR = "KLIKIT_FUZZ_TRANSPORTS"


def transports_for(target: Target) -> tuple[str, ...]:
    """in-process (ASGI, the embedded stand-in only) and/or http; ``KLIKIT_FUZZ_TRANSPORTS`` overrides."""
    if not target.is_standin:
        return ("http",)
    chosen = os.environ.get(TRANSPORTS_VAR)
    if chosen:
        names = tuple(t.strip() for t in chosen.split(",") if t.strip())
        unknown = set(names) - {"in-process", "http"}
        if unknown or not names:
            raise pytest.UsageError(f"{TRANSPORTS_VAR}={chosen!r}: use in-process, http or both (comma-separated)")
        return names
    return ("in-process", "http") if budget().loopback else ("in-process",)


def open_run(target: Target) -> Iterator[FuzzRun]:
    """Prepare the target for fuzzing: the run's own sections and (on the stand-in) its own stores."""
    if target.reference_target != (JUDGE is None):
        raise pytest.UsageError(
            "the fuzz suite loaded its schema for a "
            f"{'reference' if JUDGE is None else 'non-reference'} target, but the session's target is "
            f"{'the embedded stand-in without variants' if target.reference_target else 'judged as a real one'}: "
            "pass --klikit-target / --klikit-variant on the command line, not from a fixture"
        )
    stores, own_sections = _fuzz_stores(target), _fuzz_sections(target)
    sections = [sid for sid in target.section_ids() if sid not in own_sections]
    settings = fuzz_hooks.settings_for(target, stores=stores, sections=sections, own_sections=own_sections)
    fuzz_hooks.configure(settings)
    session = _CappedSession(target)
    try:
        with _probes_guarded(target):
            yield FuzzRun(target, transports_for(target), settings, session)
    finally:
        session.close()


def _fuzz_sections(target: Target) -> list[int]:
    """Two sections titled with the run id: business-level writes (enable, visibilities) change only these."""
    if target.read_only:
        return []
    made = []
    with target.client() as client:
        for n in (1, 2):
            r = client.call("createSection", {"title": {"en": f"{target.run_id} fuzz {n}"}, "fromAPI": True})
            if 200 <= r.status_code < 300:  # any 2xx: only success is stated
                made.append(int(r.json()["data"]["id"]))
    return made


def _fuzz_stores(target: Target) -> list[dict[str, int]]:
    """The stores generated writes name.

    On the embedded stand-in the run takes three stores of its own (two given a
    menu, one left fresh for populate), so what it attaches and overrides never
    meets another suite's expectations in the same session. A real target's
    writable stores are ``KLIKIT_STORES`` (fresh stores are never spent here).
    """
    if not target.is_standin or target.read_only:
        return list(target.stores)
    taken: list[Store] = [s for s in (target.take_fresh_store() for _ in range(3)) if s is not None]
    sections = target.section_ids()[:2]
    with target.client() as client:
        for store in taken[:2]:
            body = {
                "stores": [store.as_json()],
                "sections": {str(sid): {"sequence": i} for i, sid in enumerate(sections)},
            }
            client.call("populateMenu", body, key=str(uuid.uuid4()))
    return [s.as_json() for s in taken] or list(target.stores)
