"""Reshaping an answer by the generated variants: each edit lands on every instance of its schema, nowhere else."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from klikit_harness.core.generated_variants import EXTRA_MEMBER, Departure
from klikit_harness.core.reshape import by_location, matches, reshape

DOC: dict[str, Any] = {
    "components": {
        "schemas": {
            "Envelope": {
                "type": "object",
                "properties": {"request_id": {"type": "string"}, "data": {"$ref": "#/components/schemas/Menu"}},
            },
            "Menu": {
                "type": "object",
                "properties": {
                    "menu": {"oneOf": [{"$ref": "#/components/schemas/Store"}, {"$ref": "#/components/schemas/Biz"}]}
                },
            },
            "Store": {
                "type": "object",
                "required": ["branchInfo", "sections"],
                "properties": {
                    "branchInfo": {"type": "object", "properties": {"id": {"type": "integer"}}},
                    "sections": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
                },
            },
            "Biz": {
                "type": "object",
                "required": ["businessInfo", "sections"],
                "properties": {
                    "businessInfo": {"type": "object"},
                    "sections": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
                },
            },
            "Node": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                    "times": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/Day"}},
                },
            },
            "Day": {"type": "object", "properties": {"open": {"type": "boolean"}}},
        }
    }
}
ROOT = ("components/schemas/Envelope", DOC["components"]["schemas"]["Envelope"])


def extra(location: str) -> Departure:
    return Departure(f"extra-member.{location}", "extra-member", location, "", "", 0, ("x",))


def drop(location: str, member: str) -> Departure:
    return Departure(f"drop-member.{location}.{member}", "drop-member", location, member, "", 0, ("x",))


def answer(mode: str = "store") -> dict[str, Any]:
    node = {"id": 1, "note": None, "times": {"0": {"open": True}, "1": {"open": False}}}
    head = {"branchInfo": {"id": 7}} if mode == "store" else {"businessInfo": {"name": "b"}}
    return {"request_id": "r", "data": {"menu": {**head, "sections": [node, {**node, "id": 2}]}}}


def run(value: Any, *deps: Departure) -> Any:
    return reshape(DOC, *ROOT, value, by_location(deps))


def test_an_extra_member_lands_on_every_instance_of_its_schema_through_ref_one_of_items_and_maps():
    out = run(answer(), extra("components/schemas/Node"), extra("components/schemas/Day"))
    nodes = out["data"]["menu"]["sections"]
    assert all(n[EXTRA_MEMBER] == {"k": 1} for n in nodes)
    assert all(EXTRA_MEMBER in day for n in nodes for day in n["times"].values())
    assert EXTRA_MEMBER not in out and EXTRA_MEMBER not in out["data"]["menu"]


def test_the_one_of_branch_that_matches_is_followed():
    store_info = extra("components/schemas/Store/properties/branchInfo")
    assert EXTRA_MEMBER in run(answer("store"), store_info)["data"]["menu"]["branchInfo"]
    biz = run(answer("business"), store_info, extra("components/schemas/Biz"))
    assert EXTRA_MEMBER in biz["data"]["menu"] and EXTRA_MEMBER not in biz["data"]["menu"]["businessInfo"]


def test_a_dropped_member_leaves_every_instance_and_only_it():
    out = run(answer(), drop("components/schemas/Node", "note"))
    assert all(set(n) == {"id", "times"} for n in out["data"]["menu"]["sections"])
    assert out["data"]["menu"]["branchInfo"] == {"id": 7}


def test_the_answer_given_is_not_changed():
    original = answer()
    kept = copy.deepcopy(original)
    run(original, drop("components/schemas/Node", "id"), extra("components/schemas/Envelope"))
    assert original == kept


def test_matches_reads_type_required_and_forbidden_members():
    schema = {"type": "object", "required": ["a"], "properties": {"b": False}}
    assert matches(DOC, schema, {"a": 1})
    assert not matches(DOC, schema, {"a": 1, "b": 2})
    assert not matches(DOC, schema, {"c": 1})
    assert not matches(DOC, {"type": "integer"}, True)
    assert matches(DOC, {"type": ["string", "null"]}, None)
    assert not matches(DOC, {"type": "object", "properties": {"b": {"not": {}}}}, {"b": 1})


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["id", "note", "times", "x"]), inner, max_size=3)
    ),
    max_leaves=12,
)


@given(JSON)
def test_without_edits_any_value_comes_back_unchanged(value):
    assert run(value) == value


@given(st.lists(st.integers(min_value=1, max_value=9), min_size=1, max_size=5))
def test_dropping_then_adding_touches_only_the_named_schema(ids):
    value = {"request_id": "r", "data": {"menu": {"branchInfo": {"id": 1}, "sections": [{"id": i} for i in ids]}}}
    out = run(value, drop("components/schemas/Node", "id"), extra("components/schemas/Node"))
    assert out["data"]["menu"]["sections"] == [{EXTRA_MEMBER: {"k": 1}} for _ in ids]
    assert out["data"]["menu"]["branchInfo"] == {"id": 1} and out["request_id"] == "r"
