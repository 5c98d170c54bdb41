"""What the chaos suite writes, and how it builds clients over a simulator.

Every write operation has one valid body against the packaged seed, so a test
parametrized over operations states only the fault it is about. Clients get
the simulator's transport (no global patching) and its fake ``sleep``: no
test ever waits for real.
"""

from __future__ import annotations

import copy
from typing import Any

from klikit_harness import contract
from klikit_harness.partner.client import KlikitClient, KlikitResponse, RetryPolicy
from klikit_harness.partner.errors import (
    ApiError,
    ConnectFailed,
    ConnectionLost,
    ContractViolation,
    DownstreamUnavailableError,
    ForbiddenScopeError,
    IdempotencyConflictError,
    InternalServerError,
    InvalidCredentialError,
    InvalidRangeError,
    InvalidTransitionError,
    KlikitError,
    MethodNotAllowedError,
    MissingAuthError,
    MissingIdempotencyKeyError,
    NotFoundError,
    RateLimitedError,
    RequestInvalidError,
    RequestTimeout,
    RevokedCredentialError,
    UnmappedError,
)
from klikit_harness.standin.simulator import Simulator

CATALOGUE = contract.errors()
POLICY = RetryPolicy.from_catalogue()

WRITE_OPERATIONS = [op.operation_id for op in contract.operations().values() if op.is_write]

#: operationId -> (body, path parameters): valid against the packaged seed
WRITES: dict[str, tuple[dict[str, Any], dict[str, int]]] = {
    "createSection": ({"title": {"en": "Chaos section"}, "sequence": 4}, {}),
    "setSectionVisibilities": ({"visibilities": {"1": True, "6": False}}, {"sectionID": 1022}),
    "enableSections": ({"ids": [1022, 1023], "isEnabled": True}, {}),
    "populateMenu": (
        {
            "stores": [{"brandID": 663, "branchID": 2001}],
            "sections": {"1022": {"sequence": 1, "availableTimes": {}}},
        },
        {},
    ),
    "syncMenuToStores": (
        {
            "stores": [{"brandID": 663, "branchID": 1062}],
            "sections": {"1022": {"sequence": 1, "availableTimes": {}}},
        },
        {},
    ),
    "publishMenu": ({"stores": [{"brandID": 663, "branchID": 1062}], "providerIDs": [1]}, {}),
    "resetStoreOverrides": ({"stores": [{"brandID": 663, "branchID": 1063}]}, {}),
}

#: the exception each reference code must raise — written out, not derived, so
#: the mapping in klikit_harness.partner.errors is checked rather than restated
EXPECTED_CLASS: dict[str, type[ApiError]] = {
    "auth_missing": MissingAuthError,
    "auth_invalid_credential": InvalidCredentialError,
    "auth_revoked": RevokedCredentialError,
    "auth_forbidden": ForbiddenScopeError,
    "request_invalid": RequestInvalidError,
    "request_missing_idempotency_key": MissingIdempotencyKeyError,
    "request_invalid_range": InvalidRangeError,
    "resource_not_found": NotFoundError,
    "resource_unmapped": UnmappedError,
    "state_invalid_transition": InvalidTransitionError,
    "state_idempotency_conflict": IdempotencyConflictError,
    "rate_limit_exceeded": RateLimitedError,
    "downstream_unavailable": DownstreamUnavailableError,
    "method_not_allowed": MethodNotAllowedError,
    "internal": InternalServerError,
}

#: transport-level faults: the exception the client ends with and whether it retries
TRANSPORT_OUTCOME: dict[str, tuple[type[KlikitError], bool]] = {
    "connect_error": (ConnectFailed, True),
    "read_timeout": (RequestTimeout, True),
    "reset_mid_body": (ConnectionLost, False),
    "truncated_json": (ContractViolation, False),
    "malformed_json": (ContractViolation, False),
    # a gateway's HTML 502: retried like downstream_unavailable, reported as a violation
    "html_502": (ContractViolation, True),
    "missing_request_id": (ContractViolation, False),
    "wrong_content_type": (ContractViolation, False),
    "unknown_code": (ContractViolation, False),
}


def expected_class(code: str) -> type[ApiError]:
    """The class a code of either vocabulary must raise: that of its first meaning."""
    return EXPECTED_CLASS[CATALOGUE.meanings(code)[0]]


def make_client(sim: Simulator, **overrides: Any) -> KlikitClient:
    """A client of the simulator's main credential, over its transport, with fake time."""
    options: dict[str, Any] = {"transport": sim.transport(), "sleep": sim.sleep}
    options.update(overrides)
    return KlikitClient(sim.base_url, sim.partner_key, sim.secret_key, **options)


def write(client: KlikitClient, operation_id: str, **kwargs: Any) -> KlikitResponse:
    """One logical call of a write operation with its valid body."""
    body, path_params = WRITES[operation_id]
    return client.call(operation_id, copy.deepcopy(body), path_params=path_params or None, **kwargs)
