"""The ``klikit-harness`` command line.

Owns: commands, options, exit codes (0 holds, 1 violations, 2 usage or
configuration, 3 target unreachable) and the one-line errors a user sees.
Must not: implement checks; it wires the suites, the stand-in and reports.
"""

from __future__ import annotations

import sys
from pathlib import Path

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
from .proof_commands import merge, mutants, variants
from .usage import fail


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


@main.command("defects")
def list_defects() -> None:
    """List the seeded defects the stand-in can switch on."""
    width = max(len(n) for n in REGISTRY)
    for name, defect in sorted(REGISTRY.items(), key=lambda kv: (kv[1].family, kv[0])):
        click.echo(f"{name:<{width}}  [{defect.family}] {defect.description}")


for _command in (mutants, variants, merge):
    main.add_command(_command)


if __name__ == "__main__":  # pragma: no cover
    main()
