"""Every benchmark of the harness, one command: ``python benchmarks/all.py [--quick]``.

Runs, each in its own process so figures do not disturb each other:
the stand-in throughput benchmark, the fuzzing throughput benchmark, the hostile-target benchmark, the suite
wall-time benchmark, and ``klikit-harness mutants`` (smoke). Each section is
headed by the command that reproduces it; the summary at the end is measured
here (mutants total wall time and median time to kill, from its JSON).
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

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def section(title: str, command: list[str]) -> float:
    print(f"\n## {title}\n$ {' '.join(command)}", flush=True)
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=False)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="skip the slow parts (CLI fuzzing, release/nightly suites)"
    )
    args = parser.parse_args()
    py = sys.executable
    section("stand-in throughput and memory", [py, "benchmarks/standin_bench.py"])
    section("fuzzing throughput", [py, "benchmarks/fuzz_bench.py", *(["--quick"] if args.quick else [])])
    section("hostile targets: bounded reads and the run deadline", [py, "benchmarks/hostile_bench.py"])
    if (HERE / "suite_bench.py").is_file():
        section(
            "suite wall time and requests per profile",
            [py, "benchmarks/suite_bench.py", *(["--quick"] if args.quick else [])],
        )
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "mutants.json"
        cli = str(Path(py).with_name("klikit-harness"))
        wall = section(
            "mutants (smoke)", [cli if os.path.exists(cli) else "klikit-harness", "mutants", "--json", str(out)]
        )
        if out.is_file():
            data = json.loads(out.read_text())
            kills = sorted(
                d["seconds_to_first_failure"] for d in data["defects"] if d["seconds_to_first_failure"] is not None
            )
            median = kills[len(kills) // 2] if kills else float("nan")
            print("\n## summary")
            print(
                f"mutants: {data['summary']['killed']}/{data['summary']['defects']} killed, clean run "
                f"{'passed' if data['summary']['clean_passed'] else 'FAILED'}, total wall {wall:.0f} s, "
                f"median time to kill {median:.1f} s  (klikit-harness mutants)"
            )
    print(f"\nmachine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
