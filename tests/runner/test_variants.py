"""``klikit-harness variants``: every legitimate variant passes non-strict and fails under --strict exactly
the ``assumed`` behaviours it changes.

The runner is tested with a registry and child runs injected; the real child
run is checked without variants (the stand-in must pass it both ways).
"""

from __future__ import annotations

import json
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from klikit_harness.runner import cli
from klikit_harness.runner import report as reporting
from klikit_harness.runner import variant_runs as mutation
from klikit_harness.runner.exits import EXIT_OK, EXIT_USAGE, EXIT_VIOLATIONS

from .conftest import ROOT

STATUS = {
    "a.assumed": "assumed",
    "b.assumed": "assumed",
    "c.incidental": "incidental",
    "d.documented": "documented",
}


@dataclass(frozen=True)
class FakeVariant:
    name: str
    description: str
    changes: tuple[str, ...]


REGISTRY = {
    "changes-assumed": FakeVariant("changes-assumed", "alters one assumed rule", ("a.assumed",)),
    "changes-incidental": FakeVariant("changes-incidental", "alters an incidental choice", ("c.incidental",)),
    "changes-both": FakeVariant("changes-both", "alters one of each", ("b.assumed", "c.incidental")),
}


class FakeSuites:
    """Answers like the suites would, given what each variant really breaks."""

    def __init__(self, breaks: dict[str, set[str]], lenient_fails: frozenset[str] = frozenset()) -> None:
        self.breaks = breaks
        self.lenient_fails = lenient_fails
        self.calls: list[tuple[tuple[str, ...], bool]] = []

    def __call__(self, variants: tuple[str, ...], strict: bool) -> mutation.SuiteResult:
        self.calls.append((variants, strict))
        broken: set[str] = set()
        for v in variants:
            broken |= self.breaks.get(v, set())
        departed: list[str] = []
        if strict:
            failed = sorted(b for b in broken if STATUS[b] in {"assumed", "documented"})
        else:
            failed = sorted(b for b in broken if STATUS[b] == "documented")
            departed = sorted(b for b in broken if STATUS[b] == "assumed")  # recorded as observed
            if set(variants) & self.lenient_fails:
                failed.append("d.documented")
        return mutation.SuiteResult(int(bool(failed)), failed, 0.1, departed=departed)


HONEST = {
    "changes-assumed": {"a.assumed"},
    "changes-incidental": {"c.incidental"},
    "changes-both": {"b.assumed", "c.incidental"},
}


def run(suites: FakeSuites, names: list[str] | None = None) -> dict[str, mutation.VariantOutcome]:
    outcomes = mutation.run_variants(REGISTRY, suites, names=names, status_of=STATUS.__getitem__, jobs=2)
    return {o.name: o for o in outcomes}


def test_every_variant_and_all_at_once_run_non_strict_and_strict() -> None:
    suites = FakeSuites(HONEST)
    outcomes = run(suites)
    assert list(outcomes) == ["changes-assumed", "changes-both", "changes-incidental", mutation.ALL_VARIANTS]
    assert all(o.holds for o in outcomes.values()), {n: o.public() for n, o in outcomes.items()}
    assert outcomes["changes-incidental"].expected == [] and outcomes["changes-incidental"].strict_exit == 0
    assert outcomes["changes-both"].expected == ["b.assumed"], "incidental changes never fail"
    together = outcomes[mutation.ALL_VARIANTS]
    assert together.expected == ["a.assumed", "b.assumed"]
    assert sorted(together.variants) == sorted(REGISTRY)
    assert len(suites.calls) == 2 * 4 and {strict for _, strict in suites.calls} == {False, True}


def test_a_strict_failure_outside_the_changes_breaks_the_variant() -> None:
    outcomes = run(FakeSuites({**HONEST, "changes-incidental": {"c.incidental", "a.assumed"}}))
    broken = outcomes["changes-incidental"]
    assert not broken.holds and broken.lenient_holds and broken.unexpected == ["a.assumed"]
    assert outcomes["changes-assumed"].holds


