"""Configuration for real environments: the ``KLIKIT_*`` variables (or a ``.env`` file).

Owns: reading and validating the variables up front, with errors that name the
variable and say what to set; the production-host guard. Must not: print a
secret — secret fields are ``SecretStr`` and credential pairs hide their
secret in ``repr``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from ..core.world import StoreKey as Store
from ..partner import bounded
from ..partner.exchange import MAIN_CREDENTIAL
from ..partner.redact import MASK

__all__ = [
    "BOUND_VARIABLES",
    "DEFAULT_MAX_TIME",
    "MAIN_CREDENTIAL",
    "OLD_CREDENTIAL",
    "PAIR_FIELDS",
    "PAIR_VARIABLES",
    "SECRET_VARIABLES",
    "ConfigError",
    "Credential",
    "Settings",
    "Store",
    "guard_production",
    "host_of",
    "is_production_url",
    "load_settings",
    "normalise_host",
]

PRODUCTION_HOSTS = frozenset({"gateway-enterprise.klikit.io"})
#: seconds a DNS look-up of the production guard may take before it is treated as unavailable
RESOLVE_TIMEOUT = 2.0
DEFAULT_REMOTE_MAX_RPS = 5.0
#: seconds a whole run may take before it is stopped, its report written (KLIKIT_MAX_TIME, ``run --max-time``)
DEFAULT_MAX_TIME = 7200.0
#: the bounds on reading an answer: their variables, a description, and how a value is read
BOUND_VARIABLES = {
    "max_body_bytes": ("KLIKIT_MAX_BODY_BYTES", "bytes of an answer's body kept, after decoding", int),
    "connect_timeout": ("KLIKIT_CONNECT_TIMEOUT", "seconds to open a connection", float),
    "read_timeout": ("KLIKIT_READ_TIMEOUT", "seconds one read of the socket may wait", float),
    "answer_timeout": ("KLIKIT_ANSWER_TIMEOUT", "seconds one whole answer may take", float),
    "max_time": ("KLIKIT_MAX_TIME", "seconds a whole run may take", float),
}
#: a credential as a reproduction names it: the partner key's variable and the secret's
OLD_CREDENTIAL = "KLIKIT_PARTNER_KEY:KLIKIT_OLD_SECRET"
#: the variables that hold a bare secret (the partner key is not one)
SECRET_VARIABLES = (MAIN_CREDENTIAL.split(":")[1], OLD_CREDENTIAL.split(":")[1])
#: the settings that hold a whole ``key:secret`` credential, and their variables
PAIR_FIELDS = (
    "revoked_credential",
    "limited_credential",
    "second_credential",
    "foreign_credential",
    "burst_credential",
)
PAIR_VARIABLES = tuple(f"KLIKIT_{name.upper()}" for name in PAIR_FIELDS)
_STORE = re.compile(r"^\s*([1-9][0-9]{0,9})\s*:\s*([1-9][0-9]{0,9})\s*$")


class ConfigError(ValueError):
    """The configuration cannot be used; the message names the variable."""


@dataclass(frozen=True)
class Credential:
    key: str
    secret: str = field(repr=False)

    def pair(self) -> tuple[str, str]:
        return (self.key, self.secret)

    def __str__(self) -> str:
        return f"{self.key}:{MASK}"


def parse_store(value: str, variable: str) -> Store:
    match = _STORE.match(value)
    if not match:
        raise ValueError(f"{variable}: {value!r} is not brandID:branchID (e.g. 663:1062)")
    return Store(int(match[1]), int(match[2]))


def parse_stores(value: Any, variable: str) -> list[Store]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return [v if isinstance(v, Store) else parse_store(str(v), variable) for v in value]
    return [parse_store(part, variable) for part in str(value).split(",") if part.strip()]


def parse_credential(value: Any, variable: str) -> Credential | None:
    if value is None or value == "":
        return None
    if isinstance(value, Credential):
        return value
    key, sep, secret = str(value).partition(":")
    if not sep or not key.strip() or not secret:
        raise ValueError(f"{variable} must be key:secret (the secret is never printed)")
    return Credential(key.strip(), secret)


class Settings(BaseSettings):
    """Every ``KLIKIT_*`` variable of the README's configuration table."""

    # an empty value means unset (CI passes unset secrets and variables as ""; .env files have blank lines)
    model_config = SettingsConfigDict(env_prefix="KLIKIT_", extra="ignore", env_file=None, env_ignore_empty=True)

    base_url: str | None = None
    partner_key: str | None = None
    secret_key: SecretStr | None = None
    stores: Annotated[list[Store], NoDecode] = Field(default_factory=list)
    fresh_stores: Annotated[list[Store], NoDecode] = Field(default_factory=list)
    old_secret: SecretStr | None = None
    revoked_credential: Annotated[Credential | None, NoDecode] = None
    limited_credential: Annotated[Credential | None, NoDecode] = None
    second_credential: Annotated[Credential | None, NoDecode] = None
    foreign_credential: Annotated[Credential | None, NoDecode] = None
    burst_credential: Annotated[Credential | None, NoDecode] = None
    foreign_store: Annotated[Store | None, NoDecode] = None
    allow_burst: bool = False
    max_rps: float | None = None
    allow_production: bool = False
    max_body_bytes: int = bounded.DEFAULT_MAX_BODY_BYTES
    connect_timeout: float = bounded.DEFAULT_CONNECT_TIMEOUT
    read_timeout: float = bounded.DEFAULT_READ_TIMEOUT
    answer_timeout: float = bounded.DEFAULT_ANSWER_TIMEOUT
    max_time: float = DEFAULT_MAX_TIME

    @field_validator("stores", "fresh_stores", mode="before")
    @classmethod
    def _stores(cls, value: Any, info: Any) -> list[Store]:
        return parse_stores(value, f"KLIKIT_{info.field_name.upper()}")

    @field_validator("foreign_store", mode="before")
    @classmethod
    def _store(cls, value: Any) -> Store | None:
        if value is None or value == "" or isinstance(value, Store):
            return value  # type: ignore[no-any-return]
        return parse_store(str(value), "KLIKIT_FOREIGN_STORE")

    @field_validator(*PAIR_FIELDS, mode="before")
    @classmethod
    def _credential(cls, value: Any, info: Any) -> Credential | None:
        return parse_credential(value, f"KLIKIT_{info.field_name.upper()}")

    @field_validator("base_url", mode="before")
    @classmethod
    def _url(cls, value: Any) -> str | None:
        if value is None or str(value).strip() == "":
            return None
        text = str(value).strip().rstrip("/")
        parts = urlsplit(text)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError(
                f"KLIKIT_BASE_URL: {value!r} is not an http(s) URL (e.g. https://api.dev.shadowchef.co/v1/partner)"
            )
        return text

    @field_validator("max_rps", mode="before")
    @classmethod
    def _rps(cls, value: Any) -> float | None:
        if value is None or value == "":
            return None
        try:
            rps = float(value)
        except ValueError:
            raise ValueError(f"KLIKIT_MAX_RPS: {value!r} is not a number (requests per second; 0 = no cap)") from None
        if rps < 0:
            raise ValueError("KLIKIT_MAX_RPS must be >= 0 (0 = no cap)")
        return rps

    @field_validator(*BOUND_VARIABLES, mode="before")
    @classmethod
    def _bound(cls, value: Any, info: Any) -> Any:
        variable, meaning, kind = BOUND_VARIABLES[info.field_name]
        try:
            number = kind(str(value).strip()) if isinstance(value, str) else kind(value)
        except (TypeError, ValueError):
            raise ValueError(f"{variable}: {value!r} is not a number ({meaning})") from None
        if not number > 0:
            raise ValueError(f"{variable} must be > 0 ({meaning}); got {value!r}")
        return number

    @model_validator(mode="after")
    def _remote_needs_credentials(self) -> Settings:
        if self.base_url is not None:
            missing = [
                v
                for v, ok in zip(MAIN_CREDENTIAL.split(":"), (self.partner_key, self.secret_key), strict=True)
                if not ok
            ]
            if missing:
                raise ValueError(f"KLIKIT_BASE_URL is set, so {' and '.join(missing)} must be set too")
        return self

    # ------------------------------------------------------------------ views

    @property
    def main(self) -> Credential | None:
        if self.partner_key and self.secret_key:
            return Credential(self.partner_key, self.secret_key.get_secret_value())
        return None

    @property
    def host(self) -> str:
        return urlsplit(self.base_url or "").hostname or ""

    @property
    def is_production(self) -> bool:
        return self.base_url is not None and is_production_url(self.base_url)

    def bounds(self) -> bounded.Bounds:
        """How much of an answer is read and how long it may take (KLIKIT_MAX_BODY_BYTES, *_TIMEOUT)."""
        return bounded.Bounds(
            max_body_bytes=self.max_body_bytes,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            answer_timeout=self.answer_timeout,
        )

    def effective_max_rps(self, *, standin: bool) -> float | None:
        """The harness's own request cap: none on the stand-in, 5/s elsewhere unless set."""
        if self.max_rps is not None:
            return self.max_rps or None
        return None if standin else DEFAULT_REMOTE_MAX_RPS

    def writable_stores(self) -> frozenset[tuple[int, int]]:
        """The stores a write may name on a real target: KLIKIT_STORES, KLIKIT_FRESH_STORES, KLIKIT_FOREIGN_STORE."""
        listed = [*self.stores, *self.fresh_stores]
        if self.foreign_store is not None:
            listed.append(self.foreign_store)
        return frozenset((s.brand_id, s.branch_id) for s in listed)

    def secrets(self) -> list[tuple[str | None, str]]:
        """(key, secret) of everything secret, for redaction."""
        out: list[tuple[str | None, str]] = []
        if self.secret_key:
            out.append((self.partner_key, self.secret_key.get_secret_value()))
        if self.old_secret:
            out.append((self.partner_key, self.old_secret.get_secret_value()))
        for _, cred in self.pair_credentials():
            out.append((cred.key, cred.secret))
        return out

    def pair_credentials(self) -> list[tuple[str, Credential]]:
        """(variable, credential) of every ``key:secret`` credential set, in ``PAIR_VARIABLES`` order."""
        found = ((variable, getattr(self, name)) for variable, name in zip(PAIR_VARIABLES, PAIR_FIELDS, strict=True))
        return [(variable, cred) for variable, cred in found if cred is not None]


