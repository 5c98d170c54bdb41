"""What the checks and the input oracle know about the run: ``Context``.

Owns: ``Context`` (the run's reading, credentials, own ids, paths, origin and
judgement), the ``RequestIdLog`` that proves ``request_id``s distinct and
``everything_enforced``, the judgement of the embedded stand-in. Must not:
send requests or judge an answer; ``checks`` and ``verdicts`` read it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ..contract import Judgement, Reading
from ..contract.limits import BASE_PATH
from ..partner.exchange import HttpExchange

__all__ = ["Context", "RequestIdLog", "everything_enforced"]


class RequestIdLog:
    """The ``request_id`` of every answer seen, to prove they are distinct.

    A replay (``Idempotent-Replayed: true``) repeats the first answer's id by
    design, and the same exchange may be checked twice (Schemathesis re-runs
    checks while shrinking); both are told apart from a real duplicate by the
    exchange's identity: method, URL, request body and answer body.
    """

    def __init__(self, capacity: int = 200_000) -> None:
        self._seen: OrderedDict[str, int] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def seen(self, request_id: str, exchange: HttpExchange) -> bool:
        """Record ``request_id``; True when a *different* exchange already carried it."""
        identity = hash(
            (
                exchange.method,
                exchange.url,
                exchange.request_body,
                exchange.body,
                exchange.request_headers.get("x-schemathesis-testcaseid"),
            )
        )
        with self._lock:
            previous = self._seen.get(request_id)
            if previous is None:
                self._seen[request_id] = identity
                if len(self._seen) > self._capacity:
                    self._seen.popitem(last=False)
                return False
            return previous != identity


def everything_enforced(_behaviour: str) -> Judgement:
    """The judgement of the embedded stand-in without variants: every behaviour is enforced."""
    return "enforced"


@dataclass
class Context:
    """What the checks need to know about the run; nothing secret is ever printed."""

    reading: Reading = "reference"
    #: the full-scope credential the requests are signed with; the oracle judges only its requests
    main: tuple[str, str] | None = None
    #: (partner_key, secret_key) pairs whose secrets must never be echoed
    credentials: tuple[tuple[str, str], ...] = ()
    #: stores and sections known to belong to the caller's business
    own_stores: frozenset[tuple[int, int]] = frozenset()
    own_sections: frozenset[int] = frozenset()
    request_ids: RequestIdLog = field(default_factory=RequestIdLog)
    redact: Callable[[str], str] = str
    #: operationId -> path template, for targets whose undocumented paths differ
    paths: Mapping[str, str] = field(default_factory=dict)
    #: the path of the target's base URL (``/v1/partner`` on klikit)
    base_path: str = BASE_PATH
    #: scheme://host[:port] reproductions point at (in-process exchanges have a placeholder host)
    origin: str | None = None
    #: whether a behaviour fails the run or is only observed (``Target.judgement``); the oracle blames
    #: an enforced behaviour first when one request breaks several
    judgement: Callable[[str], Judgement] = everything_enforced
