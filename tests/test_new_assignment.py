"""Adding an assignment is one folder plus one registry line: a fresh copy of the template
(``python -m autograder new-assignment``'s ``scaffold``: one graded function, its hidden check,
one known bug, one mutant and one correct variant), made in a temporary folder and registered
there, is released and graded end to end through the real pipeline (nbgrader, the sandboxed
worker, the judge): the solution gets full marks, the blank release zero, the bug and the
mutant lose the test with their cause named, the variant keeps full marks."""

from __future__ import annotations

import sys

import pytest

from autograder.assignments import ASSIGNMENTS, Assignment
from autograder.assignments.scaffold import scaffold
from autograder.instructor.validate import validate


def test_a_new_assignment_from_the_template_is_graded_end_to_end(tmp_path, monkeypatch):
    packages = tmp_path / "packages"
    packages.mkdir()
    folder = scaffold("tmpl_course", "A throwaway assignment", root=tmp_path, packages=packages)
    assert (folder / "checks.py").exists() and (tmp_path / "solutions" / "tmpl_course").is_dir()
    monkeypatch.syspath_prepend(str(packages))
    record = Assignment("tmpl_course", package="tmpl_course", root=tmp_path)
    monkeypatch.setitem(ASSIGNMENTS, "tmpl_course", record)  # the one registry line
    assert record.title == "A throwaway assignment"
    verdicts = validate("tiny", mutants=True, progress=False, assignment=record)
    got = {v.name: (v.ok, v.row.score, v.row.max_score, v.said) for v in verdicts}
    assert set(got) == {"solution", "blank", "bug scale-squared", "bug scale-adds",
                        "correct scale-mul"}, got
    assert all(ok for ok, *_ in got.values()), got
    assert "adds a instead of multiplying" in got["bug scale-adds"][3]
    blank = next(v.row for v in verdicts if v.name == "blank")  # the release: no answer, no test
    assert blank.score == 0 and "not implemented" in " ".join(blank.messages.values()).lower()
    for name in [m for m in sys.modules if m.startswith("tmpl_course")]:
        monkeypatch.delitem(sys.modules, name)


def test_scaffold_refuses_a_bad_or_taken_name(tmp_path):
    with pytest.raises(ValueError, match="package name"):
        scaffold("Not-A-Name", "x", root=tmp_path, packages=tmp_path)
    scaffold("taken", "x", root=tmp_path, packages=tmp_path)
    with pytest.raises(FileExistsError):
        scaffold("taken", "x", root=tmp_path, packages=tmp_path)
