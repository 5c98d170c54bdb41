"""The persist list and sync override rules of the oracle."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from klikit_harness.checking import strategies as ks
from klikit_harness.core import menus


@pytest.mark.behaviour("sync.persisted-fields-kept")
def test_default_persist_list_is_the_four_documented_fields():
    assert menus.persist_list() == {"availableTimes", "isEnabled", "visibilities", "blackoutDates"}


@pytest.mark.behaviour("sync.field-include-overwrites")
@given(ks.field_include_lists())
def test_field_include_subtracts_from_the_default(include):
    assert menus.persist_list(include) == menus.DEFAULT_PERSIST_LIST - set(include)


@pytest.mark.behaviour("sync.persist-list-replaced")
@given(ks.persist_field_on_sync(), ks.field_include_lists())
def test_explicit_list_replaces_the_default_then_include_subtracts(explicit, include):
    expected = (set(explicit.get("sections", [])) - set(include)) & menus.DEFAULT_PERSIST_LIST
    assert menus.persist_list(include, explicit) == expected


@pytest.mark.behaviour("sync.persist-list-replaced")
def test_missing_level_means_an_empty_list():
    assert menus.persist_list(None, {"items": ["availableTimes"]}) == frozenset()


@pytest.mark.behaviour("sync.persisted-fields-kept", "sync.field-include-overwrites", "sync.explicit-times-override")
@given(
    st.fixed_dictionaries({}, optional={f: st.just(f"store-{f}") for f in menus.OVERRIDABLE_FIELDS}),
    st.frozensets(st.sampled_from(menus.OVERRIDABLE_FIELDS)),
    st.one_of(st.none(), ks.nonempty_schedules()),
)
def test_synced_overrides_keep_only_persisted_and_explicit(existing, keep, explicit):
    out = menus.synced_overrides(existing, keep, explicit)
    for name in menus.OVERRIDABLE_FIELDS:
        if name == "availableTimes" and explicit:
            assert out[name] == explicit
        elif name in keep and name in existing:
            assert out[name] == existing[name]
        else:
            assert name not in out


@pytest.mark.behaviour("populate.skips-populated-stores")
def test_a_store_has_a_menu_once_one_section_is_attached():
    assert not menus.has_menu({})
    assert menus.has_menu({1022: 1})
