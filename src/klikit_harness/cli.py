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
from .core.defects import REGISTRY, DefectSet
from .core.seed import SeedError, load
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
    default="reference",
    show_default=True,
    help="Which reading of contested behaviours the stand-in follows.",
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
    "--write-delay",
    type=click.FloatRange(0, 10),
    default=0.0,
    help="Seconds each write stays in flight (makes in-flight 409s observable).",
)
@click.option("--show-secrets", is_flag=True, help="Print the stand-in's throwaway secrets instead of masking them.")
def sandbox(
    host: str,
    port: int,
    seed_path: Path | None,
    reading: contract.Reading,
    env_file: Path | None,
    defects: tuple[str, ...],
    write_delay: float,
    show_secrets: bool,
) -> None:
    """Serve the embedded stand-in and print the KLIKIT_* block that describes it."""
    from .sandbox import PortInUse, SandboxApp, bind, build_service, serve_forever, write_env_file

    try:
        seed = load(seed_path)
        defect_set = DefectSet(defects)
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
    service = build_service(seed, reading=reading, defects=defect_set)
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
    click.echo(f"# contract reading: {reading}; serving {env['KLIKIT_BASE_URL']} — Ctrl-C to stop", err=True)
    try:
        serve_forever(SandboxApp(service, write_delay=write_delay), sock)
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()


@main.command("defects")
def list_defects() -> None:
    """List the seeded defects the stand-in can switch on."""
    width = max(len(n) for n in REGISTRY)
    for name, defect in sorted(REGISTRY.items(), key=lambda kv: (kv[1].family, kv[0])):
        click.echo(f"{name:<{width}}  [{defect.family}] {defect.description}")


if __name__ == "__main__":  # pragma: no cover
    main()
