"""The proof commands: ``mutants`` (its kill matrix), ``variants`` and ``merge``, with their shard options.

Owns: the commands that prove the suites themselves (every seeded defect
killed, every legitimate variant accepted) and the joining of their shards.
Must not: run the defects or variants itself (``mutants``, ``variant_runs``
and ``shards`` do); ``cli`` registers these commands on the group.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .. import suites as product_suites
from ..core.defects import REGISTRY
from .exits import EXIT_OK, EXIT_VIOLATIONS
from .usage import fail

if TYPE_CHECKING:
    from .shards import Plan

F = TypeVar("F", bound=Callable[..., Any])


def _shard_options(command: F) -> F:
    """--shard K/N and --timings PREVIOUS.json, the same on mutants and variants."""
    command = click.option(
        "--timings",
        "timings_path",
        type=click.Path(path_type=Path),
        help="A previous --json output (merged shards, or one run): its recorded durations balance the shards.",
    )(command)
    return click.option(
        "--shard",
        "shard_text",
        metavar="K/N",
        help="Run only shard K of N: a deterministic split of the sorted work list (round-robin, or balanced by "
        "--timings); `klikit-harness merge` joins the N JSON files into one verdict.",
    )(command)


def _plan(shard_text: str | None, timings_path: Path | None) -> Plan:
    """The work of this run, given --shard and --timings (all of it without --shard)."""
    from . import shards

    try:
        shard = shards.Shard.parse(shard_text) if shard_text is not None else None
        if timings_path is not None and shard is None:
            raise shards.ShardError("--timings balances shards: add --shard K/N")
        timings = shards.read_timings(timings_path) if timings_path is not None else None
    except shards.ShardError as exc:
        fail(str(exc))
    return shards.Plan(shard, timings)


@click.command()
@click.option("--profile", type=click.Choice(("smoke", "release")), default="smoke", show_default=True)
@click.option(
    "--defect", "defects", multiple=True, metavar="NAME", help="Only these defects (repeatable; default: all)."
)
@click.option(
    "--suite",
    "suites",
    multiple=True,
    type=click.Choice(product_suites.NAMES),
    help="Suites to run (default: all embedded; contract and fuzz as remote, where chaos cannot reach).",
)
@click.option(
    "--jobs",
    type=click.IntRange(1, 64),
    default=None,
    help="Runs at once (default: the number of cores; 4 as remote, where runs partly wait on the request cap).",
)
@click.option(
    "--maxfail",
    type=click.IntRange(1, 1000),
    default=1,
    show_default=True,
    help="Stop a defect's run after this many failures (1 = time to first kill).",
)
@click.option(
    "--as-remote",
    is_flag=True,
    help="Serve each defect from its own `klikit-harness sandbox` process and run the suites over HTTP "
    "with only what a staging environment gives (2 fresh stores, a request cap, --strict).",
)
@click.option("--both", is_flag=True, help="Embedded and as remote, side by side in one matrix and one JSON.")
@click.option(
    "--max-rps",
    type=click.FloatRange(0, min_open=True),
    default=None,
    help="KLIKIT_MAX_RPS of the remote runs (default: 20).",
)
@_shard_options
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write the kill matrix as JSON here.")
def mutants(
    profile: str,
    defects: tuple[str, ...],
    suites: tuple[str, ...],
    jobs: int | None,
    maxfail: int,
    as_remote: bool,
    both: bool,
    max_rps: float | None,
    shard_text: str | None,
    timings_path: Path | None,
    json_path: Path | None,
) -> None:
    """Run the suites against every seeded defect; exit 0 only if the clean run passes and all are killed.

    As remote, a defect may also survive when a limit of a real environment puts
    it out of reach (the matrix says which); any other survivor fails the run.
    """
    import time

    from rich.console import Console

    from . import mutants as mutation

    unknown = sorted(set(defects) - set(REGISTRY))
    if unknown:
        fail(f"unknown defect(s) {', '.join(unknown)}; `klikit-harness defects` lists them")
    embedded_on = both or not as_remote
    remote_on = both or as_remote
    embedded_suites = suites or product_suites.NAMES
    if remote_on and not embedded_on and "chaos" in suites:
        fail(
            "the chaos suite drives the simulator and never reaches a remote target: "
            "drop --suite chaos with --as-remote"
        )
    remote_suites = tuple(s for s in (suites or mutation.REMOTE_SUITES) if s in mutation.REMOTE_SUITES)
    if remote_on and not remote_suites:
        fail("as remote only the contract and fuzz suites reach the target: add --suite contract or --suite fuzz")
    if max_rps is not None and not remote_on:
        fail("--max-rps caps the remote runs: add --as-remote or --both")
    rps = max_rps or mutation.DEFAULT_REMOTE_MAX_RPS
    root = Path.cwd()
    console = Console(highlight=False, width=200)
    plan = _plan(shard_text, timings_path)
    names = plan(sorted(defects or REGISTRY))
    if not names:
        fail(f"--shard {shard_text}: this shard has no defect ({len(plan.work)} in all); use at most that many shards")
    total = len(names) * (embedded_on + remote_on)
    done = 0
    started = time.perf_counter()

    def progress(outcome: mutation.Outcome) -> None:
        nonlocal done
        done += 1
        verdict = "killed" if outcome.killed else "SURVIVED"
        if not outcome.killed and outcome.reason:
            verdict += f" — {'out of reach' if outcome.out_of_reach else 'not explained'}: {outcome.reason}"
        console.print(f"[{done}/{total}] {outcome.name}: {verdict} ({outcome.mode}, {outcome.wall_seconds:.0f} s)")

    modes = " and ".join(m for m, on in (("embedded", embedded_on), ("as remote", remote_on)) if on)
    of = f" (shard {plan.shard} of {len(plan.work)})" if plan.shard else ""
    console.print(f"mutants: clean run + {len(names)} defects{of}, {modes}, profile {profile}")
    if embedded_on:
        console.print(f"  embedded: suites {', '.join(embedded_suites)}")
    if remote_on:
        console.print(
            f"  as remote: suites {', '.join(remote_suites)}; each defect on its own sandbox process over loopback "
            f"HTTP; KLIKIT_MAX_RPS={rps:g}, {mutation.REMOTE_FRESH_STORES} fresh stores, --strict"
        )
    embedded: tuple[mutation.Outcome, list[mutation.Outcome]] | None = None
    remote: tuple[mutation.Outcome, list[mutation.Outcome]] | None = None
    if embedded_on:
        embedded = mutation.run(
            root,
            defects=names,
            suites=embedded_suites,
            profile=profile,
            jobs=jobs,
            maxfail=maxfail,
            on_result=progress,
        )
    if remote_on:
        remote = mutation.run_remote(
            root,
            defects=names,
            suites=remote_suites,
            profile=profile,
            jobs=jobs if jobs and not embedded_on else None,
            maxfail=maxfail,
            max_rps=rps,
            embedded={o.name: o for o in embedded[1]} if embedded else None,
            on_result=progress,
        )
    wall = time.perf_counter() - started
    console.print(_kill_matrix(embedded, remote))
    ok = True
    for label, result in (("embedded", embedded), ("as remote", remote)):
        if result is None:
            continue
        clean, outcomes = result
        ok = ok and mutation.holds(clean, outcomes)
        clean_ok = clean.exit_code == EXIT_OK
        verdict = "passed" if clean_ok else f"FAILED (exit {clean.exit_code})"
        requests = f", {clean.requests} requests" if clean.mode == "remote" else ""
        console.print(f"{label}: clean run {verdict} in {clean.wall_seconds:.0f} s{requests}")
        if not clean_ok:
            failing = ", ".join(clean.behaviours) or clean.error[-600:] or "see the child run"
            console.print(f"  clean run failures: {failing}")
        killed = sum(o.killed for o in outcomes)
        times = sorted(o.seconds_to_first_failure for o in outcomes if o.seconds_to_first_failure is not None)
        median = times[len(times) // 2] if times else 0.0
        line = f"{label}: killed {killed}/{len(outcomes)}; median time to kill {median:.1f} s"
        if clean.mode == "remote":
            out_of_reach = sum(not o.killed and o.out_of_reach for o in outcomes)
            unexplained = sum(not o.killed and not o.out_of_reach for o in outcomes)
            line += f"; out of reach {out_of_reach}; survived without a reason {unexplained}"
        console.print(line)
        for o in outcomes:
            if o.error and not o.killed:
                console.print(f"  {o.name}: run error (exit {o.exit_code}): {o.error[-300:]}")
    console.print(f"total wall {wall:.0f} s")
    if json_path is not None:
        meta: dict[str, object] = {
            "profile": profile,
            "maxfail": maxfail,
            "mode": "both" if embedded_on and remote_on else "remote" if remote_on else "embedded",
            **plan.meta(),
        }
        if embedded_on:
            meta["suites"] = list(embedded_suites)
        if remote_on:
            meta["remote"] = {
                "suites": list(remote_suites),
                "max_rps": rps,
                "fresh_stores": mutation.REMOTE_FRESH_STORES,
                "strict": True,
            }
        first = embedded or remote
        assert first is not None
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(
            mutation.matrix_json(*first, meta, remote=remote if embedded and remote else None) + "\n",
            encoding="utf-8",
        )
    sys.exit(EXIT_OK if ok else EXIT_VIOLATIONS)


def _kill_matrix(embedded: tuple[Any, list[Any]] | None, remote: tuple[Any, list[Any]] | None) -> Any:
    """The kill matrix: one row per defect, a column per mode run."""
    from rich.table import Table

    def result(o: Any) -> str:
        if o.killed:
            return "killed"
        if o.mode == "remote" and o.out_of_reach:
            return "[yellow]out of reach[/]"
        return "[bold red]SURVIVED[/]"

    def first(o: Any) -> str:
        if o.seconds_to_first_failure is None:
            return ""
        return f"{o.seconds_to_first_failure:.1f} s, {o.requests_to_first_failure} req"

    by_mode = {mode: {o.name: o for o in r[1]} for mode, r in (("embedded", embedded), ("remote", remote)) if r}
    main_mode = "embedded" if embedded else "remote"
    table = Table(title="kill matrix")
    table.add_column("defect")
    if embedded:
        table.add_column("embedded")
    if remote:
        table.add_column("as remote")
    for column in ("suites", "behaviours", "to first failure"):
        table.add_column(column)
    if remote:
        table.add_column("as remote: first failure or why not killed")
    rows = sorted(by_mode[main_mode].values(), key=lambda o: (o.family, o.name))
    for o in rows:
        cells = [o.name]
        cells += [result(by_mode[m][o.name]) for m in ("embedded", "remote") if m in by_mode]
        cells += [
            ",".join(o.suites),
            ", ".join(o.behaviours[:3]) + (" …" if len(o.behaviours) > 3 else ""),
            first(o),
        ]
        if remote:
            r = by_mode["remote"][o.name]
            cells.append(first(r) if r.killed else r.reason or r.error[-120:])
        table.add_row(*cells)
    return table


@click.command("variants")
@click.option(
    "--profile",
    type=click.Choice(("smoke", "release", "nightly")),
    default="smoke",
    show_default=True,
    help="Budgets of the child runs; nightly also runs every generated variant alone.",
)
@click.option(
    "--variant",
    "names",
    multiple=True,
    metavar="NAME",
    help="Only these variants (repeatable; default: every registered one, then all of them at once).",
)
@click.option(
    "--suite",
    "suites",
    multiple=True,
    type=click.Choice(product_suites.NAMES),
    help="Suites to run (default: contract and fuzz, the ones that reach the stand-in).",
)
@click.option(
    "--jobs",
    type=click.IntRange(1, 64),
    default=None,
    help="Variants at once (default: twice the number of cores; a child run mostly waits on rate-limit windows).",
)
@_shard_options
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write the variant matrix as JSON here.")
@click.option(
    "--sample",
    type=click.IntRange(0),
    default=None,
    help="Generated and transport variants run alone per run, drawn with --seed (default: 2; every one still "
    "runs in the all-at-once run).",
)
@click.option("--seed", type=int, default=None, help="Seed of the sample (default: a fresh one, printed).")
@click.option(
    "--all-generated", is_flag=True, help="Run every generated and transport variant alone (the nightly profile does)."
)
def variants(
    profile: str,
    names: tuple[str, ...],
    suites: tuple[str, ...],
    jobs: int | None,
    shard_text: str | None,
    timings_path: Path | None,
    json_path: Path | None,
    sample: int | None,
    seed: int | None,
    all_generated: bool,
) -> None:
    """Prove the suites accept every legitimate variant of the stand-in; exit 0 only if each holds both ways.

    Each variant (and all at once) must pass non-strict, and fail under --strict
    exactly the `assumed` behaviours it changes — nothing else. The strict
    verdict needs its own run: the fuzz suite's documented view enforces the
    assumed constraints only under --strict, so it generates other requests.
    Every hand-written variant runs alone; of the variants generated from the
    contract a seeded sample does (all of them with --all-generated or the
    nightly profile), and every variant runs in the all-at-once run.
    """
    import importlib
    import random
    import tempfile
    import time

    from rich.console import Console
    from rich.table import Table

    from . import mutants
    from . import variant_runs as mutation

    try:
        catalogue = importlib.import_module("klikit_harness.core.variants")
    except ImportError as exc:
        fail(f"this installation has no variant catalogue (klikit_harness.core.variants: {exc}); reinstall from source")
    registry = catalogue.REGISTRY
    unknown = sorted(set(names) - set(registry))
    if unknown:
        fail(f"unknown variant(s) {', '.join(unknown)}; known: {', '.join(sorted(registry))}")
    if not registry:
        fail("no variant is registered in klikit_harness.core.variants")
    chosen_suites = suites or mutants.REMOTE_SUITES
    root = Path.cwd()
    console = Console(highlight=False, width=200)
    seed_given = seed is not None
    seed = seed if seed is not None else random.SystemRandom().randrange(2**31)
    selection = mutation.plan_variants(
        registry,
        names,
        sample=mutation.DEFAULT_SAMPLE if sample is None else sample,
        seed=seed,
        all_generated=all_generated or profile == "nightly",
    )
    if shard_text is not None and not seed_given and selection.drawn:
        fail(
            f"--shard {shard_text} draws a sample of the generated variants: give every shard the same --seed N "
            "(e.g. the CI run id) so all shards draw the same set, or --all-generated"
        )
    chosen = selection.alone
    plan = _plan(shard_text, timings_path)
    done = 0
    started = time.perf_counter()

    def progress(outcome: mutation.VariantOutcome) -> None:
        nonlocal done
        done += 1
        verdict = "holds" if outcome.holds else "BROKEN"
        failed = f" (failed: {', '.join(outcome.lenient_failed)})" if outcome.lenient_failed else ""
        detail = [] if outcome.lenient_holds else [f"non-strict exit {outcome.lenient_exit}{failed}"]
        if outcome.unexpected:
            detail.append(f"strict also failed {', '.join(outcome.unexpected)}")
        if outcome.missing:
            detail.append(f"strict did not fail {', '.join(outcome.missing)}")
        if outcome.error:
            detail.append(f"run error: {outcome.error[-300:]}")
        if outcome.unobserved:
            detail.append(f"not observable here: {', '.join(outcome.unobserved)}")
        suffix = f" — {'; '.join(detail)}" if detail else ""
        console.print(f"[{done}/{len(plan.names)}] {outcome.name}: {verdict}{suffix} ({outcome.wall_seconds:.0f} s)")

    generated_line = (
        f"{len(selection.generated)} generated; "
        f"{len(selection.sampled)} of {len(selection.pool)} generated/transport alone"
        + ("" if names or len(selection.sampled) == len(selection.pool) else f" (sampled with seed {selection.seed})")
    )
    at_once = f" + all {len(selection.together)} at once" if len(selection.together) > 1 else ""
    console.print(
        f"variants: {len(chosen)} variant(s) alone{at_once}; {generated_line}; "
        f"suites {', '.join(chosen_suites)}, profile {profile}; each non-strict then --strict"
    )
    if selection.sampled and not names:
        console.print(f"sampled: {', '.join(selection.sampled)}")
    with tempfile.TemporaryDirectory(prefix="klikit-variants-") as tmp:
        runner = mutation.pytest_variant_runner(root, chosen_suites, profile, Path(tmp))
        outcomes = mutation.run_variants(
            registry,
            runner,
            names=chosen,
            all_at_once=selection.together,
            jobs=jobs,
            on_result=progress,
            pick=plan,
            derive_strict=mutation.strict_derivable(chosen_suites, profile),
        )
    if not plan.names:
        fail(f"--shard {shard_text}: this shard has no variant ({len(plan.work)} in all); use at most that many shards")
    if plan.shard:
        console.print(f"shard {plan.shard}: {len(plan.names)} of the {len(plan.work)} pieces of work")
    wall = time.perf_counter() - started
    table = Table(title="variant matrix")
    columns = ("variant", "kind", "non-strict", "strict: failed behaviours", "expected (assumed changes)", "verdict")
    for column in columns:
        table.add_column(column)
    for o in outcomes:
        kind = (
            "all at once"
            if o.name == mutation.ALL_VARIANTS
            else "generated (sampled)"
            if o.name in selection.sampled and o.name in selection.generated
            else "transport (sampled)"
            if o.name in selection.sampled
            else "hand-written"
        )
        table.add_row(
            o.name,
            kind,
            "pass" if o.lenient_holds else f"[bold red]FAIL (exit {o.lenient_exit})[/] " + ", ".join(o.lenient_failed),
            (", ".join(o.strict_failed) or "—") + (" (derived)" if o.strict_run == "derived" else ""),
            ", ".join(o.expected) or "—",
            ("holds" if o.holds else "[bold red]BROKEN[/]")
            + (f" (not observable here: {', '.join(o.unobserved)})" if o.unobserved else ""),
        )
    console.print(table)
    held = sum(o.holds for o in outcomes)
    walls = sorted(o.wall_seconds for o in outcomes if o.name != mutation.ALL_VARIANTS)
    median = walls[len(walls) // 2] if walls else 0.0
    drawn = f", sampled with seed {selection.seed}" if selection.drawn and not names else ""
    derived = sum(o.strict_run == "derived" for o in outcomes)
    if derived:
        console.print(
            f"{derived} --strict run(s) not made: those variants change no assumed behaviour, so --strict fails "
            "what the non-strict run failed or recorded as an assumed departure (marked derived)"
        )
    console.print(
        f"variants: {held}/{len(outcomes)} hold; {len(selection.generated)} generated ({len(selection.sampled)} of "
        f"{len(selection.pool)} generated/transport run alone{drawn}); total wall {wall:.0f} s, "
        f"median per variant {median:.0f} s"
    )
    if json_path is not None:
        meta = {"profile": profile, "suites": list(chosen_suites), **selection.meta(), **plan.meta()}
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(mutation.variants_json(outcomes, meta) + "\n", encoding="utf-8")
    sys.exit(EXIT_OK if held == len(outcomes) else EXIT_VIOLATIONS)


@click.command("merge")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="JSON...")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write the merged JSON here.")
@click.option(
    "--markdown",
    "markdown_path",
    type=click.Path(path_type=Path),
    help="Write the kill matrix or the variants table as Markdown here (e.g. $GITHUB_STEP_SUMMARY).",
)
def merge(paths: tuple[Path, ...], json_path: Path | None, markdown_path: Path | None) -> None:
    """Merge the JSON of `mutants|variants --shard K/N` (all N of one run) into one verdict.

    Exit 0 when the merged run holds; 1 when it does not, or when the shards
    cannot merge (another configuration or N, a shard twice, overlapping or
    missing work, a clean run missing or failing in a shard); the reason is
    printed. The merged JSON has the shape of an unsharded run's.
    """
    import json

    from . import shards

    try:
        merged = shards.merge(shards.load(paths))
    except shards.ShardError as exc:
        fail(f"cannot merge: {exc}", EXIT_VIOLATIONS)
    text = shards.markdown(merged)
    click.echo(text)
    for path, content in ((json_path, json.dumps(merged.doc, indent=2, sort_keys=True)), (markdown_path, text)):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content + "\n", encoding="utf-8")
    click.echo(f"merged {len(paths)} shard(s): {'holds' if merged.holds else 'does not hold'}")
    sys.exit(EXIT_OK if merged.holds else EXIT_VIOLATIONS)
