"""The CI files: the proofs workflow's job graph, and one test command shared by the README, CI and .ci/run."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "proofs.yml"
PROOFS = {"mutants", "mutants-remote", "variants"}


def _workflow() -> dict[str, Any]:
    doc = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def _run(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def readme_test_command() -> str:
    """The command the README's Development section gives for the tests (the first ``pytest`` line)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Development", 1)[1]
    match = re.search(r"^(pytest[^#\n]*?)\s*(?:#.*)?$", section, re.M)
    assert match, "the README's Development section gives no pytest command"
    return match[1]


def test_the_shards_run_after_the_timings_and_the_merge_after_every_shard_even_a_failing_one() -> None:
    jobs = _workflow()["jobs"]
    assert set(jobs) == {"tests", "timings", "proofs", "merge"}
    assert jobs["proofs"]["needs"] == "timings"
    assert jobs["merge"]["needs"] == "proofs" and jobs["merge"]["if"] == "always()"
    assert jobs["proofs"]["strategy"]["fail-fast"] is False, "one failing shard must not cancel the others"


def test_the_matrix_covers_every_shard_of_every_proof_and_each_uploads_its_json() -> None:
    doc = _workflow()
    count = int(doc["env"]["SHARDS"])
    matrix = doc["jobs"]["proofs"]["strategy"]["matrix"]
    assert set(matrix["proof"]) == PROOFS
    assert matrix["shard"] == list(range(1, count + 1))
    run = _run(doc["jobs"]["proofs"])
    assert '--shard "$SHARD/$SHARDS"' in run and '--json "proofs/$PROOF.shard-$SHARD.json"' in run
    for proof, command in (
        ("mutants", "klikit-harness mutants "),
        ("mutants-remote", "klikit-harness mutants --as-remote"),
        ("variants", "klikit-harness variants"),
    ):
        assert re.search(rf"^\s*{proof}\) {re.escape(command)}", run, re.M), proof
    upload = next(s for s in doc["jobs"]["proofs"]["steps"] if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["if"] == "always()" and upload["with"]["if-no-files-found"] == "error"
    assert upload["with"]["name"] == "proof-${{ matrix.proof }}-${{ matrix.shard }}"


def test_the_variants_shards_draw_one_sample_and_the_nightly_run_takes_every_generated_variant() -> None:
    doc = _workflow()
    run = _run(doc["jobs"]["proofs"])
    assert 'args+=(--seed "$GITHUB_RUN_ID")' in run, "every shard of one run must draw the same sample"
    assert '[ "$GITHUB_EVENT_NAME" = schedule ]; then args+=(--all-generated)' in run
    triggers = doc.get("on") or doc.get(True)  # YAML 1.1 reads a bare `on` as true
    assert triggers["schedule"], "the nightly run"


def test_the_merge_job_merges_each_proof_into_the_job_summary() -> None:
    merge = _workflow()["jobs"]["merge"]
    download = next(s for s in merge["steps"] if s.get("uses", "").startswith("actions/download-artifact"))
    assert download["with"]["pattern"] == "proof-*" and download["with"]["merge-multiple"] is True
    run = _run(merge)
    assert "for proof in mutants mutants-remote variants" in run
    assert 'klikit-harness merge proofs/"$proof".shard-*.json' in run and '--markdown "merged/$proof.md"' in run
    assert '>> "$GITHUB_STEP_SUMMARY"' in run and "CI wall time" in run


def test_ci_runs_the_readme_test_command_then_the_slow_lane() -> None:
    command = readme_test_command()
    assert '-m "not slow"' in command and "-n " in command
    tests = _run(_workflow()["jobs"]["tests"])
    assert f"{command} --durations=20" in tests and "pytest -m slow --durations=20" in tests
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert f"{command} --durations=20" in script and "pytest -m slow --durations=20" in script


def test_ci_lints_type_checks_and_runs_the_built_wheel_from_an_empty_directory_before_the_tests() -> None:
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for step in ('step "ruff check"', 'step "ruff format --check"', 'step "mypy" mypy', "python -m build --wheel"):
        assert step in script, step
    wheel = script.split("wheel_outside_the_checkout() {", 1)[1].split("\n}\n", 1)[0]
    assert 'python -m venv "$work/venv"' in wheel and '"$work/venv/bin/python" -m pip install' in wheel
    assert 'cd "$work/empty"' in wheel and '"$work/venv/bin/klikit-harness" run --suite contract' in wheel
    assert script.index('step "the wheel') < script.index(f"{readme_test_command()} --durations=20")


def test_each_proofs_merge_reads_only_its_own_shards() -> None:
    """mutants' glob must not pick up mutants-remote's files (a shard of another run is refused)."""
    import fnmatch

    doc = _workflow()
    count = int(doc["env"]["SHARDS"])
    written = re.search(r'--json "proofs/(\$PROOF[^"]*)"', _run(doc["jobs"]["proofs"]))
    read = re.search(r'klikit-harness merge proofs/"\$proof"(\S*)', _run(doc["jobs"]["merge"]))
    assert written and read
    files = {
        proof: {written[1].replace("$PROOF", proof).replace("$SHARD", str(k)) for k in range(1, count + 1)}
        for proof in PROOFS
    }
    every = set().union(*files.values())
    for proof in PROOFS:
        assert set(fnmatch.filter(every, proof + read[1])) == files[proof], proof


def test_the_nightly_run_stops_itself_before_its_job_is_killed_so_its_report_is_uploaded() -> None:
    doc = yaml.safe_load((ROOT / ".github" / "workflows" / "nightly.yml").read_text(encoding="utf-8"))
    job = doc["jobs"]["staging"]
    default = re.fullmatch(r"\$\{\{ vars\.KLIKIT_MAX_TIME \|\| '(\d+)' \}\}", job["env"]["KLIKIT_MAX_TIME"])
    assert default, "the staging job sets KLIKIT_MAX_TIME from the variable, with a default"
    # the run's own deadline, then its grace (runner.deadline.CHILD_GRACE), then the report's upload
    assert int(default[1]) + 300 <= job["timeout-minutes"] * 60, "KLIKIT_MAX_TIME must end the run before the job"
