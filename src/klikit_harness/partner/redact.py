"""Keeping secrets out of everything the harness prints or writes.

Owns: masking a secret for display and scrubbing known secrets out of text
(reports, JUnit XML, exception messages, reproductions). Must not: log.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "***"


def mask(secret: str | None) -> str:
    """How a secret is shown: never any of its characters."""
    return MASK if secret else "(unset)"


def forms(value: str) -> set[str]:
    """Every spelling of ``value`` a server or a client may echo: raw, URL-encoded, JSON-escaped."""
    found = {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1], value.replace("/", "\\/")}
    for encoded in (quote(value, safe=""), quote(value), quote_plus(value)):
        found.add(encoded)
        found.add(re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), encoded))
    return found


class Redactor:
    """Replaces every known secret and its Basic-auth token, in every spelling (``forms``), with ``***``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._needles: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str, key: str | None = None) -> None:
        if not secret or len(secret) < 4:
            return
        self._needles |= forms(secret)
        if key:
            self._needles |= forms(base64.b64encode(f"{key}:{secret}".encode()).decode())

    def __call__(self, text: str) -> str:
        for needle in sorted(self._needles, key=len, reverse=True):
            text = text.replace(needle, MASK)
        return text
