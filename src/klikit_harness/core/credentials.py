"""Credentials: Basic auth, scopes, revocation and secret rotation.

Owns: verifying an ``Authorization`` header against the known credentials and
deciding which auth error a failure is. Must not: render responses or read
files. Secrets are compared in constant time and never appear in a repr.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass, field

from .errors import ServiceError

READ_SCOPE = "menus:read"
WRITE_SCOPE = "menus:write"  # assumed name (DOSSIER G13)
#: how long a rotated-out secret keeps working under the concepts reading (C1)
CONCEPTS_ROTATION_WINDOW_S = 15 * 60


@dataclass
class Credential:
    key: str
    secret: str = field(repr=False)
    business_id: int
    scopes: frozenset[str]
    revoked: bool = False
    #: (old secret, rotated at) pairs, newest last
    old_secrets: list[tuple[str, float]] = field(default_factory=list, repr=False)
    rate: float = 1000.0
    burst: int = 1000


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """``(key, secret)`` from a Basic header, or None when absent or malformed."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic" or not token.strip():
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    key, sep, secret = decoded.partition(":")
    if not sep or not key:
        return None
    return key, secret


def _has_empty_key(header: str | None) -> bool:
    """A Basic header that is well formed but for its empty partner key (``:secret``)."""
    if not header:
        return False
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic" or not token.strip():
        return False
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return False
    return decoded.startswith(":")


class Credentials:
    def __init__(self, credentials: list[Credential] | None = None) -> None:
        self._by_key: dict[str, Credential] = {}
        for cred in credentials or []:
            self.add(cred)

    def add(self, cred: Credential) -> None:
        if cred.key in self._by_key:
            raise ValueError(f"duplicate partner key {cred.key!r}")
        self._by_key[cred.key] = cred

    def get(self, key: str) -> Credential | None:
        return self._by_key.get(key)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._by_key.values())

    def authenticate(
        self,
        header: str | None,
        *,
        now: float,
        rotation_window: float = 0.0,
        accept_old_secrets: bool = False,
        accept_revoked: bool = False,
        empty_key_invalid: bool = False,
        revoked_first: bool = False,
    ) -> Credential:
        """The credential a header proves, or the ServiceError to answer.

        Order: absent/malformed → auth_missing; unknown key or wrong secret →
        auth_invalid_credential (a revoked key with a wrong secret too); a
        right secret of a revoked credential → auth_revoked. ``empty_key_invalid``
        answers a well-formed Basic header with an empty key auth_invalid_credential;
        ``revoked_first`` answers a revoked key auth_revoked whatever its secret.
        """
        parsed = parse_basic(header)
        if parsed is None and empty_key_invalid and _has_empty_key(header):
            raise ServiceError("auth_invalid_credential", "partner_key or secret_key did not verify")
        if parsed is None:
            raise ServiceError(
                "auth_missing", "Authorization header absent or malformed: send HTTP Basic partner_key:secret_key"
            )
        key, secret = parsed
        cred = self._by_key.get(key)
        if revoked_first and cred is not None and cred.revoked and not accept_revoked:
            raise ServiceError("auth_revoked", "credential is revoked")
        if cred is None or not self._secret_ok(cred, secret, now, rotation_window, accept_old_secrets):
            raise ServiceError("auth_invalid_credential", "partner_key or secret_key did not verify")
        if cred.revoked and not accept_revoked:
            raise ServiceError("auth_revoked", "credential is revoked")
        return cred

    @staticmethod
    def _secret_ok(cred: Credential, secret: str, now: float, window: float, accept_old: bool) -> bool:
        if hmac.compare_digest(cred.secret.encode(), secret.encode()):
            return True
        for old, rotated_at in cred.old_secrets:
            if hmac.compare_digest(old.encode(), secret.encode()) and (accept_old or now - rotated_at < window):
                return True
        return False

    def rotate(self, key: str, new_secret: str, *, now: float) -> None:
        cred = self._by_key[key]
        cred.old_secrets.append((cred.secret, now))
        cred.secret = new_secret
