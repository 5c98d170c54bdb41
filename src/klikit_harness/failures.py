"""Failures as data: what a suite check raises when a target breaks the contract.

Owns: ``Violation`` — an ``AssertionError`` with keyword fields (behaviour id,
what was received, what the contract documents, the ``request_id`` and a
copy-paste reproduction) and one message shape. Must not: hold secrets; the
reproduction names ``$KLIKIT_*`` variables instead of credentials.
"""

from __future__ import annotations

from typing import Any


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
    ) -> None:
        self.title = title
        self.behaviour = behaviour
        self.received = received
        self.documented = documented
        self.request_id = request_id
        self.reproduction = reproduction
        super().__init__(self.render())

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
