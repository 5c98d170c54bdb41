"""Fixtures of the checking layer's tests: the fuzz suite's session run, against the embedded stand-in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from klikit_harness.checking.target import Target
from klikit_harness.suites.fuzz import support


@pytest.fixture(scope="session")
def fuzz(klikit_target: Target) -> Iterator[support.FuzzRun]:
    """The fuzz suite's session run over the embedded stand-in (configures the fuzz hooks)."""
    yield from support.open_run(klikit_target)