def test_an_assumed_change_the_strict_run_misses_breaks_the_variant() -> None:
    outcomes = run(FakeSuites({**HONEST, "changes-assumed": set()}), names=["changes-assumed"])
    assert list(outcomes) == ["changes-assumed"], "one variant named: no all-at-once run"
    assert outcomes["changes-assumed"].missing == ["a.assumed"] and not outcomes["changes-assumed"].holds


def test_a_non_strict_failure_breaks_the_variant() -> None:
    outcomes = run(FakeSuites(HONEST, lenient_fails=frozenset({"changes-both"})))
    assert not outcomes["changes-both"].lenient_holds and not outcomes["changes-both"].holds
    assert not outcomes[mutation.ALL_VARIANTS].holds


def test_a_variant_changing_no_assumed_behaviour_gets_its_strict_verdict_from_the_non_strict_run() -> None:
    suites = FakeSuites(HONEST)
    outcomes = {
        o.name: o
        for o in mutation.run_variants(REGISTRY, suites, status_of=STATUS.__getitem__, jobs=1, derive_strict=True)
    }
    assert all(o.holds for o in outcomes.values())
    assert outcomes["changes-incidental"].strict_run == "derived"
    assert ("changes-incidental",) not in {variants for variants, strict in suites.calls if strict}
    assert {n for n, o in outcomes.items() if o.strict_run == "run"} == {
        "changes-assumed",
        "changes-both",
        mutation.ALL_VARIANTS,
    }, "an assumed change still gets its strict run"


def test_a_derived_strict_verdict_still_catches_an_undeclared_assumed_departure() -> None:
    suites = FakeSuites({**HONEST, "changes-incidental": {"c.incidental", "a.assumed"}})
    outcomes = {
        o.name: o
        for o in mutation.run_variants(
            REGISTRY, suites, names=["changes-incidental"], status_of=STATUS.__getitem__, jobs=1, derive_strict=True
        )
    }
    broken = outcomes["changes-incidental"]
    assert broken.strict_run == "derived" and broken.lenient_holds
    assert not broken.holds and broken.unexpected == ["a.assumed"]


def test_the_strict_verdict_is_derived_only_where_the_strict_pass_is_the_contract_suite_alone() -> None:
    assert mutation.strict_derivable(("contract", "fuzz"), "smoke")
    assert not mutation.strict_derivable(("contract", "fuzz"), "release")
    assert not mutation.strict_derivable(("fuzz",), "smoke")


def test_an_unknown_variant_is_named() -> None:
    with pytest.raises(ValueError, match="no-such-variant"):
        run(FakeSuites(HONEST), names=["no-such-variant"])


def test_failed_behaviours_come_from_the_behaviour_rows_of_results_json(tmp_path: Path) -> None:
    from klikit_harness import contract
    from klikit_harness.runner import results

    ids = list(contract.behaviours())
    recorder = reporting.Recorder()
    broke = reporting.Fault(ids[0], "Violation: x", "x")
    seen = reporting.Fault(ids[2], "Violation: y", "y", observed=True)
    recorder.add(
        reporting.TestRecord("contract/test_x.py::a", "contract", "failed", ids[:2], broken=[ids[0]], faults=[broke])
    )
    recorder.add(
        reporting.TestRecord("contract/test_x.py::b", "contract", "observed", [ids[2]], broken=[ids[2]], faults=[seen])
    )
    recorder.add(reporting.TestRecord("contract/test_x.py::c", "contract", "passed", [ids[3]]))
    reporting.write(tmp_path, recorder, {"target": "embedded stand-in"}, recorder.summary())
    data = results.read(tmp_path)
    assert mutation.failed_behaviours(data) == [ids[0]], "a failure counts against the behaviour it breaks only"


@pytest.fixture
def fake_catalogue(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("klikit_harness.core.variants")
    module.REGISTRY = REGISTRY  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "klikit_harness.core.variants", module)


RUN_VARIANTS = mutation.run_variants


