"""Seeded defects: named switches that make the stand-in behave like a buggy server.

Owns: the registry of defects (name → the real-world bug it imitates) and the
set of switches active in one stand-in. Must not: be consulted by the oracle
(``schedules``, ``menus``): the suites' expectations stay the documented rules.

Adding a defect: call ``register("name", "one-line description", family=...)`` at
module level below, then test ``defects.on(NAME)`` where the bug would live.
``klikit-harness mutants`` picks it up by itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .switches import SwitchSet


@dataclass(frozen=True)
class Defect:
    name: str
    description: str
    family: str


REGISTRY: dict[str, Defect] = {}


def register(name: str, description: str, *, family: str) -> str:
    """Register one defect; a duplicate name is a programming error."""
    if name in REGISTRY:
        raise ValueError(f"defect {name!r} is already registered")
    if not name or name != name.lower() or " " in name:
        raise ValueError(f"defect names are lowercase-kebab, got {name!r}")
    REGISTRY[name] = Defect(name, description, family)
    return name


class DefectSet(SwitchSet):
    """The defects switched on in one stand-in (empty: a correct server)."""

    kind = "defect"

    @classmethod
    def registry(cls) -> Mapping[str, Defect]:
        return REGISTRY


# --- menu-publish semantics
POPULATE_OVERWRITES = register(
    "populate-overwrites-populated",
    "populate re-attaches sections to stores that already have a menu instead of skipping them",
    family="populate",
)
POPULATE_PARTIAL = register(
    "populate-partial-write",
    "populate writes store by store and leaves earlier stores changed when a later one fails",
    family="atomicity",
)
OVERLAP_OFF = register("overlap-check-off", "colliding schedule overrides are accepted", family="schedules")
OVERLAP_OFF_BY_ONE = register(
    "overlap-off-by-one",
    "slots that only touch (900-1200, 1200-1500) are reported as overlapping",
    family="schedules",
)
DISABLED_DAYS_CHECKED = register(
    "overlap-checks-disabled-days",
    "slots of a disabled weekday take part in the overlap check",
    family="schedules",
)
EMPTY_TIMES_NO_FALLBACK = register(
    "empty-times-no-fallback",
    "availableTimes {} is stored as an empty override instead of falling back to the business schedule",
    family="schedules",
)
SYNC_OVERWRITES_PERSISTED = register(
    "sync-overwrites-persisted",
    "sync ignores the persist list and overwrites every store override",
    family="sync",
)
FIELD_INCLUDE_IGNORED = register(
    "field-include-ignored", "fieldIncludeOnSync is accepted but has no effect", family="sync"
)
PERSIST_LIST_MERGED = register(
    "persist-list-merged",
    "an explicit persistFieldOnSync is merged into the default list instead of replacing it",
    family="sync",
)
SYNC_POPULATES_EMPTY = register(
    "sync-populates-empty-stores",
    "sync attaches sections to stores that were never populated",
    family="sync",
)
GETMENU_LIVE = register(
    "getmenu-live",
    "store-mode getMenu renders the live menu instead of the last published snapshot",
    family="publish",
)
PUBLISH_COUNTS_EMPTY = register(
    "publish-counts-empty-as-success",
    "publish counts a store without a menu as a success",
    family="publish",
)
RESET_KEEPS_OVERRIDES = register(
    "reset-keeps-overrides", "reset answers 200 but store overrides survive", family="reset"
)
VISIBILITY_MERGED = register(
    "visibility-merged",
    "setSectionVisibilities merges the new map into the old one instead of replacing it",
    family="sections",
)
ZONE_STORES_WRITE_BUSINESS = register(
    "zone-stores-write-business",
    "a visibility/enable write with zoneStores also changes the business-level row",
    family="sections",
)
ENABLE_NULL_TRUE = register(
    "enable-missing-is-true", "enableSections reads a missing isEnabled as true", family="sections"
)
# --- idempotency
REPLAY_REEXECUTES = register(
    "replay-reexecutes",
    "a replayed Idempotency-Key performs the write again and answers a new response",
    family="idempotency",
)
CONFLICT_200 = register(
    "conflict-answered-200",
    "the same Idempotency-Key with a different body is executed instead of answered 409",
    family="idempotency",
)
KEYS_GLOBAL = register(
    "idempotency-keys-global",
    "Idempotency-Keys are shared by all credentials instead of scoped per credential",
    family="idempotency",
)
NO_IN_FLIGHT = register(
    "in-flight-executes-twice",
    "a duplicate arriving while the first request is in flight is executed again",
    family="idempotency",
)
ERRORS_STORED = register(
    "idempotency-stores-errors",
    "4xx responses are stored under their Idempotency-Key, so a corrected retry gets 409",
    family="idempotency",
)
MISSING_KEY_ACCEPTED = register(
    "missing-key-accepted", "writes without Idempotency-Key are executed", family="idempotency"
)
# --- auth and tenancy
OLD_SECRET_ACCEPTED = register("old-secret-accepted", "a rotated-out secret keeps working", family="auth")
REVOKED_ACCEPTED = register("revoked-accepted", "a revoked credential keeps working", family="auth")
SCOPE_NOT_ENFORCED = register("scope-not-enforced", "a read-only credential can call menu writes", family="auth")
FOREIGN_STORE_REACHABLE = register(
    "foreign-store-reachable",
    "another business's store can be read and written",
    family="tenancy",
)
FOREIGN_SECTION_403 = register(
    "foreign-section-403",
    "another business's section answers 403 (leaking that it exists) instead of 404",
    family="tenancy",
)
# --- envelope and transport
REQUEST_ID_MISSING = register("request-id-missing-on-errors", "error responses carry no request_id", family="envelope")
WRONG_STATUS = register(
    "wrong-status-for-code",
    "request_invalid is answered with HTTP 422 instead of the catalogue's 400",
    family="envelope",
)
HTML_500_MALFORMED = register(
    "html-500-on-malformed-json",
    "malformed JSON crashes the handler: 500 with an HTML body",
    family="input",
)
ASTRAL_TITLE_CRASH = register(
    "astral-title-crash",
    "a title with a character outside the Basic Multilingual Plane (an emoji) crashes the write "
    "(a 3-byte utf8 column): 500",
    family="input",
)
LOOSE_INTEGERS = register("loose-integers", "integer fields accept 2.0 (a float) like 2", family="input")
RATE_LIMIT_NO_ENVELOPE = register(
    "rate-limit-no-envelope",
    "429 answers are plain text without the envelope or Retry-After",
    family="ratelimit",
)
# --- seen only from outside: headers, boundaries, credentials of every shape, time
SUCCESS_TEXT_PLAIN = register(
    "success-text-plain",
    "2xx answers carry Content-Type text/plain (the body is still the JSON envelope)",
    family="envelope",
)
REPLAY_WITHOUT_CONTENT_TYPE = register(
    "replay-without-content-type",
    "an idempotent replay is served from a cache that keeps the body only: no Content-Type",
    family="idempotency",
)
ALLOW_MISSING_ON_WRITE_PATHS = register(
    "allow-missing-on-write-paths",
    "405 on a write-only path (e.g. GET /menus/publish) carries no Allow header",
    family="routing",
)
RETRY_AFTER_MISSING_ON_WRITES = register(
    "retry-after-missing-on-writes",
    "429 answers to writes carry no Retry-After (reads still do)",
    family="ratelimit",
)
SCHEDULED_NEAR_IMMEDIATE = register(
    "scheduled-publish-near-now-immediate",
    "a scheduledAt less than an hour ahead is published at once (compared with local time, UTC+1)",
    family="publish",
)
SCHEDULED_NEVER_RUNS = register(
    "scheduled-publish-never-runs",
    "a scheduled publish is accepted and counted but its time never comes",
    family="publish",
)
UNKNOWN_KEY_403 = register(
    "unknown-key-403",
    "an unknown partner_key is answered 403 auth_forbidden instead of 401 auth_invalid_credential",
    family="auth",
)
SECRET_OF_ANOTHER_KEY = register(
    "secret-of-another-key-accepted",
    "the secret is checked against every credential of the key's business, not the key's own",
    family="auth",
)
SECRET_PREFIX_ACCEPTED = register(
    "secret-prefix-accepted",
    "the secret is compared as a prefix: an empty or truncated secret passes",
    family="auth",
)
WEEKDAY_7_ACCEPTED = register(
    "weekday-7-accepted",
    'availableTimes key "7" is accepted as Sunday (ISO weekday numbering) instead of rejected',
    family="schedules",
)
HHMM_2400_ACCEPTED = register(
    "end-of-day-2400-accepted",
    "endTime 2400 is accepted (read as end of day) instead of rejected",
    family="schedules",
)
DEPTH_OFF_BY_ONE = register(
    "depth-limit-off-by-one",
    "JSON nested 33 levels deep is accepted (the depth check counts from 0)",
    family="input",
)
BODY_CAP_DECIMAL = register(
    "body-cap-decimal-mb",
    "bodies over 1,000,000 bytes are rejected (a decimal megabyte, not 1 MiB)",
    family="input",
)
INT32_MAX_REJECTED = register(
    "int32-max-rejected",
    "the int32 bound is checked with >=: 2147483647 is rejected",
    family="input",
)
