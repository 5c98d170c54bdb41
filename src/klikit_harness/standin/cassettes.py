"""Cassettes: what a target answered, kept as HAR 1.2 files safe to commit, and replayed offline.

Owns: replay — request matching and ``CassetteSimulator``, the respx
simulator answering each recorded request with its recorded answer (built by
``replay(path)``; ``klikit_harness.Simulator.from_cassette`` is the same
entry at the package face). The file format, the scrubbing and ``load`` live
in ``har``, recording in ``recording``; their public names are importable
from here too. Must not: decide any contract behaviour (a cassette only
repeats what a target said), or let a configured secret reach a message.

Matching (record and replay scrub the same way, so a request that carried a
secret still matches): method; path relative to the base URL's path; query
as a sorted multiset of pairs; body canonicalised — JSON parsed and
re-serialised with sorted keys, anything else compared byte for byte. Headers
(``Authorization``, ``Idempotency-Key``…) are ignored. Identical requests are
answered in recorded order, then the last answer repeats.
"""

from __future__ import annotations

import difflib
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx

from ..core.service import ApiResponse
from .faults import FaultContext
from .har import HAR_VERSION, MASK, Cassette, CassetteError, Entry, Scrubber, Secrets, load
from .recording import Recorder, RecordingTransport
from .simulator import Call, Simulator, _request_id

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
    "Secrets",
    "canonical_body",
    "load",
    "replay",
]

#: recorded response headers that describe the wire encoding, not the stored body
_WIRE_HEADERS = frozenset({"content-length", "content-encoding", "transfer-encoding"})
EXCERPT_CHARS = 200
CANDIDATES = 3


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


def replay(
    path: str | os.PathLike[str],
    *,
    base_url: str | None = None,
    strict: bool = True,
    secrets: Secrets = (),
) -> CassetteSimulator:
    """A simulator answering each request recorded in a HAR cassette with its recorded answer.

    Matched on method, path relative to the base URL, query (any order) and
    body (JSON in any key order); headers are ignored. Repeated identical
    requests get the recorded answers in order, then the last one again. A
    request the cassette never saw raises ``CassetteMiss`` (with the nearest
    recorded requests) and is listed in ``unmatched``. ``base_url`` defaults
    to the recorded one; ``strict=False`` answers a near miss (same method and
    path) from its nearest recording; ``secrets``: see ``CassetteSimulator``.
    """
    return CassetteSimulator(load(path), base_url=base_url, strict=strict, secrets=secrets)


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
