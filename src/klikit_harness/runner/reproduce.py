"""Reproducing a reported failure: its own requests, re-sent, judged by the same expectation.

Owns: ``Capture`` (the running test's requests, kept as they pass the guard,
turned into replayable steps only when a test fails), the step format kept in
``results.json`` (method, path relative to the base URL, query, non-secret
headers, body, the credential *variable* that signed it, the status and
request_id received), re-sending a failure's steps against a target through a
guarded client (fresh Idempotency-Keys, one new key per old key), judging the
last answer by the failure's machine-readable ``expected``, re-running the
failing test node when there is none, and writing a standalone pytest file
(httpx only) that does the same. Must not: write or print a secret — steps
name ``$KLIKIT_*`` variables, never credentials.

The step format (one entry of a failure's ``exchanges``)::

    {"method": "POST", "path": "/menus/populate", "query": [["brand_id", "663"]],
     "headers": {"Idempotency-Key": "…", "Content-Type": "application/json"},
     "body": "{…}", "body_base64": false,
     "credential": "KLIKIT_PARTNER_KEY:KLIKIT_SECRET_KEY",   # or a pair variable, or null
     "authorization": null,     # a literal non-credential Authorization header (a malformed one), if any
     "status": 400, "request_id": "req_…"}
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import pprint
import random
import re
import subprocess
import sys
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx

from .. import contract, suites
from ..checking.config import MAIN_CREDENTIAL, OLD_CREDENTIAL, SECRET_VARIABLES, Settings
from ..checking.safety import NotSent, Sent
from ..partner.exchange import CLIENT_HEADERS
from .exits import EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE, EXIT_VIOLATIONS

__all__ = [
    "MAX_STEPS",
    "Capture",
    "Outcome",
    "ReportError",
    "Selected",
    "credential_table",
    "fresh_key",
    "judge",
    "load_report",
    "reproduce_command",
    "select",
    "step_of",
    "write_test",
]

#: steps kept per test: the last ones, ending with the failing request
MAX_STEPS = 40
#: request bodies are kept whole up to this size (a body-size rule needs the real size)
MAX_BODY = 2_000_000


def reproduce_command(report_dir: str | os.PathLike[str], failure_id: str) -> str:
    """The one-line command a report shows for a failure."""
    return f"klikit-harness reproduce {report_dir} {failure_id}"


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


def _decode_basic(header: str) -> tuple[str, str] | None:
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        key, sep, secret = base64.b64decode(token.strip(), validate=True).decode().partition(":")
    except (binascii.Error, ValueError):
        return None
    return (key, secret) if sep else None


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
        pair = _decode_basic(authorization)
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


# ------------------------------------------------------------------ report


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


def load_report(directory: Path) -> dict[str, Any]:
    path = directory / "results.json"
    if not path.is_file():
        raise ReportError(
            f"{path} does not exist: give the directory a run wrote its report to "
            "(`klikit-harness run --report DIR`, or pytest --klikit-report DIR)"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ReportError(f"{path} is not JSON ({exc}); re-run to write it again") from None
    if not isinstance(data, dict) or "failures" not in data:
        raise ReportError(f"{path} has no 'failures' list: it was not written by klikit-harness")
    return data


def select(report: Mapping[str, Any], failure: str | None) -> list[Selected]:
    """The failures named by ``failure`` (a distinct failure id like F1, or a test node id); all without it."""
    groups = list(report.get("failures") or [])
    picked: list[Selected] = []
    if failure is None:
        return [_from_group(g) for g in groups]
    for g in groups:
        if g.get("id", "").upper() == failure.upper():
            return [_from_group(g)]
    for test in report.get("tests") or []:
        if test.get("nodeid") == failure:
            for n, fault in enumerate(f for f in test.get("faults") or [] if not f.get("observed")):
                picked.append(_from_fault(f"{failure}#{n + 1}" if n else failure, failure, fault))
            if picked:
                return picked
            raise ReportError(f"the test {failure} has no failure in this report (outcome {test.get('outcome')})")
    known = ", ".join(g.get("id", "?") for g in groups) or "none: the run found no failure"
    raise ReportError(f"no failure {failure!r} in this report; failures: {known} (or give a failing test's node id)")


def _from_group(g: Mapping[str, Any]) -> Selected:
    tests = g.get("tests") or [""]
    return _from_fault(str(g.get("id")), str(tests[0]), g)


def _from_fault(fid: str, test: str, f: Mapping[str, Any]) -> Selected:
    return Selected(
        id=fid,
        behaviour=f.get("behaviour"),
        title=str(f.get("title") or ""),
        test=test,
        expected=f.get("expected"),
        steps=list(f.get("exchanges") or []),
        omitted=int(f.get("exchanges_omitted") or 0),
        request_id=f.get("request_id"),
        documented=f.get("documented"),
    )


def replayable(failure: Selected) -> str | None:
    """Why ``failure``'s own steps cannot be re-sent and judged (then its test is re-run), or None."""
    from ..checking import checks

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


