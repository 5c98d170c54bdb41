"""The fault registry of the respx simulator: named ways of answering a request (or of failing to).

Owns: ``FaultKind`` and the registry (``fault``, ``faults``), script steps
(``Step``, checked where they are written), ``FaultContext`` (what a handler
works with) and the built-in faults: "real", the transport faults (refused
connection, timeout, a body cut off), broken answers (truncated or malformed
JSON, HTML 502, missing request_id, wrong content type, unknown code, raw) and
an errors.yaml code answered with its catalogue status. Must not: decide any
contract behaviour (the core answers "real" steps) or hold simulator state.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import httpx

from .. import contract
from ..core.service import ApiRequest, ApiResponse

Step = str | tuple[str, Mapping[str, Any]]
FaultHandler = Callable[["FaultContext"], httpx.Response]

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_CODE_OPTIONS = frozenset({"retry_after", "status", "message", "details"})


# ------------------------------------------------------------------ registry


@dataclass(frozen=True)
class FaultKind:
    """A named way of answering a request (or of failing to)."""

    name: str
    handler: FaultHandler
    #: whether the request reaches the domain core (so a write may execute)
    reaches_core: bool
    #: option names a script step may pass to it
    options: frozenset[str]
    description: str


_REGISTRY: dict[str, FaultKind] = {}


def faults() -> Mapping[str, FaultKind]:
    """Every registered fault kind by name (read-only)."""
    return MappingProxyType(_REGISTRY)


def fault(name: str, *, reaches_core: bool, options: Iterable[str] = ()) -> Callable[[FaultHandler], FaultHandler]:
    """Register a fault kind under ``name``.

    The handler gets a ``FaultContext`` and returns the ``httpx.Response`` to
    give the client, or raises an ``httpx.TransportError``. ``reaches_core``
    says whether it lets the request reach the domain core (through
    ``ctx.real()``). A name already registered, or one that is an errors.yaml
    code, is refused: a step name must mean one thing.
    """
    if not _NAME.match(name):
        raise ValueError(f"fault names are lower_snake_case, got {name!r}")
    if _is_code(name):
        raise ValueError(f"{name!r} is an errors.yaml code; a fault needs a name of its own")

    def register(handler: FaultHandler) -> FaultHandler:
        if name in _REGISTRY:
            raise ValueError(
                f"fault {name!r} is already registered (by {_REGISTRY[name].handler.__qualname__}); pick another name"
            )
        doc = (handler.__doc__ or "").strip().splitlines()
        _REGISTRY[name] = FaultKind(name, handler, reaches_core, frozenset(options), doc[0] if doc else "")
        return handler

    return register


def _is_code(name: str) -> bool:
    try:
        return contract.errors().lookup(name) is not None
    except contract.ContractError:
        # Importing the plugin must not fail without contract files; the first
        # use of the catalogue will say what is missing.
        return False


@dataclass(frozen=True)
class _Step:
    kind: FaultKind
    options: Mapping[str, Any]
    label: str


def _resolve(spec: Step) -> _Step:
    """A script step, checked now so a typo fails where it was written."""
    if isinstance(spec, str):
        name, options = spec, {}
    elif isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str) and isinstance(spec[1], Mapping):
        name, options = spec[0], dict(spec[1])
    else:
        raise TypeError(f"a step is a name or a (name, {{options}}) pair, got {spec!r}")
    if name in _REGISTRY:
        kind = _REGISTRY[name]
    elif contract.errors().lookup(name) is not None:
        kind = _CODE_KIND
        options = {**options, "code": name}
    else:
        raise ValueError(
            f"unknown chaos step {name!r}: use 'real', a fault ({', '.join(sorted(_REGISTRY))}) "
            "or a code of contracts/errors.yaml"
        )
    unknown = set(options) - kind.options - ({"code"} if kind is _CODE_KIND else set())
    if unknown:
        allowed = ", ".join(sorted(kind.options)) or "none"
        raise ValueError(f"step {name!r} takes no option {sorted(unknown)} (allowed: {allowed})")
    return _Step(kind, MappingProxyType(options), name)


# ------------------------------------------------------------------ context


@dataclass
class FaultContext:
    """What a fault handler works with."""

    #: hands the request to the domain core (honouring a hold) and returns its answer
    through_core: Callable[[FaultContext], ApiResponse]
    request: httpx.Request
    api_request: ApiRequest
    operation_id: str | None
    options: Mapping[str, Any]
    #: the core's answer, once ``real()`` was called
    core_answer: ApiResponse | None = None

    def real(self) -> ApiResponse:
        """Hand the request to the domain core (honouring a hold); its answer."""
        self.core_answer = self.through_core(self)
        return self.core_answer

    def respond(self, answer: ApiResponse) -> httpx.Response:
        """An ``ApiResponse`` as the ``httpx.Response`` the client receives."""
        return httpx.Response(answer.status, headers=answer.headers, content=answer.body)

    def error(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """An error envelope with a fresh request_id."""
        error: dict[str, Any] = {"code": code, "message": message}
        if details is not None:
            error["details"] = details
        body = {"request_id": f"req_{uuid.uuid4()}", "error": error}
        return httpx.Response(status, headers=dict(headers or {}), json=body)


# -------------------------------------------------------------------- faults


def _answer_code(ctx: FaultContext) -> httpx.Response:
    """Answer an errors.yaml code with the catalogue's status and a proper envelope."""
    code = str(ctx.options["code"])
    entry = contract.errors().lookup(code)
    assert entry is not None  # checked by _resolve
    headers: dict[str, str] = {}
    retry_after = ctx.options.get("retry_after")
    rate_limited = "rate_limit_exceeded" in entry.maps_to
    if retry_after is None and rate_limited:
        retry_after = 1
    details = ctx.options.get("details")
    if retry_after is not None:
        headers["retry-after"] = str(retry_after)
        if details is None and rate_limited:
            details = {"retry_after": retry_after}
    message = str(ctx.options.get("message", f"{entry.meaning} (simulated)"))
    return ctx.error(int(ctx.options.get("status", entry.status)), code, message, details, headers)


