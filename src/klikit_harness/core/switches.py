"""Named switches of the stand-in: the one set type behind seeded defects and variants.

Owns: ``SwitchSet`` — an immutable set of registered names, refusing unknown
ones with a message that lists the known names. Must not: know what a switch
does; ``defects`` and ``variants`` own their registries and meanings.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar


class SwitchSet:
    """The switches of one kind turned on in one stand-in (empty: none)."""

    #: what one switch is called in messages ("defect", "variant")
    kind: ClassVar[str] = "switch"

    @classmethod
    def registry(cls) -> Mapping[str, Any]:  # pragma: no cover - every subclass names its registry
        raise NotImplementedError

    def __init__(self, names: Iterable[str] = ()) -> None:
        names = tuple(names)
        known = self.registry()
        unknown = sorted(set(names) - known.keys())
        if unknown:
            raise ValueError(f"unknown {self.kind}(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        self._on = frozenset(names)

    def on(self, name: str) -> bool:
        return name in self._on

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._on))

    def __bool__(self) -> bool:
        return bool(self._on)

    def __len__(self) -> int:
        return len(self._on)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({sorted(self._on)!r})"
