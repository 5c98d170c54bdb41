"""``klikit-harness mutants --as-remote``: each defect on its own sandbox process, judged with staging's means only."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
import pytest

from klikit_harness import suites
from klikit_harness.runner import mutants as mutation
from klikit_harness.runner.exits import EXIT_OK, EXIT_USAGE

from .conftest import ROOT, harness, leaks, seeded_secrets

SANDBOX_ENV = {
    "KLIKIT_BASE_URL": "http://127.0.0.1:9/v1/partner",
    "KLIKIT_PARTNER_KEY": "pk_main",
    "KLIKIT_SECRET_KEY": "sk_main",
    "KLIKIT_STORES": "663:1062",
    "KLIKIT_FRESH_STORES": "663:2001,663:2002,663:2003,663:2004",
    "KLIKIT_BURST_CREDENTIAL": "pk_burst:sk_burst",
    "KLIKIT_FOREIGN_STORE": "900:3001",
    "KLIKIT_ALLOW_BURST": "0",
    "KLIKIT_MAX_RPS": "0",
    "KLIKIT_SOMETHING_ELSE": "not a staging variable",
}


def test_staging_gets_two_fresh_stores_a_cap_and_the_burst_permission() -> None:
    env = mutation.staging_env(SANDBOX_ENV, max_rps=20)
    assert env["KLIKIT_FRESH_STORES"] == "663:2001,663:2002"
    assert env["KLIKIT_MAX_RPS"] == "20" and env["KLIKIT_ALLOW_BURST"] == "1"
    assert env["KLIKIT_BURST_CREDENTIAL"] == "pk_burst:sk_burst"
    assert "KLIKIT_SOMETHING_ELSE" not in env
    assert set(env) <= {*mutation.STAGING_VARIABLES, "KLIKIT_MAX_RPS", "KLIKIT_ALLOW_BURST"}
    assert mutation.staging_env(SANDBOX_ENV, max_rps=2.5)["KLIKIT_MAX_RPS"] == "2.5"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        pytest.param({"KLIKIT_FRESH_STORES": "663:2001"}, "fresh store", id="one-fresh-store"),
        pytest.param({"KLIKIT_BURST_CREDENTIAL": None}, "burst credential", id="no-burst-credential"),
    ],
)
def test_a_sandbox_that_cannot_pass_for_staging_says_what_to_add(change: dict[str, str | None], named: str) -> None:
    env = {k: v for k, v in {**SANDBOX_ENV, **change}.items() if v is not None}
    with pytest.raises(mutation.SandboxError, match=named):
        mutation.staging_env(env, max_rps=20)


def _outcome(mode: str, killed: bool, results: dict[str, tuple[str, str, list[str]]]) -> mutation.Outcome:
    outcome = mutation.Outcome("some-defect", "family", "what it does", int(killed), killed, 1.0, mode=mode)
    for nodeid, (state, message, broken) in results.items():
        suite = suites.name_of(nodeid)
        outcome.results[nodeid] = mutation.TestResult(nodeid, suite, state, broken, message)
        if state == "failed":
            outcome.tests.append(nodeid)
    return outcome


CONTRACT_TEST = "contract/test_rules.py::test_first_push"
CHAOS_TEST = "chaos/test_idempotency.py::test_in_flight"


def test_a_survivor_whose_killer_was_skipped_is_out_of_reach_and_names_the_variable() -> None:
    embedded = _outcome("embedded", True, {CONTRACT_TEST: ("failed", "", ["populate.attaches-fresh-stores"])})
    skip = "no KLIKIT_FRESH_STORES left: first-time-push checks need never-populated stores; list more"
    remote = _outcome("remote", False, {CONTRACT_TEST: ("skipped", skip, ["populate.attaches-fresh-stores"])})
    reason, out_of_reach = mutation.explain(remote, embedded)
    assert out_of_reach and "KLIKIT_FRESH_STORES" in reason and "contract/test_rules.py" in reason


def test_a_survivor_killed_only_by_a_chaos_test_is_out_of_reach() -> None:
    embedded = _outcome("embedded", True, {CHAOS_TEST: ("failed", "", ["idempotency.in-flight-conflict"])})
    reason, out_of_reach = mutation.explain(_outcome("remote", False, {}), embedded)
    assert out_of_reach and "simulator" in reason


def test_a_survivor_whose_killer_passed_over_http_is_not_explained() -> None:
    embedded = _outcome("embedded", True, {CONTRACT_TEST: ("failed", "", ["populate.attaches-fresh-stores"])})
    remote = _outcome("remote", False, {CONTRACT_TEST: ("passed", "", ["populate.attaches-fresh-stores"])})
    reason, out_of_reach = mutation.explain(remote, embedded)
    assert not out_of_reach and "passed" in reason
    clean = _outcome("remote", False, {})
    clean.exit_code = 0
    remote.reason, remote.out_of_reach = reason, out_of_reach
    assert not mutation.holds(clean, [remote]), "an unexplained survivor fails the proof"
    remote.out_of_reach = True
    assert mutation.holds(clean, [remote])


def test_a_survivor_of_both_runs_is_not_explained() -> None:
    embedded = _outcome("embedded", False, {CONTRACT_TEST: ("passed", "", [])})
    assert mutation.explain(_outcome("remote", False, {}), embedded) == ("not killed embedded either", False)


@pytest.mark.loopback
def test_each_defect_is_served_by_its_own_process_on_loopback_and_stopped_after(tmp_path: Path) -> None:
    with mutation.served(ROOT, tmp_path, "probe", "revoked-accepted") as env:
        url = env["KLIKIT_BASE_URL"]
        assert url.startswith("http://127.0.0.1:")
        revoked_key, revoked_secret = env["KLIKIT_REVOKED_CREDENTIAL"].split(":", 1)
        answer = httpx.get(f"{url}/menus", auth=(revoked_key, revoked_secret), trust_env=False, timeout=10)
        assert answer.status_code == 200, "the defect is switched on in the served stand-in"
    port = int(url.split(":")[2].split("/")[0])
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "the sandbox process is stopped afterwards"


def test_chaos_cannot_run_as_remote(tmp_path: Path) -> None:
    result = harness("mutants", "--as-remote", "--suite", "chaos", cwd=tmp_path, timeout=30)
    assert result.returncode == EXIT_USAGE, result.explain()
    assert "chaos" in result.stderr and "simulator" in result.stderr


def test_max_rps_needs_a_remote_run(tmp_path: Path) -> None:
    result = harness("mutants", "--max-rps", "5", cwd=tmp_path, timeout=30)
    assert result.returncode == EXIT_USAGE and "--as-remote" in result.stderr, result.explain()


@pytest.mark.loopback
def test_as_remote_kills_over_http_and_explains_what_it_cannot_reach(tmp_path: Path) -> None:
    """A defect the contract suite sees over HTTP is killed; one only the chaos suite kills is out of reach."""
    out = tmp_path / "remote.json"
    args = ["mutants", "--as-remote", "--suite", "contract", "--max-rps", "100", "--json", out]
    args += ["--defect", "revoked-accepted", "--defect", "in-flight-executes-twice"]
    result = harness(*args, cwd=tmp_path, timeout=400)
    assert result.returncode == EXIT_OK, result.explain()
    doc = json.loads(out.read_text())
    assert doc["meta"]["mode"] == "remote" and doc["meta"]["remote"]["fresh_stores"] == 2
    assert doc["clean"]["exit_code"] == 0 and doc["clean"]["mode"] == "remote" and doc["clean"]["requests"] > 50
    defects = {d["name"]: d for d in doc["defects"]}
    assert defects["revoked-accepted"]["killed"] and "auth.revoked" in defects["revoked-accepted"]["behaviours"]
    flight = defects["in-flight-executes-twice"]
    assert not flight["killed"] and flight["out_of_reach"] and "chaos" in flight["reason"], flight
    assert doc["summary"]["out_of_reach"] == ["in-flight-executes-twice"] and doc["summary"]["holds"]
    assert "as remote" in result.stdout and "out of reach" in result.stdout
    assert not leaks(result.console + out.read_text(), seeded_secrets())
