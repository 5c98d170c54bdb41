"""``results.json``: what the report writes, the one reader reads back, typed; a bad file is named."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from klikit_harness import contract
from klikit_harness.runner import report as reporting
from klikit_harness.runner import results

#: each record the report writes, and the reader's type for it
PAIRS = [
    (reporting.Fault, results.Fault),
    (reporting.DistinctFailure, results.DistinctFailure),
    (reporting.TestRecord, results.TestResult),
    (reporting.BehaviourRow, results.BehaviourResult),
    (reporting.Reading, results.Reading),
]


@pytest.mark.parametrize(("written", "read"), PAIRS, ids=[p[0].__name__ for p in PAIRS])
def test_the_reader_has_a_field_for_every_field_the_report_writes(written: type, read: type) -> None:
    assert {f.name for f in dataclasses.fields(written)} == {f.name for f in dataclasses.fields(read)}
    assert read.__dataclass_params__.frozen  # type: ignore[attr-defined]


def _written(tmp_path: Path) -> Path:
    ids = list(contract.behaviours())
    recorder = reporting.Recorder(redact=lambda s: s.replace("sk_hidden", "[scrubbed]"))
    step = {
        "method": "POST",
        "path": "/menus/populate",
        "query": [["brand_id", "663"]],
        "headers": {},
        "body": "{}",
        "body_base64": False,
        "credential": None,
        "authorization": None,
        "status": 500,
        "request_id": "req_1",
    }
    broke = reporting.Fault(
        ids[0], "Violation: x", "x sk_hidden", request_id="req_1", expected={"check": "request_id"}, exchanges=[step]
    )
    seen = reporting.Fault(ids[2], "Violation: y", "y", observed=True)
    recorder.add(
        reporting.TestRecord(
            "contract/test_x.py::a",
            "contract",
            "failed",
            ids[:2],
            duration=1.5,
            requests=7,
            broken=[ids[0]],
            faults=[broke],
        )
    )
    recorder.add(
        reporting.TestRecord("contract/test_x.py::b", "contract", "observed", [ids[2]], broken=[ids[2]], faults=[seen])
    )
    recorder.add(reporting.TestRecord("contract/test_x.py::c", "contract", "skipped", [ids[3]]))
    meta = {
        "run_id": "kh-1",
        "target": "https://staging.example/v1/partner",
        "reading": "concepts",
        "strict": True,
        "requests": 12,
        "wall_seconds": 3.0,
        "base_url": "https://staging.example/v1/partner",
    }
    reporting.write(tmp_path, recorder, meta, recorder.summary())
    return tmp_path


def test_a_written_report_reads_back_typed(tmp_path: Path) -> None:
    ids = list(contract.behaviours())
    found = results.read(_written(tmp_path))
    assert found.path == tmp_path / results.RESULTS_FILE
    assert (found.run_id, found.reading, found.strict, found.requests, found.wall_seconds) == (
        "kh-1",
        "concepts",
        True,
        12.0,
        3.0,
    )
    assert found.failed_behaviours() == [ids[0]]
    assert ids[3] in found.unobserved_behaviours() and ids[0] not in found.unobserved_behaviours()
    [failure] = found.failures
    assert failure.id == "F1" and failure.tests == ("contract/test_x.py::a",)
    assert failure.title == "x [scrubbed]"  # every text went through the redactor
    assert failure.exchanges is not None and failure.exchanges[0]["path"] == "/menus/populate"
    [observation] = found.observations
    assert observation.id == "O1" and observation.result == "observed"
    first = found.tests[0]
    assert isinstance(first.faults[0], results.Fault) and first.faults[0].expected == {"check": "request_id"}
    assert (first.duration, first.requests, first.broken) == (1.5, 7, (ids[0],))
    assert found.by_id[ids[3]].result == "skipped"


def test_a_mistyped_entry_is_named_with_its_place_in_the_file(tmp_path: Path) -> None:
    path = _written(tmp_path) / results.RESULTS_FILE
    data = json.loads(path.read_text())
    data["tests"][1]["faults"][0]["exchanges_omitted"] = "many"
    path.write_text(json.dumps(data))
    with pytest.raises(results.ResultsError, match=r"results\.json: tests\[1\]\.faults\[0\]\.exchanges_omitted: "):
        results.read(path)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("{not json", "is not JSON"),
        ('{"verdict": "x"}', "has no 'behaviours' list"),
        ('{"behaviours": [{"id": 1, "result": "pass"}]}', "behaviours[0].id"),
    ],
)
def test_a_file_that_is_not_a_results_json_says_what_is_wrong(tmp_path: Path, text: str, named: str) -> None:
    path = tmp_path / results.RESULTS_FILE
    path.write_text(text)
    with pytest.raises(results.ResultsError) as caught:
        results.read(tmp_path)
    assert named in str(caught.value) and str(path) in str(caught.value)


def test_a_directory_without_one_says_how_to_write_it(tmp_path: Path) -> None:
    with pytest.raises(results.ResultsError, match=r"has no results\.json: give a report directory"):
        results.read(tmp_path)
