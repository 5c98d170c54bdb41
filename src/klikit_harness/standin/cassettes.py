"""Cassettes: what a target answered, kept as HAR 1.2 files safe to commit, and replayed offline.

Owns: recording exchanges (``Recorder``, and ``RecordingTransport`` around any
httpx transport), scrubbing secrets out of everything written, reading a
cassette back (``load``), request matching, and ``CassetteSimulator`` — the
respx simulator answering each recorded request with its recorded answer
(built by ``Simulator.from_cassette``). Must not: decide any contract
behaviour (a cassette only repeats what a target said), or let a configured
secret reach a file or a message.

The format is HAR 1.2 (``{"log": {"version": "1.2", "entries": [...]}}``), so
browsers' devtools, Charles, mitmproxy and har-to-* tools read a cassette as
is. Each entry carries ``_klikit: {run_id, nodeid, behaviours}`` and the log
``_klikit: {run_id, base_url}`` plus a ``comment`` naming the run (HAR allows
custom fields prefixed with ``_``).

Why the JSON is written here and not through ``harfile`` (the HAR writer
Schemathesis uses, already installed with it): ``HarFile.add_entry`` writes a
fixed set of keys — an entry can get a free-text ``comment`` but no custom
``_klikit`` object, nor can the log — and it only writes; replay needs a
reader and validation anyway. The document is plain JSON, so the standard
library writes it in a few lines; no dependency is added.

Secrets. Every configured secret — and every Basic credential seen in a
request's ``Authorization`` header — is replaced by ``MASK`` wherever it
appears (URL, any header, request and response bodies), in its raw form, its
Basic-auth encoding (base64 of ``key:secret``), its URL-encoded forms and its
JSON-escaped form. The ``Authorization`` header value becomes
``Basic [scrubbed]``.

Matching (record and replay scrub the same way, so a request that carried a
secret still matches): method; path relative to the base URL's path; query
as a sorted multiset of pairs; body canonicalised — JSON parsed and
re-serialised with sorted keys, anything else compared byte for byte. Headers
(``Authorization``, ``Idempotency-Key``…) are ignored. Identical requests are
answered in recorded order, then the last answer repeats.
"""

from __future__ import annotations

import base64
import difflib
import http
import json
import os
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx

from ..core.service import BASE_PATH, ApiResponse
from ..partner.redact import Redactor
from .simulator import DEFAULT_BASE_URL, Call, FaultContext, Simulator, _request_id

__all__ = [
    "HAR_VERSION",
    "MASK",
    "Cassette",
    "CassetteError",
    "CassetteMiss",
    "CassetteSimulator",
    "Entry",
    "MissedRequest",
    "Recorder",
    "RecordingTransport",
    "RequestKey",
    "Scrubber",
    "canonical_body",
    "load",
]

HAR_VERSION = "1.2"
MASK = "[scrubbed]"
EXTENSION = "_klikit"
#: headers whose whole value is a credential
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization"})
#: recorded response headers that describe the wire encoding, not the stored body
_WIRE_HEADERS = frozenset({"content-length", "content-encoding", "transfer-encoding"})
EXCERPT_CHARS = 200
CANDIDATES = 3

Headers = Mapping[str, str] | Iterable[tuple[str, str]] | httpx.Headers
Secrets = Mapping[str, str] | Iterable[str | tuple[str, str]]


class CassetteError(ValueError):
    """A cassette file that cannot be used: unreadable, not HAR 1.2, or an entry missing a field."""


def _version() -> str:
    try:
        return metadata.version("klikit-harness")
    except metadata.PackageNotFoundError:  # running from a source tree without an install
        return "0+unknown"


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


def _pairs(headers: Headers | None) -> list[tuple[str, str]]:
    if headers is None:
        return []
    if isinstance(headers, httpx.Headers):
        return list(headers.multi_items())
    if isinstance(headers, Mapping):
        return [(str(k), str(v)) for k, v in headers.items()]
    return [(str(k), str(v)) for k, v in headers]


def _body_bytes(body: bytes | str | None) -> bytes:
    if body is None:
        return b""
    return body.encode() if isinstance(body, str) else bytes(body)


def _header(pairs: Iterable[tuple[str, str]], name: str) -> str | None:
    for key, value in pairs:
        if key.lower() == name:
            return value
    return None


