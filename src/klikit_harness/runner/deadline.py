"""The run deadline (``run --max-time`` / ``KLIKIT_MAX_TIME``, the plugin's ``--klikit-max-time``).

Owns: ``arm`` — a timer (SIGALRM, main thread only) armed when the pytest
session begins, counting from the command's own start; when it fires it
records why in ``STOPPED`` and raises ``RunDeadline`` wherever the run waits,
so the session ends and still writes its report, naming the request that was
awaited. Must not: decide the exit code (the plugin's session end does: 3, or
1 when a check had already failed) or touch the target.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

__all__ = ["STOPPED", "RunDeadline", "arm"]

#: why the run stopped early (the run deadline, an unreachable target): the report names it
STOPPED = pytest.StashKey[str]()


class RunDeadline(KeyboardInterrupt):
    """The run passed ``--max-time``: raised in the main thread, wherever it waits (a KeyboardInterrupt, so
    no test framework in between swallows it); the session ends, its report names what was waiting."""


def arm(config: pytest.Config, target_of: Callable[[], Any]) -> None:
    """With ``--klikit-max-time``, stop the session once it is due (``target_of()``: the target, if any yet,
    whose guard knows the request awaited)."""
    seconds = config.getoption("--klikit-max-time", default=None)
    if not seconds or not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        return
    if seconds <= 0:
        raise pytest.UsageError(f"--klikit-max-time must be > 0 seconds (KLIKIT_MAX_TIME); got {seconds:g}")
    started = config.getoption("--klikit-started", default=None) or time.time()
    # the command line's own start-up counts too; at least a second, so the session has begun when it fires
    left = max(seconds - (time.time() - started), 1.0)

    def reached(signum: int, frame: Any) -> None:
        waiting = getattr(getattr(target_of(), "guard", None), "waiting", None)
        running = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0] or "collection and session setup"
        what = f"the answer to {waiting} was still awaited in {running}" if waiting else f"{running} still running"
        reason = f"run deadline of {seconds:g} s reached (--max-time / KLIKIT_MAX_TIME): {what}"
        config.stash[STOPPED] = reason
        signal.setitimer(signal.ITIMER_REAL, 0)
        raise RunDeadline(reason)

    signal.signal(signal.SIGALRM, reached)
    signal.setitimer(signal.ITIMER_REAL, left)
