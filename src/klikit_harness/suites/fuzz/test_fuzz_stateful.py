"""The stateful phase: scenarios that follow the contract's OpenAPI links.

createSection's id feeds setSectionVisibilities (path) and enableSections
(body); setSectionVisibilities feeds enableSections and itself. A created
section belongs to the caller, so each linked step must find it (the
built-in ``ensure_resource_availability`` check) and every answer passes the
same checks as the fuzzing phase.
"""

from __future__ import annotations

import hypothesis
import pytest

from klikit_harness.checking import fuzz_hooks
from klikit_harness.suites.fuzz import support

# A failure is raised as the Violation of the behaviour it breaks, so Hypothesis prints the failing
# example itself, whose repr (the drawn case with its operation) can exceed Hypothesis's 30 kB warning.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr:hypothesis.errors.HypothesisWarning")

schema = support.load_schema(phases=("stateful",))


@pytest.mark.behaviour(
    "section.create-returns-id",
    "visibility.replaces-map",
    "enable.missing-is-false",
    "tenancy.unknown-same-as-foreign",
    "envelope.request-id",
    "envelope.code-status-catalogue",
)
def test_linked_scenarios_find_what_they_created(fuzz):
    if fuzz.target.read_only:
        pytest.skip("read-only run: the scenarios create sections")
    budget = support.budget()
    for transport in fuzz.transports:

        class Scenarios(schema.as_state_machine()):  # type: ignore[misc]
            def get_call_kwargs(self, case, transport=transport):
                return fuzz.use(case, transport)

        with fuzz_hooks.judged():
            Scenarios.run(
                settings=hypothesis.settings(
                    max_examples=budget.stateful_examples,
                    stateful_step_count=budget.stateful_steps,
                    deadline=None,
                    database=None,
                    suppress_health_check=list(hypothesis.HealthCheck),
                )
            )
