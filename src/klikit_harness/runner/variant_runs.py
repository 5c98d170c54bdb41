"""``klikit-harness variants``: prove the suites accept every legitimate variant of the stand-in.

Owns: the work list of one run (every hand-written variant alone, a seeded
sample of the generated and transport ones, then every variant at once), the
child runs per variant (non-strict, then --strict) and their verdicts, the
variant matrix as JSON. Must not: decide what a variant does (``core.variants``).
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from . import results
from .exits import EXIT_OK, EXIT_VIOLATIONS
from .mutants import _as_they_finish, pytest_args, run_child


class VariantLike(Protocol):
    """What the runner needs of ``core.variants.Variant``."""

    name: str
    description: str
    changes: tuple[str, ...]


@dataclass
class SuiteResult:
    """One child run against the stand-in with some variants switched on."""

    exit_code: int
    failed: list[str]  # behaviour ids whose result is "fail"
    wall_seconds: float
    error: str = ""
    #: behaviour ids the run could not observe (skipped with a reason, or not run)
    unobserved: list[str] = field(default_factory=list)
    #: the assumed behaviours the run saw departed from and only recorded (a --strict run fails them)
    departed: list[str] = field(default_factory=list)
    #: whether the run was made (False: its verdict is derived from the non-strict run, see ``derived_strict``)
    ran: bool = True


def derived_strict(lenient: SuiteResult) -> SuiteResult:
    """The --strict verdict of a variant that changes no assumed behaviour, read off its non-strict run.

    A --strict run differs from a non-strict one only in failing the assumed
    behaviours the non-strict run records as departed; so it fails exactly
    those, on top of what already failed. Sound where the strict pass runs the
    contract suite alone and the non-strict one ran it too (smoke): the
    contract suite sends the same requests either way, and a non-strict run
    goes on past each departure, so it records at least what --strict would fail.
    """
    failed = sorted({*lenient.failed, *lenient.departed})
    exit_code = (
        lenient.exit_code
        if lenient.exit_code not in (EXIT_OK, EXIT_VIOLATIONS)
        else (EXIT_VIOLATIONS if failed else EXIT_OK)
    )
    return SuiteResult(exit_code, failed, 0.0, lenient.error, list(lenient.unobserved), [], ran=False)


#: (variant names, strict) -> the run's result
SuiteRunner = Callable[[tuple[str, ...], bool], SuiteResult]

ALL_VARIANTS = "(all at once)"
#: sampled variants (generated and transport ones) run alone per run by default: with the hand-written
#: ones, smoke stays within 10 minutes on 2 cores; ``--all-generated`` (and the nightly profile) runs every one
DEFAULT_SAMPLE = 2


def default_jobs() -> int:
    """Child runs at once: twice the cores. A child spends most of its wall time waiting (the
    contract suite's burst, throttling and state-machine checks wait out rate-limit windows), so
    two per core keep the cores busy."""
    return 2 * (os.cpu_count() or 1)


def is_generated(variant: object) -> bool:
    """Whether a registry entry was generated from the contract (it carries its departure)."""
    return getattr(variant, "departure", None) is not None


def is_sampled(variant: object) -> bool:
    """Whether a registry entry runs alone only when drawn (generated, or flagged ``sampled``)."""
    return is_generated(variant) or bool(getattr(variant, "sampled", False))


@dataclass
class VariantPlan:
    """What one ``variants`` run switches on: alone (the work list), then all at once."""

    #: the work list: the variant names run one at a time, sorted (a shard is a slice of it)
    alone: list[str]
    #: the variants switched on together in the all-at-once run (every registered one by default)
    together: list[str]
    #: every generated variant, sorted
    generated: list[str]
    #: the variants run alone only when drawn (generated and transport), sorted; ``sampled`` those in ``alone``
    pool: list[str]
    sampled: list[str]
    seed: int
    all_generated: bool

    @property
    def drawn(self) -> bool:
        """Whether the seed chose anything: a part of the pool runs alone, not all of it."""
        return self.sampled != self.pool

    def meta(self) -> dict[str, Any]:
        """The selection, for the JSON (``sample_seed`` is None when the seed drew nothing)."""
        return {
            "generated": len(self.generated),
            "pool": len(self.pool),
            "sampled": self.sampled,
            "sample_seed": self.seed if self.drawn else None,
            "all_generated": self.all_generated,
            "hand_written": len(self.alone) - len(self.sampled),
            "together": len(self.together),
        }


def plan_variants(
    registry: Mapping[str, object],
    names: Sequence[str] = (),
    *,
    sample: int = DEFAULT_SAMPLE,
    seed: int = 0,
    all_generated: bool = False,
) -> VariantPlan:
    """The work list: every hand-written rule variant and a seeded sample of the pool (or the ``names``)."""
    unknown = sorted(set(names) - set(registry))
    if unknown:
        raise ValueError(f"unknown variant(s) {', '.join(unknown)}; known: {', '.join(sorted(registry))}")
    if sample < 0:
        raise ValueError(f"--sample must be 0 or more, got {sample}")
    generated = sorted(n for n, v in registry.items() if is_generated(v))
    pool = sorted(n for n, v in registry.items() if is_sampled(v))
    if names:
        alone = sorted(set(names))
        return VariantPlan(alone, alone, generated, pool, [n for n in alone if n in pool], seed, all_generated)
    picked = pool if all_generated or sample >= len(pool) else sorted(random.Random(seed).sample(pool, sample))
    hand = sorted(set(registry) - set(pool))
    return VariantPlan(sorted(hand + picked), sorted(registry), generated, pool, picked, seed, all_generated)


@dataclass
class VariantOutcome:
    name: str
    description: str
    variants: list[str]
    changes: list[str]
    #: the assumed behaviours among ``changes``: exactly these must fail under --klikit-strict
    expected: list[str]
    lenient_exit: int
    lenient_failed: list[str]
    strict_exit: int
    strict_failed: list[str]
    wall_seconds: float
    error: str = ""
    #: expected behaviours the strict run could not observe (e.g. a concurrency rule on a fast
    #: target, reported "not observed"): they cannot fail, so they are listed instead
    unobserved: list[str] = field(default_factory=list)
    #: "run", or "derived" when the variant changes no assumed behaviour and the strict verdict
    #: was read off the non-strict run (``derived_strict``)
    strict_run: str = "run"

    @property
    def lenient_holds(self) -> bool:
        return self.lenient_exit == EXIT_OK

    @property
    def observable(self) -> list[str]:
        return sorted(set(self.expected) - set(self.unobserved))

    @property
    def strict_holds(self) -> bool:
        expected_exit = EXIT_VIOLATIONS if self.observable else EXIT_OK
        return self.strict_exit == expected_exit and set(self.strict_failed) == set(self.observable)

    @property
    def holds(self) -> bool:
        return self.lenient_holds and self.strict_holds

    @property
    def unexpected(self) -> list[str]:
        return sorted(set(self.strict_failed) - set(self.expected))

    @property
    def missing(self) -> list[str]:
        return sorted(set(self.observable) - set(self.strict_failed))

    def public(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "holds": self.holds,
            "lenient_holds": self.lenient_holds,
            "strict_holds": self.strict_holds,
            "unexpected": self.unexpected,
            "missing": self.missing,
        }


def failed_behaviours(data: results.Results) -> list[str]:
    """The behaviour ids a ``results.json`` reports as "fail"."""
    return data.failed_behaviours()


def unobserved_behaviours(data: results.Results) -> list[str]:
    """The behaviour ids a ``results.json`` could not observe (skipped or not run)."""
    return data.unobserved_behaviours()


def strict_suites(suites: Sequence[str], profile: str) -> list[str]:
    """The suites of a ``--strict`` pass.

    On smoke the contract suite alone (when it is among ``suites``): it holds a
    check for every assumed behaviour a variant can change, and the non-strict
    pass has already run every suite against the variant.
    """
    if profile == "smoke" and "contract" in suites:
        return ["contract"]
    return list(suites)


def strict_derivable(suites: Sequence[str], profile: str) -> bool:
    """Whether ``derived_strict`` is sound for these runs: the strict pass runs the contract suite alone,
    which the non-strict pass runs too."""
    return strict_suites(suites, profile) == ["contract"]


def pytest_variant_runner(root: Path, suites: Sequence[str], profile: str, workdir: Path) -> SuiteRunner:
    """Runs the suites in a child pytest against the embedded stand-in with the variants switched on
    (the ``--strict`` pass runs ``strict_suites``)."""
    strict_only = strict_suites(suites, profile)

    def run_suites(variants: tuple[str, ...], strict: bool) -> SuiteResult:
        label = "+".join(variants) if len(variants) <= 2 else f"all-{len(variants)}"
        report = workdir / f"variant-{label}-{'strict' if strict else 'lenient'}"
        chosen = strict_only if strict else suites
        args = pytest_args(root, chosen, report, profile, strict=strict, variants=variants)
        child = run_child(root, args, report, profile)
        failed = failed_behaviours(child.data) if child.data is not None else []
        error = "" if child.exit_code in (EXIT_OK, EXIT_VIOLATIONS) and child.data is not None else child.output[-800:]
        unobserved = unobserved_behaviours(child.data) if child.data is not None else []
        departed = child.data.departed_behaviours("assumed") if child.data is not None else []
        return SuiteResult(child.exit_code, failed, round(child.wall_seconds, 1), error, unobserved, departed)

    return run_suites


def run_variants(
    registry: Mapping[str, VariantLike],
    runner: SuiteRunner,
    *,
    names: Sequence[str] | None = None,
    together: bool = True,
    all_at_once: Sequence[str] | None = None,
    status_of: Callable[[str], str] | None = None,
    jobs: int | None = None,
    on_result: Callable[[VariantOutcome], None] = lambda _o: None,
    pick: Callable[[Sequence[str]], Sequence[str]] | None = None,
    derive_strict: bool = False,
) -> list[VariantOutcome]:
    """Each variant alone (and, with ``together``, all of them at once), non-strict and strict.

    ``names`` is the work list (default: every registered variant); the all-at-once run switches
    on ``all_at_once`` (default: the work list) — a plan's ``together``, every registered variant.
    ``pick`` gets the names of the whole work list (the variants, then ``ALL_VARIANTS``) and
    returns the ones this run makes (``--shard``). With ``derive_strict``, a variant that changes
    no assumed behaviour gets no --strict run: its strict verdict is ``derived_strict``.
    """
    if status_of is None:
        from .. import contract

        def status_of(bid: str) -> str:
            return contract.behaviour(bid).status

    chosen = list(names) if names else sorted(registry)
    unknown = sorted(set(chosen) - set(registry))
    if unknown:
        raise ValueError(f"unknown variant(s) {', '.join(unknown)}; known: {', '.join(sorted(registry))}")
    entries: list[tuple[str, str, tuple[str, ...]]] = [(n, registry[n].description, (n,)) for n in chosen]
    at_once = list(all_at_once) if all_at_once else chosen
    unknown = sorted(set(at_once) - set(registry))
    if unknown:
        raise ValueError(f"unknown variant(s) {', '.join(unknown)}; known: {', '.join(sorted(registry))}")
    if together and len(at_once) > 1:
        described = (
            "every variant above switched on together"
            if at_once == chosen
            else f"all {len(at_once)} variants switched on together (every generated one included)"
        )
        entries.append((ALL_VARIANTS, described, tuple(at_once)))
    if pick is not None:
        mine = set(pick([entry[0] for entry in entries]))
        entries = [entry for entry in entries if entry[0] in mine]

    def one(entry: tuple[str, str, tuple[str, ...]]) -> VariantOutcome:
        name, description, switched = entry
        changes: list[str] = []
        for v in switched:
            changes += [b for b in registry[v].changes if b not in changes]
        expected = sorted(b for b in changes if status_of(b) == "assumed")
        started = time.perf_counter()
        lenient = runner(switched, False)
        strict = derived_strict(lenient) if derive_strict and not expected else runner(switched, True)
        return VariantOutcome(
            name=name,
            description=description,
            variants=list(switched),
            changes=changes,
            expected=expected,
            lenient_exit=lenient.exit_code,
            lenient_failed=lenient.failed,
            strict_exit=strict.exit_code,
            strict_failed=strict.failed,
            unobserved=sorted(set(expected) & set(strict.unobserved)),
            wall_seconds=round(time.perf_counter() - started, 1),
            error=lenient.error or strict.error,
            strict_run="run" if strict.ran else "derived",
        )

    with ThreadPoolExecutor(max(1, jobs or default_jobs())) as pool:
        futures = [pool.submit(one, entry) for entry in entries]
        done = _as_they_finish(futures, on_result)
    order = {entry[0]: i for i, entry in enumerate(entries)}
    return sorted(done, key=lambda o: order[o.name])


def variants_json(outcomes: Sequence[VariantOutcome], meta: dict[str, Any]) -> str:
    doc = {
        "meta": meta,
        "variants": [o.public() for o in outcomes],
        "summary": {
            "variants": len(outcomes),
            "hold": sum(o.holds for o in outcomes),
            "broken": [o.name for o in outcomes if not o.holds],
        },
    }
    return json.dumps(doc, indent=2, sort_keys=True)
