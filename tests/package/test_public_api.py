"""The front door: what ``import klikit_harness`` offers partner teams, and what it costs.

Like httpx's ``tests/test_exported_members.py``: the public names are written
out here, so adding or removing one is a deliberate change to this list.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

import klikit_harness

PUBLIC = {
    # the reference client
    "KlikitClient",
    "KlikitResponse",
    "RetryPolicy",
    # its errors (klikit_harness/errors.py draws the hierarchy)
    "ApiError",
    "AuthError",
    "ConflictError",
    "ConnectFailed",
    "ConnectionLost",
    "ContractViolation",
    "DownstreamUnavailableError",
    "ForbiddenScopeError",
    "IdempotencyConflictError",
    "InternalServerError",
    "InvalidCredentialError",
    "InvalidRangeError",
    "InvalidTransitionError",
    "KlikitError",
    "MethodNotAllowedError",
    "MissingAuthError",
    "MissingIdempotencyKeyError",
    "NotFoundError",
    "RateLimitedError",
    "RequestInvalidError",
    "RequestTimeout",
    "RevokedCredentialError",
    "TransientError",
    "TransportError",
    "UnmappedError",
    # the respx simulator and its fault registry
    "Simulator",
    "FaultContext",
    "fault",
    # the failure every harness check raises
    "Violation",
}


def test_all_is_the_curated_partner_api():
    assert set(klikit_harness.__all__) == PUBLIC
    assert len(klikit_harness.__all__) == len(PUBLIC), "a name is listed twice in __all__"


def test_every_public_name_resolves_and_belongs_to_the_package():
    for name in klikit_harness.__all__:
        member = getattr(klikit_harness, name)
        assert getattr(member, "__module__", "").startswith("klikit_harness."), name


def test_the_domain_core_is_not_part_of_the_front_door():
    with pytest.raises(AttributeError, match="Service"):
        klikit_harness.Service  # noqa: B018


def test_importing_the_package_loads_no_framework_and_reads_no_contract_file():
    """``import klikit_harness`` must stay cheap: no pytest, respx, uvicorn, Starlette or Schemathesis."""
    probe = (
        "import sys, klikit_harness, klikit_harness.contract as c\n"
        "heavy = sorted(m for m in ('pytest', 'respx', 'uvicorn', 'starlette', 'schemathesis', 'hypothesis')"
        " if m in sys.modules)\n"
        "print(heavy, c.errors.cache_info().currsize, c.behaviours.cache_info().currsize)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[] 0 0", out


def test_the_simulator_loads_on_first_use():
    probe = (
        "import sys, klikit_harness\n"
        "before = 'respx' in sys.modules\n"
        "klikit_harness.Simulator\n"
        "print(before, 'respx' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False True", out
