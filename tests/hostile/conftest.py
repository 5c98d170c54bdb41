"""The hostile suite: every way a broken target can answer, against every client the harness talks through.

Timeouts are short here (a second, two for a whole answer) so the suite ends in well under a minute.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from klikit_harness.checking.config import Settings, load_settings
from klikit_harness.checking.target import Target
from klikit_harness.partner.bounded import Bounds
from tests.support.hostile import HostileServer, hostile_server  # noqa: F401  (the fixture)

#: the bounds every test here reads answers within
BOUNDS = Bounds(max_body_bytes=256 * 1024, connect_timeout=2.0, read_timeout=1.0, answer_timeout=2.0)


def settings_for(url: str) -> Settings:
    return load_settings(
        None,
        base_url=url,
        partner_key="pk_hostile",
        secret_key="sk_hostile_secret",
        max_rps=0,
        max_body_bytes=BOUNDS.max_body_bytes,
        connect_timeout=BOUNDS.connect_timeout,
        read_timeout=BOUNDS.read_timeout,
        answer_timeout=BOUNDS.answer_timeout,
    )


@pytest.fixture
def target_for(hostile_server: HostileServer) -> Callable[[str], Target]:  # noqa: F811
    """``target_for("drip")``: a Target whose base URL answers the named hostile way."""

    def make(behaviour: str) -> Target:
        url = hostile_server.url(behaviour)
        return Target(url, settings_for(url))

    return make
