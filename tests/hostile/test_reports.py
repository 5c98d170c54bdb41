"""Reports of a run against a hostile target stay sound: every artefact written, hostile content escaped,
every body excerpt within its bound (through real pytest runs of a small suite, in process)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.loopback

SUITE = """
import pytest
from klikit_harness.checking import expect

@pytest.mark.behaviour("envelope.json-body")
def test_get_menu(klikit_target):
    with klikit_target.client() as api:
        response = api.call("getMenu")
    expect.envelope(api, response)
"""
ARTEFACTS = ("report.html", "report.md", "results.json", "junit.xml", "target-profile.yaml")
#: the longest excerpt of a body a report line carries (``HttpExchange.received``'s 300 and its prefix)
EXCERPT_BOUND = 600


def _run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, url: str) -> tuple[Any, dict[str, Any], Path]:
    for name in ("KLIKIT_PARTNER_KEY", "KLIKIT_SECRET_KEY"):
        monkeypatch.setenv(name, f"{name.lower()}_hostile")
    monkeypatch.setenv("KLIKIT_MAX_BODY_BYTES", str(64 * 1024))
    monkeypatch.setenv("KLIKIT_MAX_RPS", "0")
    pytester.makepyfile(test_inner=SUITE)
    report = pytester.path / "report"
    result = pytester.runpytest(
        "-p",
        "no:cacheprovider",
        "-p",
        "no:rerunfailures",
        "--klikit-target",
        url,
        "--klikit-report",
        str(report),
        "--junitxml",
        str(report / "junit.xml"),
    )
    return result, json.loads((report / "results.json").read_text()), report


@pytest.mark.parametrize("behaviour", ["script-html", "endless", "redirect-302-production"])
def test_a_hostile_answer_is_one_named_failure_in_sound_reports(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, hostile_server: Any, behaviour: str
) -> None:
    result, results, report = _run(pytester, monkeypatch, hostile_server.url(behaviour))
    assert result.ret == 1, result.stdout.str()
    for name in ARTEFACTS:
        assert (report / name).is_file(), name
    [failure] = results["failures"]
    assert failure["behaviour"] == "envelope.json-body" and not failure["unattributed"]
    assert len(failure["received"]) <= EXCERPT_BOUND
    html = (report / "report.html").read_text()
    assert "<script>alert" not in html
    if behaviour == "script-html":
        assert "&lt;script&gt;alert(" in html
    for name in ARTEFACTS:
        assert (report / name).stat().st_size < 200_000, name  # no body copied whole into any artefact
