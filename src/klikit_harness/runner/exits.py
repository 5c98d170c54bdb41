"""The exit codes of every ``klikit-harness`` command and of a pytest run under the plugin: one definition.

A run's exit code is pytest's where they meet (0 passed, 1 tests failed); the
command line adds 2 (usage or configuration) and 3 (the target did not answer).
"""

from __future__ import annotations

__all__ = ["EXIT_OK", "EXIT_UNREACHABLE", "EXIT_USAGE", "EXIT_VIOLATIONS"]

#: every check held (doctor: nothing to fix)
EXIT_OK = 0
#: a check failed, a defect survived, a failure still reproduces (doctor: something to fix)
EXIT_VIOLATIONS = 1
#: usage or configuration: nothing was checked
EXIT_USAGE = 2
#: the target did not answer
EXIT_UNREACHABLE = 3
