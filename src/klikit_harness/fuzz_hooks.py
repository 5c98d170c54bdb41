"""Schemathesis' entry point for the harness's hooks and checks (``hooks = "klikit_harness.fuzz_hooks"``
in schemathesis.toml). Importing it registers them; the code lives in ``klikit_harness.checking.fuzz_hooks``.
"""

from .checking.fuzz_hooks import *  # noqa: F403
