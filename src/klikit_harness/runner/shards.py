"""Shards of the proofs, and the merge of their JSON into one verdict.

Owns: which shard of ``klikit-harness mutants|variants --shard K/N`` runs
which piece of work (a deterministic split of the sorted work names, balanced
by the durations a previous JSON recorded, else round-robin), the shard header
of each JSON, and ``klikit-harness merge``: the refusal rules and the merged
document, identical in shape to an unsharded run's.

Must not: run anything, or judge a defect or a variant; the verdicts come
from ``mutants.py`` (``matrix_json``) and ``variant_runs.py`` (``variants_json``) fed with the shards'
outcomes.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from . import mutants as mutation
from . import variant_runs
from .exits import EXIT_OK

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def harness_version() -> str:
    """The installed klikit-harness version, as every proofs JSON records it."""
    return importlib.metadata.version("klikit-harness")


class ShardError(ValueError):
    """A --shard value, a --timings file or a merge that cannot be accepted; the message says what to change."""


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (both counted from 1, as ``--shard K/N`` spells them)."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        match = _SHARD.match(text)
        if not match:
            raise ShardError(f"--shard {text!r}: write K/N, e.g. 1/3 for the first of three shards")
        index, count = int(match[1]), int(match[2])
        if count < 1 or not 1 <= index <= count:
            raise ShardError(f"--shard {text}: K must be between 1 and N (and N at least 1), e.g. 1/{max(count, 1)}")
        return cls(index, count)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def split(names: Sequence[str], count: int, durations: Mapping[str, float] | None = None) -> list[list[str]]:
    """Every shard's names (each list sorted), the same on every machine for the same input.

    Without durations: round-robin over the sorted names. With durations
    (name -> seconds, from a previous run): longest first, each to the shard
    with the least recorded time so far (ties to the lower shard); a name the
    previous run did not have counts as the median of those it had.
    """
    ordered = sorted(dict.fromkeys(names))
    shards: list[list[str]] = [[] for _ in range(count)]
    known = sorted(float(durations[n]) for n in ordered if durations and n in durations)
    if not known or durations is None:
        for i, name in enumerate(ordered):
            shards[i % count].append(name)
        return shards
    default = known[len(known) // 2]
    cost = {n: float(durations.get(n, default)) for n in ordered}
    load = [0.0] * count
    for name in sorted(ordered, key=lambda n: (-cost[n], n)):
        target = min(range(count), key=lambda i: (load[i], i))
        shards[target].append(name)
        load[target] += cost[name]
    return [sorted(s) for s in shards]


def durations_from(doc: Mapping[str, Any]) -> dict[str, float]:
    """Name -> wall seconds recorded by a mutants or variants JSON (sharded, merged or not).

    With ``--both`` a defect's time is its embedded and its remote run together.
    """
    out: dict[str, float] = {}
    rows = [*doc.get("defects", []), *doc.get("remote", {}).get("defects", []), *doc.get("variants", [])]
    for row in rows:
        out[row["name"]] = out.get(row["name"], 0.0) + float(row.get("wall_seconds") or 0.0)
    return out


def read_timings(path: Path) -> dict[str, float]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ShardError(f"--timings {path}: cannot read it as JSON ({exc}); give a previous --json output") from exc
    timings = durations_from(doc) if isinstance(doc, dict) else {}
    if not timings:
        raise ShardError(f"--timings {path}: it records no defect or variant; give a previous --json output")
    return timings


@dataclass
class Plan:
    """The work of one run: all of it, or one shard's part. Called with the full work list, returns this run's.

    Records what it was given and chose, for the JSON's ``meta``.
    """

    shard: Shard | None = None
    durations: Mapping[str, float] | None = None
    work: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)

    def __call__(self, work: Sequence[str]) -> list[str]:
        self.work = list(work)
        if self.shard is None:
            self.names = list(work)
        else:
            mine = set(split(work, self.shard.count, self.durations)[self.shard.index - 1])
            self.names = [n for n in work if n in mine]
        return self.names

    def meta(self) -> dict[str, Any]:
        """``work`` and ``harness_version`` always; ``shard`` (K, N, the names, the balance) in a shard."""
        out: dict[str, Any] = {"work": self.work, "harness_version": harness_version()}
        if self.shard is not None:
            out["shard"] = {
                "index": self.shard.index,
                "count": self.shard.count,
                "names": self.names,
                "balance": "durations" if self.durations else "round-robin",
            }
        return out


# ------------------------------------------------------------------ merge


@dataclass
class Merged:
    kind: str  # "mutants" | "variants"
    doc: dict[str, Any]
    holds: bool


def _kind(doc: Mapping[str, Any]) -> str:
    if "defects" in doc and "clean" in doc:
        return "mutants"
    if "variants" in doc:
        return "variants"
    return ""


def _outcome(row: Mapping[str, Any]) -> mutation.Outcome:
    names = {f.name for f in fields(mutation.Outcome) if f.init}
    return mutation.Outcome(**{k: v for k, v in row.items() if k in names})


def _variant(row: Mapping[str, Any]) -> variant_runs.VariantOutcome:
    names = {f.name for f in fields(variant_runs.VariantOutcome) if f.init}
    return variant_runs.VariantOutcome(**{k: v for k, v in row.items() if k in names})


def _check_shards(docs: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
    """Refuse shards that are not the N parts of one configuration, each exactly once."""
    kinds = {label: _kind(doc) for label, doc in docs}
    for label, kind in kinds.items():
        if not kind:
            raise ShardError(f"{label} is not a mutants or variants JSON: give the files --json wrote")
    if len(set(kinds.values())) > 1:
        listed = ", ".join(f"{label} ({kind})" for label, kind in kinds.items())
        raise ShardError(f"mutants and variants JSON cannot merge into one verdict: {listed}; merge each kind apart")
    headers: dict[str, Mapping[str, Any]] = {}
    for label, doc in docs:
        header = doc.get("meta", {}).get("shard")
        if not isinstance(header, Mapping):
            raise ShardError(f"{label} is not a shard (its meta has no shard): merge only --shard K/N outputs")
        headers[label] = header
    counts = {label: int(h["count"]) for label, h in headers.items()}
    if len(set(counts.values())) > 1:
        listed = ", ".join(f"{label}: {headers[label]['index']}/{n}" for label, n in counts.items())
        raise ShardError(f"the shards disagree on N ({listed}): merge the shards of one run")
    first_label, first = docs[0]
    config = {k: v for k, v in first["meta"].items() if k != "shard"}
    for label, doc in docs[1:]:
        other = {k: v for k, v in doc["meta"].items() if k != "shard"}
        if other != config:
            keys = sorted(k for k in set(config) | set(other) if config.get(k) != other.get(k))
            raise ShardError(
                f"{label} and {first_label} were run with another configuration (differ in meta {', '.join(keys)}): "
                "run every shard with the same options and the same harness version"
            )
    seen: dict[int, str] = {}
    for label, header in headers.items():
        index = int(header["index"])
        if index in seen:
            shard = f"{index}/{header['count']}"
            raise ShardError(f"shard {shard} is given twice ({seen[index]} and {label}): give each shard once")
        seen[index] = label
    owner: dict[str, str] = {}
    for label, doc in docs:
        for name in _names(doc):
            if name in owner:
                raise ShardError(f"{name} was run by two shards ({owner[name]} and {label}): the shards overlap")
            owner[name] = label
    count = next(iter(counts.values()))
    missing_shards = [f"{i}/{count}" for i in range(1, count + 1) if i not in seen]
    uncovered = [n for n in config.get("work", []) if n not in owner]
    if missing_shards or uncovered:
        shards = f" (shard {', '.join(missing_shards)} not given)" if missing_shards else ""
        raise ShardError(f"no shard ran {', '.join(uncovered) or 'part of the work'}{shards}: give every shard's JSON")
    extra = [n for n in owner if n not in config.get("work", [])]
    if extra:
        raise ShardError(f"{', '.join(extra)} are not in the run's work list: the shards were not made by one run")


def _names(doc: Mapping[str, Any]) -> list[str]:
    if _kind(doc) == "variants":
        return [row["name"] for row in doc["variants"]]
    return [row["name"] for row in doc["defects"]]


def _sections(doc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The kill matrices of a mutants JSON: the run's own, and with --both the remote one."""
    return [doc, *([doc["remote"]] if "remote" in doc else [])]


