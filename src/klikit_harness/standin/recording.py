"""Recording a cassette: exchanges collected as HAR entries, scrubbed, and written atomically.

Owns: ``Recorder`` (entries added one by one, from an ``httpx.Response``, or
through ``RecordingTransport`` around any httpx transport) and writing the
file. The format and the scrubbing are ``har``'s. Must not: decide any
contract behaviour, or keep a secret in memory past ``add``.

Why the JSON is written here and not through ``harfile`` (the HAR writer
Schemathesis uses, already installed with it): ``HarFile.add_entry`` writes a
fixed set of keys — an entry can get a free-text ``comment`` but no custom
``_klikit`` object, nor can the log — and it only writes; replay needs a
reader and validation anyway. The document is plain JSON, so the standard
library writes it in a few lines; no dependency is added.
"""

from __future__ import annotations

import base64
import http
import json
import os
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from .har import EXTENSION, HAR_VERSION, Scrubber, Secrets

Headers = Mapping[str, str] | Iterable[tuple[str, str]] | httpx.Headers


def _version() -> str:
    try:
        return metadata.version("klikit-harness")
    except metadata.PackageNotFoundError:  # running from a source tree without an install
        return "0+unknown"


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
