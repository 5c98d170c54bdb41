"""The product suites: what the harness checks against a target, shipped inside the package.

Owns: where the suites live (``contract``, ``chaos``, ``fuzz`` beside this file),
the pytest configuration they run under (``pytest.ini`` beside this file), and
reading a suite's name back from a pytest node id. ``klikit-harness run``,
``mutants``, ``variants`` and ``reproduce`` find the suites here, so an installed
wheel runs them from any directory (``pytest --pyargs klikit_harness.suites.contract``
works too). Must not: import pytest or anything of the suites themselves (the
runner imports this module to find them).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

__all__ = ["HOME", "INI", "NAMES", "REMOTE", "name_of", "node_argument", "paths", "pytest_location"]

#: the folder holding the suites; node ids of a run started by the harness are relative to it
HOME = Path(__file__).resolve().parent
#: the pytest configuration of a suites run (markers, strictness, warnings as errors)
INI = HOME / "pytest.ini"
#: every suite, in the order a run takes them
NAMES = ("contract", "chaos", "fuzz")
#: the suites that reach a remote target (chaos drives the respx simulator only)
REMOTE = ("contract", "fuzz")


def paths(names: Iterable[str]) -> list[Path]:
    """The folders of the named suites (or a file inside one: ``contract/test_rules.py``).

    A name outside the suites is a programming error.
    """
    chosen = list(names)
    unknown = [n for n in chosen if n.replace("\\", "/").split("/", 1)[0] not in NAMES]
    if unknown:
        raise ValueError(f"unknown suite(s) {', '.join(unknown)}: choose among {', '.join(NAMES)}")
    return [HOME / name for name in chosen]


def pytest_location() -> list[str]:
    """The pytest arguments that run a suite the way the harness does: rooted here, with this configuration."""
    return ["--rootdir", str(HOME), "-c", str(INI)]


def name_of(nodeid: str) -> str:
    """The suite a test belongs to, from its node id (rooted here, in a checkout, or in ``tests/``)."""
    parts = nodeid.split("::", 1)[0].replace("\\", "/").split("/")
    for marker in ("suites", "tests"):
        if marker in parts[:-1]:
            return parts[parts.index(marker) + 1]
    return parts[0]


def node_argument(nodeid: str) -> str:
    """The pytest argument that re-runs one test of a report, from any directory.

    A harness run names tests relative to ``HOME`` (``contract/test_rules.py::test_x``); ids a
    checkout's own ``pytest`` wrote (``src/klikit_harness/suites/...`` or the former ``tests/...``)
    are read too.
    """
    file, sep, rest = nodeid.replace("\\", "/").partition("::")
    parts = file.split("/")
    for marker in ("suites", "tests"):
        if marker in parts[:-1] and parts[parts.index(marker) + 1] in NAMES:
            parts = parts[parts.index(marker) + 1 :]
            break
    return str(HOME.joinpath(*parts)) + sep + rest
