"""Cassette throughput: recording overhead, size on disk, and replay speed.

Records a mixed workload of N exchanges (default 2,000) sent with httpx to the
respx ``Simulator`` (the domain core answers), then replays the cassette
through ``cassettes.replay`` with a fresh httpx client and checks every
answer is the recorded one. Prints:

* record overhead per exchange (µs): the same workload through a
  ``RecordingTransport`` minus through the bare simulator transport, and the
  cost of ``Recorder.add`` alone and of writing the file (``close``);
* cassette size in bytes per exchange;
* replay exchanges/s, through ``transport()`` and through respx patching
  (target: ≥ 1,000/s), next to the floor: httpx alone over a bare
  ``MockTransport`` answering a fixed body, measured in the same run.

On a loaded machine pass ``--clock cpu``: rates then count this process's CPU
time only, not the time other processes held the cores.

    python benchmarks/cassette_bench.py [--exchanges N]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx

from klikit_harness.standin import cassettes
from klikit_harness.standin.cassettes import Recorder, load
from klikit_harness.standin.simulator import Simulator

STORES = [(663, 1062), (663, 1063), (5297, 1293)]


def workload(n: int, seed: int = 7) -> Iterator[tuple[str, str, dict[str, str], bytes]]:
    """(method, path, params, body): 60% store getMenu, 15% sync, 10% publish, 5% createSection, 10% mistakes."""
    rnd = random.Random(seed)
    for i in range(n):
        roll = rnd.random()
        brand, branch = rnd.choice(STORES)
        if roll < 0.60:
            yield "GET", "/menus", {"brand_id": str(brand), "branch_id": str(branch)}, b""
        elif roll < 0.75:
            body = {
                "stores": [{"brandID": brand, "branchID": branch}],
                "sections": {"1022": {"sequence": 1 + i % 7, "availableTimes": {}}},
            }
            yield "POST", "/menus/sync", {}, json.dumps(body).encode()
        elif roll < 0.85:
            yield (
                "POST",
                "/menus/publish",
                {},
                json.dumps({"stores": [{"brandID": brand, "branchID": branch}], "providerIDs": [1]}).encode(),
            )
        elif roll < 0.90:
            yield "POST", "/menus/sections", {}, json.dumps({"title": {"en": f"bench {i}"}, "sequence": 1}).encode()
        else:
            yield "POST", "/menus/sync", {}, b'{"stores": "not a list"}'


def send_all(
    client: httpx.Client, base_url: str, requests: list[tuple[str, str, dict[str, str], bytes]]
) -> list[httpx.Response]:
    answers = []
    for method, path, params, body in requests:
        headers = {"content-type": "application/json", "idempotency-key": str(uuid.uuid4())} if method == "POST" else {}
        answers.append(client.request(method, base_url + path, params=params, content=body or None, headers=headers))
    return answers


#: "wall" or "cpu" (this process's CPU time: what the work costs on a busy machine)
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
CLOCK = "wall"


def timed(fn, *args):
    clock = CLOCKS[CLOCK]
    began = clock()
    result = fn(*args)
    return result, clock() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--exchanges", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the median is printed")
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="wall",
        help="wall time, or this process's CPU time (use on a loaded machine: other processes do not count)",
    )
    args = parser.parse_args()
    global CLOCK
    CLOCK = args.clock
    requests = list(workload(args.exchanges))
    n = len(requests)
    workdir = Path(tempfile.mkdtemp(prefix="cassette-bench-"))

    bare_times, recorded_times, add_times, close_times = [], [], [], []
    path = workdir / "bench.har"
    recorded: list[httpx.Response] = []
    for _ in range(args.repeat):
        sim = Simulator()
        auth = (sim.partner_key, sim.secret_key)
        with httpx.Client(transport=sim.transport(), auth=auth) as client:
            _, took = timed(send_all, client, sim.base_url, requests)
        bare_times.append(took)

        sim = Simulator()
        recorder = Recorder(path, run_id="bench", secrets={sim.partner_key: sim.secret_key}, base_url=sim.base_url)
        transport = recorder.transport(sim.transport(), nodeid="benchmarks/cassette_bench.py", behaviours=("bench",))
        with httpx.Client(transport=transport, auth=auth) as client:
            recorded, took = timed(send_all, client, sim.base_url, requests)
        recorded_times.append(took)
        _, took = timed(recorder.close)
        close_times.append(took)

        # Recorder.add alone, on the exchanges just recorded
        again = Recorder(workdir / "add-only.har", run_id="bench", secrets={sim.partner_key: sim.secret_key})

        def add_all(recorder: Recorder = again, exchanges: list[httpx.Response] = recorded) -> None:
            for r in exchanges:
                recorder.add(
                    r.request.method,
                    str(r.request.url),
                    r.request.headers,
                    r.request.content,
                    r.status_code,
                    r.headers,
                    r.content,
                    nodeid="n",
                    behaviours=("bench",),
                )

        _, took = timed(add_all)
        add_times.append(took)

    size = path.stat().st_size
    cassette = load(path)
    assert len(cassette) == n, f"recorded {len(cassette)} of {n} exchanges"

    # The floor: httpx itself, answering every request with a fixed body through a bare MockTransport.
    fixed = httpx.MockTransport(lambda request: httpx.Response(200, json={"request_id": "r", "data": {}}))
    floor_times = []
    for _ in range(args.repeat):
        with httpx.Client(transport=fixed, auth=("pk_other", "sk_other_secret")) as client:
            _, took = timed(send_all, client, "https://floor.test/v1/partner", requests)
        floor_times.append(took)

    replay_transport_times, replay_patched_times = [], []
    for _ in range(args.repeat):
        replay = cassettes.replay(path)
        with httpx.Client(transport=replay.transport(), auth=("pk_other", "sk_other_secret")) as client:
            answers, took = timed(send_all, client, replay.base_url, requests)
        replay_transport_times.append(took)
        assert not replay.unmatched
        assert [a.content for a in answers] == [r.content for r in recorded], "a replayed answer differs"

        with cassettes.replay(path) as replay, httpx.Client(auth=("pk_other", "sk_other_secret")) as client:
            _, took = timed(send_all, client, replay.base_url, requests)
        replay_patched_times.append(took)
        assert not replay.unmatched

    med = statistics.median
    overhead_us = (med(recorded_times) - med(bare_times)) / n * 1e6
    print(f"exchanges: {n} (median of {args.repeat} runs, {CLOCK} clock)")
    print(
        f"record: simulator alone {n / med(bare_times):,.0f} exchanges/s, with RecordingTransport "
        f"{n / med(recorded_times):,.0f}/s -> overhead {overhead_us:,.0f} µs/exchange"
    )
    print(
        f"record: Recorder.add {med(add_times) / n * 1e6:,.0f} µs/exchange, close() (write the file) "
        f"{med(close_times) / n * 1e6:,.0f} µs/exchange"
    )
    print(f"cassette: {size:,} bytes, {size / n:,.0f} bytes/exchange")
    print(f"floor: httpx over a bare MockTransport {n / med(floor_times):,.0f} requests/s")
    print(f"replay (transport): {n / med(replay_transport_times):,.0f} exchanges/s")
    print(f"replay (respx patching): {n / med(replay_patched_times):,.0f} exchanges/s (target >= 1,000/s)")


if __name__ == "__main__":
    main()
