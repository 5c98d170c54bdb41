"""Hand-picked inputs the generators rarely reach, held to the same checks as generated ones.

Each is sent over every transport of the profile and must pass the harness's
checks (``klikit_input_answer`` decides the expected answer from the
request) and never be answered with a 5xx. A test's own expectation names the
behaviour it encodes and is settled like every check: on a target other than
the reference stand-in an assumed or incidental one is recorded, not failed.
"""

from __future__ import annotations

from typing import Any

import pytest
from schemathesis.checks import not_a_server_error

from klikit_harness.checking import fuzz_hooks
from klikit_harness.partner.envelope import is_success
from klikit_harness.suites.fuzz import support

# A failure is raised as the Violation of the behaviour it breaks, so Hypothesis prints the failing
# example itself, whose repr (the drawn case with its operation) can exceed Hypothesis's 30 kB warning.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr:hypothesis.errors.HypothesisWarning")

schema = support.load_schema(phases=("examples",))
CHECKS = [not_a_server_error, *fuzz_hooks.HARNESS_CHECKS]
FAR_FUTURE = "9999-12-31T23:59:59-23:59"  # a valid instant past Python's datetime.max once in UTC


def send(fuzz: support.FuzzRun, path: str, method: str, **parts: Any) -> list[Any]:
    if method != "GET":
        parts.setdefault("headers", {"Idempotency-Key": "edge"})  # replaced by a fresh UUID before sending
        parts.setdefault("media_type", "application/json")
    responses = []
    for transport in fuzz.transports:
        case = schema[path][method].Case(**parts)
        response = fuzz.call(case, transport)
        fuzz.validate(case, response, transport, CHECKS)
        responses.append(response)
    return responses


def answered(status: int, statuses: set[int]) -> bool:
    """``statuses`` holds the answer's status; 200 stands for any 2xx (only success is stated)."""
    return status in statuses or (200 in statuses and is_success(status))


def expect(fuzz: support.FuzzRun, responses: list[Any], statuses: set[int], behaviour: str, title: str) -> None:
    for response in responses:
        fuzz.expect(
            answered(response.status_code, statuses),
            title,
            behaviour,
            response=response,
            documented=" or ".join("2xx" if s == 200 else str(s) for s in sorted(statuses)),
        )


def own_store(fuzz: support.FuzzRun) -> dict[str, int]:
    return fuzz.settings.stores[0]


@pytest.mark.behaviour("input.wrong-types", "input.absurd-numbers")
@pytest.mark.parametrize(
    "brand",
    ["²", "٦٦٣", "9" * 5000, "0663", "+663"],
    ids=["superscript", "arabic-indic", "5000-digits", "leading-zero", "plus"],
)
def test_get_menu_store_ids_are_ascii_positive_int32(fuzz, brand):
    responses = send(fuzz, "/menus", "GET", query={"brand_id": brand, "branch_id": own_store(fuzz)["branchID"]})
    assert all(answered(r.status_code, {200, 400, 404}) for r in responses)  # the exact answer is klikit_input_answer's


@pytest.mark.behaviour("input.wrong-types", "input.query-id-zero-invalid", "tenancy.foreign-section-404")
@pytest.mark.parametrize(
    ("section", "behaviour"),
    [
        ("²", "input.wrong-types"),
        ("١٠٢٢", "input.wrong-types"),
        ("9" * 5000, "input.absurd-numbers"),
        ("0", "input.query-id-zero-invalid"),
    ],
    ids=["superscript", "arabic-indic", "5000-digits", "zero"],
)
def test_section_path_ids_are_ascii_positive_int32(fuzz, section, behaviour):
    responses = send(
        fuzz,
        "/menus/sections/{sectionID}/visibilities",
        "PATCH",
        path_parameters={"sectionID": section},
        body={"visibilities": {"1": True}},
    )
    expect(fuzz, responses, {400}, behaviour, f"sectionID {section[:12]!r} is not a positive int32 id")


@pytest.mark.behaviour("publish.scheduled")
@pytest.mark.parametrize(("when", "status"), [("", 400), (FAR_FUTURE, 200), ("0001-01-01T00:00:00Z", 200)])
def test_scheduled_at_edges(fuzz, when, status):
    body = {"stores": [own_store(fuzz)], "providerIDs": [1], "scheduledAt": when}
    expect(
        fuzz, send(fuzz, "/menus/publish", "POST", body=body), {status}, "publish.scheduled", f"scheduledAt {when!r}"
    )


@pytest.mark.behaviour("section.create-returns-id", "input.malformed-json")
def test_titles_outside_the_basic_multilingual_plane(fuzz):
    responses = send(fuzz, "/menus/sections", "POST", body={"title": {"en": f"{fuzz.target.run_id} 🍜 ramen"}})
    expect(fuzz, responses, {200}, "section.create-returns-id", "a title outside the Basic Multilingual Plane")


@pytest.mark.behaviour("input.id-keyed-map-keys")
def test_id_keys_with_a_trailing_newline_are_rejected(fuzz):
    section = fuzz.settings.own_sections[0]
    responses = send(
        fuzz,
        "/menus/sections/{sectionID}/visibilities",
        "PATCH",
        path_parameters={"sectionID": section},
        body={"visibilities": {"1\n": True}},
    )
    expect(fuzz, responses, {400}, "input.id-keyed-map-keys", "a visibilities key with a trailing newline")