def _text_or_base64(body: bytes) -> tuple[str, str | None]:
    try:
        return body.decode(), None
    except UnicodeDecodeError:
        return base64.b64encode(body).decode(), "base64"


# ---------------------------------------------------------------- recording


class Recorder:
    """Collects exchanges as HAR entries; ``close()`` writes the cassette atomically.

    ``secrets``: see ``Scrubber`` — pass ``{partner_key: secret_key}`` (every
    credential the run uses) and any other secret a server might echo. The
    credential of each request's Basic ``Authorization`` header is masked too,
    configured or not. ``base_url`` (recorded in the log) is what replay
    strips from paths; without it, replay assumes ``/v1/partner``.
    Thread-safe; usable as a context manager.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        run_id: str,
        secrets: Secrets = (),
        base_url: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.scrubber = Scrubber(secrets)
        self.run_id = self.scrubber.text(run_id)
        self.base_url = base_url.rstrip("/") if base_url else None
        self._entries: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._closed = False

    def __len__(self) -> int:
        return len(self._entries)

    def add(
        self,
        method: str,
        url: str,
        request_headers: Headers | None,
        request_body: bytes | str | None,
        status: int,
        response_headers: Headers | None,
        response_body: bytes | str | None,
        *,
        nodeid: str = "",
        behaviours: Iterable[str] = (),
        started: datetime | str | None = None,
        elapsed_ms: float = 0.0,
        http_version: str = "HTTP/1.1",
    ) -> None:
        """Append one exchange (scrubbed now: nothing secret is kept in memory past this call)."""
        req_pairs, resp_pairs = _pairs(request_headers), _pairs(response_headers)
        scrub = self.scrubber
        scrub.learn(_header(req_pairs, "authorization"))
        clean_url = scrub.text(url)
        query = parse_qsl(urlsplit(clean_url).query, keep_blank_values=True)
        req_body = scrub.bytes(_body_bytes(request_body))
        resp_body = scrub.bytes(_body_bytes(response_body))
        req_headers = scrub.headers(req_pairs)
        resp_headers = scrub.headers(resp_pairs)
        if started is None:
            started = datetime.now(UTC)
        request: dict[str, Any] = {
            "method": method.upper(),
            "url": clean_url,
            "httpVersion": http_version,
            "cookies": [],
            "headers": [{"name": k, "value": v} for k, v in req_headers],
            "queryString": [{"name": k, "value": v} for k, v in query],
            "headersSize": -1,
            "bodySize": len(req_body),
        }
        if req_body:
            text, encoding = _text_or_base64(req_body)
            post: dict[str, Any] = {"mimeType": _header(req_headers, "content-type") or "", "text": text}
            if encoding:
                post["_encoding"] = encoding  # HAR 1.2 postData has no encoding field
            request["postData"] = post
        text, encoding = _text_or_base64(resp_body)
        content: dict[str, Any] = {
            "size": len(resp_body),
            "mimeType": _header(resp_headers, "content-type") or "",
            "text": text,
        }
        if encoding:
            content["encoding"] = encoding
        entry = {
            "startedDateTime": started.isoformat() if isinstance(started, datetime) else started,
            "time": round(elapsed_ms, 3),
            "request": request,
            "response": {
                "status": status,
                "statusText": _status_text(status),
                "httpVersion": http_version,
                "cookies": [],
                "headers": [{"name": k, "value": v} for k, v in resp_headers],
                "content": content,
                "redirectURL": _header(resp_headers, "location") or "",
                "headersSize": -1,
                "bodySize": len(resp_body),
            },
            "cache": {},
            "timings": {"send": 0, "wait": round(elapsed_ms, 3), "receive": 0},
            EXTENSION: {
                "run_id": self.run_id,
                "nodeid": scrub.text(nodeid),
                "behaviours": [scrub.text(b) for b in behaviours],
            },
        }
        with self._lock:
            if self._closed:
                raise RuntimeError(f"the cassette {self.path} is already written; start a new Recorder")
            self._entries.append(entry)

    def add_exchange(
        self,
        response: httpx.Response,
        *,
        nodeid: str = "",
        behaviours: Iterable[str] = (),
        started: datetime | str | None = None,
        elapsed_ms: float | None = None,
    ) -> None:
        """Append a read ``httpx.Response`` and its request (e.g. from an httpx response event hook)."""
        request = response.request
        if elapsed_ms is None:
            try:
                elapsed_ms = response.elapsed.total_seconds() * 1000
            except RuntimeError:  # elapsed is set only once the response is closed
                elapsed_ms = 0.0
        self.add(
            request.method,
            str(request.url),
            request.headers,
            request.read(),
            response.status_code,
            response.headers,
            response.read(),
            nodeid=nodeid,
            behaviours=behaviours,
            started=started,
            elapsed_ms=elapsed_ms,
            http_version=response.http_version,
        )

    def transport(
        self, inner: httpx.BaseTransport, *, nodeid: str = "", behaviours: Iterable[str] = ()
    ) -> RecordingTransport:
        """``inner`` wrapped so that every exchange through it is recorded under ``nodeid``."""
        return RecordingTransport(inner, self, nodeid=nodeid, behaviours=tuple(behaviours))

    def document(self) -> dict[str, Any]:
        """The HAR document as it would be written now."""
        with self._lock:
            entries = list(self._entries)
        extension: dict[str, Any] = {"run_id": self.run_id}
        if self.base_url:
            extension["base_url"] = self.base_url
        return {
            "log": {
                "version": HAR_VERSION,
                "creator": {"name": "klikit-harness", "version": _version()},
                "comment": f"klikit-harness run {self.run_id}",
                "entries": entries,
                EXTENSION: extension,
            }
        }

    def dumps(self) -> str:
        """The cassette's text: the log's fields indented, then one exchange per line.

        One line per exchange keeps a committed cassette's diff readable (a
        changed answer is a changed line) and lets the C JSON encoder do the work.
        """
        document = self.document()
        log = document["log"]
        entries = log.pop("entries")
        head = json.dumps({"log": {**log, "entries": []}}, indent=1, ensure_ascii=False)
        opening, _, closing = head.partition('"entries": []')
        if not entries:
            return head + "\n"
        lines = ",\n".join("   " + json.dumps(entry, ensure_ascii=False) for entry in entries)
        return f'{opening}"entries": [\n{lines}\n  ]{closing}\n'

    def close(self) -> Path:
        """Write the cassette (a temporary file renamed into place); idempotent. Returns its path."""
        with self._lock:
            if self._closed:
                return self.path
            self._closed = True
        text = self.dumps()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return self.path

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Recorder({str(self.path)!r}, run_id={self.run_id!r}, entries={len(self)})"


def _status_text(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


class RecordingTransport(httpx.BaseTransport):
    """An httpx transport that records every answered exchange of ``inner``.

    The answer's body is read here (so it can be recorded) and handed on
    unchanged. A request that gets no answer (connection refused, timeout,
    cut off mid-body) raises as before and is not recorded: HAR has no entry
    for it.
    """

    def __init__(
        self, inner: httpx.BaseTransport, recorder: Recorder, *, nodeid: str = "", behaviours: Sequence[str] = ()
    ) -> None:
        self.inner = inner
        self.recorder = recorder
        self.nodeid = nodeid
        self.behaviours = tuple(behaviours)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started = datetime.now(UTC)
        began = time.perf_counter()
        response = self.inner.handle_request(request)
        if response.is_stream_consumed:  # read by the transport already (httpx.MockTransport does)
            answer, decoded = response, response.content
        else:
            try:
                raw = b"".join(response.iter_raw())
            finally:
                response.close()
            answer = httpx.Response(
                response.status_code,
                headers=response.headers,
                stream=httpx.ByteStream(raw),
                extensions=response.extensions,
                request=request,
            )
            # The body as the client will see it (content-encoding undone), without consuming `answer`.
            decoded = httpx.Response(
                response.status_code, headers=response.headers, stream=httpx.ByteStream(raw)
            ).read()
        elapsed_ms = (time.perf_counter() - began) * 1000
        self.recorder.add(
            request.method,
            str(request.url),
            request.headers,
            request.read(),
            response.status_code,
            response.headers,
            decoded,
            nodeid=self.nodeid,
            behaviours=self.behaviours,
            started=started,
            elapsed_ms=elapsed_ms,
            http_version=response.http_version,
        )
        return answer

    def close(self) -> None:
        self.inner.close()


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


# ----------------------------------------------------------------- matching


def canonical_body(body: bytes) -> bytes:
    """JSON re-serialised with sorted keys and no spaces; any other body as it is (empty: ``b""``)."""
    if not body.strip():
        return b""
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return body
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class RequestKey:
    """What matching compares: method, path relative to the base path, sorted query, canonical body."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    body: bytes = field(repr=False)

    @classmethod
    def of(cls, method: str, url: str, body: bytes, *, base_path: str, scrubber: Scrubber) -> RequestKey:
        """The key of a request, scrubbed by ``scrubber`` first (as the recorder scrubbed it)."""
        parsed = urlsplit(scrubber.text(url))
        return cls(
            method.upper(),
            _relative(unquote(parsed.path), base_path),
            tuple(sorted(parse_qsl(parsed.query, keep_blank_values=True))),
            canonical_body(scrubber.bytes(body)),
        )

    def describe(self) -> str:
        query = "&".join(f"{k}={v}" for k, v in self.query)
        return f"{self.method} {self.path}{'?' + query if query else ''}"

    def excerpt(self) -> str:
        text = self.body.decode(errors="replace")
        return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "…"


