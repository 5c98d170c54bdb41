"""``--shard K/N`` and ``klikit-harness merge``: N shards of a proof merge into the verdict of one run.

The child runs are faked (as in test_variants.py): the split, the shard
headers, the refusals and the merged shape are what is tested here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from klikit_harness.core.defects import REGISTRY as DEFECTS
from klikit_harness.runner import cli, shards, variant_runs
from klikit_harness.runner import mutants as mutation
from klikit_harness.runner.exits import EXIT_OK, EXIT_USAGE, EXIT_VIOLATIONS

from .test_variants import HONEST, REGISTRY, STATUS, FakeSuites, fake_catalogue  # noqa: F401 (a fixture)

# ------------------------------------------------------------------ the split


def test_round_robin_covers_every_name_once_whatever_the_input_order() -> None:
    names = [f"d{i:02}" for i in range(10)]
    parts = shards.split(list(reversed(names)), 3)
    assert parts == [["d00", "d03", "d06", "d09"], ["d01", "d04", "d07"], ["d02", "d05", "d08"]]
    assert shards.split(names, 3) == parts, "the same split on every machine"


def test_recorded_durations_balance_the_shards_longest_first() -> None:
    durations = {"a": 10.0, "b": 9.0, "c": 5.0, "d": 4.0, "e": 1.0}
    parts = shards.split(list(durations), 2, durations)
    loads = [sum(durations[n] for n in part) for part in parts]
    assert parts == [["a", "d", "e"], ["b", "c"]] and loads == [15.0, 14.0]


def test_a_name_without_a_recorded_duration_counts_as_the_median() -> None:
    parts = shards.split(["new", "x", "y", "z"], 2, {"x": 1.0, "y": 2.0, "z": 30.0})
    assert parts == [["z"], ["new", "x", "y"]]


def test_the_plan_records_the_work_list_and_its_shard() -> None:
    plan = shards.Plan(shards.Shard.parse("2/3"))
    assert plan(["c", "a", "b", "d"]) == ["b"]
    meta = plan.meta()
    assert meta["work"] == ["c", "a", "b", "d"] and meta["harness_version"] == shards.harness_version()
    assert meta["shard"] == {"index": 2, "count": 3, "names": ["b"], "balance": "round-robin"}
    assert "shard" not in shards.Plan().meta()


@pytest.mark.parametrize("text", ["3", "0/3", "4/3", "1/0", "a/b", "1-3"])
def test_a_malformed_shard_says_how_to_write_it(text: str) -> None:
    with pytest.raises(shards.ShardError, match="K"):
        shards.Shard.parse(text)


def test_durations_come_from_every_matrix_of_a_previous_json() -> None:
    doc = {
        "defects": [{"name": "a", "wall_seconds": 2.0}],
        "remote": {"defects": [{"name": "a", "wall_seconds": 3.0}]},
    }
    assert shards.durations_from(doc) == {"a": 5.0}
    assert shards.durations_from({"variants": [{"name": "v", "wall_seconds": 7}]}) == {"v": 7.0}


# ------------------------------------------------------------------ mutants, faked


def _outcome(name: str | None, mode: str, *, killed: bool = True, exit_code: int | None = None) -> mutation.Outcome:
    meta = DEFECTS.get(name or "")
    code = exit_code if exit_code is not None else (EXIT_VIOLATIONS if killed and name else EXIT_OK)
    outcome = mutation.Outcome(
        name=name or "(clean)",
        family=meta.family if meta else "",
        description=meta.description if meta else "the correct stand-in",
        exit_code=code,
        killed=code == EXIT_VIOLATIONS,
        wall_seconds=float(len(name or "")),
        mode=mode,
    )
    if outcome.killed:
        outcome.suites, outcome.behaviours, outcome.tests = ["contract"], ["b.id"], ["contract/test_x.py::t"]
        outcome.seconds_to_first_failure, outcome.requests_to_first_failure = 0.5, 7
    return outcome


class FakeMutants:
    """Stands in for mutation.run / run_remote: records the defects each run got."""

    def __init__(self, clean_exit: int = EXIT_OK) -> None:
        self.clean_exit = clean_exit
        self.ran: list[list[str]] = []

    def runner(self, mode: str) -> Callable[..., tuple[mutation.Outcome, list[mutation.Outcome]]]:
        def run(_root: Path, *, defects: Iterable[str], on_result: Any, **_: Any) -> Any:
            names = list(defects)
            self.ran.append(names)
            outcomes = [_outcome(n, mode) for n in names]
            for o in outcomes:
                on_result(o)
            return _outcome(None, mode, exit_code=self.clean_exit), outcomes

        return run


def _mutants(monkeypatch: pytest.MonkeyPatch, fake: FakeMutants, *args: str) -> tuple[int, str]:
    monkeypatch.setattr(mutation, "run", fake.runner("embedded"))
    monkeypatch.setattr(mutation, "run_remote", fake.runner("remote"))
    result = CliRunner().invoke(cli.main, ["mutants", *args])
    return result.exit_code, result.output


def _merge(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli.main, ["merge", *(str(a) for a in args)])
    return result.exit_code, result.output


def _shapes(doc: Any, path: str = "") -> set[str]:
    """Every key path of a JSON document (list items share the path of their list)."""
    if isinstance(doc, dict):
        out = set()
        for key, value in doc.items():
            out |= {f"{path}.{key}"} | _shapes(value, f"{path}.{key}")
        return out
    if isinstance(doc, list):
        return set().union(*(_shapes(item, f"{path}[]") for item in doc)) if doc else set()
    return set()


def _sharded_mutants(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *extra: str, count: int = 3, fake: FakeMutants | None = None
) -> list[Path]:
    fake = fake or FakeMutants()
    paths = []
    for k in range(1, count + 1):
        path = tmp_path / f"s{k}.json"
        code, output = _mutants(
            monkeypatch, fake, "--profile", "smoke", *extra, "--shard", f"{k}/{count}", "--json", str(path)
        )
        assert code in (EXIT_OK, EXIT_VIOLATIONS), output
        paths.append(path)
    return paths


def test_three_shards_of_mutants_merge_into_what_one_run_writes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = FakeMutants()
    whole = tmp_path / "whole.json"
    code, output = _mutants(monkeypatch, fake, "--profile", "smoke", "--json", str(whole))
    assert code == EXIT_OK, output
    paths = _sharded_mutants(monkeypatch, tmp_path, fake=fake)
    ran = fake.ran[1:]
    assert sorted(n for names in ran for n in names) == sorted(DEFECTS), "every defect in exactly one shard"
    assert max(map(len, ran)) - min(map(len, ran)) <= 1, "round-robin: the shards differ by one defect at most"
    headers = [json.loads(p.read_text())["meta"]["shard"] for p in paths]
    assert [(h["index"], h["count"]) for h in headers] == [(1, 3), (2, 3), (3, 3)]

    merged = tmp_path / "merged.json"
    table = tmp_path / "matrix.md"
    code, output = _merge(*paths, "--json", merged, "--markdown", table)
    assert code == EXIT_OK, output
    one, joined = json.loads(whole.read_text()), json.loads(merged.read_text())
    assert _shapes(joined) == _shapes(one), "a merged JSON has the shape of an unsharded one"
    assert joined == one, "and, with the same runs, the same content"
    assert [d["name"] for d in joined["defects"]] == sorted(DEFECTS)
    assert joined["summary"]["killed"] == len(DEFECTS) and joined["summary"]["holds"]
    assert "| `populate-partial-write` | atomicity | killed |" in table.read_text()
    assert f"{len(DEFECTS)}/{len(DEFECTS)} killed" in output


def test_merging_two_of_three_shards_exits_1_naming_what_no_shard_ran(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    paths = _sharded_mutants(monkeypatch, tmp_path)
    code, output = _merge(paths[0], paths[2])
    assert code == EXIT_VIOLATIONS
    assert "cannot merge" in output and "shard 2/3 not given" in output
    assert shards.split(sorted(DEFECTS), 3)[1][0] in output


def test_the_remote_matrix_of_both_merges_too(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    paths = _sharded_mutants(monkeypatch, tmp_path, "--both", count=2)
    code, output = _merge(*paths, "--json", tmp_path / "merged.json")
    assert code == EXIT_OK, output
    doc = json.loads((tmp_path / "merged.json").read_text())
    assert len(doc["remote"]["defects"]) == len(DEFECTS) and doc["remote"]["summary"]["holds"]
    assert doc["meta"]["mode"] == "both" and "shard" not in doc["meta"]


def _edit(path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda d: d["meta"].update(profile="release"), "another configuration (differ in meta profile)"),
        (lambda d: d["meta"].update(harness_version="0.0.1"), "differ in meta harness_version"),
        (lambda d: d["meta"]["shard"].update(count=4), "disagree on N"),
        (lambda d: d["meta"]["shard"].update(index=1), "given twice"),
        (lambda d: d["defects"].append({**d["defects"][0], "name": "overlap-check-off"}), "overlap"),
        (lambda d: d.update(clean={}), "has no clean run"),
        (lambda d: d["clean"].update(exit_code=1), "the clean run failed in"),
        (lambda d: d["meta"].pop("shard"), "is not a shard"),
    ],
    ids=["configuration", "version", "N", "twice", "overlap", "clean-missing", "clean-failing", "not-a-shard"],
)
def test_shards_that_do_not_make_one_run_are_refused_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, change: Callable[[dict[str, Any]], None], reason: str
) -> None:
    paths = _sharded_mutants(monkeypatch, tmp_path)
    assert "overlap-check-off" not in {d["name"] for d in json.loads(paths[1].read_text())["defects"]}
    _edit(paths[1], change)
    code, output = _merge(*paths)
    assert code == EXIT_VIOLATIONS and reason in output, output


def test_a_survivor_in_one_shard_fails_the_merged_verdict(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    paths = _sharded_mutants(monkeypatch, tmp_path)
    survivor = json.loads(paths[2].read_text())["defects"][0]["name"]
    _edit(paths[2], lambda d: d["defects"][0].update(killed=False, exit_code=0))
    code, output = _merge(*paths, "--json", tmp_path / "merged.json")
    assert code == EXIT_VIOLATIONS and "does not hold" in output and "**SURVIVED**" in output
    assert json.loads((tmp_path / "merged.json").read_text())["summary"]["survived"] == [survivor]


def test_timings_of_a_previous_run_balance_the_shards(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = FakeMutants()
    previous = tmp_path / "previous.json"
    assert _mutants(monkeypatch, fake, "--json", str(previous))[0] == EXIT_OK
    paths = _sharded_mutants(monkeypatch, tmp_path, "--timings", str(previous), count=2)
    headers = [json.loads(p.read_text())["meta"]["shard"] for p in paths]
    durations = shards.durations_from(json.loads(previous.read_text()))
    loads = [sum(durations[n] for n in h["names"]) for h in headers]
    assert {h["balance"] for h in headers} == {"durations"}
    assert abs(loads[0] - loads[1]) <= max(durations.values()), loads
    assert _merge(*paths)[0] == EXIT_OK


def test_shard_options_are_checked_before_anything_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = FakeMutants()
    code, output = _mutants(monkeypatch, fake, "--shard", "4/3")
    assert code == EXIT_USAGE and "K must be between 1 and N" in output
    code, output = _mutants(monkeypatch, fake, "--timings", str(tmp_path / "none.json"))
    assert code == EXIT_USAGE and "add --shard K/N" in output
    code, output = _mutants(monkeypatch, fake, "--defect", "getmenu-live", "--shard", "2/2")
    assert code == EXIT_USAGE and "this shard has no defect" in output
    assert fake.ran == []


# ------------------------------------------------------------------ variants, faked

RUN_VARIANTS = variant_runs.run_variants


def _variants(monkeypatch: pytest.MonkeyPatch, suites: FakeSuites, *args: str) -> tuple[int, str]:
    monkeypatch.setattr(variant_runs, "pytest_variant_runner", lambda *_a, **_k: suites)

    def with_statuses(*a: Any, **k: Any) -> list[variant_runs.VariantOutcome]:
        return RUN_VARIANTS(*a, status_of=STATUS.__getitem__, **k)

    monkeypatch.setattr(variant_runs, "run_variants", with_statuses)
    result = CliRunner().invoke(cli.main, ["variants", *args])
    return result.exit_code, result.output


def _names(path: Path) -> Sequence[str]:
    return [v["name"] for v in json.loads(path.read_text())["variants"]]


@pytest.mark.usefixtures("fake_catalogue")
def test_variant_shards_merge_into_what_one_run_writes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    whole = tmp_path / "whole.json"
    assert _variants(monkeypatch, FakeSuites(HONEST), "--json", str(whole))[0] == EXIT_OK
    suites = FakeSuites(HONEST)
    paths = [tmp_path / f"v{k}.json" for k in (1, 2)]
    for k, path in enumerate(paths, 1):
        code, output = _variants(monkeypatch, suites, "--shard", f"{k}/2", "--json", str(path))
        assert code == EXIT_OK, output
    assert _names(paths[0]) == ["changes-both", variant_runs.ALL_VARIANTS], "all at once is one piece of the work"
    assert _names(paths[1]) == ["changes-assumed", "changes-incidental"]
    together = [variants for variants, _ in suites.calls if len(variants) > 1]
    assert together and all(sorted(v) == sorted(REGISTRY) for v in together), "all at once switches every one on"
    code, output = _merge(*paths, "--json", tmp_path / "merged.json")
    assert code == EXIT_OK, output
    one, joined = json.loads(whole.read_text()), json.loads((tmp_path / "merged.json").read_text())
    assert _shapes(joined) == _shapes(one) and joined == one
    assert "| `changes-assumed` | pass |" in output


@pytest.mark.usefixtures("fake_catalogue")
def test_mutants_and_variants_shards_do_not_merge(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    variant = tmp_path / "v1.json"
    assert _variants(monkeypatch, FakeSuites(HONEST), "--shard", "1/3", "--json", str(variant))[0] == EXIT_OK
    paths = _sharded_mutants(monkeypatch, tmp_path)
    code, output = _merge(variant, *paths)
    assert code == EXIT_VIOLATIONS and "merge each kind apart" in output
