"""``python -m klikit_harness``: the ``klikit-harness`` command."""

from .runner.cli import main

main()
