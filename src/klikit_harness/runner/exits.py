"""The exit codes of every ``klikit-harness`` command and of a pytest run under the plugin: one definition.

A run's exit code is pytest's where they meet (0 passed, 1 tests failed); the
command line adds 2 (usage or configuration) and 3 (the target did not answer: unreachable, or the run
reached its deadline, ``run --max-time`` / ``KLIKIT_MAX_TIME``, before any check failed — a run stopped at
its deadline after a check failed exits 1). A stopped run still writes its report, which names what timed out.
"""

from __future__ import annotations

__all__ = ["EXIT_OK", "EXIT_UNREACHABLE", "EXIT_USAGE", "EXIT_VIOLATIONS"]

#: every check held (doctor: nothing to fix)
EXIT_OK = 0
#: a check failed, a defect survived, a failure still reproduces (doctor: something to fix)
EXIT_VIOLATIONS = 1
#: usage or configuration: nothing was checked
EXIT_USAGE = 2
#: the target did not answer: unreachable, or the run deadline (--max-time) reached with no check failed yet
EXIT_UNREACHABLE = 3
