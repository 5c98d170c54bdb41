"""The ``klikit-harness`` command line.

Owns: commands, options, exit codes (0 holds, 1 violations, 2 usage or
configuration, 3 target unreachable) and the one-line errors a user sees.
Must not: implement checks; it wires the suites, the stand-in and reports.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import contract
from .config import ConfigError, Settings, guard_production, load_settings
from .core.defects import REGISTRY, DefectSet
from .core.seed import SeedError, load
from .core.variants import VariantSet
from .profiles import PROFILES
from .redact import mask

EXIT_OK, EXIT_VIOLATIONS, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3

SECRET_VARS = ("KLIKIT_SECRET_KEY", "KLIKIT_OLD_SECRET")
PAIR_VARS = (
    "KLIKIT_REVOKED_CREDENTIAL",
    "KLIKIT_LIMITED_CREDENTIAL",
    "KLIKIT_SECOND_CREDENTIAL",
    "KLIKIT_FOREIGN_CREDENTIAL",
    "KLIKIT_BURST_CREDENTIAL",
)


def fail(message: str, code: int = EXIT_USAGE) -> None:
    click.echo(f"klikit-harness: error: {message}", err=True)
    sys.exit(code)


def masked_env(env: dict[str, str]) -> dict[str, str]:
    """The KLIKIT_* block as it may be printed."""
    out = {}
    for key, value in env.items():
        if key in SECRET_VARS:
            value = mask(value)
        elif key in PAIR_VARS:
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
    from .sandbox import PortInUse, SandboxApp, bind, build_service, serve_forever, write_env_file

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
    from . import twin

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


SUITES = ("contract", "chaos", "fuzz")


def _suite_paths(suites: tuple[str, ...]) -> tuple[Path, list[Path]]:
    root = contract._REPO_ROOT
    paths = [root / "tests" / name for name in suites]
    missing = [str(p) for p in paths if not p.is_dir()]
    if missing:
        fail(
            f"suite folder(s) {', '.join(missing)} not found: "
            "run klikit-harness from a source checkout (pip install -e .)"
        )
    return root, paths


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
    """Exit 3 when a remote target does not answer at all (any HTTP answer will do)."""
    import httpx

    assert settings.base_url is not None
    try:
        httpx.get(f"{settings.base_url}/menus", timeout=10.0)
    except httpx.TransportError as exc:
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
    pytest_args: tuple[str, ...],
) -> None:
    """Run the suites against a target; exit 0 holds, 1 violations, 2 configuration, 3 unreachable."""
    import os
    import subprocess

    settings = _target_settings(target, env_file)
    try:
        DefectSet(defects)
    except ValueError as exc:
        fail(str(exc))
    if defects and settings.base_url is not None:
        fail("--defect switches bugs on in the embedded stand-in; it cannot be combined with a remote target")
    if settings.base_url is not None:
        _preflight(settings)
    root, paths = _suite_paths(suites or SUITES)
    report_dir.mkdir(parents=True, exist_ok=True)
    args = [
        *(str(p) for p in paths),
        "--rootdir",
        str(root),
        "-c",
        str(root / "pyproject.toml"),
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
    args += list(pytest_args)
    where = settings.base_url or "the embedded stand-in"
    click.echo(
        f"klikit-harness: running {', '.join(suites or SUITES)} against {where} (profile {profile}, contract {reading})"
    )
    # A child process: pytest must import the suites (and rewrite their asserts) itself.
    code = subprocess.call([sys.executable, "-m", "pytest", *args], env={**os.environ, "KLIKIT_PROFILE": profile})
    if code == 5:
        fail("no test ran: check the --suite choice and the pytest arguments after --")
    sys.exit({0: EXIT_OK, 1: EXIT_VIOLATIONS, EXIT_UNREACHABLE: EXIT_UNREACHABLE}.get(code, EXIT_USAGE))


@main.command()
@click.option(
    "--target", default=None, metavar="sandbox|URL", help="Default: KLIKIT_BASE_URL, else the embedded stand-in."
)
@click.option("--env-file", type=click.Path(path_type=Path), help="Read KLIKIT_* variables from this .env file.")
def doctor(target: str | None, env_file: Path | None) -> None:
    """Check a target's configuration before a long run: one line per item, with what to fix."""
    from .doctor import diagnose

    sys.exit(diagnose(_target_settings(target, env_file), echo=click.echo))


