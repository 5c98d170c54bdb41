"""The standalone reproduction of one failure: copied whole into the file ``reproduce --write-test`` writes.

This module is the file's code. The writer replaces this docstring (with the
failure's title, behaviour and how to run the file), the data block between
the markers (the failure's steps, its expectation, the error catalogue and the
secret variables) and the test's name; nothing else. It imports only the
standard library and httpx, so the file runs wherever pytest and httpx are
installed. ``retry_after_seconds`` is a faithful copy of the envelope rule of
the harness (a test holds the two equal on a table of values).
"""

from __future__ import annotations

import base64
import json
import os
import random
import re
from collections.abc import Mapping
from typing import Any

import httpx

# --- data (written by the harness)
STEPS: list[dict[str, Any]] = []

EXPECTED: dict[str, Any] = {"status": "2xx"}

#: error code -> HTTP status (errors.yaml) where the expectation needs it
CATALOGUE: dict[str, int] = {}

SECRET_VARIABLES: list[str] = []
# --- end of data

_DIGITS = re.compile(r"[0-9]+")
_KEY_CHARS = "0123456789abcdef"


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"set {name} (this test reads the target and its credentials from KLIKIT_* variables)")
    return value


def _credential(spec: str) -> tuple[str, str]:
    if ":" in spec:
        key_var, secret_var = spec.split(":", 1)
        return _env(key_var), _env(secret_var)
    key, _, secret = _env(spec).partition(":")
    return key, secret


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
        changed = remap_json(body, ids, False)
        if changed != body:  # an untouched body is sent byte for byte
            out["body"] = json.dumps(changed)
    return out


