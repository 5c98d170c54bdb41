"""The fuzz run's session: what the Schemathesis hooks and checks know about the target.

Owns: ``FuzzSettings`` and the one settings object in force (``configure`` by
a test suite, ``defer`` until then, or ``settings_from_env`` for the plain
CLI from the ``KLIKIT_*`` variables), the judgement the schema is loaded
under (``use_view``), the request-rate cap, a Schemathesis answer as a
``checks.HttpExchange`` and the sections the run created. Must not: decide a
contract rule (``checks`` does) or print a secret.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import schemathesis

from .. import contract
from ..contract import Judgement
from ..partner.bounded import BoundedTransport
from . import checks, context
from .config import host_of
from .failures import Violation
from .observations import ObservationLog, settle
from .safety import Guard
from .target import listed_section_ids

Case = schemathesis.Case[Any]
#: share of positive cases whose ids are replaced by the caller's own (the rest keep drawn ids: 404 paths)
GROUNDING_SHARE = 0.75
FUZZ_SECTION_TITLE = "klikit-harness fuzz"


@dataclass
class FuzzSettings:
    """What the hooks know about the run."""

    ctx: context.Context
    #: stores the harness may write to (they have a menu), as {brandID, branchID}
    stores: list[dict[str, int]] = field(default_factory=list)
    #: sections of the business pushed by populate / sync (store-level effects only; the run's own
    #: sections are not pushed, so their drawn schedules never collide with another suite's)
    sections: list[int] = field(default_factory=list)
    #: sections the run created: the only ones whose business-level row it changes
    own_sections: list[int] = field(default_factory=list)
    run_id: str = "klikit-harness"
    #: the embedded stand-in's count of executed writes; None for anything reached over the network
    writes: Callable[[], int] | None = None
    ground: bool = True
    #: False on a read-only run: generated writes are not sent at all
    allow_writes: bool = True
    #: called with every exchange (the pytest suite records them on its target for reports)
    record: Callable[[checks.HttpExchange], None] | None = None
    #: raises a Violation whose behaviour the run enforces, records it as an observation otherwise
    #: (``Target.settle``; by default every behaviour is enforced)
    settle: Callable[[Violation, str], None] = field(default=lambda violation, source: _raise(violation))
    #: the plain CLI's guard (the test suite guards its own transports): a write it refuses is not sent
    guard: Guard | None = None


def _raise(violation: Violation) -> None:
    raise violation


_LOCK = threading.RLock()
_SETTINGS: FuzzSettings | None = None
_DEFERRED = False
_WRITES_BEFORE: dict[str, int] = {}


def defer() -> None:
    """A test suite configures the hooks later, from its session target.

    Schemathesis builds coverage-phase cases while pytest collects, before any
    fixture runs; until ``configure`` is called the hooks leave cases as drawn
    instead of reading ``KLIKIT_*`` as the CLI does.
    """
    global _DEFERRED
    _DEFERRED = True


def configure(settings: FuzzSettings) -> None:
    """Tell the hooks about the target (a test suite calls this before sending anything)."""
    global _SETTINGS
    with _LOCK:
        _SETTINGS = settings
        _WRITES_BEFORE.clear()


def current() -> FuzzSettings | None:
    """The settings in force; the CLI builds them from ``KLIKIT_*`` on first use.

    None while a test suite has deferred configuration (``defer``).
    """
    global _SETTINGS
    with _LOCK:
        if _SETTINGS is None and not _DEFERRED:
            _SETTINGS = settings_from_env()
        return _SETTINGS


def required() -> FuzzSettings:
    settings = current()
    if settings is None:
        raise RuntimeError("klikit_harness.checking.fuzz_hooks.configure() was not called before the first request")
    return settings


def settings_from_env() -> FuzzSettings:
    """Settings for the plain CLI: the ``KLIKIT_*`` variables and the target's business-mode getMenu.

    Creates one section titled ``klikit-harness fuzz <run>`` for the business-level
    section writes, so no existing section's business row is ever changed.
    """
    import httpx

    from .config import ConfigError, load_settings

    try:
        env = load_settings(None)
    except ConfigError as exc:
        raise RuntimeError(f"klikit-harness fuzz hooks: {exc}") from None
    if env.base_url is None or env.main is None:
        raise RuntimeError(
            "klikit-harness fuzz hooks need KLIKIT_BASE_URL, KLIKIT_PARTNER_KEY and KLIKIT_SECRET_KEY "
            "(`klikit-harness sandbox --env-file sandbox.env` writes them for the stand-in)"
        )
    if env.is_production:
        raise RuntimeError(f"{env.host} is the production host: the fuzzer writes, so it never runs there")
    reading = os.environ.get("KLIKIT_CONTRACT", "reference")
    if reading not in contract.READINGS:
        raise RuntimeError(f"KLIKIT_CONTRACT={reading!r} is not a reading; use one of {', '.join(contract.READINGS)}")
    key, secret = env.main.pair()
    run_id = f"kh-fuzz-{uuid.uuid4().hex[:8]}"
    # Schemathesis paces the cases (rate-limit); the guard refuses writes outside the allowlist and
    # paces these two setup requests under the same cap.
    bounds = env.bounds()
    guard = Guard(
        allowed=env.writable_stores(),
        max_rps=env.effective_max_rps(standin=False),
        menu_path=_path_of(env.base_url).rstrip("/") + contract.operations()["getMenu"].path,
        host=host_of(env.base_url),
        bounds=bounds,
    )
    with httpx.Client(
        base_url=env.base_url,
        auth=(key, secret),
        transport=BoundedTransport(bounds=bounds),
        timeout=bounds.httpx_timeout(),
        event_hooks=guard.httpx_hooks(),
    ) as client:
        try:
            answer = client.get(contract.operations()["getMenu"].path)
            sections = listed_section_ids(answer.json())
        except (httpx.HTTPError, ValueError) as exc:
            raise RuntimeError(
                f"klikit-harness fuzz hooks: business-mode getMenu at {env.base_url} did not list the sections "
                f"({type(exc).__name__}); check KLIKIT_BASE_URL and the credential (klikit-harness doctor)"
            ) from None
        made = client.post(
            contract.operations()["createSection"].path,
            json={"title": {"en": f"{FUZZ_SECTION_TITLE} {run_id}"}, "fromAPI": True},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        own = [int(made.json()["data"]["id"])] if 200 <= made.status_code < 300 else []
    stores = [s.as_json() for s in env.stores]
    judge = cli_judgement()
    log = ObservationLog()
    ctx = context.Context(
        reading=reading,
        main=(key, secret),
        credentials=tuple(pair for pair in _pairs(env.secrets())),
        own_stores=frozenset((s["brandID"], s["branchID"]) for s in stores)
        | frozenset((s.brand_id, s.branch_id) for s in env.fresh_stores),
        own_sections=frozenset(sections + own),
        base_path=_path_of(env.base_url),
        judgement=judge,
    )

    def settled(violation: Violation, source: str = "") -> None:
        settle(violation, judgement=judge, log=log, source=source)

    return FuzzSettings(
        ctx=ctx, stores=stores, sections=sections, own_sections=own, run_id=run_id, settle=settled, guard=guard
    )


def cli_judgement() -> Callable[[str], Judgement]:
    """The plain CLI judges its target as a real one: documented and contested behaviours enforced,
    assumed ones only with ``KLIKIT_STRICT=1``, incidental ones never."""
    strict = os.environ.get("KLIKIT_STRICT", "") in {"1", "true", "yes"}

    def judge(behaviour: str) -> Judgement:
        return contract.judgement(contract.behaviour(behaviour).status, reference_target=False, strict=strict)

    return judge


def _pairs(secrets: list[tuple[str | None, str]]) -> list[tuple[str, str]]:
    return [(key or "", secret) for key, secret in secrets]


def _origin_of(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _path_of(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).path.rstrip("/") or "/"


def rate_limit_spec(max_rps: float | None) -> str | None:
    """``KLIKIT_MAX_RPS`` as a Schemathesis rate limit (``5/s``); None for no cap."""
    if not max_rps:
        return None
    return f"{int(max_rps)}/s" if max_rps >= 1 else f"{max(1, int(max_rps * 60))}/m"


#: the judgement the schema is loaded under (None: every behaviour enforced, the raw contract)
_VIEW: Callable[[str], Judgement] | None = None


def use_view(judge: Callable[[str], Judgement] | None) -> None:
    """Load every later schema as the documented view under ``judge`` (None: the raw contract)."""
    global _VIEW
    _VIEW = judge


def deferred() -> bool:
    """True once a test suite said it configures the hooks itself (``defer``)."""
    return _DEFERRED


def schema_judgement() -> Callable[[str], Judgement] | None:
    """The judgement the schema is loaded under: ``use_view``'s for a test suite, the plain CLI's
    (``cli_judgement``) otherwise; None for the raw contract."""
    return _VIEW if (_DEFERRED or _VIEW is not None) else cli_judgement()


# --------------------------------------------------------------- exchanges


def exchange_of(response: schemathesis.Response) -> checks.HttpExchange:
    """A Schemathesis response (and the request that produced it) as a ``checks.HttpExchange``."""
    return checks.HttpExchange.from_requests(response)


def operation_id_of(case: Case) -> str | None:
    for op in contract.operations().values():
        if op.method == case.method.upper() and op.path == case.path:
            return op.operation_id
    return None


def learn(ex: checks.HttpExchange, settings: FuzzSettings) -> None:
    """Remember sections the run created: they are the caller's and the run may change them."""
    if ex.method.upper() != "POST" or not 200 <= ex.status < 300 or not ex.path.endswith("/menus/sections"):
        return
    data = (ex.envelope or {}).get("data")
    sid = data.get("id") if isinstance(data, dict) else None
    if isinstance(sid, int) and not isinstance(sid, bool):
        with _LOCK:
            settings.ctx.own_sections = settings.ctx.own_sections | {sid}
            if sid not in settings.own_sections:
                settings.own_sections.append(sid)


