"""Schemathesis hooks and checks for fuzzing the klikit Partner API — the CLI and the pytest suite alike.

Owns: what makes Schemathesis useful against this contract — a fresh
Idempotency-Key on every generated write whose key is valid, generated ids
grounded on the caller's own stores and sections (so writes get past the
404s), the harness checks of ``checks.py`` registered as ``klikit_*``
Schemathesis checks, the filter that drops exactly those built-in failures
the contract makes correct answers, and the request-rate cap. Must not:
decide a contract rule (``checks`` does) or print a secret.

The plain CLI loads this module through ``schemathesis.toml`` (``hooks =
"klikit_harness.checking.fuzz_hooks"``) and reads the ``KLIKIT_*`` variables; a test
suite imports it and calls ``configure`` with its target. Importing registers
the hooks and checks with Schemathesis for the whole process.
"""

from __future__ import annotations

import json
import os
import random
import threading
import uuid
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import schemathesis
from jsonschema import Draft202012Validator
from schemathesis import GenerationMode
from schemathesis.core.failures import (
    AcceptedNegativeData,
    CustomFailure,
    FailureGroup,
    MalformedJson,
    ServerError,
)
from schemathesis.generation.meta import TestPhase
from schemathesis.openapi.checks import (
    AllowHeaderMismatch,
    ContentDeserializationError,
    EnsureResourceAvailability,
    IgnoredAuth,
    JsonSchemaError,
    MalformedMediaType,
    MissingContentType,
    MissingHeaderNotRejected,
    MissingHeaders,
    RejectedPositiveData,
    UndefinedContentType,
    UndefinedStatusCode,
    UnsupportedMethodResponse,
)

from .. import contract
from ..contract import WRITE_METHODS, Judgement
from ..contract import view as schema_view
from ..core import schedules, validation
from ..core.service import MAX_KEY_LENGTH
from ..partner.bounded import BoundedTransport
from . import checks
from .config import host_of
from .failures import Violation
from .observations import ObservationLog, settle
from .safety import Guard

Case = schemathesis.Case[Any]
#: share of positive cases whose ids are replaced by the caller's own (the rest keep drawn ids: 404 paths)
GROUNDING_SHARE = 0.75
FUZZ_SECTION_TITLE = "klikit-harness fuzz"


