"""Re-sending a reported failure's steps and judging the answer the same way the run did.

Owns: re-sending a failure's steps against a target through a guarded client
(fresh Idempotency-Keys, one new key per old key; the sections this replay
creates named where the run's stood: ``remap``), judging the last answer by
the failure's machine-readable ``expected`` (``judge``), and re-running the
failing test node when there is none (``rerun_test``). Must not: write or
print a secret: every text shown goes through the target's redactor.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from ... import suites
from ...checking.safety import NotSent
from ...partner.basic import basic_header
from ...partner.bounded import BoundedTransport
from .. import results
from ..exits import EXIT_OK, EXIT_UNREACHABLE, EXIT_VIOLATIONS
from .capture import Selected, resolve_credential, settings_env
from .template import fresh_key, remap

__all__ = [
    "Outcome",
    "Resent",
    "check_context",
    "judge",
    "reproduce_sequence",
    "rerun_test",
    "send_steps",
]


@dataclass
class Resent:
    step: dict[str, Any]
    response: httpx.Response | None
    error: str | None = None


@dataclass
class Outcome:
    """The result of reproducing one failure."""

    failure: Selected
    #: "still fails" | "fixed" | "not sent" | "unreachable" | "error"
    verdict: str
    detail: str
    method: str  # "sequence" | "test"
    request_ids: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


def send_steps(
    steps: Sequence[dict[str, Any]],
    client: httpx.Client,
    env: Mapping[str, str],
    *,
    same_keys: bool,
) -> list[Resent]:
    """Send every step in order (one new key per old Idempotency-Key unless ``same_keys``)."""
    keys: dict[str, str] = {}
    ids: dict[int, int] = {}
    out: list[Resent] = []
    for recorded in steps:
        step = remap(recorded, ids)
        headers = dict(step.get("headers") or {})
        for name in list(headers):
            if name.lower() == "idempotency-key" and not same_keys:
                old = headers[name]
                headers[name] = keys.setdefault(old, fresh_key(old))
        auth: tuple[str, str] | None = None
        if step.get("credential"):
            auth = resolve_credential(step["credential"], env)
        elif step.get("authorization"):
            headers["Authorization"] = step["authorization"]
        body = step.get("body")
        content = None
        if body is not None:
            content = base64.b64decode(body) if step.get("body_base64") else body.encode("utf-8")
        path = step["path"] if step["path"].startswith("/") else "/" + step["path"]
        request = client.build_request(
            step["method"], path, params=[tuple(q) for q in step.get("query") or []], headers=headers, content=content
        )
        if auth is not None:
            request.headers["Authorization"] = basic_header(*auth)
        response = client.send(request)
        response.read()
        made = _created(response)
        if recorded.get("created_id") is not None and made is not None:
            ids[recorded["created_id"]] = made
        out.append(Resent(step, response))
    return out


def judge(expected: Mapping[str, Any], responses: Sequence[httpx.Response], ctx: Any) -> str | None:
    """What is still wrong with the last answer under ``expected`` (None: it meets it)."""
    from ...checking import checks
    from ...checking.failures import Violation

    last = responses[-1]
    if "check" in expected:
        check = checks.CHECKS[expected["check"]]
        failure: str | None = None
        for response in responses:  # in order: request_id_distinct needs the ones before
            try:
                check.function(checks.HttpExchange.from_httpx(response), ctx)
                failure = None
            except Violation as violation:
                failure = f"{violation.title} (check {check.name}); received {violation.received}"
        return failure
    status = expected.get("status")
    try:
        body = last.json()
    except ValueError:
        body = None
    found = body.get("error") if isinstance(body, dict) else None
    error: dict[str, Any] = found if isinstance(found, dict) else {}
    received = f"HTTP {last.status_code} {last.text[:200]}".replace("\n", " ")
    if status == "2xx":
        return None if 200 <= last.status_code < 300 else f"expected a 2xx, received {received}"
    if last.status_code != status or error.get("code") != expected.get("code"):
        return f"expected HTTP {status} {expected.get('code')}, received {received}"
    wanted = expected.get("details_field")
    if wanted and wanted not in str(error.get("details", "")):
        return f"error details do not name {wanted}; received {received}"
    return None


def check_context(target: Any) -> Any:
    """The checks' context for a target (as the fuzz suite builds it, without probing the target)."""
    from ...checking import context

    own = [*target.settings.stores, *target.settings.fresh_stores]
    return context.Context(
        reading=target.reading,
        main=tuple(target.main),
        credentials=tuple((k or "", s) for k, s in target.settings.secrets()),
        own_stores=frozenset((s.brand_id, s.branch_id) for s in own),
        redact=target.redactor,
        base_path=urlsplit(target.base_url).path.rstrip("/"),
    )


