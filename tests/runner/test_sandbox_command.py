"""``klikit-harness sandbox``: a bad seed file or a taken port is one error line and exit 2."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from klikit_harness.runner.exits import EXIT_USAGE

from .conftest import Result, harness, leaks, sandbox_server, seeded_secrets


def assert_one_line_error(result: Result, *names: str) -> None:
    assert result.returncode == EXIT_USAGE, result.explain()
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("klikit-harness: error: ")
    for name in names:
        assert name in lines[0], lines[0]
    assert "KLIKIT_BASE_URL" not in result.stdout, "nothing is served, so no KLIKIT_* block"


def test_a_seed_file_that_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent.yaml"
    result = harness("sandbox", "--port", "0", "--seed", missing, cwd=tmp_path, timeout=30)
    assert_one_line_error(result, str(missing))


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("stores: [1, 2]\n", id="yaml-but-not-a-seed"),
        pytest.param("- businesses\n- credentials\n", id="a-list"),
        pytest.param("businesses: [\n  {id: 1,\n", id="not-yaml"),
    ],
)
def test_a_file_that_is_not_a_seed(tmp_path: Path, text: str) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text(text)
    result = harness("sandbox", "--port", "0", "--seed", seed, cwd=tmp_path, timeout=30)
    assert_one_line_error(result, str(seed))


@pytest.mark.loopback
def test_a_taken_port_is_named(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = harness("sandbox", "--host", "127.0.0.1", "--port", str(port), cwd=tmp_path, timeout=30)
    assert_one_line_error(result, str(port), "in use")


@pytest.mark.loopback
def test_the_printed_block_is_masked_and_the_env_file_is_private(tmp_path: Path) -> None:
    with sandbox_server(tmp_path) as sandbox:
        env = sandbox.env()
        printed = sandbox.process.output()
    assert env["KLIKIT_BASE_URL"] == sandbox.base_url and env["KLIKIT_MAX_RPS"] == "0"
    assert env["KLIKIT_SECRET_KEY"] in seeded_secrets()
    assert "KLIKIT_SECRET_KEY=***" in printed
    assert not leaks(printed, seeded_secrets())
    assert sandbox.env_file.stat().st_mode & 0o777 == 0o600


def test_an_unknown_variant_is_named_with_the_known_ones(tmp_path: Path) -> None:
    result = harness("sandbox", "--port", "0", "--variant", "no-such-variant", cwd=tmp_path, timeout=30)
    assert_one_line_error(result, "no-such-variant", "no-405")


@pytest.mark.loopback
def test_a_variant_is_switched_on_and_announced(tmp_path: Path) -> None:
    with sandbox_server(tmp_path, "--variant", "no-405", "--variant", "retry-after-60") as sandbox:
        answer = httpx.delete(f"{sandbox.base_url}/menus", timeout=5, trust_env=False)
        printed = sandbox.process.output()
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "resource_not_found"
    assert "# variants switched on: no-405, retry-after-60" in printed
