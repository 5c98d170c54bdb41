"""Keeping secrets out of everything the harness prints or writes: the one masker.

Owns: masking a secret for display (``mask``), every spelling of a secret a
server or a client may echo (``forms``), and scrubbing known secrets — and
their Basic-auth tokens — out of text and bytes (``Redactor``: reports, JUnit
XML, exception messages, reproductions, cassettes). Must not: log.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable
from typing import Literal
from urllib.parse import quote, quote_plus

from .basic import basic_token, parse_basic

MASK = "***"
#: a secret this short would mask ordinary text everywhere: skipped (or refused, ``short="refuse"``)
MIN_SECRET_LENGTH = 4


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
    """Replaces every known secret and its Basic-auth token, in every spelling (``forms``), with ``replacement``.

    Longest spellings first (no partial masks). ``short``: what a secret
    shorter than ``MIN_SECRET_LENGTH`` does — ``"skip"`` (it is not treated
    as a secret) or ``"refuse"`` (``ValueError``). Thread-safe.
    """

    def __init__(
        self, secrets: Iterable[str] = (), *, replacement: str = MASK, short: Literal["skip", "refuse"] = "skip"
    ) -> None:
        self.replacement = replacement
        self._short = short
        self._lock = threading.Lock()
        self._needles: set[str] = set()
        #: Authorization values already learnt (a client sends the same one on every request)
        self._learnt: set[str] = set()
        self._text: re.Pattern[str] | None = None
        self._bytes: re.Pattern[bytes] | None = None
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str, key: str | None = None) -> None:
        """Mask ``secret`` (and, with ``key``, its Basic-auth token) from now on."""
        if len(secret or "") < MIN_SECRET_LENGTH:
            if self._short == "refuse":
                raise ValueError(
                    f"a secret shorter than {MIN_SECRET_LENGTH} characters cannot be scrubbed without masking "
                    "ordinary text; configure the real secret (KLIKIT_SECRET_KEY)"
                )
            return
        new = forms(secret)
        if key is not None:
            new |= forms(basic_token(key, secret))
        with self._lock:
            if new <= self._needles:
                return
            self._needles |= new
            ordered = sorted(self._needles, key=len, reverse=True)  # longest first: no partial masks
            self._text = re.compile("|".join(re.escape(n) for n in ordered))
            self._bytes = re.compile(b"|".join(re.escape(n.encode()) for n in ordered))

    def learn(self, authorization: str | None) -> None:
        """Mask the credential of a ``Basic`` Authorization header value (others are ignored)."""
        if not authorization or authorization in self._learnt:
            return
        self._learnt.add(authorization)
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "basic" or not token.strip():
            return
        pair = parse_basic(authorization)
        if pair is None:  # not a key:secret token: mask the token as it is
            if len(token.strip()) >= MIN_SECRET_LENGTH:
                self.add(token.strip())
            return
        if len(pair[1]) >= MIN_SECRET_LENGTH:
            self.add(pair[1], key=pair[0])

    def text(self, value: str) -> str:
        pattern = self._text
        return pattern.sub(self.replacement, value) if pattern is not None else value

    def bytes(self, value: bytes) -> bytes:
        pattern = self._bytes
        return pattern.sub(self.replacement.encode(), value) if pattern is not None else value

    def __call__(self, text: str) -> str:
        return self.text(text)
