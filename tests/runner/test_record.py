"""`klikit-harness run --record DIR`: one HAR cassette per run, every exchange of every transport,
no secret in any spelling, and a cassette that replays its own requests with nothing unmatched."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest

from klikit_harness.partner.redact import forms
from klikit_harness.runner.exits import EXIT_USAGE
from klikit_harness.standin import cassettes
from klikit_harness.standin.cassettes import load

from .conftest import harness, sandbox_server

#: auth tests (every credential of the env file: main, old secret, revoked, limited, second, foreign,
#: burst), idempotency and a populate: a few seconds over loopback HTTP
SUBSET = "auth or revoked or rotated or secret or limited or foreign or idempotency or collide"


def configured_secrets(env: dict[str, str]) -> list[str]:
    """Every configured secret in every spelling (raw, URL-encoded, JSON-escaped) and its Basic token."""
    pairs = [(env["KLIKIT_PARTNER_KEY"], env["KLIKIT_SECRET_KEY"])]
    if env.get("KLIKIT_OLD_SECRET"):
        pairs.append((env["KLIKIT_PARTNER_KEY"], env["KLIKIT_OLD_SECRET"]))
    for name, value in env.items():
        if name.endswith("_CREDENTIAL") and ":" in value:
            key, _, secret = value.partition(":")
            pairs.append((key, secret))
    assert len(pairs) >= 6, f"the sandbox env file lost credentials; the canary would prove little: {sorted(env)}"
    needles: set[str] = set()
    for key, secret in pairs:
        needles |= forms(secret)
        needles |= forms(base64.b64encode(f"{key}:{secret}".encode()).decode())
    return sorted(needles)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, str], str]:
    """A contract-suite run over HTTP against the stand-in, recorded: (cassette, report dir, env, console)."""
    work = tmp_path_factory.mktemp("record")
    with sandbox_server(work) as box:
        env = box.env()
        result = harness(
            "run",
            "--suite",
            "contract",
            "--env-file",
            box.env_file,
            "--report",
            work / "report",
            "--record",
            work / "cassettes",
            "--",
            "-k",
            SUBSET,
            cwd=work,
            timeout=200,
        )
    assert result.returncode in (0, 1), result.explain()
    cassettes = sorted((work / "cassettes").glob("run-*.har"))
    assert len(cassettes) == 1, f"expected one run-<run id>.har, found {cassettes}\n{result.explain()}"
    return cassettes[0], work / "report", env, result.console


def test_the_cassette_holds_every_request_of_the_run_with_its_test_and_behaviours(recorded):
    cassette_path, report, env, console = recorded
    meta = json.loads((report / "results.json").read_text())["meta"]
    cassette = load(cassette_path)
    assert cassette.run_id == meta["run_id"] and cassette_path.name == f"run-{meta['run_id']}.har"
    assert cassette.base_url == env["KLIKIT_BASE_URL"]
    # every request the guard counted is in it (the fixture's own requests included)
    assert len(cassette) == meta["requests"] > 20
    tagged = [e for e in cassette if e.nodeid and e.nodeid.startswith("contract/")]
    assert len(tagged) >= len(cassette) - 2, "entries without the test that sent them"
    assert all(e.behaviours for e in tagged), [e.nodeid for e in tagged if not e.behaviours][:3]
    assert any("auth" in b for e in tagged for b in e.behaviours)
    assert f"cassette: {cassette_path}" in console or cassette_path.name in console


def test_canary_no_configured_secret_in_any_spelling_in_the_cassette(recorded):
    cassette_path, _, env, console = recorded
    text = cassette_path.read_text(encoding="utf-8")
    needles = configured_secrets(env)
    found = [n[:6] + "…" for n in needles if n in text]
    assert not found, f"secrets (or their Basic tokens / encoded forms) in {cassette_path}: {found}"
    assert not [n for n in needles if n in console]
    # every Authorization header was kept, scrubbed
    cassette = load(cassette_path)
    values = {v for e in cassette for k, v in e.request_headers if k.lower() == "authorization"}
    assert values and all(v.endswith("[scrubbed]") for v in values), values


def test_the_recorded_run_replays_against_the_simulator_with_nothing_unmatched(recorded):
    cassette_path, _, _, _ = recorded
    cassette = load(cassette_path)
    replay = cassettes.replay(cassette_path)
    statuses = []
    with replay, httpx.Client(transport=replay.transport(), base_url=cassette.base_url) as client:
        for entry in cassette:
            headers = [(k, v) for k, v in entry.request_headers if k.lower() not in {"content-length", "host"}]
            answer = client.request(entry.method, entry.url, headers=headers, content=entry.request_body or None)
            statuses.append((answer.status_code, entry.status))
    replay.assert_all_matched()
    assert replay.unmatched == []
    assert [got for got, _ in statuses] == [want for _, want in statuses]


def test_record_with_no_run_writes_nothing(tmp_path):
    """--record is an option of run only: an unknown target aborts before any cassette is opened."""
    result = harness("run", "--target", "ftp://nowhere", "--record", tmp_path / "c", cwd=tmp_path)
    assert result.returncode == EXIT_USAGE, result.explain()
    assert not (tmp_path / "c").exists()
