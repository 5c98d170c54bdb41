"""Per-credential token buckets.

Owns: deciding whether one more request fits a credential's rate, and how long
to wait when it does not. Must not: render responses (the service does).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """``rate`` tokens a second refill a bucket of ``burst`` tokens; a request takes one."""

    def __init__(self) -> None:
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str, *, rate: float, burst: int, now: float) -> int | None:
        """Take a token; None when granted, else the whole seconds to wait (at least 1)."""
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(tokens=float(burst), updated=now)
        elapsed = max(0.0, now - bucket.updated)
        bucket.tokens = min(float(burst), bucket.tokens + elapsed * rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return max(1, math.ceil((1.0 - bucket.tokens) / rate)) if rate > 0 else 3600

    def reset(self, key: str) -> None:
        self._buckets.pop(key, None)