# ------------------------------------------------------------------ re-sending


_KEY_CHARS = "0123456789abcdef"


def fresh_key(old: str, rng: random.Random | None = None) -> str:
    """A new Idempotency-Key shaped like ``old`` (same length and punctuation: a malformed key stays malformed)."""
    pick = rng or random.SystemRandom()
    return re.sub(r"[0-9A-Za-z]", lambda _: pick.choice(_KEY_CHARS), old)


def remap(step: Mapping[str, Any], ids: Mapping[int, int]) -> dict[str, Any]:
    """``step`` naming the sections this replay created instead of the ones the run created.

    Only where a section id can stand: a path segment after ``sections/``, a
    query parameter whose name mentions a section, and in a JSON body the keys
    and values under a key that mentions ``section`` (store ids are never touched).
    """
    out = dict(step)
    if not ids:
        return out
    segments = out["path"].split("/")
    for i in range(1, len(segments)):
        if segments[i - 1] == "sections" and segments[i].isdigit() and int(segments[i]) in ids:
            segments[i] = str(ids[int(segments[i])])
    out["path"] = "/".join(segments)
    out["query"] = [
        [k, str(ids[int(v)]) if "section" in k.lower() and v.isdigit() and int(v) in ids else v]
        for k, v in out.get("query") or []
    ]
    if out.get("body") is not None and not out.get("body_base64"):
        try:
            body = json.loads(out["body"])
        except (ValueError, RecursionError):
            return out
        changed = _remap_json(body, ids, False)
        if changed != body:  # an untouched body is sent byte for byte
            out["body"] = json.dumps(changed)
    return out