def _merge_mutants(docs: Sequence[tuple[str, Mapping[str, Any]]], meta: dict[str, Any]) -> Merged:
    matrices: list[tuple[mutation.Outcome, list[mutation.Outcome]]] = []
    for part in range(len(_sections(docs[0][1]))):
        cleans: list[mutation.Outcome] = []
        outcomes: list[mutation.Outcome] = []
        for label, doc in docs:
            sections = _sections(doc)
            clean = sections[part].get("clean")
            if not clean:
                raise ShardError(f"{label} has no clean run: every shard runs it; run that shard again")
            cleans.append(_outcome(clean))
            if cleans[-1].exit_code != EXIT_OK:
                raise ShardError(
                    f"the clean run failed in {label} (exit {cleans[-1].exit_code}, {cleans[-1].mode}): "
                    "no shard's kills count until the clean stand-in passes there; see that shard's log"
                )
            outcomes += [_outcome(row) for row in sections[part]["defects"]]
        matrices.append((cleans[0], outcomes))
    embedded, *remote = matrices
    doc = json.loads(mutation.matrix_json(*embedded, meta, remote=remote[0] if remote else None))
    holds = all(mutation.holds(clean, outcomes) for clean, outcomes in matrices)
    return Merged("mutants", doc, holds)


def _merge_variants(docs: Sequence[tuple[str, Mapping[str, Any]]], meta: dict[str, Any]) -> Merged:
    outcomes = {row["name"]: _variant(row) for _, doc in docs for row in doc["variants"]}
    ordered = [outcomes[name] for name in meta["work"]]
    doc = json.loads(variant_runs.variants_json(ordered, meta))
    return Merged("variants", doc, all(o.holds for o in ordered))