def reproduce_sequence(failure: Selected, target: Any, *, same_keys: bool) -> Outcome:
    """Re-send ``failure``'s steps through ``target``'s guard and judge the last answer."""
    assert failure.expected is not None
    env = settings_env(target.settings)
    outcome = Outcome(failure, "error", "", "sequence")
    hooks = target.guard.httpx_hooks()
    try:
        with httpx.Client(
            base_url=target.base_url,
            transport=BoundedTransport(bounds=target.guard.bounds),
            timeout=target.guard.bounds.httpx_timeout(),
            headers={"user-agent": "klikit-harness reproduce"},
            event_hooks=hooks,
        ) as client:
            sent = send_steps(failure.steps, client, env, same_keys=same_keys)
    except KeyError as exc:
        outcome.verdict = "error"
        outcome.detail = f"a request is signed with {exc.args[0]}, which is not set: set it (or --env-file)"
        return outcome
    except NotSent as exc:
        outcome.verdict = "not sent"
        outcome.detail = str(exc)
        return outcome
    except httpx.TransportError as exc:
        outcome.verdict = "unreachable"
        outcome.detail = f"{target.base_url}: {type(exc).__name__}: {target.redactor(str(exc))}"
        return outcome
    responses = [s.response for s in sent if s.response is not None]
    for n, s in enumerate(sent, 1):
        assert s.response is not None
        rid = _rid(s.response)
        if rid:
            outcome.request_ids.append(rid)
        query = "&".join(f"{k}={v}" for k, v in s.step.get("query") or [])
        outcome.lines.append(
            f"  {n}. {s.step['method']} {s.step['path']}{'?' + query if query else ''} -> {s.response.status_code}"
            + (f" request_id={rid}" if rid else " (no request_id)")
            + f" (was {s.step.get('status')})"
        )
    wrong = judge(failure.expected, responses, check_context(target))
    outcome.verdict = "still fails" if wrong else "fixed"
    outcome.detail = target.redactor(wrong) if wrong else f"the answer meets {json.dumps(failure.expected)}"
    return outcome


def _created(response: httpx.Response) -> int | None:
    try:
        body = response.json()
    except ValueError:
        return None
    data = body.get("data") if isinstance(body, dict) else None
    made = data.get("id") if isinstance(data, dict) and 200 <= response.status_code < 300 else None
    return made if type(made) is int else None


def _rid(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    rid = body.get("request_id") if isinstance(body, dict) else None
    return rid if isinstance(rid, str) else None


def rerun_test(
    failure: Selected,
    *,
    base_url: str,
    env_file: Path | None,
    reading: str,
    strict: bool,
    redact: Callable[[str], str],
    extra_env: Mapping[str, str] | None = None,
) -> Outcome:
    """Re-run the failing test node against the target (the fallback for semantic checks)."""
    outcome = Outcome(failure, "error", "", "test")
    with tempfile.TemporaryDirectory(prefix="klikit-reproduce-") as tmp:
        args = [
            sys.executable,
            "-m",
            "pytest",
            suites.node_argument(failure.test),
            *suites.pytest_location(),
            "-q",
            "-p",
            "no:cacheprovider",
            "--klikit-target",
            base_url,
            "--klikit-contract",
            reading,
            "--klikit-report",
            tmp,
        ]
        if env_file is not None:
            args += ["--klikit-env-file", str(env_file)]
        if strict:
            args.append("--klikit-strict")
        outcome.lines.append(
            f"  re-running pytest {failure.test} --klikit-target {base_url}"
            + (f" --klikit-env-file {env_file}" if env_file else "")
        )
        proc = subprocess.run(
            args, capture_output=True, text=True, env={**os.environ, **(extra_env or {})}, check=False
        )
        written = Path(tmp) / results.RESULTS_FILE
        data = results.read(written) if written.is_file() else None
    if proc.returncode == EXIT_OK:
        outcome.verdict, outcome.detail = "fixed", "the test passes now"
        return outcome
    found = data.failures if data is not None else ()
    groups = [g for g in found if g.behaviour == failure.behaviour] or list(found)
    if proc.returncode == EXIT_VIOLATIONS and groups:
        outcome.verdict = "still fails"
        outcome.detail = redact(f"{groups[0].title}; received {groups[0].received}")
        outcome.request_ids = [g.request_id for g in groups if g.request_id]
        return outcome
    if proc.returncode == EXIT_UNREACHABLE:
        outcome.verdict = "unreachable"
    tail = redact((proc.stdout + proc.stderr).strip())[-600:]
    outcome.detail = f"the test run ended with exit {proc.returncode}: {tail}"
    return outcome
