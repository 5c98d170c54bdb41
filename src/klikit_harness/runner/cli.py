"""The ``klikit-harness`` command line.

Owns: commands, options, exit codes (0 holds, 1 violations, 2 usage or
configuration, 3 target unreachable) and the one-line errors a user sees.
Must not: implement checks; it wires the suites, the stand-in and reports.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .. import contract
from .. import suites as product_suites
from ..checking.config import PAIR_VARIABLES, SECRET_VARIABLES, ConfigError, Settings, guard_production, load_settings
from ..checking.profiles import PROFILES
from ..core.defects import REGISTRY, DefectSet
from ..core.seed import SeedError, load
from ..core.variants import VariantSet
from ..partner.redact import mask
from .exits import EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE, EXIT_VIOLATIONS

if TYPE_CHECKING:
    from .shards import Plan

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = EXIT_USAGE) -> None:
    click.echo(f"klikit-harness: error: {message}", err=True)
    sys.exit(code)


def masked_env(env: dict[str, str]) -> dict[str, str]:
    """The KLIKIT_* block as it may be printed."""
    out = {}
    for key, value in env.items():
        if key in SECRET_VARIABLES:
            value = mask(value)
        elif key in PAIR_VARIABLES:
            value = f"{value.split(':', 1)[0]}:{mask(value)}"
        out[key] = value
    return out


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="klikit-harness")
def main() -> None:
    """Contract and chaos test harness for the klikit Partner API's menu-publish endpoints."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback by default).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port.")
@click.option(
    "--seed",
    "seed_path",
    type=click.Path(path_type=Path),
    help="Seed file (default: the packaged fixtures/sandbox-seed.yaml).",
)
@click.option(
    "--contract",
    "reading",
    type=click.Choice(contract.READINGS),
    default=None,
    help="Which reading of contested behaviours the stand-in follows (default: reference, or --like's).",
)
@click.option(
    "--env-file",
    type=click.Path(path_type=Path),
    help="Also write the KLIKIT_* block (with secrets) to this file, mode 0600.",
)
@click.option(
    "--defect",
    "defects",
    multiple=True,
    metavar="NAME",
    help="Switch on a seeded defect (repeatable; see `klikit-harness defects`).",
)
@click.option(
    "--variant",
    "variants",
    multiple=True,
    metavar="NAME",
    help="Switch on a legitimate variant reading of an assumed or incidental behaviour (repeatable).",
)
@click.option(
    "--write-delay",
    type=click.FloatRange(0, 10),
    default=0.0,
    help="Seconds each write stays in flight (makes in-flight 409s observable).",
)
@click.option("--show-secrets", is_flag=True, help="Print the stand-in's throwaway secrets instead of masking them.")
@click.option(
    "--like",
    "like",
    type=click.Path(path_type=Path),
    help="Behave like the target of this target-profile.yaml (its variants and contract reading).",
)
def sandbox(
    host: str,
    port: int,
    seed_path: Path | None,
    reading: contract.Reading | None,
    env_file: Path | None,
    defects: tuple[str, ...],
    variants: tuple[str, ...],
    write_delay: float,
    show_secrets: bool,
    like: Path | None,
) -> None:
    """Serve the embedded stand-in and print the KLIKIT_* block that describes it."""
    from ..core.build import build_service
    from ..standin.sandbox import PortInUse, SandboxApp, bind, serve_forever, write_env_file

    reading, variants, like_note = _like_options(like, reading, variants)
    try:
        seed = load(seed_path)
        defect_set = DefectSet(defects)
        variant_set = VariantSet(variants)
    except (SeedError, ValueError, contract.ContractError) as exc:
        fail(str(exc))
    try:
        sock = bind(host, port)
    except PortInUse as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    actual = sock.getsockname()[1]
    shown_host = f"[{host}]" if ":" in host else host
    env = seed.env(f"http://{shown_host}:{actual}/v1/partner")
    service = build_service(seed, reading=reading, defects=defect_set, variants=variant_set)
    if env_file is not None:
        write_env_file(env_file, env)
    shown = env if show_secrets else masked_env(env)
    click.echo(
        "# klikit stand-in — the KLIKIT_* block describing it"
        + ("" if show_secrets else " (secrets masked; --show-secrets or --env-file for values)")
    )
    for key, value in shown.items():
        click.echo(f"{key}={value}")
    if env_file is not None:
        click.echo(f"# written to {env_file}")
    if defect_set:
        click.echo(f"# defects switched on: {', '.join(defect_set)}")
    if variant_set:
        click.echo(f"# variants switched on: {', '.join(variant_set)}")
    if like_note:
        click.echo(like_note)
    click.echo(f"# contract reading: {reading}; serving {env['KLIKIT_BASE_URL']} — Ctrl-C to stop", err=True)
    try:
        serve_forever(SandboxApp(service, write_delay=write_delay), sock)
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()


