"""A server written independently from DESIGN.md: the stand-in behind an ASGI layer that takes other
plausible readings of what DESIGN.md leaves open, and a pytest plugin that fuzzes it.

What it answers differently from the stand-in (every difference is a behaviour the
catalogue marks assumed or incidental, so a run judged as a real target must not fail):

- setSectionVisibilities, enableSections, populateMenu, syncMenuToStores and
  resetStoreOverrides answer ``data: {}`` (section.visibilities-result,
  enable.result-count, populate.result-counts, sync.result-counts, reset.result-count);
- createSection requires no field (section.create-title-required): a body without
  a title gets one before the stand-in sees it;
- every populate / sync section entry needs ``sequence`` and ``availableTimes``
  (populate.times-optional): an entry without availableTimes (or with null) is
  400 request_invalid naming it;
- a query or path id written with leading zeros is 400 request_invalid
  (input.query-id-leading-zeros).

``pytest -p tests.checking.independent_server src/klikit_harness/suites/fuzz`` runs the fuzz suite against it
(in-process): the session's target keeps the embedded stand-in's state and
credentials but answers through this layer and is judged as a non-reference target.
``KLIKIT_OBSERVATIONS_OUT`` names a JSON file the plugin writes the observed
behaviour ids to.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, unquote

import pytest

from klikit_harness import contract
from klikit_harness.runner import plugin

SUCCESS_EMPTY = {
    ("PATCH", re.compile(r".*/menus/sections/[^/]+/visibilities$")),
    ("PATCH", re.compile(r".*/menus/sections/enable$")),
    ("POST", re.compile(r".*/menus/populate$")),
    ("POST", re.compile(r".*/menus/sync$")),
    ("POST", re.compile(r".*/menus/reset$")),
}
PUSH = re.compile(r".*/menus/(populate|sync)$")
CREATE = re.compile(r".*/menus/sections$")
SECTION_PATH = re.compile(r".*/menus/sections/([^/]+)/visibilities$")


def _error(field: str, message: str) -> tuple[int, bytes]:
    entry = contract.errors().code_for("request_invalid", "reference")
    body = {
        "request_id": "ind-" + os.urandom(8).hex(),
        "error": {"code": entry.code, "message": f"{field}: {message}", "details": {"field": field}},
    }
    return entry.status, json.dumps(body).encode()


class IndependentServer:
    """ASGI: the stand-in's answers, read the independent server's way."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        method, path = scope["method"].upper(), unquote(scope["path"])
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        key = headers.get("idempotency-key", "").strip(" \t")
        # Its own 400s come after auth and the Idempotency-Key, as DESIGN.md orders the checks.
        ready = "authorization" in headers and (method == "GET" or 1 <= len(key) <= 64)
        refused = self._refuse(method, path, scope.get("query_string", b"").decode("latin-1"), body) if ready else None
        if refused is not None:
            await self._answer(send, *refused)
            return
        body = self._rewrite_request(method, path, body)
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        start: dict[str, Any] = {}
        parts: list[bytes] = []

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                parts.append(message.get("body", b""))

        await self.inner(scope, replay, capture)
        status, payload = start["status"], b"".join(parts)
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        if 200 <= status < 300 and any(m == method and p.fullmatch(path) for m, p in SUCCESS_EMPTY):
            envelope = json.loads(payload)
            envelope["data"] = {}
            payload = json.dumps(envelope).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [*headers, (b"content-length", str(len(payload)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    @staticmethod
    async def _answer(send: Any, status: int, payload: bytes) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    @staticmethod
    def _refuse(method: str, path: str, query: str, body: bytes) -> tuple[int, bytes] | None:
        """The independent server's own 400s."""
        for name, value in parse_qsl(query, keep_blank_values=True):
            if name in {"brand_id", "branch_id"} and len(value) > 1 and value.startswith("0") and value.isdigit():
                return _error(name, "ids are written without leading zeros")
        match = SECTION_PATH.fullmatch(path)
        if match and len(match.group(1)) > 1 and match.group(1).startswith("0") and match.group(1).isdigit():
            return _error("sectionID", "ids are written without leading zeros")
        if method == "POST" and PUSH.fullmatch(path):
            try:
                parsed = json.loads(body)
            except ValueError:
                return None
            sections = parsed.get("sections") if isinstance(parsed, dict) else None
            if isinstance(sections, dict):
                for key, entry in sections.items():
                    if isinstance(entry, dict) and entry.get("availableTimes") is None:
                        return _error(f"sections.{key}.availableTimes", "is required")
        return None

    @staticmethod
    def _rewrite_request(method: str, path: str, body: bytes) -> bytes:
        """createSection without a title: the independent server names the section itself."""
        if method != "POST" or not CREATE.fullmatch(path):
            return body
        try:
            parsed = json.loads(body)
        except ValueError:
            return body
        if isinstance(parsed, dict) and "title" not in parsed:
            parsed["title"] = {"en": "untitled"}
            return json.dumps(parsed).encode()
        return body


# --------------------------------------------------------------------- plugin


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    from klikit_harness.suites.fuzz import support

    support.JUDGE = support.judgement_for(reference_target=False, strict=False)
    original = plugin.open_target

    @contextlib.contextmanager
    def independent(cfg: pytest.Config) -> Iterator[Any]:
        with original(cfg) as target:
            if not target.is_standin:
                raise pytest.UsageError("tests.checking.independent_server wraps the embedded stand-in only")
            target.variants = ("independent-server",)
            target.app = IndependentServer(target.app)
            yield target

    plugin.open_target = independent  # type: ignore[assignment]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    out = os.environ.get("KLIKIT_OBSERVATIONS_OUT")
    target = session.config.stash.get(plugin.TARGET, None)
    if out and target is not None:
        with open(out, "w", encoding="utf-8") as fh:
            json.dump(sorted(target.observations.behaviours()), fh)
