"""Per-credential token buckets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from klikit_harness.core.ratelimit import RateLimiter

pytestmark = pytest.mark.behaviour("ratelimit.per-credential")


@given(st.integers(1, 50), st.floats(0.1, 100))
def test_burst_then_retry_after_at_least_one_second(burst, rate):
    limiter = RateLimiter()
    granted = [limiter.take("c", rate=rate, burst=burst, now=0.0) for _ in range(burst)]
    assert granted == [None] * burst
    wait = limiter.take("c", rate=rate, burst=burst, now=0.0)
    assert isinstance(wait, int) and wait >= 1
    assert limiter.take("c", rate=rate, burst=burst, now=float(wait)) is None


def test_buckets_are_per_credential():
    limiter = RateLimiter()
    assert limiter.take("a", rate=1, burst=1, now=0.0) is None
    assert limiter.take("a", rate=1, burst=1, now=0.0) is not None
    assert limiter.take("b", rate=1, burst=1, now=0.0) is None
