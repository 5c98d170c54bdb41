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

The run's settings live in ``fuzz_session`` and the naming of a failure's
behaviour in ``fuzz_attribution``; their public names are importable from
here too.
"""

from __future__ import annotations

import json
import os
import random
import uuid
import zlib
from collections.abc import Mapping
from typing import Any, cast

import schemathesis
from schemathesis import GenerationMode
from schemathesis.generation.meta import TestPhase

from ..contract import WRITE_METHODS
from ..contract import view as schema_view
from ..contract.limits import MAX_KEY_LENGTH
from ..core import schedules, validation
from . import checks, verdicts
from .failures import Violation
from .fuzz_attribution import VIOLATION as VIOLATION
from .fuzz_attribution import _label
from .fuzz_attribution import judged as judged
from .fuzz_attribution import most_authoritative as most_authoritative
from .fuzz_attribution import violation_of as violation_of
from .fuzz_session import _LOCK, _WRITES_BEFORE
from .fuzz_session import FUZZ_SECTION_TITLE as FUZZ_SECTION_TITLE
from .fuzz_session import GROUNDING_SHARE as GROUNDING_SHARE
from .fuzz_session import Case as Case
from .fuzz_session import FuzzSettings as FuzzSettings
from .fuzz_session import cli_judgement as cli_judgement
from .fuzz_session import configure as configure
from .fuzz_session import current as current
from .fuzz_session import defer as defer
from .fuzz_session import deferred as deferred
from .fuzz_session import exchange_of as exchange_of
from .fuzz_session import learn as learn
from .fuzz_session import operation_id_of as operation_id_of
from .fuzz_session import rate_limit_spec as rate_limit_spec
from .fuzz_session import required as required
from .fuzz_session import schema_judgement as schema_judgement
from .fuzz_session import settings_for as settings_for
from .fuzz_session import settings_from_env as settings_from_env
from .fuzz_session import use_view as use_view
from .safety import Guard

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
    op_id = operation_id_of(case)
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
    judge = schema_judgement()
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
    if deferred() or os.environ.get("KLIKIT_BASE_URL") is None or schema.config.rate_limit is not None:
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
    verdict = verdicts.expected_answer(ex, settings.ctx)
    after = settings.writes()
    if isinstance(verdict, verdicts.Reject) and after != before:
        raise Violation.of(
            ex,
            f"{verdict.operation_id}: a rejected request wrote {after - before} time(s)",
            behaviour=verdict.behaviour,
            documented="a request the contract rejects changes nothing",
            redact=settings.ctx.redact,
            origin=settings.ctx.origin,
        )
    return None


HARNESS_CHECKS.append(klikit_no_write_on_rejection)