def _like_options(
    like: Path | None, reading: contract.Reading | None, variants: tuple[str, ...]
) -> tuple[contract.Reading, tuple[str, ...], str]:
    """The reading and variants of ``sandbox`` once ``--like`` is applied, and the line announcing it."""
    if like is None:
        return reading or "reference", variants, ""
    from ..standin import twin

    try:
        profile = twin.load(like)
        chosen, names = twin.standin_options(profile, reading=reading, variants=variants)
    except twin.ProfileError as exc:
        fail(f"--like: {exc}")
    run = profile.run
    note = (
        f"# behaving like {run.get('target') or 'the target'} of run {run.get('run_id') or '?'} ({like}): "
        f"variants {', '.join(profile.variants) or 'none'}; contract {chosen}"
    )
    if profile.unexplained:
        note += f"\n# not reproduced (no variant explains them): {', '.join(profile.unexplained)}"
    return chosen, names, note


@main.command()
@click.argument("old_report", type=click.Path(path_type=Path))
@click.argument("new_report", type=click.Path(path_type=Path))
@click.option(
    "--threshold",
    type=click.FloatRange(0, None),
    default=20.0,
    show_default=True,
    metavar="PCT",
    help="List the request count and wall time when they moved by more than this many percent.",
)
@click.option(
    "--markdown", "markdown_path", type=click.Path(path_type=Path), help="Also write the changes as Markdown here."
)
def diff(old_report: Path, new_report: Path, threshold: float, markdown_path: Path | None) -> None:
    """What changed between two runs' reports; exit 1 when a behaviour regressed (pass or observed → fail)."""
    from . import drift

    try:
        found = drift.compare(drift.load(old_report), drift.load(new_report), threshold=threshold)
    except drift.DriftInputError as exc:
        fail(str(exc))
    click.echo(found.text(), nl=False)
    if markdown_path is not None:
        try:
            markdown_path.parent.mkdir(parents=True, exist_ok=True)
            markdown_path.write_text(found.markdown(), encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write --markdown {markdown_path}: {exc.strerror or exc}")
    sys.exit(found.exit_code)


SUITES = product_suites.NAMES


def _target_settings(target: str | None, env_file: Path | None) -> Settings:
    """The validated KLIKIT_* settings; ``--target`` wins; production refused before any request."""
    overrides = {"base_url": target} if target and target != "sandbox" else {}
    try:
        settings = load_settings(env_file, **overrides)
        if target == "sandbox":
            settings.base_url = None
        if settings.base_url is not None:
            guard_production(settings)
    except ConfigError as exc:
        fail(str(exc))
    return settings


def _preflight(settings: Settings) -> None:
    """Exit 3 when a remote target does not accept a connection at all.

    A TCP connection only, no HTTP request: every request the target receives
    is one the run counts (the pytest plugin's first getMenu also exits 3 on
    a transport error, so a target behind a proxy is checked there instead).
    """
    import os
    import socket
    from urllib.parse import urlsplit

    assert settings.base_url is not None
    parts = urlsplit(settings.base_url)
    proxied = any(os.environ.get(v) for v in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy"))
    if proxied or parts.hostname is None:
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=10.0).close()
    except OSError as exc:
        fail(
            f"target {settings.base_url} is unreachable ({type(exc).__name__}); check KLIKIT_BASE_URL and the network",
            EXIT_UNREACHABLE,
        )


@main.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option(
    "--target",
    default=None,
    metavar="sandbox|URL",
    help="'sandbox' = the embedded stand-in; a URL = that environment. Default: KLIKIT_BASE_URL, else sandbox.",
)
@click.option(
    "--profile",
    type=click.Choice(PROFILES),
    default="smoke",
    show_default=True,
    help="How hard to push: example counts and request budgets (see README).",
)
@click.option(
    "--suite", "suites", multiple=True, type=click.Choice(SUITES), help="Suites to run (repeatable; default: all)."
)
@click.option("--contract", "reading", type=click.Choice(contract.READINGS), default="reference", show_default=True)
@click.option("--strict", is_flag=True, help="Enforce 'assumed' behaviours on real targets too.")
@click.option(
    "--report", "report_dir", type=click.Path(path_type=Path), default=Path("harness-report"), show_default=True
)
@click.option(
    "--defect", "defects", multiple=True, metavar="NAME", help="Seeded defect for the embedded stand-in (repeatable)."
)
@click.option("--env-file", type=click.Path(path_type=Path), help="Read KLIKIT_* variables from this .env file.")
@click.option(
    "--record",
    "record_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Record every exchange of the run as a HAR 1.2 cassette, DIR/run-<run id>.har (secrets scrubbed).",
)
@click.option(
    "--max-time",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="SECONDS",
    help="Stop the run after this many seconds, report written: exit 3 (1 when a check already failed). "
    "Default: KLIKIT_MAX_TIME, else 7200.",
)
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
def run(
    target: str | None,
    profile: str,
    suites: tuple[str, ...],
    reading: str,
    strict: bool,
    report_dir: Path,
    defects: tuple[str, ...],
    env_file: Path | None,
    record_dir: Path | None,
    max_time: float | None,
    pytest_args: tuple[str, ...],
) -> None:
    """Run the suites against a target; exit 0 holds, 1 violations, 2 configuration, 3 unreachable or stopped
    at --max-time."""
    import os
    import time

    from . import deadline as run_deadline

    started = time.time()

    settings = _target_settings(target, env_file)
    try:
        DefectSet(defects)
    except ValueError as exc:
        fail(str(exc))
    if defects and settings.base_url is not None:
        fail("--defect switches bugs on in the embedded stand-in; it cannot be combined with a remote target")
    if settings.base_url is not None:
        _preflight(settings)
    report_dir.mkdir(parents=True, exist_ok=True)
    args = [
        *(str(p) for p in product_suites.paths(suites or SUITES)),
        *product_suites.pytest_location(),
        "--klikit-profile",
        profile,
        "--klikit-contract",
        reading,
        "--klikit-report",
        str(report_dir),
        "--junitxml",
        str(report_dir / "junit.xml"),
    ]
    args += ["--klikit-target", target if target else (settings.base_url or "sandbox")]
    if env_file:
        args += ["--klikit-env-file", str(env_file)]
    if strict:
        args.append("--klikit-strict")
    for name in defects:
        args += ["--klikit-defect", name]
    if record_dir is not None:
        args += ["--klikit-record", str(record_dir)]
    deadline = max_time if max_time is not None else settings.max_time
    args += ["--klikit-max-time", f"{deadline:g}", "--klikit-started", repr(started)]
    args += list(pytest_args)
    where = settings.base_url or "the embedded stand-in"
    click.echo(
        f"klikit-harness: running {', '.join(suites or SUITES)} against {where} (profile {profile}, contract {reading})"
    )
    # A child process: pytest must import the suites (and rewrite their asserts) itself.
    left = deadline - (time.time() - started)
    env = {**os.environ, "KLIKIT_PROFILE": profile}
    try:
        code = run_deadline.run_child([sys.executable, "-m", "pytest", *args], env, left)
    except run_deadline.Overrun:
        fail(
            f"the run did not stop at its deadline of {deadline:g} s (--max-time / KLIKIT_MAX_TIME) and was "
            "stopped; raise --max-time if the run needs longer",
            EXIT_UNREACHABLE,
        )
    if code == 5:
        fail("no test ran: check the --suite choice and the pytest arguments after --")
    sys.exit({0: EXIT_OK, 1: EXIT_VIOLATIONS, EXIT_UNREACHABLE: EXIT_UNREACHABLE}.get(code, EXIT_USAGE))


@main.command()
@click.argument("report_dir", type=click.Path(path_type=Path))
@click.argument("failure", required=False)
@click.option(
    "--target",
    default=None,
    metavar="URL",
    help="Where to re-send (default: the report's target; a run on the embedded stand-in needs --target or "
    "--env-file, e.g. a `klikit-harness sandbox`).",
)
@click.option("--env-file", type=click.Path(path_type=Path), help="Read KLIKIT_* variables from this .env file.")
@click.option("--same-keys", is_flag=True, help="Re-send the recorded Idempotency-Keys (default: fresh ones).")
@click.option(
    "--write-test",
    "write_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write a standalone pytest file (httpx only) replaying the failure and asserting the documented answer.",
)
def reproduce(
    report_dir: Path,
    failure: str | None,
    target: str | None,
    env_file: Path | None,
    same_keys: bool,
    write_path: Path | None,
) -> None:
    """Re-send a reported failure's own requests and say whether it still fails (exit 1) or not (exit 0).

    FAILURE is a distinct failure id (F1, F2, …) or a failing test's node id;
    without it every failure of the report is reproduced.
    """
    from . import reproduce as repro

    try:
        report = repro.load_report(report_dir)
        chosen = repro.select(report, failure)
    except repro.ReportError as exc:
        fail(str(exc))
    if write_path is not None:
        if len(chosen) != 1:
            fail(f"--write-test writes one failure's test: name it (one of {', '.join(f.id for f in chosen)})")
        try:
            written = repro.write_test(chosen[0], write_path, reading=report.reading, run_id=report.run_id)
        except repro.ReportError as exc:
            fail(str(exc))
        names = " ".join(f"{v}=…" for v in repro._variables(chosen[0].steps))
        click.echo(f"wrote {written}: run it with {names} python -m pytest {written}")
    if not chosen:
        click.echo(f"{report_dir}: the run found no failure; nothing to reproduce")
        sys.exit(EXIT_OK)
    recorded = report.base_url if report.target != "embedded stand-in" else None
    if target is None and env_file is None and recorded is None:
        fail(
            "the report's run used the embedded stand-in, which stopped with it: serve one "
            "(`klikit-harness sandbox --env-file sandbox.env`) and give --env-file sandbox.env, or --target URL"
        )
    where = target or (None if env_file else recorded)
    try:
        load_settings(env_file, **({"base_url": where} if where else {}))
    except ConfigError as exc:
        fail(
            f"{exc} (reproduce re-sends to {where or 'KLIKIT_BASE_URL'} signed with the KLIKIT_* credentials: "
            "export them or give --env-file)"
        )
    settings = _target_settings(where, env_file)
    if settings.base_url is None:
        fail("no target to re-send to: give --target URL, or --env-file with KLIKIT_BASE_URL")
    _preflight(settings)
    code = repro.run(
        chosen,
        settings,
        env_file=env_file,
        reading=report.reading,
        strict=report.strict,
        same_keys=same_keys,
        echo=click.echo,
    )
    sys.exit(code)


@main.command()
@click.option(
    "--target", default=None, metavar="sandbox|URL", help="Default: KLIKIT_BASE_URL, else the embedded stand-in."
)
@click.option("--env-file", type=click.Path(path_type=Path), help="Read KLIKIT_* variables from this .env file.")
def doctor(target: str | None, env_file: Path | None) -> None:
    """Check a target's configuration before a long run: one line per item, with what to fix."""
    from .doctor import diagnose

    sys.exit(diagnose(_target_settings(target, env_file), echo=click.echo))


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


@main.command()
@click.option("--profile", type=click.Choice(("smoke", "release")), default="smoke", show_default=True)
@click.option(
    "--defect", "defects", multiple=True, metavar="NAME", help="Only these defects (repeatable; default: all)."
)
@click.option(
    "--suite",
    "suites",
    multiple=True,
    type=click.Choice(SUITES),
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
    embedded_suites = suites or SUITES
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


@main.command("variants")
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
    type=click.Choice(SUITES),
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


@main.command("merge")
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


@main.command("defects")
def list_defects() -> None:
    """List the seeded defects the stand-in can switch on."""
    width = max(len(n) for n in REGISTRY)
    for name, defect in sorted(REGISTRY.items(), key=lambda kv: (kv[1].family, kv[0])):
        click.echo(f"{name:<{width}}  [{defect.family}] {defect.description}")


if __name__ == "__main__":  # pragma: no cover
    main()
