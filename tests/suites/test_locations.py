"""Where the product suites live and how a node id names one: klikit_harness.suites."""

from __future__ import annotations

import configparser
import tomllib
from pathlib import Path

import pytest

from klikit_harness import suites


def test_every_suite_sits_beside_its_pytest_ini_with_its_conftest() -> None:
    assert suites.INI.parent == suites.HOME
    assert configparser.ConfigParser().read(suites.INI) == [str(suites.INI)]
    for name in suites.NAMES:
        assert (suites.HOME / name / "conftest.py").is_file(), name
    assert set(suites.REMOTE) < set(suites.NAMES) and "chaos" not in suites.REMOTE


def test_the_suites_run_under_the_warning_filters_of_a_checkout() -> None:
    """A run of the packaged suites (klikit-harness run, mutants, variants) reads suites/pytest.ini, not
    pyproject.toml: every warning filter of the checkout's pytest options is there too, so a warning a
    checkout ignores cannot turn into a failure of the run (or hide the failure it was about)."""
    ini = configparser.ConfigParser()
    ini.read(suites.INI)
    packaged = [line.strip() for line in ini["pytest"]["filterwarnings"].splitlines() if line.strip()]
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    checkout = tomllib.loads(pyproject.read_text())["tool"]["pytest"]["ini_options"]["filterwarnings"]
    assert [f for f in checkout if f not in packaged] == []


def test_paths_takes_suite_names_and_files_inside_a_suite() -> None:
    assert suites.paths(["contract", "fuzz"]) == [suites.HOME / "contract", suites.HOME / "fuzz"]
    assert suites.paths(["contract/test_rules.py"]) == [suites.HOME / "contract" / "test_rules.py"]


@pytest.mark.parametrize("name", ["tests", "../contract", "contracts/test_rules.py", ""])
def test_paths_refuses_anything_outside_the_suites_and_names_them(name: str) -> None:
    with pytest.raises(ValueError, match="choose among contract, chaos, fuzz"):
        suites.paths([name])


def test_the_pytest_location_roots_a_run_at_the_suites_with_their_ini() -> None:
    assert suites.pytest_location() == ["--rootdir", str(suites.HOME), "-c", str(suites.INI)]


@pytest.mark.parametrize(
    ("nodeid", "suite"),
    [
        ("contract/test_rules.py::test_x", "contract"),  # a run started by the harness
        ("src/klikit_harness/suites/fuzz/test_fuzz_keys.py::test_y[a/b]", "fuzz"),  # a checkout's own pytest
        ("tests/chaos/test_rotation.py::test_z", "chaos"),  # a report of the former layout
        ("chaos\\test_rotation.py::test_z", "chaos"),
    ],
)
def test_the_suite_of_a_node_id_is_read_however_the_run_was_rooted(nodeid: str, suite: str) -> None:
    assert suites.name_of(nodeid) == suite


@pytest.mark.parametrize(
    "nodeid",
    [
        "contract/test_rules.py::test_x[a/b::c]",
        "src/klikit_harness/suites/contract/test_rules.py::test_x[a/b::c]",
        "tests/contract/test_rules.py::test_x[a/b::c]",
    ],
)
def test_a_reported_node_id_becomes_an_argument_that_runs_from_any_directory(nodeid: str) -> None:
    assert suites.node_argument(nodeid) == f"{suites.HOME / 'contract' / 'test_rules.py'}::test_x[a/b::c]"