_CODE_KIND = FaultKind("code", _answer_code, False, _CODE_OPTIONS, "answer an errors.yaml code")


@fault("real", reaches_core=True)
def _real(ctx: FaultContext) -> httpx.Response:
    """The domain core answers, unchanged."""
    return ctx.respond(ctx.real())


@fault("connect_error", reaches_core=False)
def _connect_error(ctx: FaultContext) -> httpx.Response:
    """The connection is refused: nothing reaches the API."""
    raise httpx.ConnectError("[simulated] connection refused", request=ctx.request)


@fault("read_timeout", reaches_core=True)
def _read_timeout(ctx: FaultContext) -> httpx.Response:
    """The API does the work, but its answer never arrives (httpx.ReadTimeout)."""
    ctx.real()
    raise httpx.ReadTimeout("[simulated] timed out waiting for the answer", request=ctx.request)


class _BrokenStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body that stops part-way with a transport error."""

    def __init__(self, head: bytes, error: httpx.TransportError) -> None:
        self._head = head
        self.error = error

    def __iter__(self) -> Iterator[bytes]:
        if self._head:
            yield self._head
        raise self.error

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._head:
            yield self._head
        raise self.error


@fault("reset_mid_body", reaches_core=True, options=("error",))
def _reset_mid_body(ctx: FaultContext) -> httpx.Response:
    """The API answers, but the connection drops half-way through the body.

    Option ``error``: ``"protocol"`` (default, httpx.RemoteProtocolError) or
    ``"read"`` (httpx.ReadError).
    """
    answer = ctx.real()
    message = "[simulated] peer closed connection without sending complete message body"
    error: httpx.TransportError = (
        httpx.ReadError(message, request=ctx.request)
        if ctx.options.get("error") == "read"
        else httpx.RemoteProtocolError(message, request=ctx.request)
    )
    headers = [(k, v) for k, v in answer.headers if k.lower() != "content-length"]
    headers.append(("content-length", str(len(answer.body))))
    stream = _BrokenStream(answer.body[: len(answer.body) // 2], error)
    return httpx.Response(answer.status, headers=headers, stream=stream)


@fault("truncated_json", reaches_core=True)
def _truncated_json(ctx: FaultContext) -> httpx.Response:
    """The API's answer arrives complete at the HTTP level, but its JSON is cut in half."""
    answer = ctx.real()
    return httpx.Response(answer.status, headers=answer.headers, content=answer.body[: len(answer.body) // 2])


@fault("malformed_json", reaches_core=True)
def _malformed_json(ctx: FaultContext) -> httpx.Response:
    """The API's answer with a stray comma before its last brace: not JSON."""
    answer = ctx.real()
    body = answer.body.rstrip()
    broken = body[:-1] + b",}" if body.endswith(b"}") else body + b","
    return httpx.Response(answer.status, headers=answer.headers, content=broken)


@fault("html_502", reaches_core=False)
def _html_502(ctx: FaultContext) -> httpx.Response:
    """A gateway in front of the API answers 502 with an HTML page."""
    page = (
        b"<html><head><title>502 Bad Gateway</title></head><body>"
        b"<center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
    )
    return httpx.Response(502, headers={"content-type": "text/html"}, content=page)


@fault("missing_request_id", reaches_core=True)
def _missing_request_id(ctx: FaultContext) -> httpx.Response:
    """The API's answer without its request_id."""
    answer = ctx.real()
    body = json.loads(answer.body)
    body.pop("request_id", None)
    headers = [(k, v) for k, v in answer.headers if k.lower() != "content-length"]
    return httpx.Response(answer.status, headers=headers, content=json.dumps(body).encode())


@fault("wrong_content_type", reaches_core=True, options=("content_type",))
def _wrong_content_type(ctx: FaultContext) -> httpx.Response:
    """The API's answer labelled with another content type (option ``content_type``)."""
    answer = ctx.real()
    ctype = str(ctx.options.get("content_type", "text/plain; charset=utf-8"))
    headers = [(k, v) for k, v in answer.headers if k.lower() != "content-type"]
    return httpx.Response(answer.status, headers=[*headers, ("content-type", ctype)], content=answer.body)


@fault("unknown_code", reaches_core=False, options=("code", "status"))
def _unknown_code(ctx: FaultContext) -> httpx.Response:
    """A proper envelope with a code the catalogue does not know (default status 400)."""
    code = str(ctx.options.get("code", "simulated_unknown_code"))
    return ctx.error(int(ctx.options.get("status", 400)), code, "a code outside errors.yaml (simulated)")


@fault("raw", reaches_core=False, options=("status", "body", "content_type", "headers"))
def _raw(ctx: FaultContext) -> httpx.Response:
    """Exactly the given answer: ``status`` (200), ``body`` (bytes, str or a JSON value),
    ``content_type`` (application/json) and extra ``headers``."""
    body = ctx.options.get("body", b"")
    content = body if isinstance(body, bytes) else body.encode() if isinstance(body, str) else json.dumps(body).encode()
    headers = {"content-type": str(ctx.options.get("content_type", "application/json"))}
    headers.update(ctx.options.get("headers", {}))
    return httpx.Response(int(ctx.options.get("status", 200)), headers=headers, content=content)


_REAL_STEP = _Step(_REGISTRY["real"], MappingProxyType({}), "real")
