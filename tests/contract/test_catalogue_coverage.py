"""What the stand-in can emit is documented, and every behaviour has a stand-in test."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from klikit_harness import contract

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "src" / "klikit_harness" / "core"
HELPERS = {"invalid": "request_invalid", "not_found": "resource_not_found"}


def emitted_codes() -> set[str]:
    """Every code the domain core can raise: ServiceError("code", …) and its helpers."""
    codes: set[str] = set()
    for path in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if name == "ServiceError" and node.args and isinstance(node.args[0], ast.Constant):
                codes.add(node.args[0].value)
            elif name in HELPERS:
                codes.add(HELPERS[name])
    return codes


def test_the_scan_finds_the_core_codes():
    assert {
        "auth_missing",
        "request_invalid",
        "state_idempotency_conflict",
        "rate_limit_exceeded",
        "method_not_allowed",
    } <= emitted_codes()


@pytest.mark.behaviour("envelope.code-status-catalogue")
def test_every_emitted_code_is_catalogued_in_both_readings():
    catalogue = contract.errors()
    for code in emitted_codes():
        assert code in catalogue.reference, f"{code} is emitted but not in errors.yaml"
        assert catalogue.code_for(code, "concepts").status >= 400


@pytest.mark.behaviour("envelope.code-status-catalogue")
def test_every_emitted_code_and_status_is_documented_in_openapi():
    doc = contract.openapi()
    shared = doc["components"]["responses"]
    statuses_by_response = {name: re.match(r"\s*(\d{3})", r["description"]).group(1) for name, r in shared.items()}
    documented_statuses = {
        str(status)
        for item in doc["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "responses" in op
        for status in op["responses"]
    }
    catalogue = contract.errors()
    for code in emitted_codes():
        status = str(catalogue.reference[code].status)
        holders = [
            n for n, s in statuses_by_response.items() if s == status and f"`{code}`" in shared[n]["description"]
        ]
        assert holders, f"{code} ({status}) is in no shared response of openapi.yaml"
        if code != "method_not_allowed":  # 405 answers methods no operation defines
            assert status in documented_statuses, f"status {status} of {code} is documented by no operation"


@pytest.mark.behaviour("envelope.code-status-catalogue")
def test_every_status_of_a_reading_has_a_concepts_code():
    catalogue = contract.errors()
    for code in catalogue.reference:
        assert catalogue.code_for(code, "concepts").maps_to
        assert code in catalogue.meanings(catalogue.code_for(code, "concepts").code)


def tagged_ids(places: list[str]) -> set[str]:
    """The behaviour ids tagged in these folders (or files) of tests/."""
    ids: set[str] = set()
    for place in places:
        where = ROOT / "tests" / place
        for path in [where] if where.is_file() else where.rglob("test_*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "behaviour":
                    ids.update(a.value for a in node.args if isinstance(a, ast.Constant))
    return ids


def test_every_behaviour_is_exercised_against_the_stand_in():
    exercised = tagged_ids(["standin", "core", "checking/test_strategies.py"])
    missing = [b.id for b in contract.behaviours().values() if not b.id.startswith("client.") and b.id not in exercised]
    assert not missing, f"behaviours with no stand-in test: {missing}"


def test_every_tagged_id_exists():
    unknown = tagged_ids(["standin", "core", "checking", "contract"]) - set(contract.behaviours())
    assert not unknown, unknown
