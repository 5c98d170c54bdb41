"""The redactor every report, console line and exception text goes through."""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import quote

import pytest

from klikit_harness.partner.redact import MASK, Redactor

SECRET = "sk_live/ö+ä 7f3a"  # non-ASCII, a slash, a plus and a space: every escaping differs


@pytest.mark.parametrize(
    "spelling",
    [
        SECRET,
        json.dumps(SECRET)[1:-1],  # JSON-escaped (\u00f6)
        json.dumps(SECRET, ensure_ascii=False)[1:-1],
        quote(SECRET, safe=""),
        re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(SECRET, safe="")),
        base64.b64encode(f"pk_main:{SECRET}".encode()).decode(),
    ],
    ids=["raw", "json-ascii", "json-utf8", "url-encoded", "url-encoded-lowercase", "basic-token"],
)
def test_every_spelling_of_a_secret_is_masked(spelling):
    redact = Redactor()
    redact.add(SECRET, "pk_main")
    out = redact(f"echoed: {spelling}!")
    assert spelling not in out and MASK in out


def test_short_values_are_not_treated_as_secrets():
    redact = Redactor(["abc"])
    assert redact("abc abc") == "abc abc"


def test_a_learnt_basic_header_masks_its_secret_and_token_everywhere():
    redact = Redactor(replacement="[scrubbed]")
    header = "Basic " + base64.b64encode(b"pk_main:sk_learnt_9").decode()
    redact.learn(header)
    out = redact(f"{header} sk_learnt_9 {quote('sk_learnt_9')}")
    assert "sk_learnt_9" not in out and header.split()[1] not in out and out.count("[scrubbed]") == 3
    assert redact.bytes(b"x sk_learnt_9 y") == b"x [scrubbed] y"


def test_a_masker_that_refuses_short_secrets_says_what_to_configure():
    with pytest.raises(ValueError, match="KLIKIT_SECRET_KEY"):
        Redactor(["abc"], short="refuse")
