"""The envelope and rate-limit rules every answer must meet: one definition.

Owns: what makes an answer the documented envelope — a JSON object served as
``application/json`` (``media``, ``json_object``), a non-empty string
``request_id`` (``request_id``), ``data`` and no ``error`` on a 2xx
(``success_shape``), ``error{code, message, details?}`` and no ``data``
otherwise (``error_shape``), an ``error.code`` of contracts/errors.yaml answered
with the catalogue's status (``catalogued``) — and the 429 rule: the
rate-limit envelope with ``Retry-After`` an integer of at least 1
(``rate_limited``, ``retry_after_seconds``).

Each rule reads an ``HttpExchange`` and returns a ``Breach`` (or None): which
behaviour is broken, the registered fuzz check that states the rule, a title
and what the contract documents. It never raises, whatever the answer. The
callers turn a breach into their own failure: the reference client's
``ContractViolation`` (client.py), the contract suite's ``Violation``
(expect.py, target.py's every-429 check) and the fuzz checks' (checks.py).
Must not: send requests or read the stand-in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .. import contract
from ..contract import ErrorCode, Reading
from .exchange import NOT_JSON, HttpExchange

__all__ = [
    "ANSWER_RULES",
    "RATE_LIMIT_MEANING",
    "SHAPE_RULES",
    "Breach",
    "catalogued",
    "error_shape",
    "first_breach",
    "is_rate_limited",
    "is_success",
    "json_object",
    "media",
    "not_http",
    "rate_limited",
    "request_id",
    "retry_after_seconds",
    "success_shape",
    "whole",
]

#: the reference code a 429 stands for (its spelling in a reading comes from errors.yaml)
RATE_LIMIT_MEANING = "rate_limit_exceeded"
_DIGITS = re.compile(r"[0-9]+")
_ENVELOPE = "every answer, errors included, is a JSON envelope served as Content-Type: application/json"
_RATE_LIMITED = "{status} {code} envelope with Retry-After: <integer seconds >= 1>"


@dataclass(frozen=True)
class Breach:
    """One envelope rule an answer breaks."""

    behaviour: str
    #: the registered check (``checks.CHECKS``) that states this rule; a reproduction re-runs it
    check: str
    title: str
    documented: str


def is_success(status: int) -> bool:
    return 200 <= status < 300


def is_rate_limited(status: int, reading: Reading | None = None) -> bool:
    """Is ``status`` the one errors.yaml gives a rate-limited answer (in ``reading``; None: either)?"""
    catalogue = contract.errors()
    readings: tuple[Reading, ...] = (reading,) if reading else contract.READINGS
    return any(status == catalogue.code_for(RATE_LIMIT_MEANING, r).status for r in readings)


def whole(ex: HttpExchange, reading: Reading | None = None) -> Breach | None:
    """The answer is whole and is the endpoint's own: not cut at a bound or broken off, not a redirect.

    A redirect is never followed (``partner.bounded``): whatever it points at, it
    is not the documented answer of the endpoint that was called.
    """
    if ex.broken and not 300 <= ex.status < 400:
        return Breach("envelope.json-body", "json_body", f"the answer is not whole: {ex.broken}", _ENVELOPE)
    if 300 <= ex.status < 400:
        where = ex.headers.get("location", "").strip()
        title = ex.broken or (
            f"HTTP {ex.status} redirect to {where or '(no Location)'}: not followed (the harness never follows one)"
        )
        return Breach("envelope.json-body", "json_body", title, _ENVELOPE)
    return None


def not_http(reason: str) -> Breach:
    """An answer the client could not read as HTTP at all (``bounded.unreadable`` says why)."""
    return Breach("envelope.json-body", "json_body", reason, _ENVELOPE)


def media(ex: HttpExchange, reading: Reading | None = None) -> Breach | None:
    """The answer is whole (``whole``) and served as ``application/json`` (a HEAD answer has no body: exempt)."""
    from ..contract.limits import JSON_TYPE  # loaded on first use (importing the client stays cheap)

    breach = whole(ex, reading)
    if breach is not None:
        return breach
    if ex.method.upper() == "HEAD":
        return None
    kind = ex.content_type.split(";")[0].strip().lower()
    if kind == JSON_TYPE:
        return None
    return Breach("envelope.json-body", "json_body", f"content-type is {kind or 'missing'}, not {JSON_TYPE}", _ENVELOPE)


def json_object(ex: HttpExchange, reading: Reading | None = None) -> Breach | None:
    """The answer is whole (``whole``), its body parses as JSON, and is an object."""
    breach = whole(ex, reading)
    if breach is not None:
        return breach
    if ex.method.upper() == "HEAD" or ex.envelope is not None:
        return None
    body = ex.json
    title = "the body is not valid JSON" if body is NOT_JSON else f"the body is a JSON {_kind(body)}, not an object"
    return Breach("envelope.json-body", "json_body", title, _ENVELOPE)


def request_id(ex: HttpExchange, reading: Reading | None = None) -> Breach | None:
    """A JSON object answer carries a top-level non-empty string ``request_id``."""
    env = ex.envelope
    if env is None or (isinstance(env.get("request_id"), str) and env["request_id"]):
        return None
    return Breach(
        "envelope.request-id",
        "request_id",
        "the body has no non-empty string request_id",
        "a top-level non-empty string request_id on every answer, success or error",
    )


def success_shape(ex: HttpExchange, reading: Reading | None = None) -> Breach | None:
    """A 2xx body has ``data`` (null, {} or [] allowed) and no ``error``."""
    env = ex.envelope
    if env is None or not is_success(ex.status) or ("data" in env and "error" not in env):
        return None
    return Breach(
        "envelope.success-has-data",
        "success_envelope",
        f"a {ex.status} body {'without data' if 'data' not in env else 'with error'}",
        "{request_id, data} on every 2xx answer, no error key",
    )


def error_shape(ex: HttpExchange, reading: Reading | None = None) -> Breach | None:
    """A non-2xx body has ``error{code, message, details?}`` and no ``data``.

    Only what the envelope page and DESIGN.md state: further members of the error
    object or of the envelope are not this rule's business (openapi.yaml closes those
    objects under the incidental ``response.closed-objects``).
    """
    env = ex.envelope
    if env is None or is_success(ex.status):
        return None
    err = env.get("error")
    if (
        isinstance(err, dict)
        and isinstance(err.get("code"), str)
        and isinstance(err.get("message"), str)
        and "data" not in env
    ):
        return None
    return Breach(
        "envelope.error-shape",
        "error_envelope",
        f"a {ex.status} body without a proper error object",
        "{request_id, error: {code, message, details?}} on every non-2xx answer, no data key",
    )


def catalogued(ex: HttpExchange, reading: Reading | None = None) -> Breach | None:
    """``error.code`` is a code of errors.yaml answered with the catalogue's status.

    ``reading`` holds the code to that reading's vocabulary (aliases of its codes
    accepted); None accepts either vocabulary (the reference client reads both).
    """
    err = ex.error
    code = err.get("code") if err is not None else None
    if not isinstance(code, str) or is_success(ex.status):
        return None
    entry = _entry(code, reading)
    where = f" ({reading} reading)" if reading else ""
    if entry is None:
        return Breach(
            "envelope.code-status-catalogue",
            "code_in_catalogue",
            f"error code {code!r} is not in the catalogue{where}",
            f"every error.code is a code of contracts/errors.yaml{where}",
        )
    if entry.status != ex.status:
        return Breach(
            "envelope.code-status-catalogue",
            "code_in_catalogue",
            f"code {code} came with HTTP status {ex.status}",
            f"errors.yaml gives {code} the status {entry.status}",
        )
    return None


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


def rate_limited(ex: HttpExchange, reading: Reading | None = None) -> Breach | None:
    """A 429 carries ``Retry-After: <integer >= 1>`` and the rate-limit envelope (the reading's code)."""
    if not is_rate_limited(ex.status, reading):
        return None
    catalogue = contract.errors()
    code = catalogue.code_for(RATE_LIMIT_MEANING, reading).code if reading else RATE_LIMIT_MEANING
    documented = _RATE_LIMITED.format(status=ex.status, code=code)
    header = ex.headers.get("retry-after", "").strip()
    if retry_after_seconds(header) is None:
        return Breach(
            "ratelimit.retry-after-seconds" if header else "ratelimit.429-envelope-retry-after",
            "rate_limited_answer",
            f"{ex.status} with Retry-After {header or '(absent)'!r}",
            documented,
        )
    err = ex.error
    received = err.get("code") if err is not None else None
    if reading is not None:
        meant = received == code
    else:  # either vocabulary
        meant = isinstance(received, str) and RATE_LIMIT_MEANING in catalogue.meanings(received)
    if ex.request_id is None or not meant:
        return Breach(
            "ratelimit.429-envelope-retry-after",
            "rate_limited_answer",
            f"{ex.status} without the rate-limit envelope",
            documented,
        )
    return None


Rule = Callable[[HttpExchange, "Reading | None"], "Breach | None"]
#: the body rules a JSON answer is read by (a content type aside): the contract suite's ``expect.envelope``
SHAPE_RULES: tuple[Rule, ...] = (json_object, request_id, success_shape, error_shape)
#: every rule an answer must meet, in the order a reader meets them: the reference client's classification
ANSWER_RULES: tuple[Rule, ...] = (media, *SHAPE_RULES, catalogued, rate_limited)


def first_breach(
    ex: HttpExchange, reading: Reading | None = None, rules: Iterable[Rule] = ANSWER_RULES
) -> Breach | None:
    """The first rule of ``rules`` the answer breaks, or None."""
    for rule in rules:
        breach = rule(ex, reading)
        if breach is not None:
            return breach
    return None


def _entry(code: str, reading: Reading | None) -> ErrorCode | None:
    catalogue = contract.errors()
    if reading is None:
        return catalogue.lookup(code)
    # errors.yaml lists spellings "clients should understand as the same meaning" (aliases);
    # they are accepted when they stand for a code of the reading in force.
    return catalogue.codes(reading).get(catalogue.aliases.get(code, code))


def _kind(value: object) -> str:
    return {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(type(value), "number")
