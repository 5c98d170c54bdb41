"""The idempotency store: per credential, 24 hours, canonical-JSON fingerprints.

Owns: remembering write responses by (credential, Idempotency-Key), deciding
replay / conflict / in-flight, expiring entries and bounding memory.
Must not: execute writes or render responses; it stores finished responses as
bytes so a replay is byte-for-byte the original.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

DAY = 24 * 3600.0


def fingerprint(method: str, path: str, body: Any) -> str:
    """method + path + the parsed body with key order ignored."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


@dataclass
class Stored:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class _Entry:
    fingerprint: str
    created: float
    response: Stored | None = None  # None while in flight


@dataclass(frozen=True)
class Replay:
    response: Stored


@dataclass(frozen=True)
class Conflict:
    in_flight: bool


@dataclass(frozen=True)
class Reserved:
    scope: str
    key: str
    token: object = field(default_factory=object)


Decision = Replay | Conflict | Reserved


class IdempotencyStore:
    """Bounded: at most ``max_entries`` keys are remembered; the oldest go first."""

    def __init__(self, *, ttl: float = DAY, max_entries: int = 50_000) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def begin(self, scope: str, key: str, fp: str, now: float) -> Decision:
        """Decide what a write with this key does; reserves the key when it runs."""
        self._expire(now)
        entry = self._entries.get((scope, key))
        if entry is not None:
            if entry.fingerprint != fp:
                return Conflict(in_flight=entry.response is None)
            if entry.response is None:
                return Conflict(in_flight=True)
            return Replay(entry.response)
        self._entries[(scope, key)] = _Entry(fingerprint=fp, created=now)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return Reserved(scope, key)

    def complete(self, reserved: Reserved, response: Stored, *, store: bool) -> None:
        """Record the finished response (``store=False`` forgets the key instead)."""
        entry = self._entries.get((reserved.scope, reserved.key))
        if entry is None:
            return
        if store:
            entry.response = response
        else:
            del self._entries[(reserved.scope, reserved.key)]

    def release(self, reserved: Reserved) -> None:
        self._entries.pop((reserved.scope, reserved.key), None)

    def _expire(self, now: float) -> None:
        # Entries are in creation order, so expiry stops at the first young one.
        while self._entries:
            _, oldest = next(iter(self._entries.items()))
            if now - oldest.created < self.ttl:
                break
            self._entries.popitem(last=False)
