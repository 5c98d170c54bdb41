"""The staging twin: a run writes target-profile.yaml; ``sandbox --like`` serves a stand-in that behaves the same.

The proof: the stand-in is served over HTTP on 127.0.0.1 with a set of
variants (a "staging" whose readings differ from the reference semantics),
the contract suite runs against it, and its target-profile.yaml must name
exactly those variants. Then ``sandbox --like`` that profile is served, the
suite runs again, and every behaviour's reading must be the same.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from klikit_harness import contract
from klikit_harness.checking.failures import normalise
from klikit_harness.core.variants import REGISTRY, Variant
from klikit_harness.runner.exits import EXIT_OK, EXIT_USAGE
from klikit_harness.standin import twin
from klikit_harness.standin.simulator import Simulator

from .conftest import RUN_TIMEOUT, Background, Result, harness, leaks, sandbox_server, seeded_secrets

#: variant sets the contract suite (profile smoke) tells apart: each variant changes a behaviour the suite exercises
VARIANT_SETS = {
    "payloads-and-routing": ("success-data-empty", "no-405"),
    "query-auth-idempotency": ("unknown-query-400", "no-replayed-header", "empty-key-invalid"),
    "fields-auth-publish": ("create-nothing-required", "revoked-before-secret", "publish-empty-counts-success"),
}


@dataclass
class TwinRuns:
    """For each variant set: the run against the variant stand-in and the run against its twin."""

    directory: Path
    results: dict[str, tuple[Result, Result]]

    def report(self, name: str, phase: str) -> Path:
        return self.directory / name / phase / "report"


def _run_against(sandbox_url: str, env_file: Path, report: Path, directory: Path, name: str) -> Background:
    return Background(
        [
            "run",
            "--suite",
            "contract",
            "--profile",
            "smoke",
            "--target",
            sandbox_url,
            "--env-file",
            env_file,
            "--report",
            report,
        ],
        directory,
        name,
    )


def _all_at_once(directory: Path, servers: dict[str, list[str]], phase: str) -> dict[str, Result]:
    """Serve one stand-in per entry and run the contract suite against each, all at the same time."""
    with contextlib.ExitStack() as stack:
        running = {}
        for name, options in servers.items():
            where = directory / name / phase
            sandbox = stack.enter_context(sandbox_server(where, *options))
            running[name] = _run_against(sandbox.base_url, sandbox.env_file, where / "report", where, "run")
            stack.callback(running[name].stop)
        return {name: process.result(RUN_TIMEOUT) for name, process in running.items()}


@pytest.fixture(scope="module")
def twin_runs(tmp_path_factory: pytest.TempPathFactory) -> TwinRuns:
    directory = tmp_path_factory.mktemp("twin")
    first = _all_at_once(
        directory, {name: [a for v in names for a in ("--variant", v)] for name, names in VARIANT_SETS.items()}, "seen"
    )
    profiles = {name: directory / name / "seen" / "report" / twin.PROFILE_FILE for name in VARIANT_SETS}
    missing = [str(p) for p in profiles.values() if not p.is_file()]
    assert not missing, f"no target profile written: {missing}\n" + "\n".join(r.explain() for r in first.values())
    second = _all_at_once(directory, {name: ["--like", str(profiles[name])] for name in VARIANT_SETS}, "twin")
    return TwinRuns(directory, {name: (first[name], second[name]) for name in VARIANT_SETS})


def readings_of(report: Path) -> dict[str, tuple[str, str]]:
    """behaviour id -> (reading, evidence with ids and numbers normalised away) of a target profile."""
    profile = twin.load(report / twin.PROFILE_FILE)
    return {bid: (r.reading, normalise(r.evidence or "")) for bid, r in profile.readings.items()}


@pytest.mark.slow
@pytest.mark.loopback
@pytest.mark.parametrize("name", sorted(VARIANT_SETS))
def test_the_twin_of_a_variant_target_reads_the_same(twin_runs: TwinRuns, name: str) -> None:
    seen, again = twin_runs.results[name]
    # observations only: a variant honours every documented and contested rule
    assert seen.returncode == EXIT_OK, seen.explain()
    assert again.returncode == EXIT_OK, again.explain()

    profile = twin.load(twin_runs.report(name, "seen"))
    assert profile.variants == sorted(VARIANT_SETS[name])
    assert profile.unexplained == [] and profile.violations == []
    assert profile.contract == "reference"
    assert profile.run["target"].startswith("http://127.0.0.1:") and profile.run["profile"] == "smoke"
    assert profile.run["harness_version"] and profile.run["run_id"].startswith("kh-")
    for variant in VARIANT_SETS[name]:
        departed = [b for b in REGISTRY[variant].changes if profile.readings[b].reading == twin.DEPARTS]
        assert departed, f"{variant}: none of its behaviours was seen departing"
        for bid in departed:
            assert profile.readings[bid].evidence and profile.readings[bid].request_id.startswith("req_")
    # every behaviour profiled: contested, assumed and incidental
    profiled = {b for b, beh in contract.behaviours().items() if beh.status in twin.SECTIONS}
    assert set(profile.readings) == profiled

    first, second = readings_of(twin_runs.report(name, "seen")), readings_of(twin_runs.report(name, "twin"))
    differing = {b: (first[b], second.get(b)) for b in first if first[b] != second.get(b)}
    assert not differing, differing
    assert twin.load(twin_runs.report(name, "twin")).variants == profile.variants

    text = (twin_runs.report(name, "seen") / twin.PROFILE_FILE).read_text()
    assert not leaks(text, seeded_secrets())


@pytest.mark.slow
@pytest.mark.loopback
def test_the_twin_is_announced(twin_runs: TwinRuns) -> None:
    name = "payloads-and-routing"
    printed = (twin_runs.directory / name / "twin" / "sandbox.stdout").read_text()
    assert "# variants switched on: no-405, success-data-empty" in printed
    assert "# behaving like http://127.0.0.1:" in printed


# ------------------------------------------------------------------ choosing the variants


def _readings(**by_id: str) -> dict[str, twin.BehaviourReading]:
    status = {b: beh.status for b, beh in contract.behaviours().items()}
    return {bid.replace("_", "."): twin.BehaviourReading(status[bid.replace("_", ".")], r) for bid, r in by_id.items()}


def test_a_variant_qualifies_only_when_none_of_its_behaviours_follows_the_reference() -> None:
    registry = {
        "a": Variant("a", "", ("routing.method-not-allowed-405",)),
        "b": Variant("b", "", ("input.strict-integers", "input.unknown-fields")),
    }
    readings = {
        "routing.method-not-allowed-405": twin.BehaviourReading("assumed", twin.DEPARTS, "404"),
        "input.strict-integers": twin.BehaviourReading("assumed", twin.DEPARTS, "200"),
        "input.unknown-fields": twin.BehaviourReading("incidental", twin.REFERENCE),
    }
    assert twin.choose_variants(readings, registry) == (["a"], [], ["input.strict-integers"])
    readings["input.unknown-fields"] = twin.BehaviourReading("incidental", twin.NOT_OBSERVED)
    assert twin.choose_variants(readings, registry) == (["a", "b"], [], [])


def test_overlapping_variants_keep_the_one_explaining_most_and_name_the_alternative() -> None:
    registry = {
        "narrow": Variant("narrow", "", ("populate.times-optional",)),
        "broad": Variant("broad", "", ("input.null-means-absent", "populate.times-optional")),
    }
    only_times = {
        "populate.times-optional": twin.BehaviourReading("assumed", twin.DEPARTS, "400"),
        "input.null-means-absent": twin.BehaviourReading("assumed", twin.NOT_OBSERVED),
    }
    # both qualify; the one changing no unobserved behaviour is kept
    assert twin.choose_variants(only_times, registry) == (["narrow"], ["broad"], [])
    both = {**only_times, "input.null-means-absent": twin.BehaviourReading("assumed", twin.DEPARTS, "400")}
    assert twin.choose_variants(both, registry) == (["broad"], ["narrow"], [])


def test_a_contested_behaviour_following_neither_reading_is_unexplained() -> None:
    readings = {
        "auth.revoked": twin.BehaviourReading("contested", twin.DEPARTS, "HTTP 500"),
        "codes.vocabulary": twin.BehaviourReading("contested", "reference"),
    }
    assert twin.choose_variants(readings) == ([], [], ["auth.revoked"])


# ------------------------------------------------------------------ reading a profile back


def profile_text(**changes: object) -> str:
    data: dict[str, object] = {
        "format": 1,
        "run": {"run_id": "kh-1", "target": "https://staging.example/v1/partner"},
        "contract": {"reading": "reference", "behaviours": {"auth.revoked": "reference"}},
        "assumed": {
            "routing.method-not-allowed-405": {"reading": "departs", "evidence": "HTTP 404", "request_id": "req_1"}
        },
        "incidental": {"input.unknown-fields": "not observed"},
        "variants": ["no-405"],
        "unexplained": [],
    }
    data.update(changes)
    return yaml.safe_dump(data)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        pytest.param("variants: [no-405\n", "not valid YAML", id="not-yaml"),
        pytest.param("- no-405\n", "not a target profile", id="a-list"),
        pytest.param(profile_text(format=7), "format 7", id="another-format"),
        pytest.param(profile_text(variants=["no-such-variant"]), "no-such-variant", id="unknown-variant"),
        pytest.param(profile_text(variants="no-405"), "'variants' must be a list", id="variants-not-a-list"),
        pytest.param(profile_text(assumed={"no.such.behaviour": "reference"}), "no.such.behaviour", id="unknown-id"),
        pytest.param(profile_text(assumed={"auth.revoked": "reference"}), "auth.revoked is contested", id="misfiled"),
        pytest.param(profile_text(incidental={"input.unknown-fields": "maybe"}), "'maybe'", id="bad-reading"),
        pytest.param(
            profile_text(
                contract={
                    "reading": "mixed",
                    "behaviours": {"auth.revoked": "concepts", "codes.vocabulary": "reference"},
                }
            ),
            "mixed contract",
            id="mixed-contract",
        ),
    ],
)
def test_a_bad_profile_is_one_error_line_naming_what_is_wrong(tmp_path: Path, text: str, named: str) -> None:
    path = tmp_path / "target-profile.yaml"
    path.write_text(text)
    result = harness("sandbox", "--port", "0", "--like", path, cwd=tmp_path, timeout=30)
    assert result.returncode == EXIT_USAGE, result.explain()
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("klikit-harness: error: --like: ") and named in line and str(path) in line, line
    assert "KLIKIT_BASE_URL" not in result.stdout


def test_a_missing_profile_says_where_one_comes_from(tmp_path: Path) -> None:
    result = harness("sandbox", "--port", "0", "--like", tmp_path / "nowhere.yaml", cwd=tmp_path, timeout=30)
    assert result.returncode == EXIT_USAGE, result.explain()
    assert "does not exist" in result.stderr and "--klikit-report" in result.stderr


def test_a_mixed_profile_is_served_with_the_reading_chosen(tmp_path: Path) -> None:
    path = tmp_path / "target-profile.yaml"
    path.write_text(
        profile_text(
            contract={"reading": "mixed", "behaviours": {"auth.revoked": "concepts", "codes.vocabulary": "reference"}}
        )
    )
    profile = twin.load(path)
    assert profile.contract == "mixed"
    assert twin.standin_options(profile, reading="concepts") == ("concepts", ("no-405",))


@pytest.mark.loopback
def test_like_combines_with_variant(tmp_path: Path) -> None:
    path = tmp_path / "target-profile.yaml"
    path.write_text(profile_text())
    with sandbox_server(tmp_path, "--like", str(path), "--variant", "retry-after-60") as sandbox:
        answer = httpx.delete(f"{sandbox.base_url}/menus", timeout=5, trust_env=False)
        printed = sandbox.process.output()
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "resource_not_found"
    assert "# variants switched on: no-405, retry-after-60" in printed
    assert "contract reference" in printed


def test_the_simulator_like_a_profile(tmp_path: Path) -> None:
    path = tmp_path / "target-profile.yaml"
    path.write_text(profile_text(contract={"reading": "concepts", "behaviours": {"auth.revoked": "concepts"}}))
    sim = Simulator.like(tmp_path, variants=["retry-after-60"])  # a report directory holding the profile
    assert sim.service.reading == "concepts"
    assert sorted(sim.service.variants) == ["no-405", "retry-after-60"]
    with sim:
        answer = httpx.delete(f"{sim.base_url}/menus")
    assert answer.status_code == 404
    path.write_text(profile_text(variants=["nope"]))
    with pytest.raises(twin.ProfileError, match="unknown variant"):
        Simulator.like(path)
