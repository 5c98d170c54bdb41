"""The staging twin: ``target-profile.yaml``, what a target was seen doing, and the stand-in that does the same.

Owns: turning a run's readings (``report.Summary.readings``) into a target
profile — the contract reading per contested behaviour, the reading of every
assumed and incidental behaviour (``reference``, ``departs`` with evidence, or
``not observed``), the stand-in variants (``core.variants.REGISTRY``) that
reproduce the departures, the departures no variant explains, and the run's
metadata — writing it as YAML, and reading it back (with errors that name what
is wrong) into the options of a stand-in: its contract reading and variants.
Must not: run anything or write a secret (every text goes through the run's
redactor), or guess: a behaviour nothing exercised stays ``not observed``.

Choosing the variants. A variant qualifies when at least one of the
behaviours it ``changes`` was seen departing and none of them was seen
following the reference reading. Of the qualifying variants the fewest that
explain every explainable departure are kept (largest cover first, then the
one changing the fewest behaviours nobody observed); the rest are listed as
``alternatives``. A departure no qualifying variant changes is ``unexplained``.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from .. import contract
from ..contract import Reading
from ..core.variants import REGISTRY, Variant

PROFILE_FILE = "target-profile.yaml"
FORMAT = 1
#: readings of one behaviour in a profile
REFERENCE, DEPARTS, NOT_OBSERVED = "reference", "departs", "not observed"
#: what a contested behaviour's ``contract`` may say (besides ``departs`` / ``not observed``)
CONTRACT_READINGS: tuple[str, ...] = tuple(contract.READINGS)
#: the profile sections holding one reading per behaviour, by behaviour status
SECTIONS = {"contested": "contract", "assumed": "assumed", "incidental": "incidental"}
EVIDENCE_CHARS = 240


class ProfileError(ValueError):
    """A target profile that cannot be read; the message names the file and what is wrong."""


@dataclass(frozen=True)
class BehaviourReading:
    """What the target was seen doing for one contested, assumed or incidental behaviour."""

    status: str
    #: reference | concepts (contested only) | departs | not observed
    reading: str
    evidence: str | None = None
    request_id: str | None = None

    def as_yaml(self) -> Any:
        if self.reading != DEPARTS:
            return self.reading
        out: dict[str, Any] = {"reading": DEPARTS, "evidence": self.evidence or ""}
        if self.request_id:
            out["request_id"] = self.request_id
        return out


@dataclass
class TargetProfile:
    """A target profile: readings, the variants reproducing them, and where they were seen."""

    run: dict[str, Any]
    readings: dict[str, BehaviourReading]
    variants: list[str]
    unexplained: list[str]
    alternatives: list[str] = field(default_factory=list)
    #: documented behaviours that failed: the twin serves the documented rules, not these failures
    violations: list[str] = field(default_factory=list)
    #: the file it was read from (for messages)
    source: str = "target profile"

    @property
    def contract(self) -> str:
        """reference or concepts when every contested behaviour seen follows it; mixed; or not observed."""
        return contract_of(r.reading for r in self.readings.values() if r.status == "contested")

    def section(self, status: str) -> dict[str, BehaviourReading]:
        return {bid: r for bid, r in sorted(self.readings.items()) if r.status == status}

    def standin_reading(self) -> Reading:
        """The contract reading a stand-in behaving like this target serves (ProfileError when mixed)."""
        chosen = self.contract
        if chosen == "mixed":
            split = ", ".join(
                f"{bid} follows {r.reading}"
                for bid, r in self.section("contested").items()
                if r.reading in CONTRACT_READINGS
            )
            raise ProfileError(
                f"{self.source}: the target follows a mixed contract ({split}); the stand-in serves one reading: "
                f"choose it with --contract {'|'.join(CONTRACT_READINGS)}"
            )
        return "concepts" if chosen == "concepts" else "reference"

    def to_yaml(self) -> str:
        data: dict[str, Any] = {
            "format": FORMAT,
            "run": self.run,
            "contract": {
                "reading": self.contract,
                "behaviours": {bid: r.as_yaml() for bid, r in self.section("contested").items()},
            },
            "assumed": {bid: r.as_yaml() for bid, r in self.section("assumed").items()},
            "incidental": {bid: r.as_yaml() for bid, r in self.section("incidental").items()},
            "variants": list(self.variants),
            "unexplained": list(self.unexplained),
        }
        if self.alternatives:
            data["alternatives"] = list(self.alternatives)
        if self.violations:
            data["violations"] = list(self.violations)
        header = (
            "# klikit-harness target profile: what the target was seen doing for every contested, assumed and\n"
            "# incidental behaviour, and the stand-in variants that reproduce it. Serve a stand-in that\n"
            "# behaves the same: klikit-harness sandbox --like THIS_FILE\n"
        )
        return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)


def contract_of(readings: Iterable[str]) -> str:
    seen = {r for r in readings if r in CONTRACT_READINGS}
    if not seen:
        return NOT_OBSERVED
    return seen.pop() if len(seen) == 1 else "mixed"


# ------------------------------------------------------------------ from a run


def harness_version() -> str:
    try:
        return metadata.version("klikit-harness")
    except metadata.PackageNotFoundError:  # pragma: no cover - a source tree without installation
        return "unknown"


def _evidence(reading: Any) -> tuple[str, str | None]:
    ev = reading.evidence or {}
    received, documented = ev.get("received"), ev.get("documented")
    if received is not None and documented is not None:
        text = f"{ev.get('title') or 'departs'}: received {received}; reference: {documented}"
    else:
        text = str(received if received is not None else ev.get("title") or reading.reading)
    text = " ".join(text.split())
    if len(text) > EVIDENCE_CHARS:
        text = text[: EVIDENCE_CHARS - 1] + "…"
    return text, ev.get("request_id")


def reading_of(status: str, reading: Any) -> BehaviourReading:
    """One ``report.Reading`` as a profile reading."""
    if reading.result in {"fail", "observed"}:
        text, rid = _evidence(reading)
        return BehaviourReading(status, DEPARTS, text, rid)
    if status == "contested":
        if reading.reading in CONTRACT_READINGS:
            return BehaviourReading(status, reading.reading)
        if reading.reading == NOT_OBSERVED or reading.result != "pass":
            return BehaviourReading(status, NOT_OBSERVED)
        return BehaviourReading(status, DEPARTS, f"follows neither reading ({reading.reading})")
    if reading.result == "pass":
        return BehaviourReading(status, REFERENCE)
    return BehaviourReading(status, NOT_OBSERVED)


def choose_variants(
    readings: Mapping[str, BehaviourReading], registry: Mapping[str, Variant] | None = None
) -> tuple[list[str], list[str], list[str]]:
    """(variants, alternatives, unexplained) for the departures in ``readings`` (see the module doc)."""
    registry = REGISTRY if registry is None else registry
    departing = {bid for bid, r in readings.items() if r.status != "contested" and r.reading == DEPARTS}
    following = {bid for bid, r in readings.items() if r.reading == REFERENCE}
    qualifying = [v for v in registry.values() if set(v.changes) & departing and not set(v.changes) & following]
    chosen: list[Variant] = []
    covered: set[str] = set()
    remaining = list(qualifying)
    while remaining:
        remaining.sort(
            key=lambda v: (-len(set(v.changes) & (departing - covered)), len(set(v.changes) - departing), v.name)
        )
        best = remaining.pop(0)
        if not set(best.changes) & (departing - covered):
            break
        chosen.append(best)
        covered |= set(best.changes) & departing
    names = sorted(v.name for v in chosen)
    alternatives = sorted(v.name for v in qualifying if v.name not in names)
    contested_departures = {bid for bid, r in readings.items() if r.status == "contested" and r.reading == DEPARTS}
    unexplained = sorted((departing - covered) | contested_departures)
    return names, alternatives, unexplained


def from_summary(summary: Any, meta: Mapping[str, Any]) -> TargetProfile:
    """The profile of a finished run (``report.Summary`` and the report's ``meta``)."""
    readings = {bid: reading_of(r.status, r) for bid, r in summary.readings.items()}
    variants, alternatives, unexplained = choose_variants(readings)
    run = {
        "run_id": meta.get("run_id"),
        "target": meta.get("target"),
        "profile": meta.get("profile"),
        "contract_option": meta.get("reading"),
        "strict": bool(meta.get("strict")),
        "harness_version": harness_version(),
        "written": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "verdict": summary.verdict,
    }
    if meta.get("variants"):
        run["standin_variants"] = list(meta["variants"])
    violations = sorted(r.id for r in summary.rows if r.status == "documented" and r.result == "fail")
    return TargetProfile(run, readings, variants, unexplained, alternatives, violations)


def write(directory: Path, summary: Any, meta: Mapping[str, Any], redact: Callable[[str], str] = lambda s: s) -> Path:
    """Write ``target-profile.yaml`` into ``directory``; every text through ``redact``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / PROFILE_FILE
    path.write_text(redact(from_summary(summary, meta).to_yaml()), encoding="utf-8")
    return path


# ------------------------------------------------------------------ reading one back


def _reading_entry(where: str, bid: str, status: str, value: Any) -> BehaviourReading:
    plain = CONTRACT_READINGS if status == "contested" else (REFERENCE,)
    allowed = (*plain, DEPARTS, NOT_OBSERVED)
    if isinstance(value, dict):
        reading = value.get("reading")
        evidence, rid = value.get("evidence"), value.get("request_id")
    else:
        reading, evidence, rid = value, None, None
    if reading not in allowed:
        raise ProfileError(f"{where}: {bid}: reading {reading!r} is not one of {', '.join(allowed)}")
    return BehaviourReading(status, str(reading), None if evidence is None else str(evidence), rid)


def _names(where: str, data: Mapping[str, Any], key: str) -> list[str]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProfileError(f"{where}: {key!r} must be a list of names, got {value!r}")
    return list(value)


def parse(text: str, where: str = "target profile") -> TargetProfile:
    """A profile from its YAML text; ProfileError names what is wrong."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise ProfileError(f"{where} is not valid YAML{at}: {getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(data, dict):
        raise ProfileError(f"{where} is not a target profile: expected a mapping with 'variants' and 'contract'")
    if data.get("format") != FORMAT:
        raise ProfileError(
            f"{where}: format {data.get('format')!r} is not {FORMAT}; write it again with this harness "
            "(every run with --klikit-report writes target-profile.yaml)"
        )
    missing = [k for k in ("contract", "variants") if k not in data]
    if missing:
        raise ProfileError(f"{where}: missing {', '.join(repr(k) for k in missing)}")
    known = contract.behaviours()
    readings: dict[str, BehaviourReading] = {}
    sections: list[tuple[str, str, Any]] = []
    contract_section = data["contract"]
    if not isinstance(contract_section, dict):
        raise ProfileError(f"{where}: 'contract' must be a mapping with 'reading' and 'behaviours'")
    sections.append(("contested", "contract.behaviours", contract_section.get("behaviours") or {}))
    sections += [(s, s, data.get(s) or {}) for s in ("assumed", "incidental")]
    for status, key, entries in sections:
        if not isinstance(entries, dict):
            raise ProfileError(f"{where}: {key!r} must map behaviour ids to readings")
        for bid, value in entries.items():
            beh = known.get(bid)
            if beh is None:
                raise ProfileError(f"{where}: {key}: unknown behaviour {bid!r} (not in contracts/behaviours.yaml)")
            if beh.status != status:
                raise ProfileError(f"{where}: {key}: {bid} is {beh.status}, not {status}; move it or drop it")
            readings[bid] = _reading_entry(f"{where}: {key}", bid, status, value)
    variants = _names(where, data, "variants")
    unknown = [v for v in variants if v not in REGISTRY]
    if unknown:
        raise ProfileError(
            f"{where}: unknown variant(s) {', '.join(unknown)} under 'variants'; known: {', '.join(sorted(REGISTRY))}"
        )
    declared = contract_section.get("reading", NOT_OBSERVED)
    profile = TargetProfile(
        run=dict(data.get("run") or {}),
        readings=readings,
        variants=variants,
        unexplained=_names(where, data, "unexplained"),
        alternatives=_names(where, data, "alternatives"),
        violations=_names(where, data, "violations"),
        source=where,
    )
    if readings and any(r.status == "contested" for r in readings.values()) and declared != profile.contract:
        raise ProfileError(
            f"{where}: contract.reading says {declared!r} but its behaviours say {profile.contract!r}; fix one of them"
        )
    if declared not in (*CONTRACT_READINGS, "mixed", NOT_OBSERVED):
        raise ProfileError(
            f"{where}: contract.reading {declared!r} is not one of reference, concepts, mixed, not observed"
        )
    if not any(r.status == "contested" for r in readings.values()) and declared in CONTRACT_READINGS:
        # a hand-written profile may give the reading alone
        for bid, beh in known.items():
            if beh.status == "contested":
                readings[bid] = BehaviourReading("contested", str(declared))
    return profile


def load(path: Path) -> TargetProfile:
    """Read a target profile file (or the ``target-profile.yaml`` of a report directory)."""
    path = Path(path)
    if path.is_dir():
        path = path / PROFILE_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProfileError(
            f"target profile {path} does not exist; a run with --klikit-report DIR (or klikit-harness run) "
            f"writes DIR/{PROFILE_FILE}"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"cannot read target profile {path}: {exc}") from None
    return parse(text, str(path))


def standin_options(
    profile: TargetProfile, *, reading: Reading | None = None, variants: Iterable[str] = ()
) -> tuple[Reading, tuple[str, ...]]:
    """(contract reading, variant names) of a stand-in behaving like ``profile``.

    ``reading`` overrides the profile's (the only way to serve a mixed one);
    ``variants`` are switched on besides the profile's.
    """
    chosen: Reading = reading if reading is not None else profile.standin_reading()
    names = tuple(dict.fromkeys([*profile.variants, *variants]))
    return chosen, names