def _relative(path: str, base_path: str) -> str:
    if base_path and (path == base_path or path.startswith(base_path + "/")):
        path = path[len(base_path) :]
    return path.rstrip("/") or "/"


@dataclass(frozen=True)
class MissedRequest:
    """A request the cassette had no answer for (secrets scrubbed)."""

    key: RequestKey
    #: (entry index, what differs from it, the recorded request), nearest first
    candidates: tuple[tuple[int, str, RequestKey], ...]

    def __str__(self) -> str:
        lines = [f"no recorded answer for {self.key.describe()}"]
        if self.key.body:
            lines.append(f"  body: {self.key.excerpt()}")
        if self.candidates:
            lines.append("nearest recorded requests:")
            for index, differs, key in self.candidates:
                lines.append(f"  entry {index}: {key.describe()} ({differs})")
                if key.body and "body" in differs:
                    lines.append(f"    body: {key.excerpt()}")
        else:
            lines.append("the cassette has no entries")
        return "\n".join(lines)


class CassetteMiss(AssertionError):
    """A request matched no recorded exchange; the message lists it and the nearest candidates."""

    def __init__(self, missed: MissedRequest, cassette: Path) -> None:
        self.missed = missed
        self.cassette = cassette
        super().__init__(
            f"{missed}\ncassette: {cassette}\n"
            "what to do: send the request the cassette recorded, or re-record it "
            "(`klikit-harness run --record DIR`). Matching compares the method, the path relative "
            "to the base URL, the query (any order) and the body (JSON in any key order); headers "
            "(Authorization, Idempotency-Key) are ignored."
        )


