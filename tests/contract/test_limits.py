"""The limits the contract fixes: read from openapi.yaml where it writes them, stated once otherwise."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from klikit_harness import contract
from klikit_harness.contract import limits

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"


def _limits_of(folder: Path) -> subprocess.CompletedProcess[str]:
    """The limits a fresh interpreter reads from the contract files in ``folder``."""
    code = (
        "import json; from klikit_harness.contract import limits as l; "
        "print(json.dumps([l.BASE_PATH, l.MAX_KEY_LENGTH, l.INT32_MAX]))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={"KLIKIT_CONTRACTS_DIR": str(folder), "PATH": ""},
        check=False,
    )


def _edited_copy(tmp_path: Path, edit: dict[str, object]) -> Path:
    for name in ("errors.yaml", "behaviours.yaml"):
        shutil.copy(CONTRACTS / name, tmp_path / name)
    doc = yaml.safe_load((CONTRACTS / "openapi.yaml").read_text(encoding="utf-8"))
    doc["components"]["parameters"]["IdempotencyKey"]["schema"]["maxLength"] = edit.get("maxLength", 64)
    doc["components"]["schemas"]["Id"]["maximum"] = edit.get("maximum", 2147483647)
    doc["servers"] = edit.get("servers", doc["servers"])
    (tmp_path / "openapi.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return tmp_path


def test_the_key_length_the_id_bound_and_the_base_path_are_the_documents() -> None:
    assert (limits.BASE_PATH, limits.MAX_KEY_LENGTH, limits.INT32_MAX) == ("/v1/partner", 64, 2**31 - 1)


def test_a_limit_changed_in_openapi_yaml_changes_the_harness(tmp_path: Path) -> None:
    folder = _edited_copy(
        tmp_path, {"maxLength": 80, "maximum": 999, "servers": [{"url": "https://example.test/api/v2/"}]}
    )
    done = _limits_of(folder)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["/api/v2", 80, 999]


def test_servers_that_disagree_on_the_base_path_are_a_contract_error(tmp_path: Path) -> None:
    folder = _edited_copy(tmp_path, {"servers": [{"url": "https://a.test/v1/partner"}, {"url": "https://b.test/v2"}]})
    done = _limits_of(folder)
    assert done.returncode != 0
    assert "ContractError" in done.stderr and "servers disagree on the base path" in done.stderr


def test_the_limits_only_a_sentence_states_are_the_sentences() -> None:
    assert f"deeper than {limits.MAX_DEPTH} levels" in contract.behaviour("input.deep-nesting").statement
    assert limits.MAX_BODY_BYTES == 2**20
    assert "larger than 1 MiB" in contract.behaviour("input.body-too-large").statement
