"""Writes without a usable Idempotency-Key: the negative cases the fuzzing phase leaves alone.

The fuzzing phase gives every write whose generated key is valid a fresh
UUID (tiny redrawn keys would otherwise replay or conflict). These tests take
schema-valid writes and remove the key, or make it longer than 64
characters, and require the documented 400 — under the concepts reading the
key is optional, so a write without one is processed — and, on the embedded
stand-in, no write.
"""

from __future__ import annotations

import pytest
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

from klikit_harness import contract
from klikit_harness.checking import fuzz_hooks, verdicts
from klikit_harness.suites.fuzz import support

# A failure is raised as the Violation of the behaviour it breaks, so Hypothesis prints the failing
# example itself, whose repr (the drawn case with its operation) can exceed Hypothesis's 30 kB warning.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr:hypothesis.errors.HypothesisWarning")

writes = support.load_schema(mode="positive", phases=("fuzzing",), max_examples=support.budget().key_examples).include(
    method=["POST", "PATCH"]
)

CHECKS = [not_a_server_error, *fuzz_hooks.HARNESS_CHECKS]


def _answer(fuzz, case):
    before = fuzz.writes()
    response = fuzz.call(case)
    fuzz.validate(case, response, fuzz.transports[0], CHECKS)
    return response, before


def _other_faults(fuzz, response) -> bool:
    """Does the request break more than its key (a body the documented view generates may break a rule the
    target applies)? A server may then answer another fault: ``klikit_input_answer`` has judged which."""
    verdict = verdicts.expected_answer(fuzz_hooks.exchange_of(response), fuzz.settings.ctx)
    return isinstance(verdict, verdicts.Reject) and len(verdict.faults) > 1


@pytest.mark.behaviour("idempotency.key-required-on-writes", "codes.vocabulary")
@writes.parametrize()
def test_write_without_key(case, fuzz):
    case.headers.pop("Idempotency-Key", None)
    response, before = _answer(fuzz, case)
    code = response.json().get("error", {}).get("code") if response.status_code >= 400 else None
    missing = contract.errors().code_for("request_missing_idempotency_key", fuzz.target.reading)
    if fuzz.target.reading == "reference":
        if not _other_faults(fuzz, response):
            assert (response.status_code, code) == (missing.status, missing.code)
        assert before is None or fuzz.writes() == before
    else:
        assert code != missing.code


@pytest.mark.behaviour("idempotency.key-over-64-invalid", "idempotency.key-max-64")
@writes.given(length=st.integers(65, 300))
@writes.parametrize()
def test_write_with_key_over_64_characters(case, length, fuzz):
    case.headers["Idempotency-Key"] = "k" * length
    response, before = _answer(fuzz, case)
    invalid = contract.errors().code_for("request_invalid", fuzz.target.reading)
    code = response.json().get("error", {}).get("code") if response.status_code >= 400 else None
    fuzz.expect(
        (response.status_code, code) == (invalid.status, invalid.code) or _other_faults(fuzz, response),
        f"Idempotency-Key of {length} characters",
        "idempotency.key-over-64-invalid",
        response=response,
        documented=f"{invalid.status} {invalid.code}",
    )
    assert before is None or fuzz.writes() == before