def settings_for(
    target: Any, *, stores: list[dict[str, int]], sections: list[int], own_sections: list[int]
) -> FuzzSettings:
    """Settings for a ``klikit_harness.checking.target.Target`` (the pytest suite's session target).

    ``stores`` are the stores generated writes name, ``sections`` the business's
    sections pushed to them, ``own_sections`` the sections the run created.
    """
    service = target.service
    writes: Callable[[], int] | None = (lambda: int(service.world.writes)) if service is not None else None
    paths: Mapping[str, str] = dict(getattr(target, "paths", {}) or {})
    known_stores = [*stores, *target.stores, *(s.as_json() for s in target.settings.fresh_stores)]
    ctx = context.Context(
        reading=target.reading,
        main=tuple(target.main),
        credentials=tuple(_pairs(target.settings.secrets())),
        own_stores=frozenset((s["brandID"], s["branchID"]) for s in known_stores),
        own_sections=frozenset(sections + own_sections),
        redact=target.redactor,
        paths=paths,
        base_path=_path_of(target.base_url),
        origin=_origin_of(target.base_url),
        judgement=target.judgement,
    )
    return FuzzSettings(
        ctx=ctx,
        stores=list(stores),
        sections=list(sections),
        own_sections=list(own_sections),
        run_id=target.run_id,
        writes=writes,
        allow_writes=not target.read_only,
        record=lambda ex: _record_on(target, ex),
        settle=target.settle,
    )


def _record_on(target: Any, ex: checks.HttpExchange) -> None:
    import dataclasses
    from urllib.parse import urlsplit

    url = ex.url
    if urlsplit(url).hostname == "testserver":  # in-process (ASGI): the same service answers on base_url
        origin = urlsplit(target.base_url)
        ex = dataclasses.replace(ex, url=urlsplit(url)._replace(scheme=origin.scheme, netloc=origin.netloc).geturl())
    target.record(ex)
