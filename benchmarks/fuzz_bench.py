"""Fuzzing throughput: the fuzz suite in-process and over loopback, and the plain schemathesis CLI.

    python benchmarks/fuzz_bench.py            # every measure (a few minutes on 2 cores)
    python benchmarks/fuzz_bench.py --quick    # skip the CLI runs

Each measure runs in a fresh process against a fresh embedded stand-in:

- fuzz suite, in-process: ``pytest src/klikit_harness/suites/fuzz`` (smoke profile), every case sent to the
  stand-in's ASGI app through Schemathesis' in-process client;
- fuzz suite, loopback: the same, over HTTP to the stand-in on 127.0.0.1;
- schemathesis CLI: ``schemathesis run contracts/openapi.yaml`` against the stand-in, with
  default settings and no hooks (``--config-file`` pointing at an empty file), and with the
  repository's ``schemathesis.toml`` (klikit hooks and checks).

Requests are counted where the stand-in answers them (every request, including the ones
checks send on their own). The in-process run is then profiled (cProfile on the test
thread, a timer around the stand-in on its event-loop thread) to show where the time goes:
generation (Hypothesis + Schemathesis drawing cases), transport (requests/ASGI plumbing),
the stand-in (Starlette adapter + domain core) and the checks.

The loopback figures are also measured with TCP_NODELAY set on the stand-in's listening
socket: without it, every request on a kept-alive connection waits ~40 ms for a delayed
ACK (the response leaves in two segments and Nagle holds the second).
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SUITE = str(ROOT / "src" / "klikit_harness" / "suites" / "fuzz")


# ---------------------------------------------------------------- child side


class _Meter:
    """Counts requests and the time the stand-in spends answering them (any thread)."""

    def __init__(self) -> None:
        self.requests = 0
        self.standin_s = 0.0
        self.core_s = 0.0
        self._lock = threading.Lock()

    def install(self, nodelay: bool) -> None:
        from klikit_harness.core.service import Service
        from klikit_harness.standin import sandbox

        meter = self
        original_call = sandbox.SandboxApp.__call__

        async def timed_call(app: Any, scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                return await original_call(app, scope, receive, send)
            start = time.perf_counter()
            try:
                return await original_call(app, scope, receive, send)
            finally:
                with meter._lock:
                    meter.requests += 1
                    meter.standin_s += time.perf_counter() - start

        sandbox.SandboxApp.__call__ = timed_call  # type: ignore[method-assign]
        for name in ("prepare", "execute"):
            original = getattr(Service, name)

            def timed(self: Any, *args: Any, _original: Any = original) -> Any:
                start = time.perf_counter()
                try:
                    return _original(self, *args)
                finally:
                    with meter._lock:
                        meter.core_s += time.perf_counter() - start

            setattr(Service, name, timed)
        if nodelay:
            original_bind = sandbox.bind

            def bind(host: str, port: int) -> socket.socket:
                sock = original_bind(host, port)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return sock

            sandbox.bind = bind


def _child_suite(transport: str, nodelay: bool, profile_to: str | None) -> dict[str, Any]:
    import pytest

    meter = _Meter()

    class Plugin:
        @staticmethod
        def pytest_configure(config: pytest.Config) -> None:
            meter.install(nodelay)

    os.environ["KLIKIT_FUZZ_TRANSPORTS"] = transport
    os.environ.setdefault("KLIKIT_PROFILE", "smoke")
    args = [
        SUITE,
        "-q",
        "-p",
        "no:cacheprovider",
        "--hypothesis-seed=1",
        "-W",
        "ignore::pytest.PytestAssertRewriteWarning",
    ]
    start = time.perf_counter()
    if profile_to:
        import cProfile

        profiler = cProfile.Profile()
        code = profiler.runcall(pytest.main, args, plugins=[Plugin()])
        profiler.dump_stats(profile_to)
    else:
        code = pytest.main(args, plugins=[Plugin()])
    wall = time.perf_counter() - start
    return {
        "exit": int(code),
        "wall": wall,
        "requests": meter.requests,
        "standin_s": meter.standin_s,
        "core_s": meter.core_s,
    }


def _child_cli(config_file: str | None, nodelay: bool) -> dict[str, Any]:
    meter = _Meter()
    meter.install(nodelay)
    from klikit_harness.standin.sandbox import serve_in_thread

    with serve_in_thread() as sandbox, tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, **sandbox.env()}
        command = [str(Path(sys.executable).with_name("schemathesis"))]
        if config_file is not None:
            empty = Path(tmp) / "empty.toml"
            empty.write_text("")
            command += ["--config-file", str(empty)]
        command += ["run", str(ROOT / "contracts" / "openapi.yaml"), "--seed", "1"]
        if config_file is not None:  # default settings: only what the CLI needs to reach the stand-in
            main = sandbox.env()
            command += [
                "--url",
                main["KLIKIT_BASE_URL"],
                "--auth",
                f"{main['KLIKIT_PARTNER_KEY']}:{main['KLIKIT_SECRET_KEY']}",
            ]
        start = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - start
    summary = [line.strip() for line in done.stdout.splitlines() if "generated" in line or " in " in line[-12:]]
    return {
        "exit": done.returncode,
        "wall": wall,
        "requests": meter.requests,
        "standin_s": meter.standin_s,
        "core_s": meter.core_s,
        "summary": summary[-2:],
    }


# --------------------------------------------------------------- parent side


def _run_child(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)  # type: ignore[no-any-return]
    raise RuntimeError(f"child {args} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


def _row(label: str, r: dict[str, Any]) -> str:
    rps = r["requests"] / r["wall"] if r["wall"] else 0.0
    share = 100 * r["standin_s"] / r["wall"] if r["wall"] else 0.0
    return (
        f"| {label} | {r['requests']:,} | {r['wall']:.1f} s | {rps:,.0f} | {share:.0f}% | "
        f"{'pass' if r['exit'] == 0 else 'exit ' + str(r['exit'])} |"
    )


def _where_the_time_goes(path: str, run: dict[str, Any]) -> list[str]:
    stats = pstats.Stats(path)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]

    def cumulative(file_part: str, name: str) -> float:
        return sum(v[3] for k, v in raw.items() if k[2] == name and file_part in k[0])

    item = cumulative("_pytest/runner.py", "pytest_runtest_call")
    collection = cumulative("_pytest/main.py", "pytest_collection")
    call = cumulative("schemathesis/generation/case.py", "call")
    validate = cumulative("schemathesis/generation/case.py", "validate_response")
    klikit = cumulative("checking/fuzz_hooks.py", "run") + cumulative(
        "checking/fuzz_hooks.py", "klikit_no_write_on_rejection"
    )
    standin = run["standin_s"]
    lines = [
        f"profile of the in-process run ({run['requests']:,} requests, {run['wall']:.1f} s wall, "
        "cProfile on; the profiler inflates Python-heavy parts):",
        f"- generation (Hypothesis + Schemathesis drawing, shrinking, the state machine): {item - call - validate:.1f} s",
        f"- sending (requests + in-process ASGI client, minus the stand-in): {max(call - standin, 0):.1f} s",
        f"- stand-in (Starlette adapter + domain core {run['core_s']:.1f} s): {standin:.1f} s",
        f"- checks (Schemathesis built-ins + klikit_* {klikit:.1f} s; includes probe requests): {validate:.1f} s",
        f"- collection, where Schemathesis builds the coverage-phase cases: {collection:.1f} s",
        f"- start-up, imports, the session's stand-in and fixtures: {max(run['wall'] - item - collection, 0):.1f} s",
        "top functions by own time:",
    ]
    top = sorted(raw.items(), key=lambda kv: kv[1][2], reverse=True)[:8]
    for (file, line, name), value in top:
        short = "/".join(Path(file).parts[-3:])
        lines.append(f"  {value[2]:6.2f} s  {name}  ({short}:{line})")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the schemathesis CLI runs")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.child:
        kind, *rest = opts.child
        nodelay = "nodelay" in rest
        if kind == "suite":
            profile_to = next((r.removeprefix("profile=") for r in rest if r.startswith("profile=")), None)
            result = _child_suite(rest[0], nodelay, profile_to)
        else:
            result = _child_cli(None if rest[0] == "toml" else "empty", nodelay)
        print(json.dumps(result))
        return

    print("| measure | requests | wall | req/s | stand-in share | result |")
    print("|---|---|---|---|---|---|")
    print(_row("fuzz suite, in-process (ASGI)", _run_child("suite", "in-process")), flush=True)
    print(_row("fuzz suite, loopback HTTP", _run_child("suite", "http")), flush=True)
    print(_row("fuzz suite, loopback HTTP, TCP_NODELAY", _run_child("suite", "http", "nodelay")), flush=True)
    if not opts.quick:
        print(_row("schemathesis CLI, default settings", _run_child("cli", "default")), flush=True)
        print(
            _row("schemathesis CLI, default settings, TCP_NODELAY", _run_child("cli", "default", "nodelay")), flush=True
        )
        print(
            _row("schemathesis CLI + schemathesis.toml, TCP_NODELAY", _run_child("cli", "toml", "nodelay")), flush=True
        )
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "inprocess.prof")
        run = _run_child("suite", "in-process", f"profile={path}")
        print()
        print("\n".join(_where_the_time_goes(path, run)))
    print(f"\nmachine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; smoke profile, --hypothesis-seed=1")


if __name__ == "__main__":
    main()