def load_settings(env_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Read the variables (and ``env_file``); a ``ConfigError`` names what to fix."""
    if env_file is not None and not Path(env_file).is_file():
        raise ConfigError(f"env file {env_file} does not exist")
    try:
        return Settings(_env_file=env_file, **overrides)  # type: ignore[call-arg]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            name = f"KLIKIT_{loc.upper()}" if loc else "configuration"
            msg = str(err["msg"]).removeprefix("Value error, ")
            problems.append(msg if msg.startswith("KLIKIT_") else f"{name}: {msg}")
        raise ConfigError("; ".join(problems)) from None


# ------------------------------------------------------------- production guard

#: ``resolver(host) -> addresses``; raises or returns nothing when the name does not resolve
Resolver = Callable[[str], Iterable[str]]


def normalise_host(host: str) -> str:
    """The canonical spelling of a host name: what two spellings of one name have in common.

    Lower case, percent-escapes decoded, every trailing dot dropped (``a.b.`` and
    ``a.b..`` name ``a.b``), each label in its IDNA ASCII form (a Unicode or
    full-width spelling and its ``xn--`` punycode meet), IP literals in their
    compressed form (brackets dropped).
    """
    name = unquote(host).strip().strip("[]").rstrip(".").lower()
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        pass
    labels = []
    for label in name.split("."):
        if label.startswith("xn--"):
            try:
                label = label.encode("ascii").decode("idna")
            except UnicodeError:
                labels.append(label)
                continue
        try:
            labels.append(label.encode("idna").decode("ascii").lower() if label else label)
        except UnicodeError:
            labels.append(label)
    return ".".join(labels)


def host_of(url: str) -> str:
    """The host of ``url`` without userinfo or port (``urlsplit`` drops both), normalised."""
    return normalise_host(urlsplit(url.strip()).hostname or "")


def _getaddrinfo(host: str) -> list[str]:
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)})


@lru_cache(maxsize=64)
def _resolved_by_default(host: str) -> frozenset[str]:
    return _resolve(_getaddrinfo, host)


def _resolve(resolver: Resolver, host: str, timeout: float = RESOLVE_TIMEOUT) -> frozenset[str]:
    """Addresses of ``host`` (normalised), or none when DNS is unavailable or slower than ``timeout``."""
    try:
        return frozenset({str(ipaddress.ip_address(host))})
    except ValueError:
        pass
    found: list[frozenset[str]] = []

    def look_up() -> None:
        with contextlib.suppress(OSError, UnicodeError, ValueError):
            found.append(frozenset(normalise_host(a) for a in resolver(host)))

    worker = threading.Thread(target=look_up, name="klikit-production-guard-dns", daemon=True)
    worker.start()
    worker.join(timeout)
    return found[0] if found else frozenset()


def is_production_url(
    url: str, *, resolver: Resolver | None = None, production_hosts: Iterable[str] = PRODUCTION_HOSTS
) -> bool:
    """Does ``url`` point at klikit's production host, however it is spelled?

    Names are compared after ``normalise_host`` (case, trailing dots, IDNA,
    userinfo and port ignored: any port of the production host is production).
    Where DNS answers, a target whose addresses overlap the production host's
    is production too; an IP-literal target is compared with the production
    host's addresses the same way. Without DNS only names are compared.
    """
    host = host_of(url)
    if not host:
        return False
    names = {normalise_host(h) for h in production_hosts}
    if host in names:
        return True
    look_up = (lambda h: _resolve(resolver, h)) if resolver is not None else _resolved_by_default
    production_addresses: set[str] = set()
    for name in names:
        production_addresses |= look_up(name)
    if not production_addresses:
        return False
    return bool(look_up(host) & production_addresses)


def guard_production(settings: Settings, *, resolver: Resolver | None = None) -> bool:
    """True when the run must stay read-only; raises unless production was allowed."""
    if settings.base_url is None or not is_production_url(settings.base_url, resolver=resolver):
        return False
    if not settings.allow_production:
        raise ConfigError(
            f"{settings.host} is klikit's production host ({', '.join(sorted(PRODUCTION_HOSTS))}, however spelled "
            "or addressed); set KLIKIT_ALLOW_PRODUCTION=1 to run the "
            "read-only checks against it (writes never run there), or point KLIKIT_BASE_URL at the dev host"
        )
    return True
