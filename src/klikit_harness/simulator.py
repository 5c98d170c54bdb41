"""The documented import path of the respx simulator (``from klikit_harness.simulator import fault``).

The code lives in ``klikit_harness.standin.simulator``.
"""

from .standin.simulator import *  # noqa: F403
