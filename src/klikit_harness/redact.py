"""Keeping secrets out of everything the harness prints or writes.

Owns: masking a secret for display and scrubbing known secrets out of text
(reports, JUnit XML, exception messages, reproductions). Must not: log.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable

MASK = "***"


def mask(secret: str | None) -> str:
    """How a secret is shown: never any of its characters."""
    return MASK if secret else "(unset)"


class Redactor:
    """Replaces every known secret (and its Basic-auth encodings) with ``***``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._needles: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str, key: str | None = None) -> None:
        if not secret or len(secret) < 4:
            return
        self._needles.add(secret)
        if key:
            self._needles.add(base64.b64encode(f"{key}:{secret}".encode()).decode())

    def __call__(self, text: str) -> str:
        for needle in sorted(self._needles, key=len, reverse=True):
            text = text.replace(needle, MASK)
        return text
