"""The production guard recognises klikit's production host however it is spelled or addressed."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from klikit_harness.checking.config import (
    ConfigError,
    guard_production,
    is_production_url,
    load_settings,
    normalise_host,
)

PRODUCTION_ADDRESSES = {"203.0.113.7", "2001:db8::7"}
KEYS = {"partner_key": "pk_guard_test", "secret_key": "sk_guard_test"}


def resolver(host: str) -> Iterable[str]:
    """DNS as a test sees it: the production host and one alias resolve, nothing else does."""
    table = {"gateway-enterprise.klikit.io": PRODUCTION_ADDRESSES, "alias.example.test": {"203.0.113.7"}}
    if host not in table:
        raise OSError("name does not resolve")
    return table[host]


def no_dns(host: str) -> Iterable[str]:
    raise OSError("no network")


REFUSED = [
    pytest.param("https://gateway-enterprise.klikit.io/v1/partner", id="as-is"),
    pytest.param("https://GATEWAY-Enterprise.KLIKIT.io/v1/partner", id="uppercase"),
    pytest.param("https://gateway-enterprise.klikit.io./v1/partner", id="one-trailing-dot"),
    pytest.param("https://gateway-enterprise.klikit.io../v1/partner", id="two-trailing-dots"),
    pytest.param("https://gateway-enterprise.klikit.io:443/v1/partner", id="port-443"),
    pytest.param("http://gateway-enterprise.klikit.io:80/v1/partner", id="http-port-80"),
    pytest.param("https://gateway-enterprise.klikit.io:8443/v1/partner", id="other-port"),
    pytest.param("https://qa:secret@gateway-enterprise.klikit.io/v1/partner", id="userinfo"),
    pytest.param("https://ｇａｔｅｗａｙ-enterprise.klikit.io/v1/partner", id="full-width-unicode"),
    pytest.param("https://gateway%2Denterprise.klikit.io/v1/partner", id="percent-escaped"),
    pytest.param("https://203.0.113.7/v1/partner", id="ipv4-literal-of-production"),
    pytest.param("https://[2001:db8:0::7]:443/v1/partner", id="ipv6-literal-of-production"),
    pytest.param("https://alias.example.test/v1/partner", id="name-resolving-to-production"),
]


@pytest.mark.parametrize("url", REFUSED)
def test_every_spelling_of_production_is_production(url: str) -> None:
    assert is_production_url(url, resolver=resolver)
    with pytest.raises(ConfigError, match="KLIKIT_ALLOW_PRODUCTION=1"):
        guard_production(load_settings(None, base_url=url, **KEYS), resolver=resolver)


def test_punycode_of_the_same_name_is_the_same_host() -> None:
    # klikit's production name is ASCII; an IDN production host shows the punycode rule on its own
    hosts = {"bücher.example"}
    for url in ("https://xn--bcher-kva.example/v1", "https://BÜCHER.example./v1", "https://bu\u0308cher.example/v1"):
        assert is_production_url(url, resolver=no_dns, production_hosts=hosts), url
    assert normalise_host("XN--BCHER-KVA.example..") == normalise_host("bücher.example")


@pytest.mark.parametrize(
    "url",
    [
        "https://api.dev.shadowchef.co/v1/partner",
        "http://127.0.0.1:8080/v1/partner",
        "https://gateway-enterprise.klikit.io.evil.test/v1/partner",
        "https://203.0.113.8/v1/partner",
    ],
)
def test_other_hosts_are_accepted(url: str) -> None:
    assert not is_production_url(url, resolver=resolver)
    assert guard_production(load_settings(None, base_url=url, **KEYS), resolver=resolver) is False


def test_without_dns_names_still_decide() -> None:
    assert is_production_url("https://Gateway-Enterprise.klikit.io./v1", resolver=no_dns)
    assert not is_production_url("https://203.0.113.7/v1", resolver=no_dns)  # nothing to compare an address with


def test_a_resolver_that_hangs_is_abandoned() -> None:
    import threading
    import time

    release = threading.Event()

    def hanging(host: str) -> Iterable[str]:
        release.wait(10)
        return PRODUCTION_ADDRESSES

    started = time.monotonic()
    try:
        assert not is_production_url("https://203.0.113.7/v1", resolver=hanging)
    finally:
        release.set()
    assert time.monotonic() - started < 5


def test_allowed_production_is_read_only() -> None:
    url = "https://gateway-enterprise.klikit.io./v1/partner"
    settings = load_settings(None, base_url=url, allow_production="1", **KEYS)
    assert guard_production(settings, resolver=resolver) is True