@main.command()
@click.option("--profile", type=click.Choice(("smoke", "release")), default="smoke", show_default=True)
@click.option(
    "--defect", "defects", multiple=True, metavar="NAME", help="Only these defects (repeatable; default: all)."
)
@click.option("--suite", "suites", multiple=True, type=click.Choice(SUITES), help="Suites to run (default: all).")
@click.option("--jobs", type=click.IntRange(1, 64), default=None, help="Runs at once (default: the number of cores).")
@click.option(
    "--maxfail",
    type=click.IntRange(1, 1000),
    default=1,
    show_default=True,
    help="Stop a defect's run after this many failures (1 = time to first kill).",
)
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write the kill matrix as JSON here.")
def mutants(
    profile: str,
    defects: tuple[str, ...],
    suites: tuple[str, ...],
    jobs: int | None,
    maxfail: int,
    json_path: Path | None,
) -> None:
    """Run the suites against every seeded defect; exit 0 only if the clean run passes and all are killed."""
    import time

    from rich.console import Console
    from rich.table import Table

    from . import mutants as mutation

    unknown = sorted(set(defects) - set(REGISTRY))
    if unknown:
        fail(f"unknown defect(s) {', '.join(unknown)}; `klikit-harness defects` lists them")
    root, _ = _suite_paths(suites or SUITES)
    console = Console(highlight=False, width=180)
    total = len(defects or REGISTRY)
    done = 0
    started = time.perf_counter()

    def progress(outcome: mutation.Outcome) -> None:
        nonlocal done
        done += 1
        verdict = "killed" if outcome.killed else "SURVIVED"
        console.print(f"[{done}/{total}] {outcome.name}: {verdict} ({outcome.wall_seconds:.0f} s)")

    console.print(f"mutants: clean run + {total} defects, suites {', '.join(suites or SUITES)}, profile {profile}")
    clean, outcomes = mutation.run(
        root,
        defects=defects or None,
        suites=suites or SUITES,
        profile=profile,
        jobs=jobs,
        maxfail=maxfail,
        on_result=progress,
    )
    wall = time.perf_counter() - started
    table = Table(title="kill matrix")
    for column in ("defect", "result", "suites", "behaviours", "to first failure"):
        table.add_column(column)
    for o in sorted(outcomes, key=lambda o: (o.killed, o.family, o.name)):
        first = (
            ""
            if o.seconds_to_first_failure is None
            else f"{o.seconds_to_first_failure:.1f} s, {o.requests_to_first_failure} req"
        )
        table.add_row(
            o.name,
            "killed" if o.killed else "[bold red]SURVIVED[/]",
            ",".join(o.suites),
            ", ".join(o.behaviours[:3]) + (" …" if len(o.behaviours) > 3 else ""),
            first,
        )
    console.print(table)
    killed = sum(o.killed for o in outcomes)
    times = sorted(o.seconds_to_first_failure for o in outcomes if o.seconds_to_first_failure is not None)
    median = times[len(times) // 2] if times else 0.0
    clean_ok = clean.exit_code == 0
    verdict = "passed" if clean_ok else f"FAILED (exit {clean.exit_code})"
    console.print(f"clean run: {verdict} in {clean.wall_seconds:.0f} s")
    if not clean_ok:
        console.print(clean.error or "see the failing tests above")
    console.print(f"killed {killed}/{len(outcomes)}; median time to kill {median:.1f} s; total wall {wall:.0f} s")
    for o in outcomes:
        if o.error and not o.killed:
            console.print(f"{o.name}: run error (exit {o.exit_code}): {o.error[-300:]}")
    if json_path is not None:
        meta = {"profile": profile, "suites": list(suites or SUITES), "maxfail": maxfail}
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(mutation.matrix_json(clean, outcomes, meta) + "\n", encoding="utf-8")
    sys.exit(EXIT_OK if clean_ok and killed == len(outcomes) else EXIT_VIOLATIONS)


@main.command("defects")
def list_defects() -> None:
    """List the seeded defects the stand-in can switch on."""
    width = max(len(n) for n in REGISTRY)
    for name, defect in sorted(REGISTRY.items(), key=lambda kv: (kv[1].family, kv[0])):
        click.echo(f"{name:<{width}}  [{defect.family}] {defect.description}")


if __name__ == "__main__":  # pragma: no cover
    main()
