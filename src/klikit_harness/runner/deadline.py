"""The run deadline (``run --max-time`` / ``KLIKIT_MAX_TIME``, the plugin's ``--klikit-max-time``).

Owns: ``run_child`` — the command line's pytest child, given a grace past its
own deadline, then interrupted and killed (``Overrun``); ``arm`` — a timer
(SIGALRM, main thread only) armed when the pytest session begins, counting
from the command's own start; when it fires it records why in ``STOPPED`` and
raises ``RunDeadline`` wherever the run waits, so the session ends and still
writes its report, naming the request that was awaited. Must not: decide the
exit code (the plugin's session end does: 3, or 1 when a check had already
failed) or touch the target.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

__all__ = ["CHILD_GRACE", "STOPPED", "Overrun", "RunDeadline", "arm", "run_child"]

#: seconds the pytest child gets past its own deadline (it stops itself and writes its report) before it is
#: interrupted, and then killed
CHILD_GRACE = 30.0
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


class Overrun(Exception):
    """The pytest child did not stop at its own deadline and the grace after it: it was interrupted (SIGINT,
    so pytest still writes its report), then killed if it still ran."""


def run_child(command: list[str], env: dict[str, str], left: float) -> int:
    """Run ``command`` (pytest, which stops itself ``left`` seconds from now with ``--klikit-max-time``) and
    return its exit code; a child stuck past that and ``CHILD_GRACE`` raises ``Overrun`` once it is stopped."""
    import subprocess

    child = subprocess.Popen(command, env=env)
    try:
        return child.wait(timeout=max(left, 0) + CHILD_GRACE)
    except subprocess.TimeoutExpired:
        child.send_signal(signal.SIGINT)
        try:
            child.wait(timeout=CHILD_GRACE)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        raise Overrun from None
    except KeyboardInterrupt:
        child.send_signal(signal.SIGINT)
        child.wait()
        raise
