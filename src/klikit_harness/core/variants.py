"""Variants: named switches that make the stand-in take another legitimate reading.

Owns: the registry of variants (name → what the server does instead, and the
behaviour ids whose observable answer changes) and the set of switches active
in one stand-in. A variant is a plausible server that honours every documented
and contested rule and every assumed rule it does not list in ``changes``; it
may only change behaviours whose status is ``assumed`` or ``incidental``.
Must not: be consulted by the oracle (``schedules``, ``menus``).

Adding a variant: call ``register("name", "one-line description", changes=(...))``
at module level below, then test ``variants.on(NAME)`` where the reading differs,
and give it a check in tests/standin/test_variants.py.

Beside these hand-written variants, ``GENERATED`` holds one variant per departure
the contract's response side allows (``generated_variants``): an extra member, a
dropped member, another 2xx; the core applies them in one place (``reshape``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property

from .. import contract
from .generated_variants import CHANGEABLE, Departure, departures
from .switches import SwitchSet


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    changes: tuple[str, ...]
    #: the departure a generated variant makes (None: a hand-written variant)
    departure: Departure | None = None

    @property
    def generated(self) -> bool:
        return self.departure is not None

    @property
    def sampled(self) -> bool:
        """Whether ``klikit-harness variants`` runs it alone only when drawn (generated and transport variants)."""
        return self.generated or self.name in TRANSPORT


#: lowercase words joined by "-" (and "." between the parts of a generated name)
_NAME = re.compile(r"^[a-z0-9]+(?:[.-][a-z0-9]+)*$")

REGISTRY: dict[str, Variant] = {}


def check_changes(name: str, changes: Iterable[str]) -> tuple[str, ...]:
    """The ``changes`` ids, each a known assumed or incidental behaviour, else ValueError."""
    ids = tuple(changes)
    if not ids:
        raise ValueError(f"variant {name!r} changes no behaviour; list the behaviour ids it alters in changes=(...)")
    known = contract.behaviours()
    for bid in ids:
        entry = known.get(bid)
        if entry is None:
            raise ValueError(
                f"variant {name!r} changes unknown behaviour {bid!r}: use an id of contracts/behaviours.yaml "
                "(add the behaviour there first)"
            )
        if entry.status not in CHANGEABLE:
            raise ValueError(
                f"variant {name!r} changes {bid!r}, which is {entry.status}: a variant may only change "
                f"{' or '.join(CHANGEABLE)} behaviours; drop it from changes or drop the variant"
            )
    if len(set(ids)) != len(ids):
        raise ValueError(f"variant {name!r} lists a behaviour twice in changes: {ids}")
    return ids


def register(name: str, description: str, *, changes: Iterable[str], departure: Departure | None = None) -> str:
    """Register one variant; a duplicate name or a change of a fixed behaviour is a programming error."""
    if name in REGISTRY:
        raise ValueError(f"variant {name!r} is already registered; pick another name")
    if not _NAME.match(name):
        raise ValueError(f"variant names are lowercase-kebab (dots between parts), got {name!r}")
    REGISTRY[name] = Variant(name, description, check_changes(name, changes), departure)
    return name


def hand_written() -> list[str]:
    """The names of the hand-written variants, sorted."""
    return sorted(n for n, v in REGISTRY.items() if not v.generated)


def generated() -> list[str]:
    """The names of the variants generated from the contract, sorted."""
    return sorted(n for n, v in REGISTRY.items() if v.generated)


class VariantSet(SwitchSet):
    """The variants switched on in one stand-in (empty: the reference semantics)."""

    kind = "variant"

    @classmethod
    def registry(cls) -> Mapping[str, Variant]:
        return REGISTRY

    @cached_property
    def departures(self) -> tuple[Departure, ...]:
        """The departures of the generated variants switched on."""
        return tuple(dep for name in self if (dep := REGISTRY[name].departure) is not None)

    @cached_property
    def member_edits(self) -> dict[str, list[Departure]]:
        """The extra/dropped-member edits switched on, by the schema location they apply to."""
        from .reshape import by_location

        return by_location(self.departures)

    def success_status(self, operation_id: str) -> int:
        """The status a success of ``operation_id`` is answered with (200 unless a status variant is on)."""
        codes = [d.status for d in self.departures if d.kind == "status" and d.operation == operation_id]
        return min(codes, default=200)


# --- payload shapes and required fields
SUCCESS_DATA_EMPTY = register(
    "success-data-empty",
    "2xx of setSectionVisibilities, enableSections, populateMenu, syncMenuToStores and resetStoreOverrides "
    "answer data {} (createSection still {id}, publishMenu still {success, failed})",
    changes=(
        "section.visibilities-result",
        "enable.result-count",
        "populate.result-counts",
        "sync.result-counts",
        "reset.result-count",
    ),
)
CREATE_NOTHING_REQUIRED = register(
    "create-nothing-required",
    "createSection requires no field: a body without title creates a section",
    changes=("section.create-title-required",),
)
TIMES_REQUIRED = register(
    "times-required",
    "every populate/sync section entry must carry availableTimes as well as sequence "
    "(missing or null: 400 request_invalid)",
    changes=("populate.times-optional",),
)
SEQUENCE_OPTIONAL = register(
    "sequence-optional",
    "a populate/sync section entry may leave out sequence (it then defaults to 0)",
    changes=("populate.sequence-required",),
)
UNKNOWN_FIELDS_IGNORED = register(
    "unknown-fields-ignored",
    "body fields an operation's schema does not define are dropped and ignored instead of answered 400",
    changes=("input.unknown-fields",),
)
NULL_REJECTED = register(
    "null-rejected",
    "an optional body field sent as null gets 400 request_invalid (enableSections' isEnabled excepted, "
    "whose null the docs read as false; reset's passthrough keys excepted)",
    changes=("input.null-means-absent", "section.empty-zone-stores-business", "populate.times-optional"),
)
FLOAT_INTEGERS_ACCEPTED = register(
    "float-integers-accepted",
    "integral floats in a body (2.0) are accepted as the integers they spell",
    changes=("input.strict-integers",),
)
DEPTH_64 = register(
    "depth-64",
    "JSON bodies nested up to 64 levels are parsed (limit 64, not 32)",
    changes=("input.deep-nesting",),
)
# --- ids in queries and paths
ZERO_IDS_404 = register(
    "zero-ids-404",
    "a brand_id, branch_id or sectionID of 0 is looked up like any id and answered 404 resource_not_found, not 400",
    changes=("input.query-id-zero-invalid",),
)
LEADING_ZERO_IDS_400 = register(
    "leading-zero-ids-400",
    "a brand_id, branch_id or sectionID written with leading zeros (0663) gets 400 request_invalid "
    "instead of being read as 663",
    changes=("input.query-id-leading-zeros",),
)
UNKNOWN_QUERY_400 = register(
    "unknown-query-400",
    "a query parameter the operation does not define gets 400 request_invalid",
    changes=("routing.unknown-query-ignored",),
)
# --- order of checks
TENANCY_BEFORE_VALIDATION = register(
    "tenancy-before-validation",
    "a foreign or unknown store or section named in the path or body gets 404 even when the body is "
    "otherwise invalid (ownership is checked before validation)",
    changes=("envelope.validation-before-tenancy",),
)
AUTH_BEFORE_ROUTING = register(
    "auth-before-routing",
    "the Authorization header is checked before the path and method: an unknown path or wrong method "
    "without valid credentials gets the auth error, not 404/405",
    changes=("envelope.routing-before-auth",),
)
NO_405 = register(
    "no-405",
    "a wrong method on a known path gets 404 resource_not_found (no 405, no Allow header)",
    changes=("routing.method-not-allowed-405",),
)
# --- auth
EMPTY_KEY_INVALID = register(
    "empty-key-invalid",
    "a Basic header with an empty partner key gets 401 auth_invalid_credential (not auth_missing)",
    changes=("auth.empty-key-missing",),
)
REVOKED_BEFORE_SECRET = register(
    "revoked-before-secret",
    "a revoked partner key is answered as revoked whatever secret it comes with",
    changes=("auth.revoked-wrong-secret",),
)
# --- idempotency
NO_REPLAYED_HEADER = register(
    "no-replayed-header",
    "replays carry no Idempotent-Replayed header",
    changes=("idempotency.replay-header",),
)
REPLAY_NEW_REQUEST_ID = register(
    "replay-new-request-id",
    "an idempotent replay carries a new request_id (status, data and error as recorded)",
    changes=("idempotency.replay-same-request-id",),
)
ERRORS_REPLAYED = register(
    "errors-replayed",
    "4xx answers are stored under their Idempotency-Key and replayed too (a corrected body with the same key gets 409)",
    changes=("idempotency.only-2xx-stored",),
)
IN_FLIGHT_WAITS = register(
    "in-flight-waits",
    "a duplicate arriving while the first request with its key is in flight waits for it and gets the replay (no 409)",
    changes=("idempotency.in-flight-conflict",),
)
# --- rate limit
WRITES_TAKE_TOKENS = register(
    "writes-take-tokens",
    "only writes take rate-limit tokens; reads are never throttled",
    changes=("ratelimit.every-request-counts",),
)
RETRY_AFTER_60 = register(
    "retry-after-60",
    "every 429 says Retry-After: 60 whatever the bucket's refill time",
    changes=("ratelimit.retry-after-until-token",),
)
# --- menus
PUBLISH_EMPTY_COUNTS_SUCCESS = register(
    "publish-empty-counts-success",
    "publish counts a store without a menu as a success (it has nothing to rebuild)",
    changes=("publish.unpopulated-counts-failed",),
)
# --- transport (the ASGI adapter, standin/sandbox.py, applies them; the respx simulator has no transport)
GZIP = register(
    "gzip",
    "answers are gzip-encoded (Content-Encoding: gzip) whenever the request accepts gzip",
    changes=("transport.plain-responses",),
)
CONNECTION_CLOSE = register(
    "connection-close",
    "every answer carries Connection: close and the server closes the connection after it",
    changes=("transport.plain-responses",),
)
CLOCK_SKEW = register(
    "clock-skew",
    "the server's clock runs 90 s ahead of the harness's: its Date header and its scheduled publishes follow it",
    changes=("transport.plain-responses",),
)
LATENCY = register(
    "latency",
    "every answer is sent after a 40 ms pause",
    changes=("transport.plain-responses",),
)
#: the transport variants: like the generated ones, run alone only when drawn (they change no rule)
TRANSPORT = frozenset({GZIP, CONNECTION_CLOSE, CLOCK_SKEW, LATENCY})
#: how far the clock-skew variant's clock is ahead, and the latency variant's pause
CLOCK_SKEW_S = 90.0
LATENCY_S = 0.04


# --- generated from the contract's response side (core/generated_variants.py)
#: departures the stand-in cannot show: its answers never carry the member they drop or edit inside
#: (tests/standin/test_variants.py proves each leaves every answer as it is)
UNSHOWN = frozenset(
    {
        "drop-member.menu-section.categories",
        "drop-member.menu-section.linked-categories",
        "extra-member.menu-section.categories.items",
    }
)


#: departures a documented sentence forbids where the schema cannot say so (one MenuSection schema serves
#: both getMenu modes, so it cannot require the store-mode fields): name → the behaviour that states it
STATED_ELSEWHERE: Mapping[str, str] = {
    "drop-member.menu-section.attached-with-store": "getmenu.store-fields",
    "drop-member.menu-section.is-available": "getmenu.store-fields",
    "drop-member.menu-section.stock-enabled": "getmenu.store-fields",
}
#: behaviours a generated departure also changes that the schema cannot say: DESIGN states error.details
#: for an invalid schedule and an in-flight duplicate, while Error lists details as optional
ALSO_CHANGES: Mapping[str, tuple[str, ...]] = {
    "drop-member.error.details": ("schedule.invalid-details-field", "idempotency.in-flight-conflict"),
}


def generated_departures() -> list[Departure]:
    """Every departure the contract's response side allows (``UNSHOWN`` ones included)."""

    def status_of(bid: str) -> str:
        return contract.behaviour(bid).status

    return departures(contract.openapi(), status_of)


def _register_generated() -> tuple[str, ...]:
    return tuple(
        register(dep.name, dep.description, changes=(*dep.changes, *ALSO_CHANGES.get(dep.name, ())), departure=dep)
        for dep in generated_departures()
        if dep.name not in UNSHOWN and dep.name not in STATED_ELSEWHERE
    )


GENERATED = _register_generated()


# --- multi-fault
LAST_FAULT_FIRST = register(
    "last-fault-first",
    "a request with several faults is answered for the last one in the reference order (Idempotency-Key, body "
    "parsing, query, body schema, path ids, business rules) instead of the first: a missing key with a malformed "
    "body gets the malformed-body 400",
    changes=("envelope.check-order",),
)
