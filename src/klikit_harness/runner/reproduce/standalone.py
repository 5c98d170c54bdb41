"""A standalone pytest file (httpx only) that reproduces one failure, for the team that owns the target.

Owns: which failures can have one (``standalone_problem``: re-sendable steps
and a check with a standalone form), and writing it (``write_test``): the
module ``template`` copied whole, its docstring, its data block and its test's
name replaced by the failure's (``fill``). Must not: put a secret in the file:
the steps name ``$KLIKIT_*`` variables, read from the environment when the
file runs.
"""

from __future__ import annotations

import pprint
import re
from importlib import resources
from pathlib import Path

from ... import contract
from . import template
from .capture import ReportError, Selected, replayable, variables

__all__ = ["STANDALONE_CHECKS", "fill", "standalone_problem", "template_source", "write_test"]


#: checks with a standalone form in a written test (the others need the harness's oracle)
STANDALONE_CHECKS = frozenset(
    {
        "json_body",
        "request_id",
        "request_id_distinct",
        "success_envelope",
        "error_envelope",
        "code_in_catalogue",
        "no_server_error",
        "rate_limited_answer",
        "no_secret_echo",
    }
)


def standalone_problem(failure: Selected) -> str | None:
    """Why no standalone test can be written for ``failure`` (None: one can)."""
    why = replayable(failure)
    if why:
        return why
    exp = failure.expected or {}
    if "check" in exp and exp["check"] not in STANDALONE_CHECKS:
        return f"its check {exp['check']!r} is the harness's input oracle, which has no standalone form"
    if failure.omitted:
        return f"its test sent {failure.omitted} more request(s) than the report keeps"
    return None


def write_test(failure: Selected, path: Path, *, reading: str, run_id: str | None) -> Path:
    """Write a pytest file (httpx only) that re-sends ``failure``'s steps and asserts its expectation."""
    problem = standalone_problem(failure)
    if problem:
        raise ReportError(
            f"{failure.id}: no standalone test can be written: {problem}; "
            f"run `klikit-harness reproduce` (it re-runs the test {failure.test}) instead"
        )
    assert failure.expected is not None
    steps = [
        {
            k: v
            for k, v in s.items()
            if k
            in {
                "method",
                "path",
                "query",
                "headers",
                "body",
                "body_base64",
                "credential",
                "authorization",
                "status",
                "request_id",
                "created_id",
            }
        }
        for s in failure.steps
    ]
    names = variables(steps)
    catalogue: dict[str, int] = {}
    if failure.expected.get("check") in {"code_in_catalogue", "rate_limited_answer"}:
        errors = contract.errors()
        for code, entry in errors.codes(reading).items():  # type: ignore[arg-type]
            catalogue[code] = entry.status
        for alias, code in errors.aliases.items():
            if code in catalogue:
                catalogue[alias] = catalogue[code]
    name = re.sub(r"\W+", "_", f"{failure.id}_{failure.behaviour or 'failure'}").strip("_").lower()
    env_line = " ".join(f"{v}=…" for v in names)
    docstring = _DOCSTRING.format(
        title=failure.title.replace('"""', "'''"),
        fid=failure.id,
        behaviour=failure.behaviour,
        test=failure.test,
        run_id=run_id or "?",
        env_line=env_line,
        documented=(failure.documented or "").replace('"""', "'''"),
    )
    data = _DATA.format(
        steps=pprint.pformat(steps, width=110, sort_dicts=False),
        expected=repr(failure.expected),
        catalogue=pprint.pformat(catalogue, width=110),
        secret_vars=repr([v for v in names if v != "KLIKIT_BASE_URL"]),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(fill(docstring=docstring, data=data, name=f"test_{name}"), encoding="utf-8")
    return path


def template_source() -> str:
    """The source of ``template``, the written file's code."""
    return resources.files(__package__).joinpath("template.py").read_text(encoding="utf-8")


def fill(*, docstring: str, data: str, name: str) -> str:
    """``template``'s source with its docstring, its data block and its test's name replaced."""
    source = template_source()
    old_doc = f'"""{template.__doc__}"""'
    start, end = source.index(DATA_START), source.index(DATA_END) + len(DATA_END)
    if source.count(old_doc) != 1 or source.count(TEST_NAME) != 1:
        raise AssertionError("the template lost its docstring or its test: keep template.py as the writer expects")
    source = source[:start] + DATA_START + "\n" + data + DATA_END + source[end:]
    return source.replace(old_doc, f'"""{docstring}"""', 1).replace(TEST_NAME, f"def {name}(", 1)


#: the markers around the data block in ``template`` and its test's name
DATA_START = "# --- data (written by the harness)"
DATA_END = "# --- end of data"
TEST_NAME = "def test_failure("

_DOCSTRING = """{fid}: {title}

Reproduces failure {fid} of klikit-harness run {run_id} (behaviour {behaviour}, found by {test}).
Documented: {documented}

Standalone: needs only pytest and httpx. Credentials come from the environment:

    {env_line} python -m pytest THIS_FILE

It re-sends the failing test's own requests in order (each Idempotency-Key replaced by a fresh
one of the same shape, one new key per original key) and asserts the documented answer to the last.
Fails while the target still breaks the rule; passes once it is fixed.
"""

_DATA = """STEPS: list[dict[str, Any]] = {steps}

EXPECTED: dict[str, Any] = {expected}

#: error code -> HTTP status (errors.yaml) where the expectation needs it
CATALOGUE: dict[str, int] = {catalogue}

SECRET_VARIABLES: list[str] = {secret_vars}
"""