def _differences(a: RequestKey, b: RequestKey) -> str:
    parts = [name for name in ("method", "path", "query", "body") if getattr(a, name) != getattr(b, name)]
    return "differs in " + ", ".join(parts) if parts else "identical"


def _nearest(key: RequestKey, recorded: Mapping[RequestKey, int], limit: int) -> list[tuple[int, str, RequestKey]]:
    def cheap(other: RequestKey) -> float:
        query_a, query_b = set(key.query), set(other.query)
        overlap = len(query_a & query_b) / len(query_a | query_b) if query_a | query_b else 1.0
        return 4 * (other.method == key.method) + 4 * (other.path == key.path) + 2 * overlap

    shortlist = sorted(recorded, key=cheap, reverse=True)[: limit * 8]

    def score(other: RequestKey) -> float:
        ratio = difflib.SequenceMatcher(None, key.body[:400], other.body[:400]).ratio()
        return cheap(other) + 2 * ratio

    best = sorted(shortlist, key=score, reverse=True)[:limit]
    return [(recorded[other], _differences(key, other), other) for other in best]


# ------------------------------------------------------------------- replay


class CassetteSimulator(Simulator):
    """A ``Simulator`` whose "real" answers come from a cassette instead of the domain core.

    Everything else is the simulator's: respx patching (or ``transport()``),
    the context manager, ``calls``, ``sleep`` and the chaos API — a scripted
    fault still replaces the answer, and "real" steps replay the recording.

    ``base_url``: where to serve (default: the recorded base URL); paths are
    matched relative to the base path on each side, so a staging cassette
    replays against any base URL. ``strict=False``: a request with no exact
    match is answered from the nearest recorded request with the same method
    and path (listed in ``approximate``); only a request with neither is a
    miss. ``secrets``: secrets the replaying client may put in a URL or body
    (its Basic credential is learnt from its Authorization header), masked
    before matching as at recording.
    """

    def __init__(
        self, cassette: Cassette, *, base_url: str | None = None, strict: bool = True, secrets: Secrets = ()
    ) -> None:
        super().__init__(base_url or cassette.base_url)
        self.cassette = cassette
        self.strict = strict
        #: requests no recorded exchange answered (assert it is empty at teardown)
        self.unmatched: list[MissedRequest] = []
        #: (request, entry index) answered by the nearest recording under strict=False
        self.approximate: list[tuple[RequestKey, int]] = []
        #: the entry index that answered each replayed request, in order
        self.replayed: list[int] = []
        self._scrubber = Scrubber(secrets)
        recorded_base = httpx.URL(cassette.base_url).path.rstrip("/")
        self._answers: dict[RequestKey, list[Entry]] = {}
        for entry in cassette:
            key = RequestKey.of(
                entry.method, entry.url, entry.request_body, base_path=recorded_base, scrubber=self._scrubber
            )
            self._answers.setdefault(key, []).append(entry)
        self._first: dict[RequestKey, int] = {key: entries[0].index for key, entries in self._answers.items()}
        # Per entry, computed once: the answer's headers less the wire ones (the stored body is
        # decoded and its length recomputed), and its request_id for ``calls``.
        self._headers = [
            httpx.Headers([(k, v) for k, v in e.response_headers if k.lower() not in _WIRE_HEADERS]) for e in cassette
        ]
        self._request_ids = [_request_id(e.response_body) for e in cassette]
        self._served: dict[RequestKey, int] = {}
        self._replay_lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"CassetteSimulator({str(self.cassette.path)!r}, base_url={self.base_url!r}, "
            f"entries={len(self.cassette)}, calls={len(self.calls)}, unmatched={len(self.unmatched)})"
        )

    def assert_all_matched(self) -> None:
        """Fail when a request found no recorded answer — the client asked what the recording never saw."""
        if self.unmatched:
            listed = "\n\n".join(str(m) for m in self.unmatched)
            raise AssertionError(
                f"{len(self.unmatched)} request(s) matched nothing in {self.cassette.path}:\n\n{listed}"
            )

    def _respond(self, request: httpx.Request) -> httpx.Response:
        # With no chaos in play every request is a plain replay: answer it directly, with the
        # same record in ``calls`` as the general path, at a fraction of its cost (no step
        # lookup, no FaultContext, request_id read once per entry rather than per answer).
        if self._rotations or self._hold is not None or any(self._scripts.values()):
            return super()._respond(request)
        request.read()
        headers: dict[str, str] = {}
        for name, value in request.headers.multi_items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        call = Call(
            operation_id=self._operation_id(request.method, request.url.path),
            method=request.method,
            path=request.url.path,
            query=tuple(request.url.params.multi_items()),
            headers=headers,
            body=request.content,
        )
        with self._lock:
            self.calls.append(call)
        try:
            entry = self._answer(request)
        except CassetteMiss as exc:
            call.error = type(exc).__name__
            raise
        call.status, call.request_id = entry.status, self._request_ids[entry.index]
        return httpx.Response(entry.status, headers=self._headers[entry.index], content=entry.response_body)

    def _through_core(self, ctx: FaultContext) -> ApiResponse:
        entry = self._answer(ctx.request)
        return ApiResponse(entry.status, list(self._headers[entry.index].multi_items()), entry.response_body)

    def _answer(self, request: httpx.Request) -> Entry:
        """The recorded exchange answering ``request`` (raises ``CassetteMiss`` when there is none)."""
        self._scrubber.learn(request.headers.get("authorization"))
        key = RequestKey.of(
            request.method, str(request.url), request.content, base_path=self._prefix, scrubber=self._scrubber
        )
        with self._replay_lock:
            answer_key = key if key in self._answers else None
            if answer_key is None and not self.strict:
                same = {k: i for k, i in self._first.items() if k.method == key.method and k.path == key.path}
                if same:
                    answer_key = _nearest(key, same, 1)[0][2]
            if answer_key is None:
                missed = MissedRequest(key, tuple(_nearest(key, self._first, CANDIDATES)))
                self.unmatched.append(missed)
                raise CassetteMiss(missed, self.cassette.path)
            entries = self._answers[answer_key]
            served = self._served.get(answer_key, 0)
            self._served[answer_key] = served + 1
            entry = entries[min(served, len(entries) - 1)]
            self.replayed.append(entry.index)
            if answer_key != key:
                self.approximate.append((key, entry.index))
        return entry
