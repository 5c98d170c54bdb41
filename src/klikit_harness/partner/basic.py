"""HTTP Basic credentials: the one encoder and the one parser of ``Authorization: Basic …``.

Owns: the token of a ``key:secret`` pair (``basic_token``), the header value
(``basic_header``) and reading one back (``parse_basic``: the scheme in any
case, the base64 token strictly decoded as UTF-8, a ``:`` required; anything
else is None, never an exception). Must not: keep or print a secret. (The
stand-in's own reading of a header, which decides its answers, is the core's:
``core.credentials.parse_basic``.)
"""

from __future__ import annotations

import base64
import binascii

__all__ = ["basic_header", "basic_token", "parse_basic"]


def basic_token(key: str, secret: str) -> str:
    """base64 of ``key:secret`` (UTF-8)."""
    return base64.b64encode(f"{key}:{secret}".encode()).decode("ascii")


def basic_header(key: str, secret: str) -> str:
    """The ``Authorization`` value that sends ``key:secret``."""
    return f"Basic {basic_token(key, secret)}"


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """``(key, secret)`` of a Basic ``Authorization`` value, or None when it is none or malformed."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        key, sep, secret = base64.b64decode(token.strip(), validate=True).decode().partition(":")
    except (binascii.Error, ValueError):  # not base64, not UTF-8
        return None
    return (key, secret) if sep else None
