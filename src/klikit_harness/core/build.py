"""A service over a seeded world: the one way the stand-in, the simulator and the CLI build the core.

Owns: turning a ``Seed`` (the packaged one by default), a contract reading,
defects, variants, a clock and path overrides into a fresh ``Service``.
Must not: serve anything; the adapters in ``standin/`` do.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..contract import Reading
from .clock import Clock
from .defects import DefectSet
from .seed import Seed, load
from .service import Service
from .variants import VariantSet


def build_service(
    seed: Seed | None = None,
    *,
    reading: Reading = "reference",
    defects: DefectSet | None = None,
    clock: Clock | None = None,
    variants: VariantSet | None = None,
    path_overrides: Mapping[str, str] | None = None,
) -> Service:
    """A fresh service over the seeded world (the packaged seed by default)."""
    seed = seed or load()
    world, credentials = seed.build()
    return Service(
        world,
        credentials,
        reading=reading,
        clock=clock,
        defects=defects or DefectSet(),
        path_overrides=path_overrides,
        variants=variants or VariantSet(),
    )
