"""``klikit-harness run`` end to end against a target that accepts and never answers: it ends on time, exit 3,
and its report names what timed out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.loopback  # slow: the root conftest's SLOW

MAX_TIME = 6.0
#: past the deadline: interpreter start-up before the session can be stopped, and the report; generous, as a
#: loaded CI machine starts two Pythons slowly (about 5 s past the deadline on an idle one)
SLACK = 45.0


def _run(url: str, report: Path, *extra: str, **env: str) -> subprocess.Popen[str]:
    variables = {k: v for k, v in os.environ.items() if not k.startswith(("KLIKIT_", "PYTEST_"))}
    variables.update(KLIKIT_PARTNER_KEY="pk_hostile", KLIKIT_SECRET_KEY="sk_hostile_secret", **env)
    command = [
        sys.executable,
        "-m",
        "klikit_harness",
        "run",
        "--target",
        url,
        "--suite",
        "contract",
        "--report",
        str(report),
        *extra,
    ]
    return subprocess.Popen(command, env=variables, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_a_never_answering_target_ends_on_time_with_exit_3_and_a_report_naming_what_timed_out(
    hostile_server: Any, tmp_path: Path
) -> None:
    url = hostile_server.url("never")
    started = time.monotonic()
    # both at once: one stopped by the run deadline, one by the read timeout of its first request
    by_deadline = _run(
        url,
        tmp_path / "deadline",
        "--max-time",
        f"{MAX_TIME:g}",
        KLIKIT_READ_TIMEOUT="300",
        KLIKIT_ANSWER_TIMEOUT="300",
    )
    by_read_timeout = _run(url, tmp_path / "read", KLIKIT_READ_TIMEOUT="1")
    out_deadline, _ = by_deadline.communicate(timeout=MAX_TIME + SLACK + 30)
    deadline_wall = time.monotonic() - started
    out_read, _ = by_read_timeout.communicate(timeout=60)

    assert by_deadline.returncode == 3, out_deadline
    assert deadline_wall < MAX_TIME + SLACK, out_deadline
    meta = json.loads((tmp_path / "deadline" / "results.json").read_text())["meta"]
    assert meta["stopped"].startswith(f"run deadline of {MAX_TIME:g} s reached (--max-time / KLIKIT_MAX_TIME)")
    report = (tmp_path / "deadline" / "report.md").read_text()
    assert "STOPPED EARLY" in report and "run deadline" in report

    assert by_read_timeout.returncode == 3, out_read
    meta = json.loads((tmp_path / "read" / "results.json").read_text())["meta"]
    assert "GET /never/v1/partner/menus: no byte of answer within 1 s (KLIKIT_READ_TIMEOUT)" in meta["stopped"]
    assert "STOPPED EARLY" in (tmp_path / "read" / "report.html").read_text()
