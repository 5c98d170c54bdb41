"""Every operation fuzzed from the contract: examples, coverage and fuzzing phases, all checks on.

Schemathesis generates valid and schema-violating requests from
contracts/openapi.yaml; every answer goes through its built-in checks and the
harness's own (``klikit_*``: envelope, catalogue, 429, secrets, the input
oracle, and on the embedded stand-in "a rejected request writes nothing").
"""

from __future__ import annotations

import pytest

from klikit_harness.suites.fuzz import support

# A failure is raised as the Violation of the behaviour it breaks, so Hypothesis prints the failing
# example itself, whose repr (the drawn case with its operation) can exceed Hypothesis's 30 kB warning.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr:hypothesis.errors.HypothesisWarning")

schema = support.load_schema()


@pytest.mark.behaviour(
    "envelope.request-id",
    "envelope.success-has-data",
    "envelope.error-shape",
    "envelope.code-status-catalogue",
    "envelope.json-body",
    "ratelimit.429-envelope-retry-after",
    "input.missing-required",
    "input.wrong-types",
    "input.strict-integers",
    "input.unknown-fields",
    "input.id-keyed-map-keys",
    "getmenu.one-param-400",
    "routing.unknown-query-ignored",
    "routing.method-not-allowed-405",
    "schedule.invalid-details-field",
    "tenancy.unknown-same-as-foreign",
)
@schema.parametrize()
def test_every_generated_request_gets_a_contract_answer(case, fuzz):
    fuzz.call_and_validate(case)
