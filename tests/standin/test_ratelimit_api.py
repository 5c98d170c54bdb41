"""The 429 contract of the stand-in."""

from __future__ import annotations

import pytest

from tests.support.standin import BURST, MAIN, assert_error


@pytest.mark.behaviour(
    "ratelimit.429-envelope-retry-after", "ratelimit.retry-after-seconds", "ratelimit.every-request-counts"
)
def test_burst_credential_gets_enveloped_429_with_retry_after(api, clock):
    codes = [api.get("/menus", auth=BURST).status_code for _ in range(5)]
    assert codes == [200] * 5
    r = api.get("/menus", auth=BURST)
    assert_error(r, 429, "rate_limit_exceeded")
    assert int(r.headers["retry-after"]) >= 1
    clock.advance(int(r.headers["retry-after"]))
    assert api.get("/menus", auth=BURST).status_code == 200


@pytest.mark.behaviour("ratelimit.every-request-counts")
def test_failed_requests_take_tokens_too(api):
    for _ in range(5):
        api.get("/menus", auth=BURST, params={"brand_id": 1})  # 400s still count
    assert api.get("/menus", auth=BURST).status_code == 429


@pytest.mark.behaviour("ratelimit.per-credential")
def test_one_credential_exhausted_does_not_throttle_another(api):
    for _ in range(6):
        api.get("/menus", auth=BURST)
    assert api.get("/menus", auth=BURST).status_code == 429
    assert api.get("/menus", auth=MAIN).status_code == 200
