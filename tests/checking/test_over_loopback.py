"""The guard against the stand-in served over loopback, judged from the server's own records.

The stand-in runs in this process behind a recorder that stamps every request
as it arrives; the harness talks to it over HTTP as to a real target, so the
allowlist, pacing and counting all apply.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from klikit_harness import suites
from klikit_harness.checking import profiles
from klikit_harness.checking.config import load_settings
from klikit_harness.checking.safety import GuardedSession
from klikit_harness.checking.target import Target
from klikit_harness.core.build import build_service
from klikit_harness.core.seed import load
from klikit_harness.core.world import StoreKey
from klikit_harness.standin.sandbox import SandboxApp, bind
from tests.runner.conftest import child_env

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Stamped:
    """An ASGI app that records the arrival time of every HTTP request before the stand-in sees it."""

    app: Any
    arrivals: list[float] = field(default_factory=list)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.arrivals.append(time.monotonic())
        await self.app(scope, receive, send)


@contextmanager
def serve_stamped() -> Iterator[tuple[Any, Stamped, str]]:
    seed = load()
    service = build_service(seed)
    recorder = Stamped(SandboxApp(service))
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(recorder, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the stand-in did not start"
            time.sleep(0.01)
        yield service, recorder, seed.env(f"http://127.0.0.1:{port}/v1/partner")
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def max_in_any_window(times: list[float], width: float = 1.0) -> int:
    times = sorted(times)
    return max(sum(1 for u in times[i:] if u < t + width) for i, t in enumerate(times))


@pytest.mark.slow
@pytest.mark.loopback
def test_rate_cap_and_count_hold_at_the_server() -> None:
    with serve_stamped() as (_, recorder, env):
        settings = load_settings(
            None, **{k.removeprefix("KLIKIT_").lower(): v for k, v in {**env, "KLIKIT_MAX_RPS": "20"}.items()}
        )
        target = Target(env["KLIKIT_BASE_URL"], settings)  # no service: a real target, capped at 20/s

        def by_httpx() -> None:
            with target.client() as api:
                for _ in range(15):
                    api.call("getMenu")

        def by_requests() -> None:
            with GuardedSession(target.guard) as session:
                for _ in range(15):
                    session.get(env["KLIKIT_BASE_URL"] + "/menus", auth=target.main)

        threads = [threading.Thread(target=by_httpx) for _ in range(3)] + [threading.Thread(target=by_requests)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        wall = time.monotonic() - started
        received = list(recorder.arrivals)
    peak = max_in_any_window(received)
    print(
        f"rate: {len(received)} received, {target.requests_sent} counted, peak {peak} in any 1-s window, {wall:.1f} s"
    )
    assert len(received) == target.requests_sent == 60
    assert peak <= 20
    assert wall >= 2.0  # 60 requests at 20/s cannot finish in under two full windows


def world_state(service: Any) -> dict[StoreKey, Any]:
    world = service.world
    return {
        key: copy.deepcopy(
            (
                world.attachments.get(key),
                sorted(((sid, o) for (k, sid), o in world.overrides.items() if k == key), key=lambda p: p[0]),
                world.snapshots.get(key),
            )
        )
        for key in world.stores
    }


@pytest.mark.slow
@pytest.mark.loopback
def test_suites_over_http_change_no_store_outside_the_allowlist(tmp_path: Path) -> None:
    """Every suite over HTTP, on the profile in force (``KLIKIT_PROFILE``: smoke here, release in the
    nightly workflow), leaves every store outside the allowlist as it found it."""
    with serve_stamped() as (service, recorder, env):
        allowed = StoreKey(663, 1062)
        fresh = [StoreKey(663, b) for b in range(2001, 2013)]
        env = {k: v for k, v in env.items() if k != "KLIKIT_FOREIGN_STORE"}
        env.update(KLIKIT_STORES="663:1062", KLIKIT_FRESH_STORES=",".join(f"{s.brand_id}:{s.branch_id}" for s in fresh))
        env_file = tmp_path / "staging.env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
        before = world_state(service)
        report = tmp_path / "report"
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                *map(str, suites.paths(suites.NAMES)),
                *suites.pytest_location(),
                "-q",
                "-p",
                "no:randomly",
                "--klikit-target",
                env["KLIKIT_BASE_URL"],
                "--klikit-env-file",
                str(env_file),
                "--klikit-profile",
                profiles.current(),
                "--klikit-report",
                str(report),
            ],
            env=child_env(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=3600,
            check=False,
        )
        after = world_state(service)
        received = len(recorder.arrivals)
    assert proc.returncode in (0, 1), proc.stdout[-4000:] + proc.stderr[-2000:]
    meta = json.loads((report / "results.json").read_text())["meta"]
    print(
        f"records ({profiles.current()}): {received} received, {meta['requests']} counted, "
        f"{len(meta['not_sent'])} not sent (safety)"
    )
    print("\n".join(line for line in proc.stdout.splitlines() if "passed" in line or "not sent" in line))
    assert received == meta["requests"]
    changed = sorted(str(k) for k in before if k != allowed and k not in fresh and before[k] != after[k])
    assert not changed, f"stores outside the allowlist changed: {changed}"
    assert before.keys() == after.keys()
    untouched_fresh = [
        k for k in before if k.brand_id == 5297 and k.branch_id >= 2101
    ]  # the stand-in's fresh stores nobody listed
    assert untouched_fresh and all(not after[k][0] for k in untouched_fresh)
