"""HTTP Basic credentials: one encoder, one parser; a malformed header reads as none, never an exception."""

from __future__ import annotations

import base64

import pytest

from klikit_harness.partner.basic import basic_header, basic_token, parse_basic


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def test_a_header_it_writes_reads_back_to_the_same_pair() -> None:
    for key, secret in [("pk_main", "sk_main_7f3a"), ("pk", "s:with:colons"), ("pk_ö", "sk ä/+"), ("", "sk_x")]:
        assert parse_basic(basic_header(key, secret)) == (key, secret)
    assert basic_token("pk", "sk") == _b64(b"pk:sk")


@pytest.mark.parametrize(
    ("header", "pair"),
    [
        (f"basic {_b64(b'pk:sk')}", ("pk", "sk")),  # the scheme in any case
        (f"  BASIC   {_b64(b'pk:sk')}  ", ("pk", "sk")),
        (None, None),
        ("", None),
        (f"Bearer {_b64(b'pk:sk')}", None),
        ("Basic", None),
        ("Basic not-base64!", None),
        (f"Basic {_b64(b'no-colon')}", None),
        (f"Basic {_b64(bytes([0xFF, 0x3A, 0x41]))}", None),  # not UTF-8
    ],
)
def test_parse_basic_reads_the_pair_or_none(header: str | None, pair: tuple[str, str] | None) -> None:
    assert parse_basic(header) == pair
