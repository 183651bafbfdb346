"""End to end through the real ``grade`` pipeline (tiny grading profile).

Proof that the tests work: the solution gets full marks, the blank release gets zero on every
graded cell, every known student bug (autograder/assignments/metalearning/catalogue/mutants.py, autograder/student_code/) loses
the test meant for it with a message naming the cause, and every correct answer written
differently gets full marks.  Broken submissions still get a row.
"""

from __future__ import annotations

import csv
import json
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from autograder.pipeline.grade import grade
from autograder.assignments import ASSIGNMENTS, assignment_named
from autograder.instructor.validate import proof, validate

ASSIGNMENT = "metalearning"  # the assignment these tests grade
NOTEBOOK = f"{ASSIGNMENT}.ipynb"


def _proved(assignment: str, sample: int | None, course, capsys) -> list:
    """``validate --mutants [--sample K]`` through the real pipeline: every verdict held."""
    verdicts = validate("tiny", mutants=True, out=course, progress=True, jobs=2,
                        assignment=assignment, sample=sample)
    table = capsys.readouterr().out
    print(table)
    bugs, variants, _ = proof(assignment_named(assignment), sample)
    assert bugs and variants
    assert {v.name for v in verdicts} == {"solution", "blank"} | {
        f"bug {m.name}" for m in bugs} | {f"correct {v.name}" for v in variants}
    failed = [(v.name, v.expectation, v.row.score, v.row.messages) for v in verdicts if not v.ok]
    assert not failed, table + "\n" + repr(failed)
    assert (course / "feedback" / "solution" / assignment / f"{assignment}.html").is_file()
    rows = list(csv.DictReader(open(course / "grades.csv")))
    assert {r["student"] for r in rows} == {v.row.student for v in verdicts}
    results = {json.loads(f.read_text())["assignment"] for f in (course / "results").glob("*")}
    assert results == {assignment}
    return list(csv.DictReader(open(course / "failures.csv")))


#: the default run grades a bug of every graded function and a correct variant of each (the
#: first notebook of each), end to end; every bug of the catalogue is judged by the same checks
#: through the same harness in tests/test_checks.py (seconds), and end to end with -m slow
SAMPLED = [pytest.param(name, 1, id=f"{name}-sampled") for name in ASSIGNMENTS] + [
    pytest.param(name, None, id=f"{name}-every-bug", marks=pytest.mark.slow)
    for name in ASSIGNMENTS]


@pytest.mark.timeout(1800)  # about 20 s per notebook on 2 idle cores; far more on a loaded machine
@pytest.mark.parametrize("assignment, sample", SAMPLED)
def test_solution_full_blank_zero_and_bugs_caught(assignment, sample, tmp_path, grading_data,
                                                 capsys, seed_template):
    failures = _proved(assignment, sample, seed_template(tmp_path / "course", assignment), capsys)
    control = [r["message"] for r in failures if any(ord(c) < 32 and c != "\n" for c in r["message"])]
    assert not control, control  # messages render as written (no tab from "\theta" in a hint)
    if assignment == ASSIGNMENT:
        assert any(r["test"] == "test_outer_step" and "zero_grad" in r["message"] for r in failures)


def test_broken_submissions_still_get_a_row(tmp_path, grading_data, seed_template):
    subs = tmp_path / "subs"
    (subs / "not_json").mkdir(parents=True)
    (subs / "not_json" / NOTEBOOK).write_text("{ this is not a notebook")
    (subs / "empty_file").mkdir()
    (subs / "empty_file" / NOTEBOOK).write_text("")
    (subs / "no_notebook").mkdir()
    (subs / "no_notebook" / "answers.txt").write_text("I forgot the notebook")
    rows = grade(subs, seed_template(tmp_path / "course"), "tiny", progress=False)
    assert [r.student for r in rows] == ["empty_file", "no_notebook", "not_json"]
    for r in rows:
        assert r.score == 0 and r.max_score > 0 and r.status != "graded", r
    assert rows[1].status == "no notebook found in the submission"
    written = list(csv.DictReader(open(tmp_path / "course" / "grades.csv")))
    assert len(written) == 3