def merge(docs: Sequence[tuple[str, Mapping[str, Any]]]) -> Merged:
    """One verdict from the shards' JSON (label, document), or ``ShardError`` saying why not."""
    if not docs:
        raise ShardError("no JSON given: name every shard's --json output")
    _check_shards(docs)
    meta = {k: v for k, v in docs[0][1]["meta"].items() if k != "shard"}
    ordered = sorted(docs, key=lambda d: int(d[1]["meta"]["shard"]["index"]))
    if _kind(docs[0][1]) == "mutants":
        return _merge_mutants(ordered, meta)
    return _merge_variants(ordered, meta)


def load(paths: Sequence[Path]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in paths:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ShardError(f"{path}: cannot read it as JSON ({exc}); give the files --shard runs wrote") from exc
        if not isinstance(doc, dict):
            raise ShardError(f"{path} is not a mutants or variants JSON: give the files --json wrote")
        out.append((str(path), doc))
    return out


# ------------------------------------------------------------------ markdown


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _first(row: Mapping[str, Any]) -> str:
    if row.get("seconds_to_first_failure") is None:
        return ""
    return f"{row['seconds_to_first_failure']:.1f} s, {row['requests_to_first_failure']} req"


def _result(row: Mapping[str, Any]) -> str:
    if row["killed"]:
        return "killed"
    return "out of reach" if row.get("mode") == "remote" and row.get("out_of_reach") else "**SURVIVED**"


def markdown(merged: Merged) -> str:
    """The kill matrix or the variants table, for a CI job summary."""
    doc = merged.doc
    verdict = "holds" if merged.holds else "**does not hold**"
    if merged.kind == "variants":
        summary = doc["summary"]
        lines = [
            f"## klikit-harness variants: {summary['hold']}/{summary['variants']} hold — {verdict}",
            "",
            "| variant | non-strict | strict: failed behaviours | expected (assumed changes) | verdict |",
            "|---|---|---|---|---|",
        ]
        for row in doc["variants"]:
            lenient = (
                "pass"
                if row["lenient_holds"]
                else f"FAIL (exit {row['lenient_exit']}) " + ", ".join(row["lenient_failed"])
            )
            cells = [
                f"`{row['name']}`",
                lenient,
                ", ".join(row["strict_failed"]) or "—",
                ", ".join(row["expected"]) or "—",
                "holds" if row["holds"] else "**BROKEN**",
            ]
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        return "\n".join(lines) + "\n"
    sections = [("embedded" if doc["meta"].get("mode") != "remote" else "as remote", doc)]
    if "remote" in doc:
        sections.append(("as remote", doc["remote"]))
    lines = []
    for label, section in sections:
        summary = section["summary"]
        clean = section["clean"]
        lines += [
            f"## klikit-harness mutants ({label}): {summary['killed']}/{summary['defects']} killed — {verdict}",
            "",
            f"Clean run {'passed' if summary['clean_passed'] else 'FAILED'} in {clean['wall_seconds']:.0f} s.",
            "",
            "| defect | family | result | suites | behaviours | first failure | why not killed |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in sorted(section["defects"], key=lambda r: (r["family"], r["name"])):
            cells = [
                f"`{row['name']}`",
                row["family"],
                _result(row),
                ",".join(row["suites"]),
                ", ".join(row["behaviours"][:3]) + (" …" if len(row["behaviours"]) > 3 else ""),
                _first(row),
                "" if row["killed"] else row.get("reason") or row.get("error", "")[-120:],
            ]
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        lines.append("")
    return "\n".join(lines)
