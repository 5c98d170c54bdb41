"""The cassette file: HAR 1.2 as the harness writes and reads it, and the scrubbing that keeps it safe.

Owns: the format's constants, ``Scrubber`` (every secret masked in every
spelling, for recording and for matching alike), and reading a cassette back
(``load`` → ``Cassette`` of ``Entry``), with ``CassetteError`` saying what is
wrong with a file. Must not: decide any contract behaviour, or let a
configured secret reach a file or a message.

The format is HAR 1.2 (``{"log": {"version": "1.2", "entries": [...]}}``), so
browsers' devtools, Charles, mitmproxy and har-to-* tools read a cassette as
is. Each entry carries ``_klikit: {run_id, nodeid, behaviours}`` and the log
``_klikit: {run_id, base_url}`` plus a ``comment`` naming the run (HAR allows
custom fields prefixed with ``_``).

Secrets. Every configured secret — and every Basic credential seen in a
request's ``Authorization`` header — is replaced by ``MASK`` wherever it
appears (URL, any header, request and response bodies), in its raw form, its
Basic-auth encoding (base64 of ``key:secret``), its URL-encoded forms and its
JSON-escaped form. The ``Authorization`` header value becomes
``Basic [scrubbed]``.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ..core.service import BASE_PATH
from ..partner.redact import Redactor
from .simulator import DEFAULT_BASE_URL

HAR_VERSION = "1.2"
MASK = "[scrubbed]"
EXTENSION = "_klikit"
#: headers whose whole value is a credential
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization"})

Secrets = Mapping[str, str] | Iterable[str | tuple[str, str]]


class CassetteError(ValueError):
    """A cassette file that cannot be used: unreadable, not HAR 1.2, or an entry missing a field."""


# ---------------------------------------------------------------- scrubbing


class Scrubber(Redactor):
    """Replaces every known secret, in every spelling, with ``MASK`` (the partner layer's ``Redactor``).

    ``secrets`` holds secrets (strings), ``(partner_key, secret)`` pairs, or a
    mapping of partner key to secret; a pair also masks its Basic-auth token
    (base64 of ``key:secret``). ``learn(authorization)`` adds the credential
    of a Basic ``Authorization`` header. A secret too short to scrub is
    refused. Thread-safe.
    """

    def __init__(self, secrets: Secrets = ()) -> None:
        super().__init__(replacement=MASK, short="refuse")
        items: Iterable[Any] = secrets.items() if isinstance(secrets, Mapping) else secrets
        for item in items:
            if isinstance(item, str):
                self.add(item)
            elif isinstance(item, tuple) and len(item) == 2 and all(isinstance(x, str) for x in item):
                self.add(item[1], key=item[0])
            else:
                raise TypeError(f"a secret is a string or a (partner_key, secret) pair, got {type(item).__name__}")

    def headers(self, headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """Header pairs with credentials replaced (``Basic [scrubbed]``) and secrets masked."""
        scrubbed = []
        for name, value in headers:
            if name.lower() in CREDENTIAL_HEADERS:
                scheme = value.strip().partition(" ")[0] if " " in value.strip() else "Basic"
                value = f"{scheme} {MASK}"
            scrubbed.append((name, self.text(value)))
        return scrubbed


# ------------------------------------------------------------------ loading


@dataclass(frozen=True)
class Entry:
    """One recorded exchange, as read back from a cassette (bodies decoded to bytes)."""

    index: int
    method: str
    url: str
    request_headers: tuple[tuple[str, str], ...] = field(repr=False)
    request_body: bytes = field(repr=False)
    status: int
    response_headers: tuple[tuple[str, str], ...] = field(repr=False)
    response_body: bytes = field(repr=False)
    started: str = ""
    elapsed_ms: float = 0.0
    run_id: str | None = None
    nodeid: str | None = None
    behaviours: tuple[str, ...] = ()


@dataclass(frozen=True)
class Cassette(Sequence[Entry]):
    """A loaded cassette: its entries in recorded order, and what its log says."""

    path: Path
    entries: tuple[Entry, ...]
    run_id: str | None
    #: the recorded base URL; inferred (scheme, host and /v1/partner) when the log has none
    base_url: str

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: Any) -> Any:
        return self.entries[index]

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries)


_EXPECTED = 'a HAR 1.2 document: {"log": {"version": "1.2", "creator": {...}, "entries": [...]}}'


def load(path: str | os.PathLike[str]) -> Cassette:
    """Read a cassette; ``CassetteError`` says what is wrong (and what was expected) otherwise."""
    source = Path(path)
    try:
        raw = source.read_bytes()
    except FileNotFoundError:
        raise CassetteError(
            f"cassette {source} does not exist; record one with `klikit-harness run --record DIR`"
        ) from None
    except OSError as exc:
        raise CassetteError(f"cassette {source} cannot be read: {exc.strerror}") from None
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CassetteError(f"{source} is not JSON ({exc}); expected {_EXPECTED}") from None
    log = document.get("log") if isinstance(document, dict) else None
    if not isinstance(log, dict):
        got = f"keys {sorted(document)}" if isinstance(document, dict) else type(document).__name__
        raise CassetteError(f"{source} has no 'log' object (got {got}); expected {_EXPECTED}")
    if log.get("version") != HAR_VERSION:
        raise CassetteError(
            f"{source} is HAR version {log.get('version')!r}; expected {_EXPECTED} (re-export it as HAR 1.2)"
        )
    raw_entries = log.get("entries")
    if not isinstance(raw_entries, list):
        raise CassetteError(f"{source}: log.entries is {type(raw_entries).__name__}, expected a list of entries")
    entries = tuple(_entry(source, i, e) for i, e in enumerate(raw_entries))
    found = log.get(EXTENSION)
    extension: dict[str, Any] = found if isinstance(found, dict) else {}
    base_url = extension.get("base_url") if isinstance(extension.get("base_url"), str) else None
    run_id = extension.get("run_id")
    return Cassette(
        path=source,
        entries=entries,
        run_id=run_id if isinstance(run_id, str) else None,
        base_url=(base_url or _infer_base_url(entries)).rstrip("/"),
    )


def _infer_base_url(entries: Sequence[Entry]) -> str:
    if not entries:
        return DEFAULT_BASE_URL
    first = httpx.URL(entries[0].url)
    base_path = BASE_PATH if all(httpx.URL(e.url).path.startswith(BASE_PATH + "/") for e in entries) else ""
    return f"{first.scheme}://{first.netloc.decode()}{base_path}"


def _entry(source: Path, index: int, raw: Any) -> Entry:
    where = f"{source}: log.entries[{index}]"

    def need(obj: Any, key: str, kind: type, path: str) -> Any:
        value = obj.get(key) if isinstance(obj, dict) else None
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
            raise CassetteError(
                f"{where}.{path}{key} is {type(value).__name__ if value is not None else 'missing'}, "
                f"expected {kind.__name__} (a HAR 1.2 entry needs request.method, request.url, response.status "
                "and response.content)"
            )
        return value

    request = need(raw, "request", dict, "")
    response = need(raw, "response", dict, "")
    content = need(response, "content", dict, "response.")
    extension = raw.get(EXTENSION) if isinstance(raw.get(EXTENSION), dict) else {}
    post = request.get("postData") if isinstance(request.get("postData"), dict) else {}
    try:
        request_body = _decode(post.get("text"), post.get("_encoding"))
        response_body = _decode(content.get("text"), content.get("encoding"))
    except ValueError as exc:
        raise CassetteError(f"{where}: a body is not valid {exc}") from None
    return Entry(
        index=index,
        method=need(request, "method", str, "request.").upper(),
        url=need(request, "url", str, "request."),
        request_headers=_read_headers(request.get("headers")),
        request_body=request_body,
        status=need(response, "status", int, "response."),
        response_headers=_read_headers(response.get("headers")),
        response_body=response_body,
        started=str(raw.get("startedDateTime", "")),
        elapsed_ms=float(raw.get("time", 0) or 0),
        run_id=extension.get("run_id"),
        nodeid=extension.get("nodeid"),
        behaviours=tuple(extension.get("behaviours") or ()),
    )


def _decode(text: Any, encoding: Any) -> bytes:
    if not isinstance(text, str):
        return b""
    if encoding == "base64":
        try:
            return base64.b64decode(text, validate=True)
        except ValueError:
            raise ValueError("base64") from None
    return text.encode()


def _read_headers(raw: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, list):
        return ()
    return tuple(
        (str(h["name"]), str(h.get("value", ""))) for h in raw if isinstance(h, dict) and isinstance(h.get("name"), str)
    )
