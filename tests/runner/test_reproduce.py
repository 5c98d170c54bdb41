"""`klikit-harness reproduce`: a reported failure's own requests, re-sent, judged the same way.

Proof: a defective stand-in (error answers without request_id) served over HTTP, the
contract suite run against it with a report; `reproduce` still finds the failure (exit 1)
and prints new request_ids; the standalone test it writes fails against the defective
stand-in and passes against a clean one; `reproduce` against the clean one exits 0.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from klikit_harness.partner import envelope
from klikit_harness.runner import reproduce as repro
from klikit_harness.runner.exits import EXIT_OK, EXIT_USAGE, EXIT_VIOLATIONS
from klikit_harness.runner.reproduce import standalone, template

from .conftest import child_env, harness, read_env_file, sandbox_server, seeded_secrets

DEFECT = "request-id-missing-on-errors"
#: contract tests whose error answers the defect strips of their request_id (a few seconds over HTTP)
SUBSET = "collide or enable_rules or create_section_needs_a_title"


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory):
    """A defective and a clean stand-in over loopback HTTP (both stopped at the end)."""
    work = tmp_path_factory.mktemp("reproduce")
    with sandbox_server(work / "bad", "--defect", DEFECT) as bad, sandbox_server(work / "clean") as clean:
        yield work, bad, clean


@pytest.fixture(scope="module")
def report(servers) -> tuple[Path, dict]:
    work, bad, _ = servers
    out = work / "report"
    result = harness(
        "run",
        "--suite",
        "contract",
        "--env-file",
        bad.env_file,
        "--report",
        out,
        "--",
        "-k",
        SUBSET,
        cwd=work,
        timeout=200,
    )
    assert result.returncode == EXIT_VIOLATIONS, result.explain()
    data = json.loads((out / "results.json").read_text())
    assert data["failures"], result.explain()
    # every failure shows its one-line reproduce command, in the terminal and the reports
    for failure in data["failures"]:
        line = f"klikit-harness reproduce {out} {failure['id']}"
        assert line in result.console, result.explain()
        assert line in (out / "report.md").read_text()
        assert line in (out / "report.html").read_text()
    return out, data


def _check_failure(data: dict) -> dict:
    """A failure whose expectation is machine-readable (a checks.CHECKS entry) and whose requests were kept."""
    found = [f for f in data["failures"] if (f.get("expected") or {}).get("check") == "request_id" and f["exchanges"]]
    assert found, [(f["id"], f["behaviour"], f.get("expected")) for f in data["failures"]]
    return found[0]


def test_the_report_keeps_each_failures_requests_and_expectation(report, servers):
    _, data = report
    _, bad, _ = servers
    failure = _check_failure(data)
    step = failure["exchanges"][-1]
    assert step["status"] >= 400 and step["request_id"] is None  # the defect: no request_id on errors
    assert step["credential"] == "KLIKIT_PARTNER_KEY:KLIKIT_SECRET_KEY"
    assert step["path"].startswith("/menus") and not step["path"].startswith("/v1/partner")
    assert all("authorization" not in {h.lower() for h in s["headers"]} for s in failure["exchanges"])
    text = json.dumps(data)
    assert not [n for n in seeded_secrets() if n in text]
    assert bad.base_url == data["meta"]["base_url"]


def test_reproduce_against_the_defective_target_still_fails_with_new_request_ids(report, servers):
    out, data = report
    _, bad, _ = servers
    failure = _check_failure(data)
    result = harness("reproduce", out, failure["id"], "--env-file", bad.env_file, timeout=60)
    assert result.returncode == EXIT_VIOLATIONS, result.explain()
    assert "STILL FAILS" in result.stdout and "fresh Idempotency-Keys" in result.stdout
    old_ids = {s["request_id"] for f in data["failures"] for s in f["exchanges"] or [] if s["request_id"]}
    new_ids = [
        w for line in result.stdout.splitlines() if "new request_id" in line for w in line.split(": ", 1)[1].split(", ")
    ]
    assert new_ids and not set(new_ids) & old_ids, result.explain()
    assert not [n for n in seeded_secrets() if n in result.console]


def test_reproduce_without_a_target_for_an_embedded_run_says_what_to_give(report, tmp_path):
    out, data = report
    patched = tmp_path / "embedded"
    patched.mkdir()
    data = {**data, "meta": {**data["meta"], "target": "embedded stand-in", "base_url": None}}
    (patched / "results.json").write_text(json.dumps(data))
    result = harness("reproduce", patched, "F1")
    assert result.returncode == EXIT_USAGE
    assert "--env-file" in result.stderr and "--target" in result.stderr
    unknown = harness("reproduce", out, "F999")
    assert unknown.returncode == EXIT_USAGE and "F1" in unknown.stderr
    missing = harness("reproduce", tmp_path / "nowhere")
    assert missing.returncode == EXIT_USAGE and "results.json" in missing.stderr


def test_the_written_test_fails_on_the_defect_and_passes_once_fixed(report, servers, tmp_path):
    out, data = report
    _, bad, clean = servers
    failure = _check_failure(data)
    written = tmp_path / "test_written.py"
    result = harness("reproduce", out, failure["id"], "--env-file", bad.env_file, "--write-test", written, timeout=60)
    assert written.is_file(), result.explain()
    source = written.read_text()
    assert "klikit_harness" not in source and "import httpx" in source
    assert not [n for n in seeded_secrets() if n in source]
    assert not [n for n in seeded_secrets() if n in result.console]

    def standalone(env_file: Path) -> subprocess.CompletedProcess[str]:
        env = child_env(read_env_file(env_file))
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:klikit_harness", str(written)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    on_bad = standalone(bad.env_file)
    assert on_bad.returncode == EXIT_VIOLATIONS and "1 failed" in on_bad.stdout, on_bad.stdout + on_bad.stderr
    on_clean = standalone(clean.env_file)
    assert on_clean.returncode == EXIT_OK and "1 passed" in on_clean.stdout, on_clean.stdout + on_clean.stderr


def test_reproduce_against_a_clean_target_exits_0(report, servers):
    out, data = report
    _, _, clean = servers
    failure = _check_failure(data)
    result = harness("reproduce", out, failure["id"], "--env-file", clean.env_file, timeout=60)
    assert result.returncode == EXIT_OK, result.explain()
    assert "no longer fails" in result.stdout


def test_a_failure_without_a_single_answer_expectation_reruns_its_test_from_any_directory(report, servers, tmp_path):
    _, data = report
    _, bad, clean = servers
    failure = _check_failure(data)
    patched = tmp_path / "report"
    patched.mkdir()
    failures = [{**f, "expected": None} if f["id"] == failure["id"] else f for f in data["failures"]]
    (patched / "results.json").write_text(json.dumps({**data, "failures": failures}))
    elsewhere = tmp_path / "empty"
    elsewhere.mkdir()
    test = failure["tests"][0]
    assert test.startswith("contract/"), "a harness run names tests relative to the suites"
    on_bad = harness("reproduce", patched, failure["id"], "--env-file", bad.env_file, cwd=elsewhere, timeout=120)
    assert on_bad.returncode == EXIT_VIOLATIONS, on_bad.explain()
    assert f"re-running its test {test}" in on_bad.stdout and "STILL FAILS" in on_bad.stdout
    on_clean = harness("reproduce", patched, failure["id"], "--env-file", clean.env_file, cwd=elsewhere, timeout=120)
    assert on_clean.returncode == EXIT_OK and "no longer fails" in on_clean.stdout, on_clean.explain()


# ------------------------------------------------------------------ units


def test_fresh_keys_keep_the_shape_of_the_original():
    uuid = "3f60405a-f0ce-4d29-b265-4be73d8e6251"
    new = repro.fresh_key(uuid)
    assert new != uuid and len(new) == len(uuid) and [i for i, c in enumerate(new) if c == "-"] == [8, 13, 18, 23]
    assert len(repro.fresh_key("k" * 300)) == 300  # an over-long key stays over-long
    assert repro.fresh_key("") == "" and repro.fresh_key("  ") == "  "


def test_remap_follows_created_sections_only_where_a_section_id_stands():
    step = {
        "method": "POST",
        "path": "/menus/sections/2003/visibilities",
        "query": [["brand_id", "2003"], ["section_id", "2003"]],
        "body": json.dumps(
            {
                "stores": [{"brandID": 663, "branchID": 2003}],
                "sections": {"2003": {"sequence": 2003}},
                "sectionIDs": [2003, 7],
            }
        ),
        "body_base64": False,
    }
    out = repro.remap(step, {2003: 9001})
    assert out["path"] == "/menus/sections/9001/visibilities"
    assert out["query"] == [["brand_id", "2003"], ["section_id", "9001"]]
    body = json.loads(out["body"])
    assert body["stores"] == [{"brandID": 663, "branchID": 2003}]  # a store id is never touched
    assert body["sections"] == {"9001": {"sequence": 2003}}  # an id-keyed map's key, not its entries' numbers
    assert body["sectionIDs"] == [9001, 7]
    assert repro.remap(step, {})["body"] == step["body"]


# ------------------------------------------------------------------ the standalone file's template

RETRY_AFTER = ["²", "٣", "1.5", "-1", "0", "1", "60", " 60 ", "", None, "Wed, 21 Oct 2026 07:28:00 GMT", "1e3", "+5"]


@pytest.mark.parametrize("value", RETRY_AFTER)
def test_the_templates_retry_after_rule_is_the_envelopes(value: str | None) -> None:
    assert template.retry_after_seconds(value) == envelope.retry_after_seconds(value)


@pytest.mark.parametrize("value", ["²", "1.5", "-1", "0", "Wed, 21 Oct 2026 07:28:00 GMT"])
def test_the_templates_429_check_fails_clearly_on_an_undocumented_retry_after(value: str) -> None:
    answer = httpx.Response(
        429,
        headers=[(b"Retry-After", value.encode())],  # as it comes off the wire: UTF-8 bytes
        json={"request_id": "req_1", "error": {"code": "rate_limit_exceeded", "message": "slow down"}},
    )
    assert answer.headers["retry-after"] == value
    with pytest.raises(AssertionError, match="429 with Retry-After"):
        template._check("rate_limited_answer", answer, [answer])
    fine = httpx.Response(429, headers={"Retry-After": "60"}, json=answer.json())
    template._check("rate_limited_answer", fine, [fine])


def test_the_written_file_is_the_template_with_only_its_data_docstring_and_name_replaced(tmp_path: Path) -> None:
    step = {
        "method": "GET",
        "path": "/menus",
        "query": [["brand_id", "663"], ["branch_id", "1062"]],
        "headers": {},
        "body": None,
        "body_base64": False,
        "credential": "KLIKIT_PARTNER_KEY:KLIKIT_SECRET_KEY",
        "authorization": None,
        "status": 429,
        "request_id": "req_1",
    }
    failure = repro.Selected(
        id="F3",
        behaviour="ratelimit.retry-after-seconds",
        title="429 with Retry-After '²'",
        test="contract/test_x.py::t",
        expected={"check": "rate_limited_answer"},
        steps=[step],
        documented="Retry-After: <integer seconds >= 1>",
    )
    written = repro.write_test(failure, tmp_path / "test_f3.py", reading="reference", run_id="kh-1").read_text()
    source = standalone.template_source()
    assert "klikit_harness" not in written and "def test_f3_ratelimit_retry_after_seconds(" in written
    code = written.split(standalone.DATA_END, 1)[1]
    assert (
        code.replace("def test_f3_ratelimit_retry_after_seconds(", standalone.TEST_NAME)
        == source.split(standalone.DATA_END, 1)[1]
    )
    namespace: dict[str, object] = {}
    exec(compile(written, "test_f3.py", "exec"), namespace)  # the written file is valid Python, its data literal
    assert namespace["STEPS"] == [step] and namespace["EXPECTED"] == failure.expected
    assert namespace["CATALOGUE"]["rate_limit_exceeded"] == 429  # type: ignore[index]
    assert namespace["SECRET_VARIABLES"] == ["KLIKIT_PARTNER_KEY", "KLIKIT_SECRET_KEY"]
    assert written.startswith('"""F3: 429 with Retry-After')
