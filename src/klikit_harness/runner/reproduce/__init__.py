"""``klikit-harness reproduce``: a reported failure's own requests, re-sent, judged by the same expectation.

The command's entry points: reading a report's failures (``load_report``,
``select``), reproducing them against a target (``run``) and writing a
standalone test (``write_test``). The work lives beside it: ``capture`` (the
step format the plugin writes into ``results.json`` and its reader),
``executor`` (re-sending and judging), ``standalone`` and ``template`` (the
standalone pytest file, whose code is the real module ``template``). Must
not: write or print a secret — steps name ``$KLIKIT_*`` variables, never
credentials.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from ...checking.config import Settings
from ..exits import EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE, EXIT_VIOLATIONS
from .capture import (
    MAX_STEPS,
    Capture,
    ReportError,
    Selected,
    credential_table,
    load_report,
    replayable,
    resolve_credential,
    select,
    settings_env,
    step_of,
    variables,
)
from .executor import Outcome, judge, reproduce_sequence, rerun_test, send_steps
from .standalone import STANDALONE_CHECKS, standalone_problem, write_test
from .template import fresh_key, remap

__all__ = [
    "MAX_STEPS",
    "STANDALONE_CHECKS",
    "Capture",
    "Outcome",
    "ReportError",
    "Selected",
    "credential_table",
    "fresh_key",
    "judge",
    "load_report",
    "remap",
    "replayable",
    "reproduce_command",
    "resolve_credential",
    "run",
    "select",
    "send_steps",
    "settings_env",
    "standalone_problem",
    "step_of",
    "variables",
    "write_test",
]

#: the command line's name for ``variables``
_variables = variables


def reproduce_command(report_dir: str | os.PathLike[str], failure_id: str) -> str:
    """The one-line command a report shows for a failure."""
    return f"klikit-harness reproduce {report_dir} {failure_id}"


def run(
    chosen: Sequence[Selected],
    settings: Settings,
    *,
    env_file: Path | None,
    reading: str,
    strict: bool,
    same_keys: bool,
    echo: Callable[[str], None],
) -> int:
    """Reproduce each failure against ``settings``' target; the exit code (1 when any still fails)."""
    from ...checking.config import guard_production
    from ...checking.target import Target

    assert settings.base_url is not None
    target = Target(
        settings.base_url,
        settings,
        reading=reading,  # type: ignore[arg-type]
        strict=strict,
        read_only=guard_production(settings),
    )
    keys = "the recorded Idempotency-Keys" if same_keys else "fresh Idempotency-Keys"
    outcomes: list[Outcome] = []
    for failure in chosen:
        echo(f"{failure.id} {failure.behaviour or '(untagged)'}: {failure.title}")
        why = replayable(failure)
        if why is None:
            echo(f"  re-sending its {len(failure.steps)} request(s) to {settings.base_url} with {keys}")
            outcome = reproduce_sequence(failure, target, same_keys=same_keys)
        else:
            echo(f"  {why}: re-running its test {failure.test}")
            outcome = rerun_test(
                failure,
                base_url=settings.base_url,
                env_file=env_file,
                reading=reading,
                strict=strict,
                redact=target.redactor,
            )
        for line in outcome.lines:
            echo(target.redactor(line))
        label = {"still fails": "STILL FAILS", "fixed": "no longer fails"}.get(outcome.verdict, outcome.verdict.upper())
        echo(f"  {label}: {outcome.detail}")
        if outcome.request_ids:
            echo(f"  new request_id(s): {', '.join(outcome.request_ids)}")
        outcomes.append(outcome)
    verdicts = [o.verdict for o in outcomes]
    still = verdicts.count("still fails")
    echo(
        f"reproduced {len(outcomes)} failure(s): {still} still fail, {verdicts.count('fixed')} no longer fail"
        + (
            f", {len(outcomes) - still - verdicts.count('fixed')} could not be judged"
            if len(outcomes) - still - verdicts.count("fixed")
            else ""
        )
    )
    if still:
        return EXIT_VIOLATIONS
    if "unreachable" in verdicts:
        return EXIT_UNREACHABLE
    if any(v not in {"fixed"} for v in verdicts):
        return EXIT_USAGE
    return EXIT_OK