@pytest.mark.slow  # the default run kills over-time notebooks in test_adversarial (swallow-timeout)
def test_notebook_time_limit_kills_the_worker_and_keeps_a_row(tmp_path, grading_data,
                                                              seed_template):
    import json

    from autograder.pipeline.course import REPO

    nb = json.loads((REPO / "notebooks" / ASSIGNMENT / NOTEBOOK).read_text())
    answer = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("solution")
                  and c["cell_type"] == "code")  # added cells are dropped: loop in an answer
    answer["source"] = "import time\nwhile True:\n    time.sleep(1)"
    (tmp_path / "subs" / "looper").mkdir(parents=True)
    (tmp_path / "subs" / "looper" / NOTEBOOK).write_text(json.dumps(nb))
    (row,) = grade(tmp_path / "subs", seed_template(tmp_path / "course"), "tiny", notebook_timeout=20,
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
    assert all(m for t, m in row.messages.items()), row.messages  # every test says why


def _tamper_tests(nb: dict) -> dict:
    """Every test cell replaced by ``pass`` with a hard-coded 'passed' output, plus an added
    cell that would replace the checks if it ran."""
    for cell in nb["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade") and cell["cell_type"] == "code":
            cell["source"] = "pass"
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "passed"}]
    nb["cells"].insert(2, {"cell_type": "code", "metadata": {}, "execution_count": None,
                           "outputs": [], "source": "import autograder.checks as c\n"
                           "c.check_inner_update = lambda f: None"})
    return nb


def test_shards_merge_into_one_gradebook_and_reruns_resume(tmp_path, grading_data,
                                                          seed_template):
    import json

    from nbgrader.api import Gradebook

    from autograder.pipeline.course import REPO
    from autograder.pipeline.gradebook import merge

    subs = tmp_path / "subs"
    for name, nb in {
            "solution_tampered": json.loads((REPO / "solutions" / ASSIGNMENT / NOTEBOOK).read_text()),
            "blank_tampered": json.loads((REPO / "notebooks" / ASSIGNMENT / NOTEBOOK).read_text())}.items():
        (subs / name).mkdir(parents=True)
        (subs / name / NOTEBOOK).write_text(json.dumps(_tamper_tests(nb)))
    (subs / "empty").mkdir()
    (subs / "empty" / NOTEBOOK).write_text("")
    (subs / "not_json").mkdir()
    (subs / "not_json" / NOTEBOOK).write_text("{ nope")
    shards = [seed_template(tmp_path / f"shard{i}") for i in (1, 2)]
    with ThreadPoolExecutor(2) as runners:  # two runners at once, as a CI matrix runs them
        graded = list(runners.map(lambda i: grade(subs, shards[i - 1], "tiny", progress=False,
                                                  shard=(i, 2)), (1, 2)))
    assert [len(rows) for rows in graded] == [2, 2]
    merged = merge(seed_template(tmp_path / "all"), shards)
    by = {r.student: r for r in merged}
    assert sorted(by) == ["blank_tampered", "empty", "not_json", "solution_tampered"]
    assert by["solution_tampered"].score == by["solution_tampered"].max_score > 0
    assert any("you added" in n for n in by["solution_tampered"].notes)
    assert by["blank_tampered"].score == 0 and len(by["blank_tampered"].tests) > 0
    assert "empty file" in by["empty"].status and "not a valid notebook" in by["not_json"].status
    # resume: a finished shard is not graded again; merging twice duplicates nothing
    stamp = (shards[0] / "results" / "blank_tampered.json").stat().st_mtime_ns
    grade(subs, shards[0], "tiny", progress=False, shard=(1, 2))
    assert (shards[0] / "results" / "blank_tampered.json").stat().st_mtime_ns == stamp
    # --regrade: only the named student is graded again; the others keep their results
    mine = sorted(p.stem for p in (shards[0] / "results").glob("*.json"))
    kept = {s: (shards[0] / "results" / f"{s}.json").stat().st_mtime_ns for s in mine}
    again = grade(subs, shards[0], "tiny", progress=False, shard=(1, 2),
                  regrade=["blank_tampered"])
    assert {r.student for r in again} == set(mine) and len(mine) == 2
    assert (shards[0] / "results" / "blank_tampered.json").stat().st_mtime_ns != stamp
    assert all((shards[0] / "results" / f"{s}.json").stat().st_mtime_ns == kept[s]
               for s in mine if s != "blank_tampered")
    merge(tmp_path / "all", shards)
    with Gradebook(f"sqlite:///{tmp_path / 'all' / 'gradebook.db'}") as gb:
        subs_in_db = [s.student_id for s in gb.find_assignment(ASSIGNMENT).submissions]
        assert sorted(subs_in_db) == sorted(by)
        nb = gb.find_submission_notebook("metalearning", ASSIGNMENT, "solution_tampered")
        assert nb.score == by["solution_tampered"].score
    rows = list(csv.DictReader(open(tmp_path / "all" / "grades.csv")))
    assert sorted(r["student"] for r in rows) == sorted(by)
    assert (tmp_path / "all" / "feedback" / "solution_tampered" / ASSIGNMENT / "metalearning.html").is_file()
