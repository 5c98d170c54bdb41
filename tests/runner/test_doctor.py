"""``klikit-harness doctor``: one line per item, exit 0 when all hold and 1 with a FIX line otherwise."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from klikit_harness.runner.exits import EXIT_OK, EXIT_VIOLATIONS

from .conftest import SEED, harness, leaks, sandbox_server, seeded_secrets

ITEM = re.compile(r"^  (ok   |FIX  |--   ) (?P<item>.+?) — .+$")


def seed_stores() -> tuple[list[str], list[str]]:
    """(stores with a menu, fresh stores) of the main credential's business, as brandID:branchID."""
    seed = yaml.safe_load(SEED.read_text())
    main = next(c for c in seed["credentials"] if c["name"] == seed["roles"]["main"])
    business = next(b for b in seed["businesses"] if b["id"] == main["business"])
    attached = {(a["store"]["brandID"], a["store"]["branchID"]) for a in business["attachments"]}
    stores = [(s["brandID"], s["branchID"]) for s in business["stores"]]
    return [f"{b}:{r}" for b, r in stores if (b, r) in attached], [
        f"{b}:{r}" for b, r in stores if (b, r) not in attached
    ]


def items_of(stdout: str) -> list[str]:
    lines = stdout.strip().splitlines()
    assert lines[0].startswith("doctor: ") and lines[-1].startswith("doctor: "), stdout
    body = lines[1:-1]
    bad = [line for line in body if not ITEM.match(line)]
    assert not bad, f"lines that are not one item each: {bad}"
    return [ITEM.match(line)["item"] for line in body]  # type: ignore[index]


def test_doctor_on_the_embedded_standin_prints_one_line_per_item_and_exits_0(tmp_path: Path) -> None:
    result = harness("doctor", cwd=tmp_path)
    assert result.returncode == EXIT_OK, result.explain()
    assert result.stdout.startswith("doctor: no KLIKIT_BASE_URL — checking the embedded stand-in\n")
    assert result.stdout.rstrip().endswith("doctor: all good")
    items = items_of(result.stdout)
    stores, fresh = seed_stores()
    expected = [
        "reachable",
        "credential KLIKIT_PARTNER_KEY",
        "scope for menu writes",
        *(f"store {s}" for s in stores),
        *(f"fresh store {s}" for s in fresh),
        "KLIKIT_FRESH_STORES",
        "KLIKIT_FOREIGN_STORE",
        "KLIKIT_OLD_SECRET",
        "KLIKIT_REVOKED_CREDENTIAL",
        "KLIKIT_LIMITED_CREDENTIAL",
        "KLIKIT_SECOND_CREDENTIAL",
        "KLIKIT_FOREIGN_CREDENTIAL",
        "KLIKIT_BURST_CREDENTIAL",
    ]
    assert items == expected
    assert "FIX" not in result.stdout
    assert not leaks(result.console, seeded_secrets())


@pytest.mark.loopback
def test_doctor_flags_a_populated_store_listed_as_fresh_and_exits_1(tmp_path: Path) -> None:
    stores, _ = seed_stores()
    populated = stores[0]
    with sandbox_server(tmp_path / "sandbox") as sandbox:
        result = harness("doctor", "--env-file", sandbox.env_file, env={"KLIKIT_FRESH_STORES": populated}, cwd=tmp_path)
    assert result.returncode == EXIT_VIOLATIONS, result.explain()
    assert result.stdout.startswith(f"doctor: {sandbox.base_url}\n")
    items = items_of(result.stdout)
    fixes = [line for line in result.stdout.splitlines() if line.startswith("  FIX")]
    assert fixes == [
        f"  FIX   fresh store {populated} — it serves sections: it was populated already; "
        "remove it from KLIKIT_FRESH_STORES"
    ]
    assert f"fresh store {populated}" in items and all(f"store {s}" in items for s in stores)
    assert result.stdout.rstrip().endswith("doctor: 1 item(s) to fix")
    assert not leaks(result.console, seeded_secrets())
