"""A correct server that makes the choices the docs leave open its own way passes the contract suite.

The server (``tests.checking.legitimate_server``) adds members to the envelope,
the error object and success payloads, answers createSection 201, leaves
``brandIDs`` out of businessInfo and the unstated members out of section nodes.
Each of these departs only from an incidental behaviour (``response.*``): a run
against it, even ``--strict``, records them and passes.
"""

from __future__ import annotations

import json
from pathlib import Path

from klikit_harness.runner.exits import EXIT_OK
from tests.checking.legitimate_server import serving

from .conftest import harness


def test_the_contract_suite_passes_a_server_making_the_legitimate_choices_even_strict(tmp_path: Path) -> None:
    with serving() as server:
        env_file = tmp_path / "legitimate.env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in server.env().items()))
        env_file.chmod(0o600)
        report = tmp_path / "report"
        result = harness(
            "run",
            "--suite",
            "contract",
            "--profile",
            "smoke",
            "--strict",
            "--env-file",
            env_file,
            "--target",
            server.base_url,
            "--report",
            report,
            cwd=tmp_path,
            timeout=300,
        )
    assert result.returncode == EXIT_OK, result.explain()
    results = json.loads((report / "results.json").read_text())
    assert results["failures"] == []
    observed = {b["id"] for b in results["behaviours"] if b["result"] == "observed"}
    assert "response.success-status" in observed  # createSection's 201: recorded, not failed
    assert observed <= {
        "response.success-status",
        "response.required-members",
        "response.closed-objects",
        "idempotency.in-flight-conflict",
    }, observed
