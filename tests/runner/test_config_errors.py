"""Configuration errors exit 2 before any request, with one line naming what to set; an unreachable target exits 3."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from klikit_harness.runner.exits import EXIT_UNREACHABLE, EXIT_USAGE

from .conftest import Result, harness

PRODUCTION = "https://gateway-enterprise.klikit.io/v1/partner"
KEYS = {"KLIKIT_PARTNER_KEY": "pk_cli_test", "KLIKIT_SECRET_KEY": "sk_cli_test_never_sent"}


def assert_usage_error(result: Result, *names: str) -> str:
    assert result.returncode == EXIT_USAGE, result.explain()
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one error line:\n{result.stderr}"
    assert lines[0].startswith("klikit-harness: error: "), lines[0]
    for name in names:
        assert name in lines[0], f"{name} not named in: {lines[0]}"
    assert "running" not in result.stdout
    return lines[0]


@pytest.mark.parametrize(
    ("env", "named"),
    [
        pytest.param(
            {"KLIKIT_BASE_URL": "http://x"}, ["KLIKIT_BASE_URL", "KLIKIT_PARTNER_KEY"], id="base-url-without-key"
        ),
        pytest.param(
            {"KLIKIT_STORES": "663-1062"}, ["KLIKIT_STORES", "663-1062", "brandID:branchID"], id="malformed-stores"
        ),
        pytest.param({"KLIKIT_STORES": "663:1062,0:5"}, ["KLIKIT_STORES", "0:5"], id="store-id-zero"),
        pytest.param({"KLIKIT_MAX_RPS": "abc"}, ["KLIKIT_MAX_RPS", "abc"], id="max-rps-not-a-number"),
        pytest.param({"KLIKIT_MAX_RPS": "-1"}, ["KLIKIT_MAX_RPS"], id="max-rps-negative"),
        pytest.param({**KEYS, "KLIKIT_BASE_URL": "ftp://example.test/v1"}, ["KLIKIT_BASE_URL"], id="base-url-not-http"),
    ],
)
def test_run_refuses_a_bad_variable_and_names_it(tmp_path: Path, env: dict[str, str], named: list[str]) -> None:
    report = tmp_path / "report"
    result = harness("run", "--suite", "contract", "--report", report, env=env, cwd=tmp_path)
    assert_usage_error(result, *named)
    assert not report.exists(), "the run must stop before the suite starts"


def test_a_bad_variable_in_the_env_file_is_named_too(tmp_path: Path) -> None:
    env_file = tmp_path / "staging.env"
    env_file.write_text("KLIKIT_STORES=663:1062\nKLIKIT_MAX_RPS=abc\n")
    result = harness("run", "--suite", "contract", "--env-file", env_file, "--report", tmp_path / "r", cwd=tmp_path)
    assert_usage_error(result, "KLIKIT_MAX_RPS", "abc")


@pytest.mark.parametrize("command", ["run", "doctor"])
def test_a_missing_env_file_is_a_usage_error(tmp_path: Path, command: str) -> None:
    missing = tmp_path / "nowhere" / "klikit.env"
    result = harness(command, "--env-file", missing, cwd=tmp_path)
    assert_usage_error(result, str(missing), "does not exist")


def test_doctor_names_the_variable_too(tmp_path: Path) -> None:
    result = harness("doctor", env={"KLIKIT_STORES": "brand:branch"}, cwd=tmp_path)
    assert_usage_error(result, "KLIKIT_STORES")


# ------------------------------------------------------------------ production host


@pytest.fixture
def sinkhole() -> Iterator[dict[str, str]]:
    """Proxy variables pointing at a local socket that never answers; asserts nothing ever connected.

    httpx honours these variables, so even a regression that let a request out
    would reach this socket, never the production host.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        yield {"HTTPS_PROXY": url, "HTTP_PROXY": url, "ALL_PROXY": url, "https_proxy": url, "http_proxy": url}
        sock.setblocking(False)
        with pytest.raises(BlockingIOError):
            sock.accept()  # a pending connection here would be a request attempt
    finally:
        sock.close()


@pytest.mark.parametrize("command", ["run", "doctor"])
@pytest.mark.parametrize("how", ["variable", "target-option"])
def test_the_production_host_is_refused_before_any_request(
    tmp_path: Path, sinkhole: dict[str, str], command: str, how: str
) -> None:
    env = {**KEYS, **sinkhole}
    args: list[str | Path] = [command]
    if how == "variable":
        env["KLIKIT_BASE_URL"] = PRODUCTION
    else:
        args += ["--target", PRODUCTION]
    if command == "run":
        args += ["--suite", "contract", "--report", tmp_path / "report"]
    result = harness(*args, env=env, cwd=tmp_path, timeout=30)
    assert_usage_error(result, "gateway-enterprise.klikit.io", "KLIKIT_ALLOW_PRODUCTION=1")
    assert not (tmp_path / "report").exists()
    assert "sk_cli_test_never_sent" not in result.console


# ------------------------------------------------------------------ unreachable


@pytest.mark.parametrize("command", ["run", "doctor"])
def test_an_unreachable_target_exits_3(tmp_path: Path, command: str) -> None:
    url = "http://127.0.0.1:9/v1/partner"
    args: list[str | Path] = [command, "--target", url]
    if command == "run":
        args += ["--suite", "contract", "--report", tmp_path / "report"]
    result = harness(*args, env=KEYS, cwd=tmp_path, timeout=60)
    assert result.returncode == EXIT_UNREACHABLE, result.explain()
    assert url in result.console
    assert "sk_cli_test_never_sent" not in result.console
    if command == "run":
        assert "unreachable" in result.stderr
        assert not (tmp_path / "report").exists(), "the suite must not start against an unreachable target"
    else:
        assert "FIX   reachable" in result.stdout


OPTIONAL = (
    "KLIKIT_OLD_SECRET",
    "KLIKIT_REVOKED_CREDENTIAL",
    "KLIKIT_LIMITED_CREDENTIAL",
    "KLIKIT_SECOND_CREDENTIAL",
    "KLIKIT_FOREIGN_CREDENTIAL",
    "KLIKIT_BURST_CREDENTIAL",
    "KLIKIT_STORES",
    "KLIKIT_FRESH_STORES",
    "KLIKIT_FOREIGN_STORE",
    "KLIKIT_ALLOW_BURST",
    "KLIKIT_MAX_RPS",
    "KLIKIT_ALLOW_PRODUCTION",
)


@pytest.mark.parametrize("where", ["environment", "env-file"])
def test_empty_optional_variables_count_as_unset(tmp_path: Path, where: str) -> None:
    """CI passes an unset secret or variable as an empty string; a .env file may list a blank one."""
    url = "http://127.0.0.1:9/v1/partner"
    values = {**KEYS, "KLIKIT_BASE_URL": url, **dict.fromkeys(OPTIONAL, "")}
    args: list[str | Path] = ["run", "--suite", "contract", "--report", tmp_path / "report"]
    if where == "env-file":
        env_file = tmp_path / "ci.env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
        args += ["--env-file", env_file]
        values = {}
    result = harness(*args, env=values, cwd=tmp_path)
    assert result.returncode == EXIT_UNREACHABLE, (
        result.explain()
    )  # configuration accepted; the (absent) target is what fails
    assert "unreachable" in result.stderr
