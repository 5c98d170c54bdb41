"""Hostile targets: memory of a bounded read, and how long a run against a target that never answers takes.

Prints (no timed assertions):

* peak RSS of a fresh process reading one answer through the bounded reader —
  the httpx transport (``BoundedTransport``) and the fuzz session
  (``GuardedSession``) — for a 1 GiB streaming body, against a baseline of a
  small answer read the same way in the same run (the difference is what the
  answer cost);
* wall time of a whole smoke run (``klikit-harness run``, every suite) against a
  target that accepts and never answers: with the default bounds and deadline,
  and with a chosen ``--max-time``.

    python benchmarks/hostile_bench.py [--max-time 15] [--skip-runs]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.hostile import HostileServer  # noqa: E402

READER = """
import json, resource, sys, time
from klikit_harness.partner.bounded import Bounds, BoundedTransport, broken
from klikit_harness.checking.safety import Guard, GuardedSession
import httpx
url, how = sys.argv[1], sys.argv[2]
bounds = Bounds()
started = time.monotonic()
if how == "httpx":
    with httpx.Client(transport=BoundedTransport(bounds=bounds), timeout=bounds.httpx_timeout()) as client:
        answer = client.get(url)
        size, reason = len(answer.content), broken(answer)
else:
    with GuardedSession(Guard(bounds=bounds)) as session:
        answer = session.get(url)
        size, reason = len(answer.content), broken(answer)
print(json.dumps({"rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "kept": size,
                  "cut": reason, "seconds": time.monotonic() - started}))
"""


def read_once(url: str, how: str) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", READER, url, how], capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout))


def memory(server: HostileServer) -> None:
    print("peak RSS of one bounded read (fresh process each; KLIKIT_MAX_BODY_BYTES default 10 MiB)")
    for how in ("httpx", "requests"):
        base = read_once(server.url("ok") + "/menus", how)
        big = read_once(server.url("gigabyte") + "/menus", how)
        bomb = read_once(server.url("gzip-bomb") + "/menus", how)
        print(
            f"  {how:8}  baseline (small answer) {base['rss_mib']:6.1f} MiB · 1 GiB streaming body {big['rss_mib']:6.1f} MiB "
            f"(+{float(big['rss_mib']) - float(base['rss_mib']):.1f}; kept {int(big['kept']) // 1024 // 1024} MiB in "
            f"{float(big['seconds']):.2f} s) · 64 MiB gzip bomb {bomb['rss_mib']:6.1f} MiB"
        )


def smoke_run(url: str, report: Path, *extra: str, **env: str) -> tuple[float, int, str]:
    variables = {k: v for k, v in os.environ.items() if not k.startswith(("KLIKIT_", "PYTEST_"))}
    variables.update(KLIKIT_PARTNER_KEY="pk_bench", KLIKIT_SECRET_KEY="sk_bench_secret", **env)
    command = [sys.executable, "-m", "klikit_harness", "run", "--target", url, "--report", str(report), *extra]
    started = time.monotonic()
    done = subprocess.run(command, env=variables, capture_output=True, text=True, cwd=ROOT)
    wall = time.monotonic() - started
    meta = json.loads((report / "results.json").read_text())["meta"] if (report / "results.json").is_file() else {}
    return wall, done.returncode, str(meta.get("stopped") or "(no report)")


def runs(server: HostileServer, max_time: float) -> None:
    print("whole smoke run (every suite) against a target that accepts and never answers")
    url = server.url("never")
    with tempfile.TemporaryDirectory() as tmp:
        for label, extra in (("defaults", ()), (f"--max-time {max_time:g}", ("--max-time", f"{max_time:g}"))):
            wall, code, stopped = smoke_run(url, Path(tmp) / label.replace(" ", ""), *extra)
            print(f"  {label:16} {wall:6.1f} s  exit {code}  report: {stopped}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-time", type=float, default=15.0, help="the chosen run deadline (seconds)")
    parser.add_argument("--skip-runs", action="store_true", help="only the memory figures")
    args = parser.parse_args()
    with HostileServer() as server:
        memory(server)
        if not args.skip_runs:
            runs(server, args.max_time)


if __name__ == "__main__":
    main()
