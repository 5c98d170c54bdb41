"""The bounds are configured through KLIKIT_* variables and ``run --max-time``; a bad value says what to set.
``doctor`` against a target that redirects or never answers says what is wrong instead of failing itself."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from klikit_harness.checking.config import ConfigError, load_settings
from klikit_harness.partner.bounded import Bounds
from klikit_harness.runner.cli import main


def test_the_variables_set_the_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KLIKIT_MAX_BODY_BYTES", "1048576")
    monkeypatch.setenv("KLIKIT_CONNECT_TIMEOUT", "3")
    monkeypatch.setenv("KLIKIT_READ_TIMEOUT", "4.5")
    monkeypatch.setenv("KLIKIT_ANSWER_TIMEOUT", "9")
    monkeypatch.setenv("KLIKIT_MAX_TIME", "120")
    settings = load_settings(None)
    assert settings.bounds() == Bounds(max_body_bytes=1048576, connect_timeout=3, read_timeout=4.5, answer_timeout=9)
    assert settings.max_time == 120


def test_the_defaults_are_the_readmes() -> None:
    settings = load_settings(None)
    assert settings.bounds() == Bounds(
        max_body_bytes=10 * 1024 * 1024, connect_timeout=10, read_timeout=30, answer_timeout=60
    )
    assert settings.max_time == 7200


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("KLIKIT_MAX_BODY_BYTES", "ten", "KLIKIT_MAX_BODY_BYTES: 'ten' is not a number"),
        ("KLIKIT_MAX_BODY_BYTES", "0", "KLIKIT_MAX_BODY_BYTES must be > 0"),
        ("KLIKIT_READ_TIMEOUT", "-1", "KLIKIT_READ_TIMEOUT must be > 0"),
        ("KLIKIT_ANSWER_TIMEOUT", "soon", "KLIKIT_ANSWER_TIMEOUT: 'soon' is not a number"),
        ("KLIKIT_MAX_TIME", "0", "KLIKIT_MAX_TIME must be > 0"),
    ],
)
def test_a_bad_bound_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=message):
        load_settings(None)


def test_run_refuses_a_deadline_that_is_not_positive() -> None:
    result = CliRunner().invoke(main, ["run", "--max-time", "0"])
    assert result.exit_code == 2
    assert "--max-time" in result.output


@pytest.mark.parametrize(
    ("behaviour", "said"),
    [
        ("redirect-302-production", "klikit's production host, which the guard forbids"),
        ("never", "KLIKIT_READ_TIMEOUT"),
        ("not-http", "the answer is not valid HTTP"),
    ],
)
def test_doctor_says_what_is_wrong_with_a_hostile_target(
    monkeypatch: pytest.MonkeyPatch, hostile_server: Any, behaviour: str, said: str
) -> None:
    monkeypatch.setenv("KLIKIT_PARTNER_KEY", "pk_hostile")
    monkeypatch.setenv("KLIKIT_SECRET_KEY", "sk_hostile_secret")
    monkeypatch.setenv("KLIKIT_READ_TIMEOUT", "1")
    result = CliRunner().invoke(main, ["doctor", "--target", hostile_server.url(behaviour)])
    assert result.exit_code in (1, 3), result.output
    assert said in result.output
    assert "sk_hostile_secret" not in result.output
