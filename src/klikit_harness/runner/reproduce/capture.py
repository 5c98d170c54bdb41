"""The capture format: a test's requests as replayable steps, written by the plugin, read back here.

Owns: ``Capture`` (the running test's requests, kept as they pass the guard,
turned into replayable steps only when a test fails), the step format kept in
``results.json`` (``step_of``: method, path relative to the base URL, query,
non-secret headers, body, the credential *variable* that signed it, the status
and request_id received), and reading it back: the failures of a report as
``Selected`` (``select``), whether their steps can be re-sent
(``replayable``), the credential a step names (``resolve_credential``) and the
variables a sequence of steps needs (``variables``). Must not: write or print
a secret — steps name ``$KLIKIT_*`` variables, never credentials.

The step format (one entry of a failure's ``exchanges``)::

    {"method": "POST", "path": "/menus/populate", "query": [["brand_id", "663"]],
     "headers": {"Idempotency-Key": "…", "Content-Type": "application/json"},
     "body": "{…}", "body_base64": false,
     "credential": "KLIKIT_PARTNER_KEY:KLIKIT_SECRET_KEY",   # or a pair variable, or null
     "authorization": null,     # a literal non-credential Authorization header (a malformed one), if any
     "status": 400, "request_id": "req_…",
     "created_id": 2003}        # the section a 2xx created, when it did: later steps name it
"""

from __future__ import annotations

import base64
import json
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from ...checking.config import MAIN_CREDENTIAL, OLD_CREDENTIAL, SECRET_VARIABLES, Settings
from ...checking.safety import Sent
from ...partner.basic import parse_basic
from ...partner.exchange import CLIENT_HEADERS
from .. import results
from ..results import DistinctFailure, Fault, Results

__all__ = [
    "MAX_BODY",
    "MAX_STEPS",
    "Capture",
    "ReportError",
    "Selected",
    "credential_table",
    "load_report",
    "replayable",
    "resolve_credential",
    "select",
    "settings_env",
    "step_of",
    "variables",
]

#: steps kept per test: the last ones, ending with the failing request
MAX_STEPS = 40
#: request bodies are kept whole up to this size (a body-size rule needs the real size)
MAX_BODY = 2_000_000


# ------------------------------------------------------------------ credentials


def credential_table(settings: Settings) -> list[tuple[str, str, str]]:
    """(variable spec, partner key, secret) of every configured credential; the spec is what a step names."""
    out: list[tuple[str, str, str]] = []
    if settings.partner_key and settings.secret_key:
        out.append((MAIN_CREDENTIAL, settings.partner_key, settings.secret_key.get_secret_value()))
    if settings.partner_key and settings.old_secret:
        old = settings.old_secret.get_secret_value()
        out.append((OLD_CREDENTIAL, settings.partner_key, old))
    for variable, cred in settings.pair_credentials():
        out.append((variable, cred.key, cred.secret))
    return out


def resolve_credential(spec: str, env: Mapping[str, str]) -> tuple[str, str]:
    """The (key, secret) a spec names, read from ``env``; ``KeyError`` names the variable missing."""
    if ":" in spec:
        key_var, secret_var = spec.split(":", 1)
        return _var(env, key_var), _var(env, secret_var)
    key, _, secret = _var(env, spec).partition(":")
    return key, secret


def _var(env: Mapping[str, str], name: str) -> str:
    value = env.get(name)
    if not value:
        raise KeyError(name)
    return value


def settings_env(settings: Settings) -> dict[str, str]:
    """The credential variables of ``settings`` by name (for resolving steps; kept in memory only)."""
    env: dict[str, str] = {}
    if settings.partner_key:
        env["KLIKIT_PARTNER_KEY"] = settings.partner_key
    for name, secret in zip(SECRET_VARIABLES, (settings.secret_key, settings.old_secret), strict=True):
        if secret is not None:
            env[name] = secret.get_secret_value()
    for variable, cred in settings.pair_credentials():
        env[variable] = f"{cred.key}:{cred.secret}"
    return env


# ------------------------------------------------------------------ capture


def step_of(
    sent: Sent,
    *,
    base_path: str,
    credentials: Sequence[tuple[str, str, str]],
    redact: Callable[[str], str],
) -> dict[str, Any]:
    """One answered request as a replayable step: no credential, no secret (``redact`` masks the rest)."""
    parts = urlsplit(sent.url)
    path = unquote(parts.path)
    base = base_path.rstrip("/")
    if base and (path == base or path.startswith(base + "/")):
        path = path[len(base) :] or "/"
    headers: dict[str, str] = {}
    authorization: str | None = None
    for name, value in sent.request_headers:
        if name.lower() == "authorization":
            authorization = value
        elif name.lower() not in CLIENT_HEADERS:  # set by the client library or carrying credentials: never kept
            headers[name] = redact(value)
    credential: str | None = None
    literal: str | None = None
    if authorization is not None:
        pair = parse_basic(authorization)
        credential = next((spec for spec, k, s in credentials if pair == (k, s)), None)
        if credential is None:
            shown = redact(authorization)
            # a header that carried a configured secret in another shape cannot be kept; say so
            literal = shown if shown == authorization and not _carries_secret(pair, credentials) else "[scrubbed]"
    body_text: str | None = None
    body_b64 = False
    raw = sent.request_body[:MAX_BODY] if sent.request_body else b""
    if raw:
        try:
            body_text = redact(raw.decode("utf-8"))
        except UnicodeDecodeError:
            body_text, body_b64 = base64.b64encode(raw).decode(), True
    request_id: str | None = None
    created: int | None = None
    try:
        answer = json.loads(sent.response_body)
        rid = answer.get("request_id") if isinstance(answer, dict) else None
        request_id = rid if isinstance(rid, str) else None
        data = answer.get("data") if isinstance(answer, dict) else None
        if 200 <= sent.status < 300 and isinstance(data, dict) and type(data.get("id")) is int:
            created = data["id"]  # a section the sequence created: later steps name it
    except (ValueError, UnicodeDecodeError, RecursionError):
        pass
    step: dict[str, Any] = {
        "method": sent.method.upper(),
        "path": redact(path),
        "query": [[redact(k), redact(v)] for k, v in parse_qsl(parts.query, keep_blank_values=True)],
        "headers": headers,
        "body": body_text,
        "body_base64": body_b64,
        "credential": credential,
        "authorization": literal,
        "status": sent.status,
        "request_id": redact(request_id) if request_id else None,
    }
    if created is not None:
        step["created_id"] = created
    if sent.request_body and len(sent.request_body) > MAX_BODY:
        step["body_truncated"] = len(sent.request_body)
    return step