def _cli(monkeypatch: pytest.MonkeyPatch, suites: FakeSuites, *args: str) -> tuple[int, str]:
    monkeypatch.setattr(mutation, "pytest_variant_runner", lambda *_a, **_k: suites)
    original = RUN_VARIANTS  # not the wrapper an earlier call of this test installed

    def with_statuses(*a: object, **k: object) -> list[mutation.VariantOutcome]:
        return original(*a, status_of=STATUS.__getitem__, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(mutation, "run_variants", with_statuses)
    result = CliRunner().invoke(cli.main, ["variants", *args])
    return result.exit_code, result.output


def test_the_command_prints_the_matrix_and_exits_0_when_every_variant_holds(
    fake_catalogue: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    out = tmp_path / "variants.json"
    code, output = _cli(monkeypatch, FakeSuites(HONEST), "--json", str(out))
    assert code == EXIT_OK, output
    assert "[4/4]" in output and "variant matrix" in output and "4/4 hold" in output
    doc = json.loads(out.read_text())
    assert doc["summary"] == {"variants": 4, "hold": 4, "broken": []}
    assert {v["name"] for v in doc["variants"]} == {*REGISTRY, mutation.ALL_VARIANTS}


def test_the_command_exits_1_and_names_what_broke(fake_catalogue: None, monkeypatch: pytest.MonkeyPatch) -> None:
    code, output = _cli(monkeypatch, FakeSuites({**HONEST, "changes-incidental": {"c.incidental", "d.documented"}}))
    assert code == EXIT_VIOLATIONS, output
    assert "changes-incidental: BROKEN" in output and "d.documented" in output


def test_the_command_names_an_unknown_variant(fake_catalogue: None, monkeypatch: pytest.MonkeyPatch) -> None:
    code, output = _cli(monkeypatch, FakeSuites(HONEST), "--variant", "nope")
    assert code == EXIT_USAGE and "unknown variant(s) nope" in output and "changes-assumed" in output


def test_the_real_child_run_passes_the_reference_stand_in_both_ways(tmp_path: Path) -> None:
    """With no variant switched on, the stand-in passes non-strict and strict, and nothing is counted failed."""
    runner = mutation.pytest_variant_runner(ROOT, ("contract/test_rules.py",), "smoke", tmp_path)
    for strict in (False, True):
        result = runner((), strict)
        assert (result.exit_code, result.failed, result.error) == (0, [], ""), result


# ------------------------------------------------------------------ generated variants: sampled, seeded, reported


@dataclass(frozen=True)
class FakeGenerated:
    name: str
    description: str
    changes: tuple[str, ...]
    departure: object = "a departure"


GENERATED = {f"gen.{i:02d}": FakeGenerated(f"gen.{i:02d}", f"generated {i}", ("c.incidental",)) for i in range(10)}
WITH_GENERATED = {**REGISTRY, **GENERATED}


@dataclass(frozen=True)
class FakeTransport:
    name: str
    description: str
    changes: tuple[str, ...]
    sampled: bool = True


def test_transport_variants_join_the_sampled_pool_but_are_not_counted_generated() -> None:
    registry = {**WITH_GENERATED, "wire": FakeTransport("wire", "a transport variant", ("c.incidental",))}
    plan = mutation.plan_variants(registry, sample=0, seed=1)
    assert plan.generated == sorted(GENERATED) and plan.pool == sorted([*GENERATED, "wire"])
    assert "wire" not in plan.alone and "wire" in plan.together


def test_the_work_list_is_every_hand_written_variant_and_a_seeded_sample_of_the_generated() -> None:
    plan = mutation.plan_variants(WITH_GENERATED, sample=3, seed=7)
    assert plan.generated == sorted(GENERATED) and len(plan.sampled) == 3 and set(plan.sampled) <= set(GENERATED)
    assert plan.alone == sorted([*REGISTRY, *plan.sampled]), "a plain sorted list of names"
    assert plan.together == sorted(WITH_GENERATED), "all at once switches every variant on"
    assert mutation.plan_variants(WITH_GENERATED, sample=3, seed=7).sampled == plan.sampled, "seeded"
    others = {tuple(mutation.plan_variants(WITH_GENERATED, sample=3, seed=s).sampled) for s in range(20)}
    assert len(others) > 1, "another seed draws another sample"
    covered = set().union(*others)
    assert covered == set(GENERATED), "over enough runs every generated variant is drawn"


def test_all_generated_or_a_large_sample_runs_every_one_and_names_run_only_themselves() -> None:
    assert mutation.plan_variants(WITH_GENERATED, sample=0, seed=1, all_generated=True).sampled == sorted(GENERATED)
    assert mutation.plan_variants(WITH_GENERATED, sample=99, seed=1).alone == sorted(WITH_GENERATED)
    assert mutation.plan_variants(WITH_GENERATED, sample=0, seed=1).alone == sorted(REGISTRY)
    named = mutation.plan_variants(WITH_GENERATED, ["gen.03", "changes-assumed"], sample=0, seed=1)
    assert named.alone == named.together == ["changes-assumed", "gen.03"] and named.sampled == ["gen.03"]
    with pytest.raises(ValueError, match="unknown variant"):
        mutation.plan_variants(WITH_GENERATED, ["nope"])


def test_the_all_at_once_run_switches_on_every_variant_while_only_the_sample_runs_alone() -> None:
    plan = mutation.plan_variants(WITH_GENERATED, sample=2, seed=3)
    suites = FakeSuites(HONEST)
    outcomes = mutation.run_variants(
        WITH_GENERATED, suites, names=plan.alone, all_at_once=plan.together, status_of=STATUS.__getitem__, jobs=2
    )
    assert [o.name for o in outcomes] == [*plan.alone, mutation.ALL_VARIANTS]
    assert sorted(outcomes[-1].variants) == sorted(WITH_GENERATED) and all(o.holds for o in outcomes)
    alone = {v[0] for v, _ in suites.calls if len(v) == 1}
    assert alone == set(plan.alone)


@pytest.fixture
def fake_catalogue_with_generated(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("klikit_harness.core.variants")
    module.REGISTRY = WITH_GENERATED  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "klikit_harness.core.variants", module)


def test_the_command_reports_the_generated_count_the_sample_and_its_seed(
    fake_catalogue_with_generated: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    out = tmp_path / "variants.json"
    code, output = _cli(monkeypatch, FakeSuites(HONEST), "--sample", "2", "--seed", "11", "--json", str(out))
    assert code == EXIT_OK, output
    expected = mutation.plan_variants(WITH_GENERATED, sample=2, seed=11).sampled
    assert "10 generated; 2 of 10 generated/transport alone (sampled with seed 11)" in output
    assert f"sampled: {', '.join(expected)}" in output and "generated (sampled)" in output
    meta = json.loads(out.read_text())["meta"]
    assert (meta["generated"], meta["sampled"], meta["sample_seed"]) == (10, expected, 11)
    assert meta["together"] == len(WITH_GENERATED)
    assert f"[{len(REGISTRY) + 3}/{len(REGISTRY) + 3}]" in output


def test_the_nightly_profile_runs_every_generated_variant_alone(
    fake_catalogue_with_generated: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    suites = FakeSuites(HONEST)
    code, output = _cli(monkeypatch, suites, "--profile", "nightly", "--seed", "5")
    assert code == EXIT_OK, output
    assert {v[0] for v, _ in suites.calls if len(v) == 1} == set(WITH_GENERATED)
    assert "10 generated; 10 of 10 generated/transport alone" in output


def test_a_sharded_run_that_draws_a_sample_needs_a_seed_every_shard_shares(
    fake_catalogue_with_generated: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    suites = FakeSuites(HONEST)
    code, output = _cli(monkeypatch, suites, "--shard", "1/2")
    assert code == EXIT_USAGE and "--seed" in output and suites.calls == []
    names = []
    for k in (1, 2):
        out = tmp_path / f"v{k}.json"
        code, output = _cli(monkeypatch, FakeSuites(HONEST), "--shard", f"{k}/2", "--seed", "7", "--json", str(out))
        assert code == EXIT_OK, output
        meta = json.loads(out.read_text())["meta"]
        assert meta["sample_seed"] == 7 and meta["sampled"] == mutation.plan_variants(WITH_GENERATED, seed=7).sampled
        names += meta["shard"]["names"]
    assert sorted(names) == sorted(meta["work"]), "the shards split the one sampled work list"
    code, output = _cli(monkeypatch, FakeSuites(HONEST), "--shard", "1/2", "--all-generated")
    assert code == EXIT_OK, "nothing drawn: no seed needed"
