"""End to end through the real nbgrader pipeline (tiny grading profile).

Proof that the tests work: the solution gets full marks, the blank release gets zero on every
graded cell, and every known student bug (autograder/mutants.py) loses the test meant for it
with a message naming the cause.  Broken submissions still get a row.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from autograder.course import ASSIGNMENT, NOTEBOOK
from autograder.grade import grade
from autograder.mutants import MUTANTS
from autograder.validate import validate


@pytest.fixture
def grading_data(synthetic_root, monkeypatch) -> Path:
    """Real Omniglot when OMNIGLOT_ROOT is set, else the tests' synthetic zips."""
    root = os.environ.get("OMNIGLOT_ROOT") or str(synthetic_root)
    monkeypatch.setenv("OMNIGLOT_ROOT", root)
    return Path(root)


@pytest.mark.timeout(1800)  # about 20 s per notebook on 2 idle cores; far more on a loaded machine
def test_solution_full_blank_zero_and_every_bug_caught(tmp_path, grading_data, capsys):
    verdicts = validate("tiny", mutants=True, out=tmp_path / "course", progress=True)
    table = capsys.readouterr().out
    print(table)
    assert {v.name for v in verdicts} == {"solution", "blank"} | {f"mutant-{m.name}" for m in MUTANTS}
    failed = [(v.name, v.expectation, v.row.score, v.row.messages) for v in verdicts if not v.ok]
    assert not failed, table + "\n" + repr(failed)
    course = tmp_path / "course"
    assert (course / "feedback" / "solution" / ASSIGNMENT / "metalearning.html").is_file()
    rows = list(csv.DictReader(open(course / "grades.csv")))
    assert len(rows) == len(verdicts) and {r["student"] for r in rows} == {v.name for v in verdicts}
    failures = list(csv.DictReader(open(course / "failures.csv")))
    assert any(r["student"] == "mutant-grads-not-reset" and "zero_grad" in r["message"]
               for r in failures)


def test_broken_submissions_still_get_a_row(tmp_path, grading_data):
    subs = tmp_path / "subs"
    (subs / "not_json").mkdir(parents=True)
    (subs / "not_json" / NOTEBOOK).write_text("{ this is not a notebook")
    (subs / "empty_file").mkdir()
    (subs / "empty_file" / NOTEBOOK).write_text("")
    (subs / "no_notebook").mkdir()
    (subs / "no_notebook" / "answers.txt").write_text("I forgot the notebook")
    rows = grade(subs, tmp_path / "course", "tiny", progress=False)
    assert [r.student for r in rows] == ["empty_file", "no_notebook", "not_json"]
    for r in rows:
        assert r.score == 0 and r.max_score > 0 and r.status != "graded", r
    assert rows[1].status == "no notebook found in the submission"
    written = list(csv.DictReader(open(tmp_path / "course" / "grades.csv")))
    assert len(written) == 3


def test_notebook_time_limit_kills_the_kernel_and_keeps_a_row(tmp_path, grading_data):
    import json

    from autograder.course import REPO

    nb = json.loads((REPO / "notebooks" / ASSIGNMENT / NOTEBOOK).read_text())
    nb["cells"].insert(1, {"cell_type": "code", "metadata": {}, "execution_count": None,
                           "outputs": [], "source": "import time\nwhile True:\n    time.sleep(1)"})
    (tmp_path / "subs" / "looper").mkdir(parents=True)
    (tmp_path / "subs" / "looper" / NOTEBOOK).write_text(json.dumps(nb))
    (row,) = grade(tmp_path / "subs", tmp_path / "course", "tiny", notebook_timeout=20,
                   progress=False)
    assert row.score == 0 and "ran over 20 s" in row.status
    leftover = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink(f"/proc/{pid}/cwd").startswith(str(tmp_path)):
                leftover.append(pid)
        except OSError:
            pass
    assert not leftover, f"processes of the timed-out submission still run: {leftover}"