def remap_json(value: Any, ids: Mapping[int, int], inside: bool) -> Any:
    """``inside``: ``value`` is what a key mentioning ``section`` holds (an id, a list of ids, an id-keyed map)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            new_key = str(ids[int(key)]) if inside and key.isdigit() and int(key) in ids else key
            out[new_key] = remap_json(item, ids, "section" in key.lower())
        return out
    if isinstance(value, list):
        return [remap_json(item, ids, inside) for item in value]
    if inside and type(value) is int and value in ids:
        return ids[value]
    return value


def _send_all() -> list[httpx.Response]:
    keys: dict[str, str] = {}
    ids: dict[int, int] = {}
    answers: list[httpx.Response] = []
    with httpx.Client(base_url=_env("KLIKIT_BASE_URL"), timeout=30.0) as client:
        for recorded in STEPS:
            step = remap(recorded, ids)
            headers = dict(step["headers"])
            for name in list(headers):
                if name.lower() == "idempotency-key":
                    headers[name] = keys.setdefault(headers[name], fresh_key(headers[name]))
            if step["credential"]:
                key, secret = _credential(step["credential"])
                headers["Authorization"] = "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()
            elif step["authorization"]:
                headers["Authorization"] = step["authorization"]
            body = step["body"]
            if body is not None:
                body = base64.b64decode(body) if step["body_base64"] else body.encode("utf-8")
            answers.append(
                client.request(
                    step["method"],
                    step["path"],
                    params=[tuple(q) for q in step["query"]],
                    headers=headers,
                    content=body,
                )
            )
            data = (_json(answers[-1]) or {}).get("data") if isinstance(_json(answers[-1]), dict) else None
            if recorded.get("created_id") is not None and isinstance(data, dict) and type(data.get("id")) is int:
                ids[recorded["created_id"]] = data["id"]
    return answers


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _shown(response: httpx.Response) -> str:
    return f"HTTP {response.status_code} {response.headers.get('content-type', '')}: {response.text[:300]}"


def retry_after_seconds(value: str | None) -> int | None:
    """``Retry-After`` as the contract documents it — ASCII digits, at least 1 — or None.

    Other Unicode digits (``²``, ``٣``) and HTTP dates are not the documented
    form: None, never an exception.
    """
    text = (value or "").strip()
    if not _DIGITS.fullmatch(text):
        return None
    seconds = int(text)
    return seconds if seconds >= 1 else None


def _check(name: str, response: httpx.Response, answers: list[httpx.Response]) -> None:
    body = _json(response)
    envelope = body if isinstance(body, dict) else None
    success = 200 <= response.status_code < 300
    error = envelope.get("error") if envelope and isinstance(envelope.get("error"), dict) else None
    if name == "json_body":
        media = response.headers.get("content-type", "").split(";")[0].strip().lower()
        assert media == "application/json" or media.endswith("+json"), f"not served as JSON: {_shown(response)}"
        assert envelope is not None, f"body is not a JSON object: {_shown(response)}"
    elif name == "request_id":
        assert envelope is None or (isinstance(envelope.get("request_id"), str) and envelope["request_id"]), (
            f"answer without a non-empty string request_id: {_shown(response)}"
        )
    elif name == "request_id_distinct":
        seen = [
            _json(a).get("request_id")
            for a in answers
            if isinstance(_json(a), dict) and a.headers.get("idempotent-replayed", "").lower() != "true"
        ]
        rid = envelope.get("request_id") if envelope else None
        assert not rid or seen.count(rid) <= 1, f"request_id {rid!r} answered more than one request"
    elif name == "success_envelope":
        assert not (envelope is not None and success) or ("data" in envelope and "error" not in envelope), (
            f"2xx answer without data (or with error): {_shown(response)}"
        )
    elif name == "error_envelope":
        if envelope is not None and not success:
            shaped = (
                error is not None
                and isinstance(error.get("code"), str)
                and isinstance(error.get("message"), str)
                and not set(error) - {"code", "message", "details"}
                and "data" not in envelope
            )
            assert shaped, f"error answer without the error object: {_shown(response)}"
    elif name == "code_in_catalogue":
        if error is not None and isinstance(error.get("code"), str) and not success:
            assert error["code"] in CATALOGUE, f"error code {error['code']!r} is not in the catalogue"
            documented = CATALOGUE[error["code"]]
            assert documented == response.status_code, (
                f"{error['code']} answered with HTTP {response.status_code}, documented {documented}"
            )
    elif name == "no_server_error":
        assert response.status_code < 500, f"server error for a client's request: {_shown(response)}"
    elif name == "rate_limited_answer":
        if response.status_code == 429:
            retry_after = response.headers.get("retry-after", "").strip()
            assert retry_after_seconds(retry_after) is not None, f"429 with Retry-After {retry_after!r}"
            enveloped = bool(envelope and envelope.get("request_id") and error)
            assert enveloped, f"429 without the envelope: {_shown(response)}"
    elif name == "no_secret_echo":
        haystack = response.text + "\n" + "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        for variable in SECRET_VARIABLES:
            value = os.environ.get(variable, "")
            secret = value.partition(":")[2] if ":" in value and variable.endswith("_CREDENTIAL") else value
            if len(secret) >= 4 and not variable.endswith("PARTNER_KEY"):
                assert secret not in haystack, f"the answer echoes the secret of {variable}"
    else:  # pragma: no cover - the writer only writes the checks above
        raise AssertionError(f"unknown check {name}")


def test_failure() -> None:
    answers = _send_all()
    last = answers[-1]
    if "check" in EXPECTED:
        _check(EXPECTED["check"], last, answers)
        return
    if EXPECTED["status"] == "2xx":
        assert 200 <= last.status_code < 300, f"expected a 2xx: {_shown(last)}"
        return
    body = _json(last)
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    assert (last.status_code, code) == (EXPECTED["status"], EXPECTED["code"]), (
        f"expected HTTP {EXPECTED['status']} {EXPECTED['code']}: {_shown(last)}"
    )
    if EXPECTED.get("details_field"):
        assert EXPECTED["details_field"] in str(body["error"].get("details", "")), (
            f"error details do not name {EXPECTED['details_field']}: {_shown(last)}"
        )