def _remap_json(value: Any, ids: Mapping[int, int], inside: bool) -> Any:
    """``inside``: ``value`` is what a key mentioning ``section`` holds (an id, a list of ids, an id-keyed map)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            new_key = str(ids[int(key)]) if inside and key.isdigit() and int(key) in ids else key
            out[new_key] = _remap_json(item, ids, "section" in key.lower())
        return out
    if isinstance(value, list):
        return [_remap_json(item, ids, inside) for item in value]
    if inside and type(value) is int and value in ids:
        return ids[value]
    return value


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
            request.headers["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        response = client.send(request)
        response.read()
        made = _created(response)
        if recorded.get("created_id") is not None and made is not None:
            ids[recorded["created_id"]] = made
        out.append(Resent(step, response))
    return out


def judge(expected: Mapping[str, Any], responses: Sequence[httpx.Response], ctx: Any) -> str | None:
    """What is still wrong with the last answer under ``expected`` (None: it meets it)."""
    from ..checking import checks
    from ..checking.failures import Violation

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
    from ..checking import checks

    own = [*target.settings.stores, *target.settings.fresh_stores]
    return checks.Context(
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
            timeout=httpx.Timeout(30.0, connect=10.0),
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
            sys.executable, "-m", "pytest", suites.node_argument(failure.test), *suites.pytest_location(),
            "-q", "-p", "no:cacheprovider", "--klikit-target", base_url, "--klikit-contract", reading,
            "--klikit-report", tmp,
        ]
        if env_file is not None:
            args += ["--klikit-env-file", str(env_file)]
        if strict:
            args.append("--klikit-strict")
        outcome.lines.append(f"  re-running pytest {failure.test} --klikit-target {base_url}"
                             + (f" --klikit-env-file {env_file}" if env_file else ""))
        proc = subprocess.run(
            args, cwd=tmp, capture_output=True, text=True, env={**os.environ, **(extra_env or {})}, check=False
        )
        results = Path(tmp) / "results.json"
        data = json.loads(results.read_text(encoding="utf-8")) if results.is_file() else {}
    if proc.returncode == EXIT_OK:
        outcome.verdict, outcome.detail = "fixed", "the test passes now"
        return outcome
    groups = [g for g in data.get("failures") or [] if g.get("behaviour") == failure.behaviour] or list(
        data.get("failures") or []
    )
    if proc.returncode == EXIT_VIOLATIONS and groups:
        outcome.verdict = "still fails"
        outcome.detail = redact(f"{groups[0].get('title')}; received {groups[0].get('received')}")
        outcome.request_ids = [g["request_id"] for g in groups if g.get("request_id")]
        return outcome
    if proc.returncode == EXIT_UNREACHABLE:
        outcome.verdict = "unreachable"
    tail = redact((proc.stdout + proc.stderr).strip())[-600:]
    outcome.detail = f"the test run ended with exit {proc.returncode}: {tail}"
    return outcome


# ------------------------------------------------------------------ the command


def run(
    chosen: Sequence[Selected],
    settings: Settings,
    *,
    env_file: Path | None,
    reading: str,
    strict: bool,
    same_keys: bool,
    echo: Callable[[str], None],
) -> int:
    """Reproduce each failure against ``settings``' target; the exit code (1 when any still fails)."""
    from ..checking.config import guard_production
    from ..checking.target import Target

    assert settings.base_url is not None
    target = Target(
        settings.base_url, settings, reading=reading, strict=strict, read_only=guard_production(settings)  # type: ignore[arg-type]
    )
    keys = "the recorded Idempotency-Keys" if same_keys else "fresh Idempotency-Keys"
    outcomes: list[Outcome] = []
    for failure in chosen:
        echo(f"{failure.id} {failure.behaviour or '(untagged)'}: {failure.title}")
        why = replayable(failure)
        if why is None:
            echo(f"  re-sending its {len(failure.steps)} request(s) to {settings.base_url} with {keys}")
            outcome = reproduce_sequence(failure, target, same_keys=same_keys)
        else:
            echo(f"  {why}: re-running its test {failure.test}")
            outcome = rerun_test(
                failure, base_url=settings.base_url, env_file=env_file, reading=reading, strict=strict,
                redact=target.redactor,
            )
        for line in outcome.lines:
            echo(target.redactor(line))
        label = {"still fails": "STILL FAILS", "fixed": "no longer fails"}.get(outcome.verdict, outcome.verdict.upper())
        echo(f"  {label}: {outcome.detail}")
        if outcome.request_ids:
            echo(f"  new request_id(s): {', '.join(outcome.request_ids)}")
        outcomes.append(outcome)
    verdicts = [o.verdict for o in outcomes]
    still = verdicts.count("still fails")
    echo(f"reproduced {len(outcomes)} failure(s): {still} still fail, {verdicts.count('fixed')} no longer fail"
         + (f", {len(outcomes) - still - verdicts.count('fixed')} could not be judged" if
            len(outcomes) - still - verdicts.count("fixed") else ""))
    if still:
        return EXIT_VIOLATIONS
    if "unreachable" in verdicts:
        return EXIT_UNREACHABLE
    if any(v not in {"fixed"} for v in verdicts):
        return EXIT_USAGE
    return EXIT_OK


# ------------------------------------------------------------------ standalone test


#: checks with a standalone form in a written test (the others need the harness's oracle)
STANDALONE_CHECKS = frozenset(
    {
        "json_body",
        "request_id",
        "request_id_distinct",
        "success_envelope",
        "error_envelope",
        "code_in_catalogue",
        "no_server_error",
        "rate_limited_answer",
        "no_secret_echo",
    }
)


def standalone_problem(failure: Selected) -> str | None:
    """Why no standalone test can be written for ``failure`` (None: one can)."""
    why = replayable(failure)
    if why:
        return why
    exp = failure.expected or {}
    if "check" in exp and exp["check"] not in STANDALONE_CHECKS:
        return f"its check {exp['check']!r} is the harness's input oracle, which has no standalone form"
    if failure.omitted:
        return f"its test sent {failure.omitted} more request(s) than the report keeps"
    return None


def _variables(steps: Iterable[dict[str, Any]]) -> list[str]:
    names = ["KLIKIT_BASE_URL"]
    for step in steps:
        spec = step.get("credential")
        if spec:
            for name in spec.split(":") if ":" in spec else [spec]:
                if name not in names:
                    names.append(name)
    return names


