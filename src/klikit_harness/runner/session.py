"""The target a pytest session checks: chosen from the options, opened once, watched, closed.

Owns: the settings a session's options and ``--klikit-env-file`` give
(``settings_of``), opening the target (``open_target``: the embedded stand-in
started with the session's defects and variants, or the configured
environment, probed once, exit 3 when unreachable (the report naming the
request and what timed out), exit 2 on a production
host without permission), watching every request it sends (``observe``: the
running test's requests captured for its failures' reproduction, and with
``--klikit-record`` one HAR cassette of the run, closed by
``close_cassette``), and the stash keys the plugin's hooks find them under.
Must not: define options or hooks (the plugin does), or judge an answer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ..checking import profiles
from ..checking.config import ConfigError, Settings, guard_production, load_settings
from ..checking.failures import Violation
from ..core.defects import DefectSet
from ..core.variants import VariantSet
from . import deadline
from .exits import EXIT_UNREACHABLE, EXIT_USAGE

__all__ = [
    "CAPTURE",
    "CASSETTE",
    "CASSETTE_RECORDER",
    "CURRENT",
    "OPENING",
    "TARGET",
    "close_cassette",
    "observe",
    "open_target",
    "settings_of",
]

#: the session's target (``checking.target.Target``)
TARGET = pytest.StashKey["Any"]()
#: the remote target while it is being opened (probed): a stop during the probe still names it
OPENING = pytest.StashKey["Any"]()
#: the running test's requests (``reproduce.capture.Capture``)
CAPTURE = pytest.StashKey[Any]()
#: the running test: node id and behaviour ids
CURRENT = pytest.StashKey[tuple[str, tuple[str, ...]]]()
#: the closed cassette: its path and how many exchanges it holds
CASSETTE = pytest.StashKey[tuple[Path, int]]()
#: the open cassette (``standin.cassettes.Recorder``)
CASSETTE_RECORDER = pytest.StashKey[Any]()


def settings_of(config: pytest.Config) -> Settings:
    target = config.getoption("--klikit-target")
    overrides: dict[str, Any] = {}
    if target and target != "sandbox":
        overrides["base_url"] = target
    try:
        settings = load_settings(config.getoption("--klikit-env-file"), **overrides)
    except ConfigError as exc:
        raise pytest.UsageError(f"klikit-harness configuration: {exc}") from None
    if target == "sandbox":
        settings.base_url = None
    return settings


@contextlib.contextmanager
def open_target(config: pytest.Config) -> Iterator[Any]:
    """The configured target for a session; the embedded stand-in is stopped afterwards."""
    from ..checking.target import Target
    from ..standin.sandbox import serve_in_thread

    settings = settings_of(config)
    reading = config.getoption("--klikit-contract")
    strict = bool(config.getoption("--klikit-strict"))
    profile = profiles.current()
    if settings.base_url is None:
        try:
            defects = DefectSet(config.getoption("--klikit-defect"))
            variants = VariantSet(config.getoption("--klikit-variant"))
        except ValueError as exc:
            raise pytest.UsageError(str(exc)) from None
        with serve_in_thread(reading=reading, defects=defects, variants=variants) as sandbox:
            standin_settings = load_settings(
                None, **{k.removeprefix("KLIKIT_").lower(): v for k, v in sandbox.env().items()}
            )
            yield observe(
                config,
                Target(
                    sandbox.base_url,
                    standin_settings,
                    reading=reading,
                    strict=strict,
                    profile=profile,
                    service=sandbox.service,
                    app=_app_of(sandbox),
                    variants=tuple(variants),
                ),
            )
        return
    if config.getoption("--klikit-variant"):
        raise pytest.UsageError("--klikit-variant switches the embedded stand-in; drop it or drop the remote target")
    try:
        read_only = guard_production(settings)
    except ConfigError as exc:  # before any request; exit 2 like the CLI
        pytest.exit(f"klikit-harness: error: {exc}", returncode=EXIT_USAGE)
    target = Target(settings.base_url, settings, reading=reading, strict=strict, profile=profile, read_only=read_only)
    observe(config, target)
    config.stash[OPENING] = target
    try:
        with target.client() as client:
            client.call("getMenu")
    except httpx.TransportError as exc:
        timed_out = isinstance(exc, httpx.TimeoutException)
        why = settings.bounds().timed_out(exc) if timed_out else f"{type(exc).__name__}: {exc}"
        asked = target.guard.waiting or "getMenu"
        reason = f"target {settings.base_url} is unreachable: {asked}: {target.redactor(why)}"
        config.stash[deadline.STOPPED] = reason
        pytest.exit(reason, returncode=EXIT_UNREACHABLE)
    except Violation:
        pass  # it answered, outside the contract: the checks name what is wrong, one behaviour at a time
    yield target


def _app_of(sandbox: Any) -> Any:
    from ..standin.sandbox import SandboxApp

    return SandboxApp(sandbox.service)


def observe(config: pytest.Config, target: Any) -> Any:
    """Watch every request of ``target`` as it leaves (any transport): the running test's requests are
    captured for its failures' reproduction, and with --klikit-record every exchange of the run goes
    into one HAR cassette (closed when the session target is). Returns ``target``."""
    from urllib.parse import urlsplit

    from .reproduce.capture import Capture

    capture = Capture(base_path=urlsplit(target.base_url).path, settings=target.settings, redact=target.redactor)
    config.stash[CAPTURE] = capture
    target.guard.observers.append(capture)
    directory = config.getoption("--klikit-record", default=None)
    if not directory:
        return target
    from ..checking.safety import Sent, current_test
    from ..standin.cassettes import Recorder

    secrets = [(key, secret) if key else secret for key, secret in target.settings.secrets()]
    cassette = Recorder(
        Path(directory) / f"run-{target.run_id}.har", run_id=target.run_id, secrets=secrets, base_url=target.base_url
    )

    def record(sent: Sent) -> None:
        nodeid = current_test()
        item = config.stash.get(CURRENT, None)
        behaviours = item[1] if item is not None and item[0] == nodeid else ()
        cassette.add(
            sent.method,
            sent.url,
            sent.request_headers,
            sent.request_body,
            sent.status,
            sent.response_headers,
            sent.response_body,
            nodeid=nodeid if nodeid != "(no test)" else "",
            behaviours=behaviours,
            elapsed_ms=sent.elapsed_ms,
            http_version=sent.http_version,
        )

    target.guard.observers.append(record)
    config.stash[CASSETTE_RECORDER] = cassette
    return target


def close_cassette(config: pytest.Config) -> None:
    """Close the run's cassette, if one was recorded (its path and size kept for the summary)."""
    cassette = config.stash.get(CASSETTE_RECORDER, None)
    if cassette is not None:
        config.stash[CASSETTE] = (cassette.close(), len(cassette))
