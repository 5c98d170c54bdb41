"""One request and its answer, whatever sent it: the harness's one exchange record.

Owns: ``HttpExchange`` — built from an ``httpx.Response`` (the contract suite's
client, the reference client, reproductions), from a requests/Schemathesis
response (the fuzz suite), or from a request that got no answer — and what
every consumer reads from it: the parsed envelope, the ``request_id``, a
redacted one-line excerpt and a copy-paste curl reproduction that names the
credential's variables, never its secret. Must not: judge the answer (that is
``envelope``), send requests, or keep a secret where it is printed.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from . import bounded

__all__ = ["CLIENT_HEADERS", "NOT_JSON", "REPRODUCED_BODY_BYTES", "HttpExchange"]

#: a body that is not JSON (``HttpExchange.json``)
NOT_JSON: Any = object()
#: request headers the client library sets or that carry credentials: never shown in a reproduction, never kept
CLIENT_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "host",
        "content-length",
        "user-agent",
        "accept",
        "accept-encoding",
        "connection",
        "cookie",
        "x-schemathesis-testcaseid",
    }
)
#: how much of a request body a curl reproduction carries
REPRODUCED_BODY_BYTES = 4000
#: how much of an answer's body a kept exchange holds (reports show an excerpt of it)
KEPT_BODY_BYTES = 64 * 1024

#: the variables of the main credential, as a reproduction names them (``checking.config`` reads them)
MAIN_CREDENTIAL = "KLIKIT_PARTNER_KEY:KLIKIT_SECRET_KEY"


def _lower(headers: Any) -> dict[str, str]:
    """Header names lower-cased; a multi-valued header (Schemathesis: a list) joined with ``, ``."""
    return {str(k).lower(): ", ".join(v) if isinstance(v, list | tuple) else str(v) for k, v in headers.items()}


@dataclass(frozen=True)
class HttpExchange:
    """One request and its answer; header names are lower-case.

    ``status`` is 0 when no answer came (the transport failed after the request
    left). ``credential`` names the variables a reproduction signs with —
    ``KEY_VAR:SECRET_VAR`` or a ``key:secret`` pair variable; ``""`` for none;
    ``None`` (the default) means the main credential when the request carried
    an ``Authorization`` header.
    """

    method: str
    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    request_headers: Mapping[str, str] = field(default_factory=dict)
    request_body: bytes | None = None
    credential: str | None = None
    #: why the answer is not whole (cut at a bound, broken off, a redirect not followed): ``bounded.broken``
    broken: str | None = None

    # ------------------------------------------------------------ builders

    @classmethod
    def from_httpx(cls, response: Any, *, credential: str | None = None) -> HttpExchange:
        """From an ``httpx.Response`` (its request must have been sent, its body read)."""
        request = response.request
        return cls(
            method=request.method,
            url=str(request.url),
            status=response.status_code,
            headers=_lower(response.headers),
            body=response.content,
            request_headers=_lower(request.headers),
            request_body=request.content or None,
            credential=credential,
            broken=bounded.broken(response),
        )

    @classmethod
    def unanswered(cls, request: Any, *, credential: str | None = None) -> HttpExchange:
        """An ``httpx.Request`` that left but got no answer (a transport error): status 0."""
        try:
            content = request.content
        except Exception:  # a streaming body not read: nothing to reproduce it with
            content = b""
        return cls(
            method=request.method,
            url=str(request.url),
            status=0,
            headers={},
            body=b"",
            request_headers=_lower(request.headers),
            request_body=content or None,
            credential=credential,
        )

    @classmethod
    def from_requests(cls, response: Any) -> HttpExchange:
        """From a requests-style response — ``requests.Response`` or ``schemathesis.Response`` — and its request."""
        request = response.request
        body = request.body
        if isinstance(body, str):
            body = body.encode("utf-8")
        elif body is not None and not isinstance(body, bytes):  # a generator (chunked upload): not replayable
            body = None
        return cls(
            method=str(request.method or "GET"),
            url=str(request.url or ""),
            status=response.status_code,
            headers=_lower(response.headers),
            body=response.content or b"",
            request_headers=_lower(request.headers),
            request_body=body or None,
            broken=bounded.broken(response),
        )

    def kept(self) -> HttpExchange:
        """The exchange as a report keeps it: the request body cut to what a reproduction carries, the
        answer's to ``KEPT_BODY_BYTES``."""
        if len(self.body) > KEPT_BODY_BYTES:
            return replace(self, body=self.body[:KEPT_BODY_BYTES]).kept()
        if self.request_body is None or len(self.request_body) <= REPRODUCED_BODY_BYTES:
            return self
        return replace(self, request_body=self.request_body[:REPRODUCED_BODY_BYTES])

    # ------------------------------------------------------------- readings

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def query(self) -> list[tuple[str, str]]:
        return parse_qsl(urlsplit(self.url).query, keep_blank_values=True)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    @cached_property
    def json(self) -> Any:
        """The parsed body, or ``NOT_JSON`` (never raises, whatever the body)."""
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return NOT_JSON

    @property
    def envelope(self) -> dict[str, Any] | None:
        body = self.json
        return body if isinstance(body, dict) else None

    @property
    def request_id(self) -> str | None:
        env = self.envelope
        rid = env.get("request_id") if env else None
        return rid if isinstance(rid, str) else None

    @property
    def error(self) -> dict[str, Any] | None:
        env = self.envelope
        err = env.get("error") if env else None
        return err if isinstance(err, dict) else None

    # ------------------------------------------------------------- showing

    def received(self, redact: Callable[[str], str] = str, limit: int = 300) -> str:
        """``HTTP <status> <content-type>: <body excerpt>`` on one line, through ``redact``."""
        if not self.status:
            return redact(f"no answer to {self.method} {self.path} (the transport failed)")
        text = self.body[:limit].decode("utf-8", "replace").replace("\n", " ")
        cut = f" [{self.broken}]" if self.broken else ""
        return redact(f"HTTP {self.status} {self.content_type or '(no content-type)'}{cut}: {text}")

    @property
    def credential_spec(self) -> str:
        """The variables the request was signed with (``""``: unsigned)."""
        if self.credential is not None:
            return self.credential
        return MAIN_CREDENTIAL if "authorization" in self.request_headers else ""

    def curl(self, redact: Callable[[str], str] = str, origin: str | None = None) -> str:
        """A copy-paste reproduction; the credential comes from ``$KLIKIT_*`` variables.

        ``origin`` (``http://127.0.0.1:8080``) replaces the URL's scheme and host, for
        exchanges made in-process with a service that also answers there.
        """
        url = self.url
        if origin:
            parts_of = urlsplit(origin)
            url = urlsplit(url)._replace(scheme=parts_of.scheme, netloc=parts_of.netloc).geturl()
        parts = ["curl", "-sS", "-X", self.method]
        spec = self.credential_spec
        if spec:
            user = ":".join(f"${name}" for name in spec.split(":", 1))
            parts += ["-u", f'"{user}"']
        for name, value in self.request_headers.items():
            if name not in CLIENT_HEADERS:
                parts += ["-H", shlex.quote(f"{name}: {value}")]
        if self.request_body:
            parts += ["--data", shlex.quote(self.request_body[:REPRODUCED_BODY_BYTES].decode("utf-8", "replace"))]
        parts.append(shlex.quote(url))
        return redact(" ".join(parts))
