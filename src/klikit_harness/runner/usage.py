"""The one-line usage error every ``klikit-harness`` command prints before it exits.

Owns: the form of a command's error line and its exit (2 unless told).
Must not: decide what is an error; each command says what to change.
"""

from __future__ import annotations

import sys

import click

from .exits import EXIT_USAGE

__all__ = ["fail"]


def fail(message: str, code: int = EXIT_USAGE) -> None:
    click.echo(f"klikit-harness: error: {message}", err=True)
    sys.exit(code)
