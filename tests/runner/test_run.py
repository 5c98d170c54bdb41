"""``klikit-harness run`` end to end: real subprocesses, real reports, real exit codes.

The four contract-suite runs (embedded stand-in, stand-in over HTTP through
the sandbox's env file, a seeded defect, and a redaction probe) come from the
``runs`` fixture of conftest.py, which starts them together and early.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from klikit_harness.checking.config import load_settings
from klikit_harness.checking.target import Target
from klikit_harness.runner.exits import EXIT_OK, EXIT_VIOLATIONS

from .conftest import (
    DEFECT,
    DEFECT_BEHAVIOUR,
    PROBE_BEHAVIOUR,
    REPORT_FILES,
    Runs,
    catalogue_ids,
    leaks,
    report_rows,
    seeded_secrets,
    suite_ids,
)


def read_reports(directory: Path) -> dict[str, str]:
    missing = [name for name in REPORT_FILES if not (directory / name).is_file()]
    assert not missing, f"{directory} lacks {missing}"
    return {name: (directory / name).read_text(encoding="utf-8") for name in REPORT_FILES}


def contract_ids() -> set[str]:
    ids = suite_ids("contract")
    assert len(ids) > 50, "the contract suite's behaviour tags were not found"
    assert ids <= catalogue_ids()
    return ids


# ------------------------------------------------------------------ passing runs


@pytest.mark.slow
@pytest.mark.loopback
def test_contract_suite_on_the_embedded_standin_passes_and_writes_every_report(runs: Runs) -> None:
    result = runs.result("embedded")
    assert result.returncode == EXIT_OK, result.explain()
    assert "against the embedded stand-in (profile smoke, contract reference)" in result.stdout
    reports = read_reports(runs.report("embedded"))

    suite = ET.fromstring(reports["junit.xml"]).find("testsuite")
    assert suite is not None
    assert int(suite.get("tests", 0)) > 50
    assert suite.get("failures") == "0" and suite.get("errors") == "0"

    results = json.loads(reports["results.json"])
    meta = results["meta"]
    assert meta["target"] == "embedded stand-in" and meta["profile"] == "smoke" and meta["exitstatus"] == 0
    assert meta["requests"] > 100
    assert results["counts"]["failed"] == 0 and results["counts"]["passed"] > 50

    rows = report_rows(reports["report.md"])
    assert set(rows) == catalogue_ids(), "report.md must have exactly one row per behaviour id"
    covered = contract_ids()
    # the in-flight rule is "not observed" when every duplicate arrived after its write finished;
    # the chaos suite holds a write in flight to prove it (in-flight-executes-twice)
    not_passing = {
        bid: rows[bid]
        for bid in covered
        if not rows[bid].startswith("pass")
        and not (bid == "idempotency.in-flight-conflict" and rows[bid].startswith("skipped (not observed"))
    }
    assert not not_passing, f"behaviours of the contract suite not reported as pass: {not_passing}"
    assert all(rows[bid] == "not run" for bid in set(rows) - covered)
    assert "# klikit-harness report — CONTRACT HOLDS" in reports["report.md"]
    assert "CONTRACT HOLDS" in reports["report.html"]
    assert all(f"<code>{bid}</code>" in reports["report.html"] for bid in covered)


@pytest.mark.slow
@pytest.mark.loopback
def test_contract_suite_over_http_through_the_sandbox_env_file_passes_the_same_way(runs: Runs) -> None:
    result = runs.result("http")
    assert result.returncode == EXIT_OK, result.explain()
    assert f"against {runs.sandbox.base_url}" in result.stdout
    reports = read_reports(runs.report("http"))
    meta = json.loads(reports["results.json"])["meta"]
    assert meta["target"] == runs.sandbox.base_url
    assert meta["requests"] > 100

    rows = report_rows(reports["report.md"])
    assert set(rows) == catalogue_ids()
    covered = contract_ids()
    passed = {bid for bid in covered if rows[bid].startswith("pass")}
    # over HTTP the only difference allowed: checks that need the stand-in's clock skip, saying why
    others = {bid: rows[bid] for bid in covered - passed}
    assert all(re.fullmatch(r"skipped \(.+\)", cell) for cell in others.values()), others
    assert len(passed) >= len(covered) - 3, others

    embedded = report_rows(read_reports(runs.report("embedded"))["report.md"])
    assert passed == {bid for bid in covered if embedded[bid].startswith("pass")} - set(others)


# ------------------------------------------------------------------ violations


@pytest.mark.slow
@pytest.mark.loopback
def test_a_seeded_defect_exits_1_and_the_report_names_the_behaviour_with_evidence(runs: Runs) -> None:
    result = runs.result("defect")
    assert result.returncode == EXIT_VIOLATIONS, result.explain()
    reports = read_reports(runs.report("defect"))
    report = reports["report.md"]
    assert "# klikit-harness report — VIOLATIONS FOUND" in report

    rows = report_rows(report)
    assert re.fullmatch(r"fail — F\d+(, F\d+)*", rows[DEFECT_BEHAVIOUR]), rows[DEFECT_BEHAVIOUR]
    # rules the defect does not touch still hold
    for untouched in ("auth.missing", "idempotency.conflict-different-body", "envelope.request-id"):
        assert rows[untouched].startswith("pass"), (untouched, rows[untouched])
    # a failure counts against the behaviour it breaks, not against every id its test is tagged with
    results = json.loads(reports["results.json"])
    failed = {b["id"] for b in results["behaviours"] if b["result"] == "fail"}
    assert DEFECT_BEHAVIOUR in failed and len(failed) <= 3, failed
    assert {f["behaviour"] for f in results["failures"]} == failed
    assert all(not f["unattributed"] for f in results["failures"]), results["failures"]

    failures = report.split("\n## Failures\n", 1)
    assert len(failures) == 2, "report.md has no Failures section"
    assert re.search(r"^\d+ distinct failures?\.$", failures[1], re.M)
    section = re.split(rf"^### F\d+ · `{re.escape(DEFECT_BEHAVIOUR)}` — ", failures[1], maxsplit=1, flags=re.M)
    assert len(section) == 2, f"no failure entry for {DEFECT_BEHAVIOUR}"
    entry = section[1].split("\n### ", 1)[0]
    assert re.search(r"^- request_id: `req_[^`]+`$", entry, re.M), entry[:800]
    # the reproduction replays the test's own requests, the decisive populate among them
    script = re.search(r"^```bash\n(curl .+?)\n```$", entry, re.M | re.S)
    assert script, entry[:800]
    lines = script[1].splitlines()
    assert all(line.startswith(("curl ", "# ")) for line in lines), lines
    assert all('-u "$KLIKIT_PARTNER_KEY:$KLIKIT_SECRET_KEY"' in line for line in lines if line.startswith("curl "))
    assert any("/v1/partner/menus/populate" in line for line in lines), lines

    assert f"FAIL     {DEFECT_BEHAVIOUR}" in result.stdout
    assert re.search(
        rf"^\d+ distinct failures?:$\n(?:  F\d+ .+\n)*  F\d+ {re.escape(DEFECT_BEHAVIOUR)}: ", result.stdout, re.M
    )
    meta = json.loads(reports["results.json"])["meta"]
    assert meta["defects"] == [DEFECT] and meta["exitstatus"] == 1
    suite = ET.fromstring(reports["junit.xml"]).find("testsuite")
    assert suite is not None and int(suite.get("failures", 0)) >= 1


# ------------------------------------------------------------------ no secret anywhere


@pytest.mark.slow
@pytest.mark.loopback
@pytest.mark.parametrize("name", ["defect", "http", "embedded", "probe"])
def test_no_seeded_secret_in_console_or_any_report(runs: Runs, name: str) -> None:
    result = runs.result(name)
    assert result.returncode in (0, 1), result.explain()
    needles = seeded_secrets()
    texts = {"console": result.console, **read_reports(runs.report(name))}
    if name == "http":
        texts["sandbox console"] = runs.sandbox.process.output()
    found = {where: leaks(text, needles) for where, text in texts.items() if leaks(text, needles)}
    assert not found, f"secrets in the {name} run's outputs: {found}"


@pytest.mark.slow
@pytest.mark.loopback
def test_the_probe_puts_secrets_everywhere_and_only_redaction_removes_them(runs: Runs) -> None:
    """The positive control: without the redaction the previous test would fail on this run."""
    result = runs.result("probe")
    assert result.returncode == EXIT_VIOLATIONS, result.explain()
    reports = read_reports(runs.report("probe"))
    results = json.loads(reports["results.json"])
    outcomes = {t["nodeid"].rsplit("::", 1)[-1]: t["outcome"] for t in results["tests"]}
    assert outcomes == {
        "test_redaction_probe": "failed",
        "test_redaction_probe_skip": "skipped",
        "test_redaction_probe_xfail": "skipped",
        "test_redaction_probe_property": "passed",
    }
    [probe] = [t for t in results["tests"] if t["nodeid"].endswith("test_redaction_probe")]
    assert probe["outcome"] == "failed"
    assert probe["message"].count("***") >= 2
    assert probe["received"].startswith("Authorization: Basic ***; old secret ***")
    assert probe["reproduction"].splitlines()[-1].startswith("curl -u pk_sandbox_main:*** ")
    assert report_rows(reports["report.md"])[PROBE_BEHAVIOUR] == "fail — F1"
    assert [f["behaviour"] for f in results["failures"]] == [PROBE_BEHAVIOUR]
    assert "probe message carries *** and ***" in reports["report.md"]
    assert "probe message carries *** and ***" in reports["report.html"]
    assert "probe message carries *** and ***" in reports["junit.xml"]
    assert "stdout carries ***" in reports["junit.xml"] or "stdout carries ***" in result.console
    assert "probe message carries *** and ***" in result.console
    assert "skip reason carries ***" in result.console and "xfail reason carries ***" in result.console
    assert '<property name="probe" value="***"' in reports["junit.xml"]
    assert 'message="skip reason carries ***"' in reports["junit.xml"]
    assert not leaks(result.console + "".join(reports.values()), seeded_secrets())


def test_the_redactor_of_a_configured_target_scrubs_every_seeded_secret() -> None:
    """Every secret of the sandbox's KLIKIT_* block, and its Basic encoding, is masked in any text."""
    from klikit_harness.core.seed import load

    env = load().env("http://127.0.0.1:1/v1/partner")
    settings = load_settings(None, **{k.removeprefix("KLIKIT_").lower(): v for k, v in env.items()})
    target = Target(settings.base_url or "", settings)
    needles = seeded_secrets()
    crafted = "\n".join(f"<{n}> and again {n}" for n in needles)
    scrubbed = target.redactor(crafted)
    assert leaks(crafted, needles) and not leaks(scrubbed, needles)
    assert scrubbed.count("***") == 2 * len(needles)