def _carries_secret(pair: tuple[str, str] | None, credentials: Sequence[tuple[str, str, str]]) -> bool:
    return pair is not None and any(pair[1] == s for _, _, s in credentials)


class Capture:
    """The running test's requests as they pass the guard (a guard observer).

    Raw exchanges are kept (the last ``MAX_STEPS``) and turned into steps only
    when a test fails; ``reset()`` starts a new test.
    """

    def __init__(self, *, base_path: str, settings: Settings, redact: Callable[[str], str]) -> None:
        self.base_path = base_path
        self.credentials = credential_table(settings)
        self.redact = redact
        self._sent: deque[Sent] = deque(maxlen=MAX_STEPS)
        self.total = 0
        self._lock = threading.Lock()

    def __call__(self, sent: Sent) -> None:
        with self._lock:
            self._sent.append(sent)
            self.total += 1

    def reset(self) -> None:
        with self._lock:
            self._sent.clear()
            self.total = 0

    def steps(self, request_id: str | None = None) -> tuple[list[dict[str, Any]], int]:
        """The test's steps up to the failing request (the last answer carrying ``request_id``, else the
        last request), and how many earlier requests were not kept."""
        with self._lock:
            sent, total = list(self._sent), self.total
        steps = [step_of(s, base_path=self.base_path, credentials=self.credentials, redact=self.redact) for s in sent]
        if request_id:
            hits = [i for i, s in enumerate(steps) if s["request_id"] == request_id]
            if hits:
                steps = steps[: hits[-1] + 1]
        return steps, total - len(sent)


# ------------------------------------------------------------------ reading a report's failures


class ReportError(ValueError):
    """A report directory or failure id that cannot be used (exit 2); the message says what to do."""


@dataclass
class Selected:
    """One failure to reproduce."""

    id: str
    behaviour: str | None
    title: str
    test: str
    expected: dict[str, Any] | None
    steps: list[dict[str, Any]]
    omitted: int = 0
    request_id: str | None = None
    documented: str | None = None


def load_report(directory: Path) -> Results:
    """The report's ``results.json``; ReportError says what to give instead."""
    try:
        return results.read(directory)
    except results.ResultsError as exc:
        raise ReportError(str(exc)) from None


def select(report: Results, failure: str | None) -> list[Selected]:
    """The failures named by ``failure`` (a distinct failure id like F1, or a test node id); all without it."""
    groups = report.failures
    picked: list[Selected] = []
    if failure is None:
        return [_from_group(g) for g in groups]
    for g in groups:
        if g.id.upper() == failure.upper():
            return [_from_group(g)]
    for test in report.tests:
        if test.nodeid == failure:
            for n, fault in enumerate(f for f in test.faults if not f.observed):
                picked.append(_from_fault(f"{failure}#{n + 1}" if n else failure, failure, fault))
            if picked:
                return picked
            raise ReportError(f"the test {failure} has no failure in this report (outcome {test.outcome})")
    known = ", ".join(g.id for g in groups) or "none: the run found no failure"
    raise ReportError(f"no failure {failure!r} in this report; failures: {known} (or give a failing test's node id)")


def _from_group(g: DistinctFailure) -> Selected:
    tests = g.tests or ("",)
    return _from_fault(g.id, tests[0], g)


def _from_fault(fid: str, test: str, f: Fault | DistinctFailure) -> Selected:
    return Selected(
        id=fid,
        behaviour=f.behaviour,
        title=f.title,
        test=test,
        expected=f.expected,
        steps=list(f.exchanges or []),
        omitted=f.exchanges_omitted,
        request_id=f.request_id,
        documented=f.documented,
    )


def replayable(failure: Selected) -> str | None:
    """Why ``failure``'s own steps cannot be re-sent and judged (then its test is re-run), or None."""
    from ...checking import checks

    exp = failure.expected
    if not exp:
        return "its check compares state read back from the target (no single-answer expectation)"
    if "check" in exp and exp["check"] not in checks.CHECKS:
        return f"its check {exp['check']!r} is not one this harness knows"
    if not failure.steps:
        return "the report kept no requests for it"
    if failure.omitted and "check" not in exp:
        return f"its test sent {failure.omitted} more request(s) than the report keeps"
    if any(s.get("authorization") == "[scrubbed]" or s.get("body_truncated") for s in failure.steps):
        return "a request of it cannot be rebuilt (a scrubbed credential or a truncated body)"
    return None


def variables(steps: Iterable[dict[str, Any]]) -> list[str]:
    """The variables a sequence of steps reads: the base URL and every credential variable its steps name."""
    names = ["KLIKIT_BASE_URL"]
    for step in steps:
        spec = step.get("credential")
        if spec:
            for name in spec.split(":") if ":" in spec else [spec]:
                if name not in names:
                    names.append(name)
    return names
