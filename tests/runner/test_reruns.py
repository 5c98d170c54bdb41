"""Transient trouble on a real target: a check that fails of it runs once more before it is reported.

A tiny suite runs (through ``pytester``) against the stand-in served over HTTP
on 127.0.0.1 — a real target to the plugin. Its tests raise ``httpx.ReadTimeout``
on their first attempt (a file marks the attempt), then pass or time out again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from klikit_harness.checking import profiles
from klikit_harness.standin.sandbox import serve_in_thread

pytest_plugins = ["pytester"]

SUITE = '''
import httpx, pytest
from pathlib import Path
from klikit_harness.checking import expect
from klikit_harness.checking.failures import Violation

def once(name):
    """True on the first attempt of the test called ``name``."""
    mark = Path(__file__).with_name(name + ".attempted")
    first = not mark.exists()
    mark.write_text("1")
    return first

@pytest.mark.behaviour("getmenu.business-mode")
def test_times_out_once(klikit_target):
    with klikit_target.client() as api:
        expect.ok(api, api.call("getMenu"), "getmenu.business-mode")
    if once("once"):
        raise httpx.ReadTimeout("timed out")

@pytest.mark.behaviour("getmenu.business-mode")
def test_times_out_twice(klikit_target):
    once("twice")
    raise httpx.ReadTimeout("timed out")

@pytest.mark.behaviour("envelope.request-id")
def test_violation_is_not_rerun(klikit_target):
    raise Violation("broken", behaviour="envelope.request-id")
'''


@pytest.fixture
def remote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    monkeypatch.setitem(profiles.RERUN_DELAY_S, "smoke", 0.1)
    with serve_in_thread() as sandbox:
        env_file = tmp_path / "target.env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in sandbox.env().items()))
        yield ["--klikit-target", sandbox.base_url, "--klikit-env-file", str(env_file), "--klikit-profile", "smoke"]


def run(pytester: pytest.Pytester, args: list[str], *names: str) -> tuple[Any, dict[str, Any]]:
    pytester.makepyfile(test_inner=SUITE)
    report = pytester.path / "report"
    selected = ["-k", " or ".join(names)] if names else []
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--klikit-report", str(report), *args, *selected)
    return result, json.loads((report / "results.json").read_text())


def by_name(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["nodeid"].split("::")[-1]: t for t in results["tests"]}


@pytest.mark.loopback
def test_a_timeout_that_passes_on_rerun_is_intermittent(pytester: pytest.Pytester, remote: list[str]) -> None:
    result, results = run(pytester, remote, "test_times_out_once")
    assert result.ret == 0, result.stdout.str()
    [test] = results["tests"]  # the first attempt's record is replaced by the rerun's
    assert test["outcome"] == "passed" and test["rerun"] == "intermittent"
    assert result.parseoutcomes() == {"passed": 1, "deselected": 2, "rerun": 1}
    result.stdout.fnmatch_lines(["*intermittent*test_times_out_once*"])


@pytest.mark.loopback
def test_an_intermittent_check_fails_the_run_only_when_strict(pytester: pytest.Pytester, remote: list[str]) -> None:
    result, results = run(pytester, [*remote, "--klikit-strict"], "test_times_out_once")
    assert result.ret == 1, result.stdout.str()
    assert by_name(results)["test_times_out_once"]["rerun"] == "intermittent"


@pytest.mark.loopback
def test_a_timeout_on_both_attempts_is_confirmed(pytester: pytest.Pytester, remote: list[str]) -> None:
    result, results = run(pytester, remote, "test_times_out_twice or test_violation_is_not_rerun")
    assert result.ret == 1, result.stdout.str()
    tests = by_name(results)
    assert tests["test_times_out_twice"]["rerun"] == "confirmed on rerun"
    assert tests["test_times_out_twice"]["outcome"] == "error"  # a transport error judges no behaviour
    # a Violation is the target's answer, never transient trouble: reported at once, not rerun
    assert tests["test_violation_is_not_rerun"]["rerun"] is None
    assert tests["test_violation_is_not_rerun"]["outcome"] == "failed"
    assert result.parseoutcomes() == {"failed": 2, "deselected": 1, "rerun": 1}


def test_the_embedded_stand_in_never_reruns(pytester: pytest.Pytester) -> None:
    result, results = run(pytester, ["--klikit-target", "sandbox"], "test_times_out_once")
    assert result.ret == 1, result.stdout.str()
    [test] = results["tests"]
    assert test["rerun"] is None
