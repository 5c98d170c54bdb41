"""The variant registry: only assumed or incidental behaviours may be changed, names are unique."""

from __future__ import annotations

import pytest

from klikit_harness import contract
from klikit_harness.core import variants
from klikit_harness.core.variants import REGISTRY, VariantSet, register


@pytest.fixture
def scratch_registry(monkeypatch):
    """register() writes into a copy, so test variants never leak into the real registry."""
    monkeypatch.setattr(variants, "REGISTRY", dict(REGISTRY))
    return variants.REGISTRY


def _id_with_status(status: str) -> str:
    return next(b.id for b in contract.behaviours().values() if b.status == status)


def test_register_adds_a_variant_of_an_assumed_or_incidental_behaviour(scratch_registry):
    assumed, incidental = _id_with_status("assumed"), _id_with_status("incidental")
    name = register("scratch-variant", "a test variant", changes=(assumed, incidental))
    assert name == "scratch-variant"
    assert scratch_registry[name].changes == (assumed, incidental)
    assert "scratch-variant" not in REGISTRY


def test_a_duplicate_name_is_refused(scratch_registry):
    existing = next(iter(REGISTRY))
    with pytest.raises(ValueError, match="already registered"):
        register(existing, "again", changes=REGISTRY[existing].changes)


def test_an_unknown_behaviour_id_is_refused_with_the_fix(scratch_registry):
    with pytest.raises(ValueError, match=r"unknown behaviour 'no\.such-rule'.*behaviours\.yaml"):
        register("scratch-unknown", "changes nothing real", changes=("no.such-rule",))
    assert "scratch-unknown" not in scratch_registry


@pytest.mark.parametrize("status", ["documented", "contested"])
def test_a_documented_or_contested_behaviour_is_refused(scratch_registry, status):
    fixed = _id_with_status(status)
    with pytest.raises(ValueError, match=f"{status}: a variant may only change assumed or incidental"):
        register("scratch-fixed", "changes a fixed rule", changes=(fixed,))
    assert "scratch-fixed" not in scratch_registry


def test_a_variant_must_change_something_and_names_are_kebab(scratch_registry):
    with pytest.raises(ValueError, match="changes no behaviour"):
        register("scratch-empty", "nothing", changes=())
    with pytest.raises(ValueError, match="lowercase-kebab"):
        register("Scratch Variant", "bad name", changes=(_id_with_status("assumed"),))


def test_every_registered_variant_changes_only_assumed_or_incidental_behaviours():
    statuses = {b.id: b.status for b in contract.behaviours().values()}
    assert len(REGISTRY) >= 20
    for variant in REGISTRY.values():
        assert variant.description
        for bid in variant.changes:
            assert statuses[bid] in {"assumed", "incidental"}, (variant.name, bid)


def test_variant_set_refuses_unknown_names_and_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown variant") as info:
        VariantSet(["no-such-variant"])
    message = str(info.value)
    assert "no-such-variant" in message
    assert all(name in message for name in REGISTRY)


def test_variant_set_membership_iteration_and_truth():
    empty = VariantSet()
    assert not empty and list(empty) == [] and len(empty) == 0
    names = sorted(REGISTRY)[:2]
    chosen = VariantSet(reversed(names))
    assert chosen and list(chosen) == names and len(chosen) == 2
    assert chosen.on(names[0]) and not chosen.on(sorted(REGISTRY)[2])
