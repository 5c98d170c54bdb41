"""Stand-in throughput and memory: a mixed workload, in-process and over loopback.

Prints requests per second for (a) the core alone (``Service.handle``),
(b) the ASGI app in-process through ``httpx.ASGITransport``, (c) uvicorn over
loopback with the server pinned to one core, and a baseline: a bare ASGI app
answering a fixed JSON body over the same loopback, measured in the same run,
so the stand-in's cost is a ratio, not a guess. Then peak RSS after 100,000
requests with a fresh Idempotency-Key each (the store must stay bounded).

    python benchmarks/standin_bench.py [--requests N] [--loopback-requests N]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import os
import random
import resource
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import httpx

from klikit_harness.core.build import build_service
from klikit_harness.core.service import ApiRequest
from klikit_harness.standin.sandbox import SandboxApp

MAIN = ("pk_sandbox_main", "sk_sandbox_main_7f3a9c")
AUTH = "Basic " + base64.b64encode(f"{MAIN[0]}:{MAIN[1]}".encode()).decode()
BASE = "/v1/partner"
STORES = [(663, 1062), (663, 1063), (5297, 1293)]


def workload(seed: int = 7) -> Iterator[tuple[str, str, dict[str, str], bytes]]:
    """(method, path+query, headers, body): 70% store getMenu, 1% business getMenu,
    2% createSection, 12% sync, 8% publish, 7% client mistakes (401/400)."""
    rnd = random.Random(seed)
    while True:
        roll = rnd.random()
        brand, branch = rnd.choice(STORES)
        headers = {"authorization": AUTH}
        if roll < 0.70:
            yield "GET", f"{BASE}/menus?brand_id={brand}&branch_id={branch}", headers, b""
        elif roll < 0.71:
            yield "GET", f"{BASE}/menus", headers, b""
        elif roll < 0.93:
            headers |= {"content-type": "application/json", "idempotency-key": str(uuid.uuid4())}
            if roll < 0.73:
                body = {"title": {"en": "bench"}, "sequence": 1}
                yield "POST", f"{BASE}/menus/sections", headers, json.dumps(body).encode()
            elif roll < 0.85:
                body = {
                    "stores": [{"brandID": brand, "branchID": branch}],
                    "sections": {"1022": {"sequence": 1, "availableTimes": {}}},
                }
                yield "POST", f"{BASE}/menus/sync", headers, json.dumps(body).encode()
            else:
                body = {"stores": [{"brandID": brand, "branchID": branch}], "providerIDs": [1]}
                yield "POST", f"{BASE}/menus/publish", headers, json.dumps(body).encode()
        elif roll < 0.97:
            yield "GET", f"{BASE}/menus", {}, b""
        else:
            headers |= {"content-type": "application/json", "idempotency-key": str(uuid.uuid4())}
            yield "POST", f"{BASE}/menus/populate", headers, b"{not json"


def unthrottled():
    """The seeded main credential without its rate cap: the benchmark measures the server."""
    service = build_service()
    cred = service.credentials.get(MAIN[0])
    assert cred is not None
    cred.rate, cred.burst = 1e9, 10**9
    return service


def split(target: str) -> tuple[str, list[tuple[str, str]]]:
    path, _, query = target.partition("?")
    return path, [tuple(p.split("=", 1)) for p in query.split("&") if p]  # type: ignore[misc]


def bench_core(n: int) -> float:
    service = unthrottled()
    items = list(itertools.islice(workload(), n))
    start = time.perf_counter()
    for method, target, headers, body in items:
        path, query = split(target)
        service.handle(ApiRequest(method, path, query, headers, body))
    return n / (time.perf_counter() - start)


def bench_asgi(n: int) -> float:
    service = unthrottled()
    items = list(itertools.islice(workload(), n))

    async def run() -> float:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=SandboxApp(service)), base_url="http://bench"
        ) as client:
            start = time.perf_counter()
            for method, target, headers, body in items:
                await client.request(method, target, headers=headers, content=body or None)
            return n / (time.perf_counter() - start)

    return asyncio.run(run())


BASELINE_APP = """
import sys, uvicorn
BODY = b'{"request_id":"req_baseline","data":{"menu":{"sections":[]}}}'
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": BODY})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""

STANDIN_APP = """
import sys, uvicorn
sys.path.insert(0, "benchmarks")
from standin_bench import unthrottled
from klikit_harness.standin.sandbox import SandboxApp
uvicorn.run(SandboxApp(unthrottled()), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_loopback(code: str, n: int) -> float:
    """Server pinned to core 0 (taskset), this client on core 1."""
    port = free_port()
    cmd = [sys.executable, "-c", code, str(port)]
    if os.cpu_count() and os.cpu_count() > 1:  # type: ignore[operator]
        cmd = ["taskset", "-c", "0", *cmd]
        os.sched_setaffinity(0, {1})
    server = subprocess.Popen(cmd)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            for _ in range(200):
                try:
                    client.get("/")
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
            items = list(itertools.islice(workload(), n))
            start = time.perf_counter()
            for method, target, headers, body in items:
                client.request(method, target, headers=headers, content=body or None)
            return n / (time.perf_counter() - start)
    finally:
        server.terminate()
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if os.cpu_count() and os.cpu_count() > 1:  # type: ignore[operator]
            os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))


def peak_rss_after(n: int) -> tuple[float, int]:
    service = unthrottled()
    for method, target, headers, body in itertools.islice(workload(seed=11), n):
        path, query = split(target)
        service.handle(ApiRequest(method, path, query, headers, body))
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, len(service.idempotency)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000, help="requests for the RSS run")
    parser.add_argument("--loopback-requests", type=int, default=5_000)
    args = parser.parse_args()
    rows = []
    n = args.loopback_requests
    baseline = bench_loopback(BASELINE_APP, n)
    standin = bench_loopback(STANDIN_APP, n)
    rows.append(("baseline ASGI app, loopback, 1 server core", f"{baseline:,.0f} req/s", "1.00"))
    rows.append(("stand-in, loopback, 1 server core", f"{standin:,.0f} req/s", f"{standin / baseline:.2f}"))
    asgi = bench_asgi(n)
    rows.append(("stand-in, in-process (httpx.ASGITransport)", f"{asgi:,.0f} req/s", f"{asgi / baseline:.2f}"))
    core = bench_core(n * 4)
    rows.append(("core alone (Service.handle)", f"{core:,.0f} req/s", f"{core / baseline:.2f}"))
    rss, keys = peak_rss_after(args.requests)
    rows.append((f"peak RSS after {args.requests:,} requests (core)", f"{rss:,.0f} MiB", f"{keys:,} keys kept"))
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'figure':>14}  vs baseline")
    for name, figure, ratio in rows:
        print(f"{name:<{width}}  {figure:>14}  {ratio}")
    print(
        f"\nmachine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; command: python benchmarks/standin_bench.py"
    )


if __name__ == "__main__":
    main()
