"""``klikit-harness diff OLD NEW``: what changed between two runs; exit 1 on a regression, 2 on bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from klikit_harness.runner.exits import EXIT_OK, EXIT_USAGE, EXIT_VIOLATIONS

from .conftest import DEFECT_BEHAVIOUR, Result, Runs, harness

REGRESSING = "populate.skips-populated-stores"
FIXED = "auth.missing"
SKIPPED = "auth.revoked"
DEPARTING = "routing.method-not-allowed-405"


def results(
    rows: dict[str, str] | None = None,
    *,
    readings: dict[str, str] | None = None,
    failures: list[dict[str, Any]] | None = None,
    requests: int = 100,
    wall: float = 60.0,
) -> dict[str, Any]:
    """A minimal results.json: behaviour id -> result, the readings, the distinct failures and the meta."""
    rows = rows if rows is not None else {REGRESSING: "pass", FIXED: "fail", SKIPPED: "pass", DEPARTING: "pass"}
    statuses = {REGRESSING: "documented", FIXED: "documented", SKIPPED: "contested", DEPARTING: "assumed"}
    return {
        "meta": {
            "run_id": "kh-20260101-0001",
            "target": "https://staging.example/v1/partner",
            "profile": "nightly",
            "reading": "reference",
            "requests": requests,
            "wall_seconds": wall,
        },
        "verdict": "VIOLATIONS FOUND" if "fail" in rows.values() else "CONTRACT HOLDS",
        "counts": {},
        "failures": failures or [],
        "observations": [],
        "readings": {b: {"status": statuses[b], "result": rows[b], "reading": r} for b, r in (readings or {}).items()},
        "behaviours": [
            {"id": b, "status": statuses.get(b, "documented"), "result": r, "reason": ""} for b, r in rows.items()
        ],
        "tests": [],
    }


def failure(behaviour: str, fid: str = "F1", operation: str = "POST /menus/populate") -> dict[str, Any]:
    return {
        "id": fid,
        "result": "fail",
        "behaviour": behaviour,
        "kind": "Violation: populated store overwritten",
        "title": "populated store overwritten",
        "operation": operation,
        "count": 2,
        "request_id": "req_0f3c",
        "tests": ["contract/test_rules.py::test_populate"],
    }


def write(directory: Path, data: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "results.json").write_text(json.dumps(data))
    return directory


def diff(tmp_path: Path, old: dict[str, Any], new: dict[str, Any], *options: str) -> tuple[Result, str]:
    md = tmp_path / "summary" / "diff.md"
    result = harness(
        "diff", write(tmp_path / "old", old), write(tmp_path / "new", new), "--markdown", md, *options, cwd=tmp_path
    )
    return result, md.read_text() if md.exists() else ""


def test_a_regression_exits_1_and_is_named(tmp_path: Path) -> None:
    new = results(
        {REGRESSING: "fail", FIXED: "fail", SKIPPED: "pass", DEPARTING: "pass"},
        failures=[failure(FIXED, "F1", "GET /menus"), failure(REGRESSING, "F2")],
    )
    old = results(failures=[failure(FIXED, "F1", "GET /menus")])
    result, md = diff(tmp_path, old, new)
    assert result.returncode == EXIT_VIOLATIONS, result.explain()
    assert result.stdout.startswith("klikit-harness diff: 1 regression\n")
    assert f"Regressions (pass or observed → fail):\n  {REGRESSING}: pass → fail" in result.stdout
    # the failure that was there before is not new; the new one is listed with its evidence
    assert "New distinct failures:\n  F2 populate.skips-populated-stores: populated store overwritten" in result.stdout
    assert "request_id=req_0f3c" in result.stdout
    assert FIXED not in result.stdout.split("New distinct failures")[0]
    assert md.startswith("## klikit-harness drift — 1 regression")
    assert f"| `{REGRESSING}` | documented | pass | fail |" in md


def test_no_change_exits_0(tmp_path: Path) -> None:
    result, md = diff(tmp_path, results(), results())
    assert result.returncode == EXIT_OK, result.explain()
    assert result.stdout.startswith("klikit-harness diff: no change\n")
    assert "No behaviour, failure, request count or wall time changed." in md


def test_a_changed_reading_a_fix_and_a_newly_skipped_behaviour_are_listed(tmp_path: Path) -> None:
    old = results(readings={DEPARTING: "reference", SKIPPED: "reference"})
    new = results(
        {REGRESSING: "pass", FIXED: "pass", SKIPPED: "skipped", DEPARTING: "observed"},
        readings={DEPARTING: 'HTTP 404 application/json: {"request_id":"req_1"}', SKIPPED: "not observed"},
    )
    result, md = diff(tmp_path, old, new)
    assert result.returncode == EXIT_OK, result.explain()
    out = result.stdout
    assert out.startswith("klikit-harness diff: no regression\n")
    assert f"Fixes (fail → pass):\n  {FIXED}: fail → pass" in out
    assert f"Readings that changed:\n  {DEPARTING}: pass → observed — reading: reference → HTTP 404" in out
    assert f"No longer judged (newly skipped, not run or errored):\n  {SKIPPED}: pass → skipped" in out
    assert "### Readings that changed" in md and f"| `{DEPARTING}` | assumed | pass | observed |" in md


def test_a_reading_that_changed_while_the_result_did_not(tmp_path: Path) -> None:
    rows = {REGRESSING: "pass", FIXED: "pass", SKIPPED: "pass", DEPARTING: "observed"}
    old = results(rows, readings={DEPARTING: "HTTP 404 resource_not_found (req_1)"})
    same = results(rows, readings={DEPARTING: "HTTP 404 resource_not_found (req_2)"})  # only the id differs
    other = results(rows, readings={DEPARTING: "HTTP 400 request_invalid (req_3)"})
    assert diff(tmp_path / "same", old, same)[0].stdout.startswith("klikit-harness diff: no change")
    result, _ = diff(tmp_path / "other", old, other)
    assert result.returncode == EXIT_OK
    assert (
        f"  {DEPARTING}: observed: HTTP 404 resource_not_found (req_1) → observed: HTTP 400 request_invalid (req_3)"
        in result.stdout
    )


def test_request_count_and_wall_time_are_listed_above_the_threshold(tmp_path: Path) -> None:
    old, new = results(requests=100, wall=60.0), results(requests=130, wall=66.0)
    result, md = diff(tmp_path / "default", old, new)
    assert result.returncode == EXIT_OK
    assert "Moved by more than 20%:\n  requests: 100 → 130 (+30%)" in result.stdout
    assert "wall time" not in result.stdout  # +10% is under the default threshold
    assert "### Moved by more than 20%" in md
    result, _ = diff(tmp_path / "loose", old, new, "--threshold", "50")
    assert "requests" not in result.stdout and result.stdout.startswith("klikit-harness diff: no change")
    result, _ = diff(tmp_path / "tight", old, new, "--threshold", "5")
    assert "requests: 100 → 130 (+30%)" in result.stdout and "wall time: 60 s → 66 s (+10%)" in result.stdout


@pytest.mark.parametrize(
    ("make", "named"),
    [
        pytest.param(lambda d: d / "missing", "has no results.json", id="directory-without-results"),
        pytest.param(lambda d: d / "nowhere.json", "does not exist", id="no-such-file"),
        pytest.param(lambda d: _file(d, "{not json"), "is not JSON", id="not-json"),
        pytest.param(lambda d: _file(d, '{"verdict": "x"}'), "has no 'behaviours' list", id="not-results"),
        pytest.param(lambda d: _file(d, '{"behaviours": [{"id": 1}]}'), "behaviours[0]", id="bad-row"),
    ],
)
def test_unreadable_input_exits_2_saying_what_is_wrong(tmp_path: Path, make: Any, named: str) -> None:
    (tmp_path / "missing").mkdir()
    good = write(tmp_path / "good", results())
    bad = make(tmp_path)
    result = harness("diff", bad, good, cwd=tmp_path)
    assert result.returncode == EXIT_USAGE, result.explain()
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("klikit-harness: error: ") and named in line and str(bad) in line, line


def _file(directory: Path, text: str) -> Path:
    path = directory / "results.json"
    path.write_text(text)
    return path


# ------------------------------------------------------------------ a real pair


def test_a_clean_run_then_a_defect_run_names_the_regressed_behaviour(runs: Runs, tmp_path: Path) -> None:
    clean, broken = runs.result("embedded"), runs.result("defect")
    assert clean.returncode == EXIT_OK, clean.explain()
    assert broken.returncode == EXIT_VIOLATIONS, broken.explain()
    md = tmp_path / "diff.md"
    result = harness("diff", runs.report("embedded"), runs.report("defect"), "--markdown", md, cwd=tmp_path)
    assert result.returncode == EXIT_VIOLATIONS, result.explain()
    regressions = result.stdout.split("Regressions (pass or observed → fail):\n", 1)[1].split("\n\n", 1)[0]
    assert f"  {DEFECT_BEHAVIOUR}: pass → fail" in regressions.splitlines()
    new_failures = result.stdout.split("New distinct failures:\n", 1)[1].split("\n\n", 1)[0]
    assert DEFECT_BEHAVIOUR in new_failures
    assert f"| `{DEFECT_BEHAVIOUR}` | " in md.read_text()
    # and back: the defect's behaviours are fixes, nothing regressed
    back = harness("diff", runs.report("defect"), runs.report("embedded"), cwd=tmp_path)
    assert back.returncode == EXIT_OK, back.explain()
    assert f"  {DEFECT_BEHAVIOUR}: fail → pass" in back.stdout
