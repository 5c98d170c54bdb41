"""The klikit-harness pytest plugin (entry point ``pytest11``).

Owns: the ``behaviour`` marker (every check names the contracts/behaviours.yaml
ids it proves; unknown ids stop collection with a message saying where to add
them) and the fixtures partner teams get with ``pip install klikit-harness``.
Must not: change anything for a project that uses none of it.
"""

from __future__ import annotations

import pytest

from . import contract


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "behaviour(*ids): the contracts/behaviours.yaml ids a test proves")


def behaviour_ids(item: pytest.Item) -> list[str]:
    """The behaviour ids a collected test is tagged with, in order, without repeats."""
    seen: list[str] = []
    for mark in item.iter_markers("behaviour"):
        for bid in mark.args:
            if bid not in seen:
                seen.append(bid)
    return seen


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tagged = [(item, behaviour_ids(item)) for item in items]
    if not any(ids for _, ids in tagged):
        return
    known = contract.behaviours()
    for item, ids in tagged:
        unknown = [bid for bid in ids if bid not in known]
        if unknown:
            raise pytest.UsageError(
                f"{item.nodeid} is tagged with unknown behaviour id(s) {', '.join(unknown)}: "
                "add them to contracts/behaviours.yaml or fix the marker"
            )