@dataclass
class FuzzSettings:
    """What the hooks know about the run."""

    ctx: checks.Context
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
    guard = Guard(allowed=env.writable_stores(), max_rps=env.effective_max_rps(standin=False),
                  menu_path=_path_of(env.base_url).rstrip("/") + contract.operations()["getMenu"].path,
                  host=host_of(env.base_url), bounds=bounds)
    with httpx.Client(base_url=env.base_url, auth=(key, secret), transport=BoundedTransport(bounds=bounds),
                      timeout=bounds.httpx_timeout(), event_hooks=guard.httpx_hooks()) as client:
        try:
            answer = client.get(contract.operations()["getMenu"].path)
            sections = [int(s["id"]) for s in answer.json()["data"]["menu"]["sections"]]
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            raise RuntimeError(
                f"klikit-harness fuzz hooks: business-mode getMenu at {env.base_url} did not list the sections "
                f"({type(exc).__name__}); check KLIKIT_BASE_URL and the credential (klikit-harness doctor)"
            ) from None
        made = client.post(
            contract.operations()["createSection"].path,
            json={"title": {"en": f"{FUZZ_SECTION_TITLE} {run_id}"}, "fromAPI": True},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        own = [int(made.json()["data"]["id"])] if made.status_code == 200 else []
    stores = [s.as_json() for s in env.stores]
    judge = cli_judgement()
    log = ObservationLog()
    ctx = checks.Context(
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

    return FuzzSettings(ctx=ctx, stores=stores, sections=sections, own_sections=own, run_id=run_id,
                        settle=settled, guard=guard)


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


# --------------------------------------------------------------- exchanges


def exchange_of(response: schemathesis.Response) -> checks.HttpExchange:
    """A Schemathesis response (and the request that produced it) as a ``checks.HttpExchange``."""
    return checks.HttpExchange.from_requests(response)


def _operation_id(case: Case) -> str | None:
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


# -------------------------------------------------------------------- hooks


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: Case, kwargs: dict[str, Any]) -> None:
    """A fresh Idempotency-Key for every write whose generated key is valid.

    Hypothesis keeps redrawing tiny keys ("0", "!"), so most generated writes
    would replay or hit 409. A key that is missing, empty or longer than 64
    characters is left alone: those are the negative cases (400s).
    """
    settings = current()
    if case.method.upper() in WRITE_METHODS:
        key = case.headers.get("Idempotency-Key") if case.headers is not None else None
        if key is not None and 1 <= len(key.strip(" \t")) <= MAX_KEY_LENGTH:
            case.headers["Idempotency-Key"] = str(uuid.uuid4())
    if settings is not None and settings.writes is not None:
        with _LOCK:
            _WRITES_BEFORE[case.id] = settings.writes()
            if len(_WRITES_BEFORE) > 10_000:
                _WRITES_BEFORE.pop(next(iter(_WRITES_BEFORE)))


@schemathesis.hook
def after_call(context: schemathesis.HookContext, case: Case, response: schemathesis.Response) -> None:
    """Hand every exchange to the run's recorder (reports quote the last one as a reproduction)."""
    settings = current()
    if settings is not None and settings.record is not None:
        settings.record(exchange_of(response))


def _rng(case: Case, settings: FuzzSettings) -> random.Random:
    """Randomness derived from the generated case itself: the same case is grounded the same way
    on every run and while shrinking, and no draw is added to Hypothesis's choice sequence.

    Ids of sections the run created are masked: a stateful step carries the id
    the server assigned, which differs on every replay, and a grounding that
    followed it would make Hypothesis see different scenarios for the same draws.
    """
    created = {str(sid) for sid in settings.own_sections}

    def mask(value: Any) -> Any:
        if isinstance(value, dict):
            return {("#" if str(k) in created else str(k)): mask(v) for k, v in value.items()}
        if isinstance(value, list):
            return [mask(v) for v in value]
        if isinstance(value, (int, str)) and not isinstance(value, bool) and str(value) in created:
            return "#"
        return value

    body = case.body if isinstance(case.body, (dict, list)) else None
    raw = json.dumps(mask([case.path_parameters, case.query, body]), sort_keys=True, default=str)
    return random.Random(zlib.crc32(raw.encode()))


def _is_positive(case: Case) -> bool:
    meta = case.meta
    return meta is None or meta.generation.mode is GenerationMode.POSITIVE


def _is_stateful(case: Case) -> bool:
    meta = case.meta
    return meta is not None and meta.phase.name is TestPhase.STATEFUL


@schemathesis.hook
def map_case(context: schemathesis.HookContext, case: Case) -> Case:
    """Ground most positive cases on the caller's own stores and sections.

    With drawn ids every populate / sync / publish / reset is a 404; with the
    target's stores and sections those operations run for real. Only valid
    values replace valid values, so a positive case stays positive; negative
    cases are left as drawn. Business-level section writes (enable,
    visibilities) only ever name sections the run created. Titles of created
    sections start with the run id, so a real target can be cleaned up. In the
    stateful phase the section ids come from links (a created section) and
    are kept.
    """
    settings = current()
    if settings is not None:
        confine_stores(context, case, {})
    if settings is None or not settings.ground or not _is_positive(case):
        return case
    op_id = _operation_id(case)
    rnd = _rng(case, settings)
    body = cast(dict[str, Any], case.body) if isinstance(case.body, dict) else None
    if op_id == "createSection" and body is not None and isinstance(body.get("title"), dict):
        title = {k: f"{settings.run_id} {v}"[:500] if isinstance(v, str) else v for k, v in body["title"].items()}
        body = {**body, "title": title}
        case.body = body
    if rnd.random() >= GROUNDING_SHARE:
        return case
    if op_id == "getMenu":
        if settings.stores and "brand_id" in case.query and "branch_id" in case.query:
            store = rnd.choice(settings.stores)
            case.query = {**case.query, "brand_id": store["brandID"], "branch_id": store["branchID"]}
        return case
    linked = _is_stateful(case)
    if op_id == "setSectionVisibilities" and settings.own_sections and not linked:
        case.path_parameters = {**case.path_parameters, "sectionID": rnd.choice(settings.own_sections)}
    if body is None:
        return case
    new = _repaired(cast(dict[str, Any], validation.as_integers(body)), rnd)
    if settings.stores and isinstance(body.get("stores"), list):
        new["stores"] = _pick(rnd, settings.stores, len(body["stores"]))
    if settings.stores and isinstance(body.get("zoneStores"), list) and body["zoneStores"]:
        new["zoneStores"] = _pick(rnd, settings.stores, len(body["zoneStores"]))
    if op_id == "enableSections" and settings.own_sections and isinstance(body.get("ids"), list) and not linked:
        new["ids"] = _pick(rnd, settings.own_sections, len(body["ids"]))
    if op_id in {"populateMenu", "syncMenuToStores"} and settings.sections and isinstance(new.get("sections"), dict):
        entries = list(new["sections"].values())[: len(settings.sections)]
        chosen = rnd.sample(settings.sections, len(entries))
        new["sections"] = {str(sid): entry for sid, entry in zip(chosen, entries, strict=True)}
    case.body = new
    return case


@schemathesis.hook("before_call")
def confine_stores(context: schemathesis.HookContext, case: Case, kwargs: dict[str, Any]) -> None:
    """On a real target every write names only the stores the harness may write to.

    Generated, example and coverage cases alike (examples and coverage cases
    are built before the run is configured, so this runs again just before
    each call): every store a write names with valid ids (a
    ``{brandID, branchID}`` object anywhere in the body, ``brand_id`` and
    ``branch_id`` in the query) becomes one of the run's writable stores, with
    ids of the same JSON type; invalid ids are left as drawn, so a negative
    case stays negative. The embedded stand-in keeps drawn stores (its world is
    the run's own). getMenu is a read and keeps its ids.
    """
    from .safety import rewrite_stores, valid_id

    settings = current()
    if settings is None or settings.writes is not None or not settings.stores:
        return
    if case.method.upper() not in WRITE_METHODS:
        return
    rnd = _rng(case, settings)
    if isinstance(case.body, (dict, list)):
        rewrite_stores(case.body, lambda: rnd.choice(settings.stores))
    query = case.query or {}
    if valid_id(query.get("brand_id"), text=True) and valid_id(query.get("branch_id"), text=True):
        store = rnd.choice(settings.stores)
        case.query = {**query, "brand_id": store["brandID"], "branch_id": store["branchID"]}
    if settings.guard is not None:
        refused(settings.guard, case, kwargs)


def refused(guard: Guard, case: Case, kwargs: Mapping[str, Any]) -> None:
    """The plain CLI's last word before a case leaves: ``NotSent`` for a write the guard refuses."""
    from .safety import NotSent

    body = kwargs.get("json", case.body if isinstance(case.body, (dict, list)) else None)
    url = str(kwargs.get("url") or case.formatted_path)
    query = "&".join(f"{k}={v}" for k, v in (kwargs.get("params") or case.query or {}).items())
    reason = guard.refusal(case.method, f"{url}?{query}" if query else url, body, None)
    if reason is not None:
        raise NotSent(reason, method=case.method.upper(), url=url, test=case.operation.label)


def _repaired(body: dict[str, Any], rnd: random.Random) -> dict[str, Any]:
    """Half of the drawn schedules and dates that break a business rule become valid ones.

    Drawn schedules almost always break a rule JSON Schema cannot state (HHMM
    minutes, startTime < endTime), so without this populate, sync and
    createSection would nearly never succeed; the other half keeps exercising
    the rule's 400. (The caller also sends grounded integers as integers: the
    ungrounded quarter keeps the drawn ``2.0`` values.)
    """

    def schedule(times: Any) -> Any:
        if isinstance(times, dict) and times and not schedules.is_valid(times) and rnd.random() < 0.5:
            return {}
        return times

    if "availableTimes" in body:
        body["availableTimes"] = schedule(body["availableTimes"])
    for entry in (body.get("sections") or {}).values() if isinstance(body.get("sections"), dict) else ():
        if isinstance(entry, dict) and "availableTimes" in entry:
            entry["availableTimes"] = schedule(entry["availableTimes"])
    if isinstance(body.get("blackoutDates"), list) and rnd.random() < 0.5:
        body["blackoutDates"] = [d for d in body["blackoutDates"] if validation.is_calendar_date(d)]
    return body


def _pick(rnd: random.Random, pool: list[Any], count: int) -> list[Any]:
    """``count`` items (at least one) from ``pool``, repeats allowed: the contract de-duplicates."""
    return [rnd.choice(pool) for _ in range(max(1, min(count, 5)))]


@schemathesis.hook
def filter_case(context: schemathesis.HookContext, case: Case) -> bool:
    """On a read-only run (the production host) generated writes are never sent."""
    settings = current()
    return settings is None or settings.allow_writes or case.method.upper() not in WRITE_METHODS


@schemathesis.hook
def filter_failure(
    context: schemathesis.HookContext,
    failure: Any,
    case: Case | None,
    response: schemathesis.Response,
) -> bool:
    """Every failure, Schemathesis' built-in ones included, judged by the behaviour it breaks.

    ``violation_of`` names the one behaviour a failure breaks (or finds the
    answer is the documented one: OpenAPI cannot state every rule, see its
    docstring). The run then settles it: a failure of an enforced behaviour is
    kept, carrying its ``Violation`` (``judged`` raises that instead of
    Schemathesis' report); one of an observed behaviour is recorded as an
    observation and dropped, so the test goes on.
    """
    settings = required()
    violation = violation_of(failure, case, response, settings)
    if violation is None:
        return False
    try:
        settings.settle(violation, _label(case, exchange_of(response)))
    except Violation as enforced:
        setattr(failure, VIOLATION, enforced)
        return True
    return False


#: attribute of a kept Schemathesis failure holding the Violation it stands for
VIOLATION = "klikit_violation"


@contextmanager
def judged() -> Iterator[None]:
    """Raise the Violation of the first kept failure instead of Schemathesis' failure group, so a
    failure counts against the behaviour it breaks and never against every id of the test."""
    try:
        yield
    except FailureGroup as group:
        found = [v for f in group.exceptions if isinstance(v := getattr(f, VIOLATION, None), Violation)]
        if found:
            raise most_authoritative(found) from None
        raise


def most_authoritative(violations: list[Violation]) -> Violation:
    """Of several violations found at once, the one whose behaviour the contract states most firmly
    (documented before assumed before incidental; the first of equals)."""
    rank = {"documented": 0, "contested": 0, "assumed": 1, "incidental": 2}
    known = contract.behaviours()

    def order(violation: Violation) -> int:
        bid = violation.behaviour
        return rank.get(known[bid].status, 3) if bid is not None and bid in known else 4

    return min(violations, key=order)


def _label(case: Case | None, ex: checks.HttpExchange) -> str:
    if case is not None:
        return f"{case.method.upper()} {case.path}"
    return f"{ex.method.upper()} {ex.path}"


#: Schemathesis failures whose behaviour follows from their kind alone
_KIND_BEHAVIOUR: tuple[tuple[tuple[type, ...], str, str], ...] = (
    ((ServerError,), "input.no-server-error", "2xx, or a 4xx of errors.yaml naming what is wrong"),
    ((UndefinedStatusCode,), "envelope.code-status-catalogue", "a status the operation documents (errors.yaml)"),
    ((MissingContentType, UndefinedContentType, MalformedMediaType, ContentDeserializationError, MalformedJson),
     "envelope.json-body", "a JSON object served as application/json"),
    ((UnsupportedMethodResponse, AllowHeaderMismatch), "routing.method-not-allowed-405",
     "405 method_not_allowed with an Allow header listing the path's methods"),
)


def violation_of(
    failure: Any, case: Case | None, response: schemathesis.Response, settings: FuzzSettings
) -> Violation | None:
    """The Violation one Schemathesis failure stands for, naming exactly the behaviour broken;
    None when the answer is the one the contract documents.

    - the harness's own ``klikit_*`` checks raise Violations already;
    - "schema-valid request rejected", "schema-violating request accepted" and
      "missing required header accepted" are judged by the input oracle
      (``checks.input_answer``) on the request as sent: the constraint the request
      broke names the behaviour (its ``x-behaviour`` in openapi.yaml), or the
      permission a rejected request relied on; the answer the reference
      semantics give (2.0 integers rejected, one of brand_id / branch_id
      rejected, unknown query parameters ignored, a missing Idempotency-Key
      accepted under the concepts reading) is no failure;
    - a response that does not match its schema: the behaviour of the schema
      fragment that failed (validated against the raw contract, so the
      failure names the payload's own behaviour, e.g. ``populate.result-counts``);
    - a response header: its header's annotation; "created resource not found":
      the creating operation's success payload, unless its 404 is explained by
      ids not known to be the caller's (Schemathesis applies a link's body only
      some of the time);
    - every other kind by what it is (``_KIND_BEHAVIOUR``).
    """
    ex = exchange_of(response)
    ctx = settings.ctx
    op_id = _operation_id(case) if case is not None else checks.operation_of(ex, ctx)

    def made(title: str, behaviour: str | None, documented: str) -> Violation:
        return Violation(f"{_label(case, ex)}: {title}", behaviour=behaviour, received=ex.received(ctx.redact),
                         documented=documented, request_id=ex.request_id,
                         reproduction=ex.curl(ctx.redact, ctx.origin))

    if isinstance(failure, CustomFailure):
        if isinstance(failure.exception, Violation):
            return failure.exception
        return made(failure.title, None, str(failure.message)[:300])
    if isinstance(failure, (RejectedPositiveData, AcceptedNegativeData, MissingHeaderNotRejected)):
        if ex.status >= 500 or ex.status == 429:
            return None  # not_a_server_error and klikit_rate_limited_answer report these
        try:
            checks.input_answer(ex, ctx)
        except Violation as found:
            found.title = f"{failure.title}: {found.title}"
            return found
        if not isinstance(checks.expected_answer(ex, ctx), checks.Unknown):
            return None
        behaviour = _header_behaviour(failure.header_name, "required") if isinstance(
            failure, MissingHeaderNotRejected) else "input.wrong-types"
        return made(failure.title, behaviour, str(failure.message)[:300])
    if isinstance(failure, EnsureResourceAvailability):
        verdict = checks.expected_answer(ex, ctx)
        if isinstance(verdict, checks.Valid) and verdict.ids_outside:
            return None
        return made(failure.title, _payload_behaviour(failure.created_with), "a created resource is found by its id")
    if isinstance(failure, IgnoredAuth):
        behaviour = "auth.missing" if str(failure.scenario) == "no_auth" else "auth.invalid-credential"
        return made(failure.title, behaviour, "401 for a request without valid credentials")
    if isinstance(failure, MissingHeaders):
        names = list(failure.missing_headers)
        return made(failure.title, _header_behaviour(names[0] if names else "", "required", op_id, ex.status),
                    f"headers {', '.join(names)}")
    if isinstance(failure, JsonSchemaError):
        if failure.title == "Response header does not conform to the schema":
            return made(failure.title, _bad_header_behaviour(op_id, ex), "response headers as documented")
        return made(failure.title, _response_behaviour(op_id, ex, ctx), "the response schema of openapi.yaml")
    for kinds, behaviour, documented in _KIND_BEHAVIOUR:
        if isinstance(failure, kinds):
            return made(str(getattr(failure, "title", "")), behaviour, documented)
    return made(str(getattr(failure, "title", type(failure).__name__)), None, str(failure)[:300])


def _response_headers(op_id: str | None, status: int) -> dict[str, Mapping[str, Any]]:
    doc = contract.openapi()
    out: dict[str, Mapping[str, Any]] = {}
    for item in doc["paths"].values():
        for op in item.values():
            if not isinstance(op, Mapping) or op.get("operationId") != op_id:
                continue
            response = (op.get("responses") or {}).get(str(status))
            response = _deref(doc, response) if isinstance(response, Mapping) else {}
            for name, header in (response.get("headers") or {}).items():
                out[name.lower()] = _deref(doc, header)
    return out


def _deref(doc: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    while isinstance(node, Mapping) and "$ref" in node:
        target: Any = doc
        for part in str(node["$ref"]).removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _header_behaviour(name: str, keyword: str, op_id: str | None = None, status: int | None = None) -> str:
    """The behaviour a header's ``keyword`` encodes (Idempotency-Key and Authorization on requests)."""
    lowered = name.lower()
    if lowered == "authorization":
        return "auth.missing"
    if lowered == "idempotency-key":
        param = contract.openapi()["components"]["parameters"]["IdempotencyKey"]
        return schema_view.behaviour_in((param,), keyword) or "idempotency.key-required-on-writes"
    header = _response_headers(op_id, status or 0).get(lowered) if op_id else None
    if header is not None:
        return schema_view.behaviour_in((header,), keyword) or "envelope.code-status-catalogue"
    return "envelope.code-status-catalogue"


def _bad_header_behaviour(op_id: str | None, ex: checks.HttpExchange) -> str:
    """The behaviour of the first response header whose value breaks its schema."""
    for name, header in _response_headers(op_id, ex.status).items():
        raw = ex.headers.get(name)
        schema = header.get("schema") or {}
        if raw is None:
            continue
        value: Any = int(raw) if schema.get("type") == "integer" and raw.strip().lstrip("-").isdigit() else raw
        if not Draft202012Validator(schema).is_valid(value):
            return schema_view.behaviour_in((header, schema), next(iter(
                e.validator for e in Draft202012Validator(schema).iter_errors(value)))) or \
                "envelope.code-status-catalogue"
    return "envelope.code-status-catalogue"


def _payload_behaviour(label: str) -> str:
    """The behaviour of the success payload of the operation labelled ``METHOD /path``."""
    method, _, path = str(label).partition(" ")
    for op in contract.operations().values():
        if op.method == method.upper() and op.path == path:
            name = schema_view.response_schema_name(op.operation_id, 200)
            envelope = contract.openapi()["components"]["schemas"].get(name or "", {})
            data = _deref(contract.openapi(), (envelope.get("properties") or {}).get("data") or {})
            return str(data.get(schema_view.ANNOTATION) or "section.create-returns-id")
    return "section.create-returns-id"


def _response_behaviour(op_id: str | None, ex: checks.HttpExchange, ctx: checks.Context) -> str:
    """The behaviour of the response-schema fragment the answer breaks (against the raw contract)."""
    name = schema_view.response_schema_name(op_id, ex.status) if op_id else None
    if name is None:
        return "envelope.code-status-catalogue"
    validator = contract.body_validator(name)
    root = cast(Mapping[str, Any], validator.schema)
    broken = [b for error in validator.iter_errors(ex.json) for b in schema_view.error_behaviours(error, root)]
    schema = contract.openapi()["components"]["schemas"][name]
    return schema_view.strongest(broken, ctx.judgement) or str(schema.get(schema_view.ANNOTATION))


#: the judgement the schema is loaded under (None: every behaviour enforced, the raw contract)
_VIEW: Callable[[str], Judgement] | None = None


def use_view(judge: Callable[[str], Judgement] | None) -> None:
    """Load every later schema as the documented view under ``judge`` (None: the raw contract)."""
    global _VIEW
    _VIEW = judge


@schemathesis.hook
def before_load_schema(context: schemathesis.HookContext, raw_schema: dict[str, Any]) -> None:
    """The documented view of the contract, and links that set a request body set all of it.

    A run that only observes some behaviours (a real target, a variant of the
    stand-in) generates and validates against ``schema_view.documented_view``:
    a constraint the run does not enforce is not asserted, and a permission it
    does not enforce (null for an optional field, leaving availableTimes out)
    is not relied on. The embedded stand-in without variants gets the raw
    contract. The plain CLI judges its target as a real one (``cli_judgement``).

    Links that set a body get ``x-schemathesis: merge_body: false``.

    Merged into a generated body, ``enableSections``' link would keep drawn ids
    of other businesses beside the created section's, and the 404 they cause
    makes the created section look unavailable (a false "created resource not
    found"). How a tool merges link bodies is the harness's business, not the
    contract's, so the flag is added here rather than in openapi.yaml.
    """
    judge = _VIEW if (_DEFERRED or _VIEW is not None) else cli_judgement()
    if judge is not None and "components" in raw_schema:
        view = schema_view.documented_view(raw_schema, judge)
        raw_schema.clear()
        raw_schema.update(view)
    for item in (raw_schema.get("paths") or {}).values():
        for operation in item.values() if isinstance(item, dict) else ():
            if not isinstance(operation, dict):
                continue
            for response in (operation.get("responses") or {}).values():
                for link in (response.get("links") or {}).values() if isinstance(response, dict) else ():
                    if isinstance(link, dict) and "requestBody" in link:
                        link.setdefault("x-schemathesis", {}).setdefault("merge_body", False)


@schemathesis.hook
def after_load_schema(context: schemathesis.HookContext, schema: schemathesis.BaseSchema) -> None:
    """CLI: cap the request rate at ``KLIKIT_MAX_RPS`` (5/s off the stand-in by default) unless
    ``--rate-limit`` is given, so the cap covers the requests checks send on their own too."""
    if _DEFERRED or os.environ.get("KLIKIT_BASE_URL") is None or schema.config.rate_limit is not None:
        return
    from .config import load_settings

    env = load_settings(None)
    loopback = env.host in {"127.0.0.1", "localhost", "::1"}
    spec = rate_limit_spec(env.effective_max_rps(standin=loopback))
    if spec:
        schema.config.update(rate_limit=spec)


# ------------------------------------------------------------------- checks


#: the harness's checks as registered with Schemathesis (``klikit_<name>``), in registry order
HARNESS_CHECKS: list[schemathesis.CheckFunction] = []


def _register(entry: checks.Check) -> None:
    def run(ctx: schemathesis.CheckContext, response: schemathesis.Response, case: Case) -> bool | None:
        settings = required()
        ex = exchange_of(response)
        learn(ex, settings)
        entry.function(ex, settings.ctx)
        return None

    run.__name__ = f"klikit_{entry.name}"
    run.__qualname__ = run.__name__
    run.__doc__ = entry.doc
    HARNESS_CHECKS.append(schemathesis.check(run))


for _entry in checks.CHECKS.values():
    _register(_entry)


@schemathesis.check
def klikit_no_write_on_rejection(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: Case
) -> bool | None:
    """A request the contract rejects writes nothing (the embedded stand-in's write count is unchanged)."""
    settings = required()
    if settings.writes is None:
        return None
    with _LOCK:
        before = _WRITES_BEFORE.pop(case.id, None)
    if before is None:
        return None
    ex = exchange_of(response)
    verdict = checks.expected_answer(ex, settings.ctx)
    after = settings.writes()
    if isinstance(verdict, checks.Reject) and after != before:
        raise Violation(
            f"{verdict.operation_id}: a rejected request wrote {after - before} time(s)",
            behaviour=verdict.behaviour,
            received=ex.received(settings.ctx.redact),
            documented="a request the contract rejects changes nothing",
            request_id=ex.request_id,
            reproduction=ex.curl(settings.ctx.redact, settings.ctx.origin),
        )
    return None


HARNESS_CHECKS.append(klikit_no_write_on_rejection)


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
    ctx = checks.Context(
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
