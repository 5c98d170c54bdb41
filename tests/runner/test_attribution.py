"""Failure attribution, distinct failures and the target profile, through real pytest runs.

Each test writes a small suite, runs it with the klikit plugin (in process,
through ``pytester``) against the embedded stand-in — with a seeded defect that
breaks one answer — or against the stand-in served over HTTP on 127.0.0.1 (a
"real" target: assumed behaviours are observed, not enforced), and reads the
results.json / report.md / console that run wrote.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from klikit_harness import contract
from klikit_harness.standin.sandbox import serve_in_thread

pytest_plugins = ["pytester"]

#: the defect drops request_id from error answers: one broken behaviour, envelope.request-id
DEFECT = "request-id-missing-on-errors"
BROKEN = "envelope.request-id"
#: the ids each test of the inner suite is tagged with (BROKEN is not the first on purpose)
TAGS = ("auth.missing", "envelope.error-shape", BROKEN, "envelope.json-body")

UNAUTHENTICATED_GETMENU = """
    with klikit_target.client(None) as api:
        response = api.call("getMenu")
    expect.envelope(api, response)
"""


def suite(*bodies: tuple[str, tuple[str, ...], str]) -> str:
    """A test module: (name, behaviour ids, body) per test."""
    out = [
        "import pytest",
        "from klikit_harness.checking import expect",
        "from klikit_harness.checking.failures import Violation",
        "",
    ]
    for name, ids, body in bodies:
        marks = ", ".join(repr(b) for b in ids)
        out += [
            f"@pytest.mark.behaviour({marks})",
            f"def {name}(klikit_target):",
            textwrap.indent(textwrap.dedent(body).strip(), "    "),
            "",
        ]
    return "\n".join(out) + "\n"


def run(pytester: pytest.Pytester, source: str, *args: str) -> tuple[Any, dict[str, Any], str]:
    pytester.makepyfile(test_inner=source)
    report = pytester.path / "report"
    result = pytester.runpytest("-p", "no:cacheprovider", "--klikit-report", str(report), *args)
    results = json.loads((report / "results.json").read_text())
    return result, results, (report / "report.md").read_text()


def failing_behaviours(results: dict[str, Any]) -> list[str]:
    return [b["id"] for b in results["behaviours"] if b["result"] == "fail"]


@pytest.mark.loopback
def test_one_broken_answer_fails_exactly_one_behaviour(pytester: pytest.Pytester) -> None:
    result, results, md = run(
        pytester, suite(("test_envelope_of_an_error", TAGS, UNAUTHENTICATED_GETMENU)), "--klikit-defect", DEFECT
    )
    assert result.ret == 1, result.stdout.str()
    assert failing_behaviours(results) == [BROKEN]
    [failure] = results["failures"]
    assert failure["behaviour"] == BROKEN and failure["count"] == 1 and not failure["unattributed"]
    assert failure["operation"] == "GET /menus"
    assert failure["kind"] == "Violation: the body has no non-empty string request_id"
    assert failure["received"].startswith("HTTP 401")
    assert "curl " in failure["reproduction"]
    # the other ids of the test are not proven by a failed test, and not failed either
    rows = {b["id"]: b for b in results["behaviours"]}
    assert all(rows[b]["result"] == "not run" for b in TAGS if b != BROKEN)
    [test] = results["tests"]
    assert test["outcome"] == "failed" and test["broken"] == [BROKEN] and not test["unattributed"]
    assert "# klikit-harness report — VIOLATIONS FOUND" in md
    assert "1 distinct failure." in md and f"### F1 · `{BROKEN}`" in md
    result.stdout.fnmatch_lines(
        ["1 distinct failure:", f"  F1 {BROKEN}: the body has no non-empty string request_id GET /menus ×1*"]
    )


@pytest.mark.loopback
def test_identical_failures_of_two_tests_are_one_distinct_failure(pytester: pytest.Pytester) -> None:
    source = suite(
        ("test_first", TAGS, UNAUTHENTICATED_GETMENU),
        ("test_second", (BROKEN, "auth.missing"), UNAUTHENTICATED_GETMENU),
    )
    result, results, md = run(pytester, source, "--klikit-defect", DEFECT)
    assert result.ret == 1
    assert failing_behaviours(results) == [BROKEN]
    [failure] = results["failures"]
    assert failure["count"] == 2
    assert [t.rsplit("::", 1)[1] for t in failure["tests"]] == ["test_first", "test_second"]
    # the evidence of the first occurrence is shown once
    assert md.count("- received: HTTP 401") == 1
    assert "- 2 occurrences in:" in md
    result.stdout.fnmatch_lines(["1 distinct failure:", f"  F1 {BROKEN}: * ×2*"])


@pytest.mark.loopback
def test_a_failure_without_a_violation_counts_against_the_first_id_only_and_is_flagged(
    pytester: pytest.Pytester,
) -> None:
    body = """
        with klikit_target.client() as api:
            response = api.call("getMenu", params={"storeId": 1062})
        assert response.status_code == 599, "a plain assert"
    """
    result, results, md = run(pytester, suite(("test_plain_assert", TAGS, body)))
    assert result.ret == 1
    assert failing_behaviours(results) == [TAGS[0]]
    [failure] = results["failures"]
    assert failure["behaviour"] == TAGS[0] and failure["unattributed"] is True
    assert failure["kind"].startswith("AssertionError: a plain assert")
    assert failure["operation"] == "GET /menus" and failure["request_id"].startswith("req_")
    [test] = results["tests"]
    assert test["unattributed"] is True and test["broken"] == [TAGS[0]]
    row = next(b for b in results["behaviours"] if b["id"] == TAGS[0])
    assert row["unattributed"] is True
    assert f"| `{TAGS[0]}` | " in md and "fail — unattributed — F1" in md
    assert "**unattributed**" in md
    assert f"FAIL     {TAGS[0]} — " in result.stdout.str() and "[unattributed]" in result.stdout.str()


def test_a_setup_error_is_an_error_not_a_behaviour_failure(pytester: pytest.Pytester) -> None:
    source = textwrap.dedent(
        f"""
        import httpx
        import pytest

        @pytest.fixture
        def unreachable():
            raise httpx.ConnectError("connection refused")

        @pytest.mark.behaviour({TAGS[0]!r}, {TAGS[1]!r})
        def test_needs_it(unreachable):
            pass
        """
    )
    result, results, md = run(pytester, source)
    assert result.ret == 1
    assert failing_behaviours(results) == [] and results["failures"] == []
    [test] = results["tests"]
    assert test["outcome"] == "error" and test["broken"] == []
    rows = {b["id"]: b for b in results["behaviours"]}
    assert rows[TAGS[0]]["result"] == "error" and "ConnectError" in rows[TAGS[0]]["reason"]
    assert results["verdict"] == "INCOMPLETE (1 test error)"
    assert "# klikit-harness report — INCOMPLETE (1 test error)" in md


# ------------------------------------------------------------------ a real target: observations

ASSUMED = sorted(b for b, beh in contract.behaviours().items() if beh.status == "assumed")
CONTESTED = sorted(b for b, beh in contract.behaviours().items() if beh.status == "contested")
INCIDENTAL = sorted(b for b, beh in contract.behaviours().items() if beh.status == "incidental")


@pytest.fixture
def http_target(tmp_path: Path) -> Iterator[list[str]]:
    """The stand-in served on 127.0.0.1 as a remote target: the options pointing a run at it."""
    with serve_in_thread() as sandbox:
        env_file = tmp_path / "target.env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in sandbox.env().items()))
        yield ["--klikit-target", sandbox.base_url, "--klikit-env-file", str(env_file)]


@pytest.mark.loopback
def test_an_observed_only_run_exits_0_and_reports_what_the_target_chose(
    pytester: pytest.Pytester, http_target: list[str]
) -> None:
    turned, settled, passing, untouched = ASSUMED[0], ASSUMED[1], ASSUMED[2], ASSUMED[3]
    source = suite(
        (
            "test_turned_observed",
            (turned,),
            f"""
            with klikit_target.client() as api:
                response = api.call("getMenu", params={{"storeId": 1062}})
            raise Violation("answer departs", behaviour={turned!r}, received="HTTP 418 teapot",
                            documented="HTTP 200", request_id=response.json().get("request_id"),
                            reproduction=api.last.curl())
            """,
        ),
        (
            "test_settles_and_goes_on",
            (settled, passing),
            f"""
            klikit_target.settle(Violation("chose otherwise", behaviour={settled!r}, received="HTTP 404 nope",
                                           documented="HTTP 400"))
            """,
        ),
    )
    result, results, md = run(pytester, source, *http_target)
    assert result.ret == 0, result.stdout.str()
    assert results["verdict"] == "CONTRACT HOLDS (2 observations)"
    assert results["failures"] == [] and failing_behaviours(results) == []
    observed = {o["behaviour"]: o for o in results["observations"]}
    assert set(observed) == {turned, settled}
    assert observed[settled]["tests"] == [next(t["nodeid"] for t in results["tests"] if "settles" in t["nodeid"])]
    rows = {b["id"]: b for b in results["behaviours"]}
    assert rows[turned]["result"] == rows[settled]["result"] == "observed"
    assert rows[passing]["result"] == "pass"

    readings = results["readings"]
    assert readings[turned]["status"] == "assumed" and readings[turned]["reading"] == "HTTP 418 teapot"
    assert readings[turned]["evidence"]["request_id"].startswith("req_")
    assert readings[settled] == {
        "status": "assumed",
        "result": "observed",
        "reading": "HTTP 404 nope",
        "evidence": readings[settled]["evidence"],
    }
    assert readings[passing] == {"status": "assumed", "result": "pass", "reading": "reference"}
    assert readings[untouched]["reading"] == "not observed"
    assert set(readings) == set(ASSUMED) | set(CONTESTED) | set(INCIDENTAL)
    assert all(readings[c]["reading"] == "not observed" for c in CONTESTED)

    assert "# klikit-harness report — CONTRACT HOLDS (2 observations)" in md
    profile = md.split("\n## Target profile\n", 1)[1]
    assert f"| `{settled}` | assumed | observed | HTTP 404 nope |" in profile
    assert f"| `{passing}` | assumed | pass | reference |" in profile
    result.stdout.fnmatch_lines(["2 distinct observations:", "verdict: CONTRACT HOLDS (2 observations)"])
