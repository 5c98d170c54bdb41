"""Failures as data: what a suite check raises when a target breaks the contract.

Owns: ``Violation`` — an ``AssertionError`` with keyword fields (behaviour id,
what was received, what the contract documents, the ``request_id``, a
copy-paste reproduction and, where the rule is about one answer, the
machine-readable ``expected`` answer), one message shape, and the one builder
of a failure from an answered exchange (``Violation.of``). Must not: hold secrets; the
reproduction names ``$KLIKIT_*`` variables instead of credentials.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from ..partner.exchange import HttpExchange


class Violation(AssertionError):
    """A target answered something the contract does not allow."""

    def __init__(
        self,
        title: str,
        *,
        behaviour: str | None = None,
        received: Any = None,
        documented: Any = None,
        request_id: str | None = None,
        reproduction: str | None = None,
        expected: dict[str, Any] | None = None,
    ) -> None:
        self.title = title
        self.behaviour = behaviour
        self.received = received
        self.documented = documented
        self.request_id = request_id
        self.reproduction = reproduction
        #: what the answer must be, machine-readable (``klikit-harness reproduce`` judges a re-sent
        #: sequence by it): ``{"status": 404, "code": "resource_not_found"}``, ``{"status": "2xx"}``
        #: or ``{"check": <a checks.CHECKS name>}``; None for a semantic check (the test is re-run)
        self.expected = expected
        super().__init__(self.render())

    @classmethod
    def of(
        cls,
        ex: HttpExchange,
        title: str,
        *,
        behaviour: str | None,
        documented: Any,
        redact: Callable[[str], str] = str,
        origin: str | None = None,
        expected: dict[str, Any] | None = None,
    ) -> Self:
        """The failure an answered exchange stands for: what was received (through ``redact``), its
        ``request_id`` and its curl reproduction (``origin`` replaces an in-process URL's host)."""
        return cls(
            title,
            behaviour=behaviour,
            received=ex.received(redact),
            documented=documented,
            request_id=ex.request_id,
            reproduction=ex.curl(redact, origin),
            expected=expected,
        )

    def render(self) -> str:
        lines = [self.title]
        if self.behaviour:
            lines.append(f"Behaviour: {self.behaviour}")
        if self.received is not None:
            lines.append(f"Received: {self.received}")
        if self.documented is not None:
            lines.append(f"Documented: {self.documented}")
        if self.request_id:
            lines.append(f"request_id: {self.request_id}")
        if self.reproduction:
            lines.append(f"Reproduce: {self.reproduction}")
        return "\n".join(lines)


class Transient(Exception):
    """Transient trouble on the way to a real target (a gateway 502/503/504, a 429 the check did not ask for).

    Not a Violation: the check could not judge its behaviour. On a real target
    the plugin runs such a test once more after a pause before reporting it.
    """


# ------------------------------------------------------------------ failures as report data

#: ids, keys and numbers that differ between two occurrences of the same failure
_VARYING = (
    (re.compile(r"\b(?:req|kh|idem|pk|sk)_[A-Za-z0-9_-]+"), "<id>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I), "<id>"),
    (re.compile(r"\b[0-9a-f]{12,}\b", re.I), "<id>"),
    (re.compile(r"\d+(?:\.\d+)?"), "N"),
    (re.compile(r"\s+"), " "),
)


def normalise(text: str) -> str:
    """``text`` with request ids, uuids, hex keys and numbers replaced, so equal failures compare equal."""
    out = text.strip()
    for pattern, replacement in _VARYING:
        out = pattern.sub(replacement, out)
    return out[:200]


def leaves(exc: BaseException | None) -> list[BaseException]:
    """The individual failures inside ``exc``: exception groups (Hypothesis, Schemathesis) are opened,
    and a Schemathesis custom-check failure yields the exception its check raised."""
    if exc is None:
        return []
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in leaves(inner)]
    inner = getattr(exc, "exception", None)  # schemathesis.core.failures.CustomFailure
    if isinstance(inner, BaseException) and not isinstance(exc, Violation):
        return leaves(inner)
    return [exc]


def title_of(exc: BaseException) -> str:
    """A one-line title: the Violation's (or Schemathesis failure's) title, else the first message line."""
    title = getattr(exc, "title", None)
    if isinstance(title, str) and title:
        return title.splitlines()[0]
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def kind_of(exc: BaseException) -> str:
    """What went wrong, without what varies: the class name and the normalised title."""
    return f"{type(exc).__name__}: {normalise(title_of(exc))}"


def operation_of(text: str | None) -> str | None:
    """``METHOD /path`` of the last request in a curl reproduction (or a ``METHOD /path-or-URL`` label).

    The path is the contract's template (``/menus/sections/{sectionID}/visibilities``)
    when it matches one, else the URL path with numbers normalised away.
    """
    if not text:
        return None
    for line in reversed(text.strip().splitlines()):
        line = line.split("  # ->", 1)[0].strip()
        if line.startswith("curl "):
            try:
                words = shlex.split(line)
            except ValueError:
                continue
            method = words[words.index("-X") + 1].upper() if "-X" in words[:-1] else "GET"
            urls = [w for w in words if w.startswith(("http://", "https://", "/"))]
            if urls:
                return _operation(method, urlsplit(urls[-1]).path)
        match = re.fullmatch(r"(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) ((?:https?://|/)\S*)", line)
        if match:
            return _operation(match[1], urlsplit(match[2]).path)
    return None


def _operation(method: str, path: str) -> str:
    from .. import contract

    matching = [
        op
        for op in contract.operations().values()
        if re.search(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(op.path)) + "/?$", path)
    ]
    if matching:
        best = max(matching, key=lambda op: (op.method == method, len(op.path)))
        return f"{method} {best.path}"
    return f"{method} {_NUMBER_SEGMENT.sub('/N', path)}"


_NUMBER_SEGMENT = re.compile(r"/\d+(?=/|$)")