def write_test(failure: Selected, path: Path, *, reading: str, run_id: str | None) -> Path:
    """Write a pytest file (httpx only) that re-sends ``failure``'s steps and asserts its expectation."""
    problem = standalone_problem(failure)
    if problem:
        raise ReportError(
            f"{failure.id}: no standalone test can be written: {problem}; "
            f"run `klikit-harness reproduce` (it re-runs the test {failure.test}) instead"
        )
    assert failure.expected is not None
    steps = [
        {k: v for k, v in s.items() if k in {"method", "path", "query", "headers", "body", "body_base64",
                                            "credential", "authorization", "status", "request_id", "created_id"}}
        for s in failure.steps
    ]
    variables = _variables(steps)
    catalogue: dict[str, int] = {}
    if failure.expected.get("check") in {"code_in_catalogue", "rate_limited_answer"}:
        errors = contract.errors()
        for code, entry in errors.codes(reading).items():  # type: ignore[arg-type]
            catalogue[code] = entry.status
        for alias, code in errors.aliases.items():
            if code in catalogue:
                catalogue[alias] = catalogue[code]
    name = re.sub(r"\W+", "_", f"{failure.id}_{failure.behaviour or 'failure'}").strip("_").lower()
    env_line = " ".join(f"{v}=…" for v in variables)
    text = _TEMPLATE.format(
        title=failure.title.replace('"""', "'''"),
        fid=failure.id,
        behaviour=failure.behaviour,
        test=failure.test,
        run_id=run_id or "?",
        env_line=env_line,
        documented=(failure.documented or "").replace('"""', "'''"),
        steps=pprint.pformat(steps, width=110, sort_dicts=False),
        expected=repr(failure.expected),
        catalogue=pprint.pformat(catalogue, width=110),
        secret_vars=repr([v for v in variables if v != "KLIKIT_BASE_URL"]),
        name=name,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


_TEMPLATE = '''"""{fid}: {title}

Reproduces failure {fid} of klikit-harness run {run_id} (behaviour {behaviour}, found by {test}).
Documented: {documented}

Standalone: needs only pytest and httpx. Credentials come from the environment:

    {env_line} python -m pytest THIS_FILE

It re-sends the failing test's own requests in order (each Idempotency-Key replaced by a fresh
one of the same shape, one new key per original key) and asserts the documented answer to the last.
Fails while the target still breaks the rule; passes once it is fixed.
"""

import base64
import json
import os
import random
import re

import httpx

STEPS = {steps}

EXPECTED = {expected}

#: error code -> HTTP status (errors.yaml) where the expectation needs it
CATALOGUE = {catalogue}

SECRET_VARIABLES = {secret_vars}


def _env(name):
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"set {{name}} (this test reads the target and its credentials from KLIKIT_* variables)")
    return value


def _credential(spec):
    if ":" in spec:
        key_var, secret_var = spec.split(":", 1)
        return _env(key_var), _env(secret_var)
    key, _, secret = _env(spec).partition(":")
    return key, secret


def _fresh_key(old):
    pick = random.SystemRandom()
    return re.sub(r"[0-9A-Za-z]", lambda _: pick.choice("0123456789abcdef"), old)


def _remap_json(value, ids, inside):
    if isinstance(value, dict):
        return {{
            (str(ids[int(k)]) if inside and k.isdigit() and int(k) in ids else k): _remap_json(
                v, ids, "section" in k.lower()
            )
            for k, v in value.items()
        }}
    if isinstance(value, list):
        return [_remap_json(v, ids, inside) for v in value]
    return ids[value] if inside and type(value) is int and value in ids else value


def _remap(step, ids):
    """The step naming the sections this test created instead of the ones the original run created."""
    step = dict(step)
    segments = step["path"].split("/")
    for i in range(1, len(segments)):
        if segments[i - 1] == "sections" and segments[i].isdigit() and int(segments[i]) in ids:
            segments[i] = str(ids[int(segments[i])])
    step["path"] = "/".join(segments)
    step["query"] = [
        [k, str(ids[int(v)]) if "section" in k.lower() and v.isdigit() and int(v) in ids else v]
        for k, v in step["query"]
    ]
    if ids and step["body"] is not None and not step["body_base64"]:
        try:
            body = json.loads(step["body"])
        except (ValueError, RecursionError):
            return step
        changed = _remap_json(body, ids, False)
        if changed != body:  # an untouched body is sent byte for byte
            step["body"] = json.dumps(changed)
    return step


def _send_all():
    keys = {{}}
    ids = {{}}
    answers = []
    with httpx.Client(base_url=_env("KLIKIT_BASE_URL"), timeout=30.0) as client:
        for recorded in STEPS:
            step = _remap(recorded, ids)
            headers = dict(step["headers"])
            for name in list(headers):
                if name.lower() == "idempotency-key":
                    headers[name] = keys.setdefault(headers[name], _fresh_key(headers[name]))
            if step["credential"]:
                key, secret = _credential(step["credential"])
                headers["Authorization"] = "Basic " + base64.b64encode(f"{{key}}:{{secret}}".encode()).decode()
            elif step["authorization"]:
                headers["Authorization"] = step["authorization"]
            body = step["body"]
            if body is not None:
                body = base64.b64decode(body) if step["body_base64"] else body.encode("utf-8")
            answers.append(
                client.request(
                    step["method"], step["path"], params=[tuple(q) for q in step["query"]], headers=headers,
                    content=body,
                )
            )
            data = (_json(answers[-1]) or {{}}).get("data") if isinstance(_json(answers[-1]), dict) else None
            if recorded.get("created_id") is not None and isinstance(data, dict) and type(data.get("id")) is int:
                ids[recorded["created_id"]] = data["id"]
    return answers


def _json(response):
    try:
        return response.json()
    except ValueError:
        return None


def _shown(response):
    return f"HTTP {{response.status_code}} {{response.headers.get('content-type', '')}}: {{response.text[:300]}}"


def _check(name, response, answers):
    body = _json(response)
    envelope = body if isinstance(body, dict) else None
    success = 200 <= response.status_code < 300
    error = envelope.get("error") if envelope and isinstance(envelope.get("error"), dict) else None
    if name == "json_body":
        media = response.headers.get("content-type", "").split(";")[0].strip().lower()
        assert media == "application/json" or media.endswith("+json"), f"not served as JSON: {{_shown(response)}}"
        assert envelope is not None, f"body is not a JSON object: {{_shown(response)}}"
    elif name == "request_id":
        assert envelope is None or (isinstance(envelope.get("request_id"), str) and envelope["request_id"]), (
            f"answer without a non-empty string request_id: {{_shown(response)}}"
        )
    elif name == "request_id_distinct":
        seen = [
            _json(a).get("request_id") for a in answers
            if isinstance(_json(a), dict) and a.headers.get("idempotent-replayed", "").lower() != "true"
        ]
        rid = envelope.get("request_id") if envelope else None
        assert not rid or seen.count(rid) <= 1, f"request_id {{rid!r}} answered more than one request"
    elif name == "success_envelope":
        assert not (envelope is not None and success) or ("data" in envelope and "error" not in envelope), (
            f"2xx answer without data (or with error): {{_shown(response)}}"
        )
    elif name == "error_envelope":
        if envelope is not None and not success:
            assert (
                error is not None
                and isinstance(error.get("code"), str)
                and isinstance(error.get("message"), str)
                and not set(error) - {{"code", "message", "details"}}
                and "data" not in envelope
            ), f"error answer without the error object: {{_shown(response)}}"
    elif name == "code_in_catalogue":
        if error is not None and isinstance(error.get("code"), str) and not success:
            assert error["code"] in CATALOGUE, f"error code {{error['code']!r}} is not in the catalogue"
            documented = CATALOGUE[error["code"]]
            assert documented == response.status_code, (
                f"{{error['code']}} answered with HTTP {{response.status_code}}, documented {{documented}}"
            )
    elif name == "no_server_error":
        assert response.status_code < 500, f"server error for a client's request: {{_shown(response)}}"
    elif name == "rate_limited_answer":
        if response.status_code == 429:
            retry_after = response.headers.get("retry-after", "").strip()
            assert retry_after.isdigit() and int(retry_after) >= 1, f"429 with Retry-After {{retry_after!r}}"
            assert envelope and envelope.get("request_id") and error, f"429 without the envelope: {{_shown(response)}}"
    elif name == "no_secret_echo":
        haystack = response.text + "\\n" + "\\n".join(f"{{k}}: {{v}}" for k, v in response.headers.items())
        for variable in SECRET_VARIABLES:
            value = os.environ.get(variable, "")
            secret = value.partition(":")[2] if ":" in value and variable.endswith("_CREDENTIAL") else value
            if len(secret) >= 4 and not variable.endswith("PARTNER_KEY"):
                assert secret not in haystack, f"the answer echoes the secret of {{variable}}"
    else:  # pragma: no cover - the writer only writes the checks above
        raise AssertionError(f"unknown check {{name}}")


def test_{name}():
    answers = _send_all()
    last = answers[-1]
    if "check" in EXPECTED:
        _check(EXPECTED["check"], last, answers)
        return
    if EXPECTED["status"] == "2xx":
        assert 200 <= last.status_code < 300, f"expected a 2xx: {{_shown(last)}}"
        return
    body = _json(last)
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    assert (last.status_code, code) == (EXPECTED["status"], EXPECTED["code"]), (
        f"expected HTTP {{EXPECTED['status']}} {{EXPECTED['code']}}: {{_shown(last)}}"
    )
    if EXPECTED.get("details_field"):
        assert EXPECTED["details_field"] in str(body["error"].get("details", "")), (
            f"error details do not name {{EXPECTED['details_field']}}: {{_shown(last)}}"
        )
'''
