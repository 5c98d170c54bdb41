"""Every spelling of the production host is refused by `run`, `doctor` and the pytest plugin: exit 2, no request."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from klikit_harness.runner.exits import EXIT_USAGE

from .conftest import child_env, harness
from .test_config_errors import KEYS, assert_usage_error, sinkhole  # noqa: F401  (sinkhole is a fixture)

SPELLINGS = [
    "https://GATEWAY-ENTERPRISE.klikit.io/v1/partner",
    "https://gateway-enterprise.klikit.io./v1/partner",
    "https://gateway-enterprise.klikit.io../v1/partner",
    "https://qa@gateway-enterprise.klikit.io:443/v1/partner",
]


@pytest.mark.parametrize(
    ("command", "url"),
    [("run", SPELLINGS[2]), ("run", SPELLINGS[3]), ("doctor", SPELLINGS[1]), ("doctor", SPELLINGS[0])],
)
def test_cli_refuses_every_spelling(tmp_path: Path, sinkhole: dict[str, str], command: str, url: str) -> None:  # noqa: F811
    args: list[str | Path] = [command, "--target", url]
    if command == "run":
        args += ["--suite", "contract", "--report", tmp_path / "report"]
    result = harness(*args, env={**KEYS, **sinkhole}, cwd=tmp_path, timeout=30)
    assert_usage_error(result, "production host", "KLIKIT_ALLOW_PRODUCTION=1")
    assert not (tmp_path / "report").exists()


def test_plugin_refuses_before_any_request(tmp_path: Path, sinkhole: dict[str, str]) -> None:  # noqa: F811
    (tmp_path / "test_one.py").write_text("def test_one(klikit_target):\n    klikit_target.client().call('getMenu')\n")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "test_one.py", "--klikit-target", SPELLINGS[2]],
        env=child_env({**KEYS, **sinkhole}),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == EXIT_USAGE, proc.stdout + proc.stderr
    assert "KLIKIT_ALLOW_PRODUCTION=1" in proc.stdout + proc.stderr
