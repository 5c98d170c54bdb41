"""A server that makes the choices the docs and DESIGN.md leave open, its own way.

``LegitimateChoices`` wraps the stand-in's ASGI app and rewrites every JSON
answer the way an independent, correct server may: further members in the
envelope, in the error object and in success payloads; createSection answered
201; businessInfo without ``brandIDs``; section nodes without the members no
docs page states (``image``, ``isMealForOne``, ``blackoutDates``). Judged as a
real target, the contract suite must pass against it: each of these departs
only from an incidental behaviour (``response.*``), which a real target's run
observes.

``serving()`` serves it on a loopback port in a background thread; the
command-line test runs the suite against it over HTTP.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any

import uvicorn

from klikit_harness.core.build import build_service
from klikit_harness.core.seed import load
from klikit_harness.standin.sandbox import RunningSandbox, SandboxApp, bind

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: section node members the stand-in emits but no docs page or DESIGN.md sentence states
UNSTATED_NODE_MEMBERS = ("image", "isMealForOne", "blackoutDates")


def rewrite(method: str, path: str, status: int, body: Any) -> tuple[int, Any]:
    """An answer as the independent server gives it (status, body)."""
    if not isinstance(body, dict):
        return status, body
    body = {**body, "served_by": "edge-1"}  # another top-level member
    if isinstance(body.get("error"), dict):
        body["error"] = {**body["error"], "hint": "see the API reference"}  # beyond code/message/details
    data = body.get("data")
    if 200 <= status < 300 and isinstance(data, dict):
        if method == "POST" and path.endswith("/menus/sections"):
            status = 201  # DESIGN says 2xx; the envelope page lists 200, 201 and 204
            body["data"] = {**data, "etag": "W/1"}
        elif path.endswith("/menus/publish"):
            body["data"] = {**data, "queued": 0}
        elif path.endswith("/menus") and isinstance(data.get("menu"), dict):
            menu = dict(data["menu"])
            if isinstance(menu.get("businessInfo"), dict):
                menu["businessInfo"] = {k: v for k, v in menu["businessInfo"].items() if k != "brandIDs"}
            menu["sections"] = [
                {k: v for k, v in node.items() if k not in UNSTATED_NODE_MEMBERS} if isinstance(node, dict) else node
                for node in menu.get("sections") or []
            ]
            body["data"] = {**data, "menu": menu}
    return status, body


class LegitimateChoices:
    """ASGI middleware applying ``rewrite`` to every JSON answer of ``app``."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            status, headers, raw = int(start["status"]), list(start.get("headers") or []), b"".join(chunks)
            kind = dict(headers).get(b"content-type", b"")
            if kind.startswith(b"application/json") and raw:
                try:
                    new_status, body = rewrite(scope["method"], scope["path"], status, json.loads(raw))
                except ValueError:
                    new_status, body = status, None
                if body is not None:
                    status, raw = new_status, json.dumps(body).encode()
            headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(raw)).encode()))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": raw})

        await self.app(scope, receive, capture)


@contextlib.contextmanager
def serving(host: str = "127.0.0.1") -> Iterator[RunningSandbox]:
    """The stand-in behind ``LegitimateChoices`` on a loopback port, for the duration of a ``with`` block."""
    seed = load()
    service = build_service(seed)
    sock = bind(host, 0)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        LegitimateChoices(SandboxApp(service)),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(500):
            if server.started:
                break
            threading.Event().wait(0.01)
        else:
            raise RuntimeError("the server did not start within 5 s")
        yield RunningSandbox(service, seed, host, port)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
