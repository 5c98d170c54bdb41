"""The command line's pytest child under the run deadline (``runner.deadline.run_child``): a child past its own
deadline and the grace is interrupted, so it can still write its report, and the command says so (``Overrun``)."""

from __future__ import annotations

import os
import sys
import time

import pytest

from klikit_harness.runner import deadline

#: a child that ignores its deadline; SIGINT ends it (KeyboardInterrupt), as it ends pytest writing its report
STUCK = "import time\ntry:\n    time.sleep(60)\nexcept KeyboardInterrupt:\n    raise SystemExit(7)"


def test_a_child_that_ends_in_time_gives_its_own_exit_code() -> None:
    code = deadline.run_child([sys.executable, "-c", "raise SystemExit(3)"], dict(os.environ), left=30.0)
    assert code == 3


def test_a_child_stuck_past_its_deadline_and_the_grace_is_interrupted_and_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(deadline, "CHILD_GRACE", 1.0)
    started = time.monotonic()
    with pytest.raises(deadline.Overrun):
        deadline.run_child([sys.executable, "-c", STUCK], dict(os.environ), left=0.5)
    # the deadline, one grace, and the interrupted child's own exit: far below its 60 s sleep
    assert time.monotonic() - started < 20
