"""Several assignments, one pipeline: each is named, found, released and graded on its own, and
results of two assignments are never mixed in one grading folder."""

from __future__ import annotations

import json

import pytest

from autograder.assignments import ASSIGNMENTS, assignment_named
from autograder.pipeline.batch import grade_batch
from autograder.pipeline.gradebook import merge
from autograder.pipeline.results import RESULTS, assignment_of


def _result(out, student: str, assignment: str | None) -> None:
    (out / RESULTS).mkdir(parents=True, exist_ok=True)
    data = {"student": student, "score": 1.0, "max_score": 2.0, "status": "graded",
            "seconds": 1.0, "tests": {}, "notebook_sha256": "x", "profile": "tiny"}
    if assignment:
        data["assignment"] = assignment
    (out / RESULTS / f"{student}.json").write_text(json.dumps(data))


def test_every_assignment_has_its_source_and_release():
    assert set(ASSIGNMENTS) == {"metalearning", "metasgd_protonet", "hypergradients"}
    for a in ASSIGNMENTS.values():
        assert a.source.is_file() and a.released.is_file(), a.name
        assert a.source.name == a.released.name == f"{a.name}.ipynb"


def test_unknown_assignment_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown assignment 'maml2'.*metasgd_protonet"):
        assignment_named("maml2")
    assert assignment_named().name == "metalearning"


def test_results_say_which_assignment_they_hold(tmp_path):
    assert assignment_of(tmp_path) is None
    _result(tmp_path, "old", None)  # written before results named their assignment
    assert assignment_of(tmp_path) == "metalearning"
    _result(tmp_path, "bob", "metasgd_protonet")
    with pytest.raises(ValueError, match="several assignments"):
        assignment_of(tmp_path)


def test_grading_into_another_assignments_folder_is_refused(tmp_path):
    _result(tmp_path / "out", "alice", "metalearning")
    (tmp_path / "subs").mkdir()
    with pytest.raises(ValueError, match="holds results of the assignment 'metalearning'"):
        grade_batch(tmp_path / "subs", tmp_path / "out", "tiny", assignment="metasgd_protonet")


def test_merging_shards_of_two_assignments_is_refused(tmp_path):
    _result(tmp_path / "a", "alice", "metalearning")
    _result(tmp_path / "b", "bob", "metasgd_protonet")
    with pytest.raises(ValueError, match="different assignments"):
        merge(tmp_path / "all", [tmp_path / "a", tmp_path / "b"])
