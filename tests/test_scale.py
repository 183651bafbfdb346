"""A whole class graded in one batch: 200 generated submissions, tiny profile, 2 jobs.

Heavy — every notebook gets its own sandboxed worker and nbgrader's autograde and feedback,
tens of seconds each —, so it is marked ``scale`` and run on purpose (not in the default run):
``OMNIGLOT_ROOT=../shared/data/omniglot python -m pytest -m scale -s``
(``HW_SCALE_SUBMISSIONS=N`` changes the class size, ``HW_SCALE_REPORT=file.json`` keeps the
throughput).  The class mixes good, buggy (autograder/assignments/metalearning/catalogue/mutants.py), adversarial
(tests/test_adversarial.py) and broken submissions; every student must get exactly one row, in
``grades.csv`` and in the gradebook, with the score its kind deserves, and a second run over the
same folder must grade nobody again and change nothing.
"""

from __future__ import annotations

import copy
import csv
import json
import os
import time

import pytest

from autograder.pipeline.course import REPO
from autograder.pipeline.grade import grade
from autograder.assignments.metalearning.catalogue import GRADE_IDS, MUTANTS
from autograder.student_code.entries import mutate_notebook

ASSIGNMENT = "metalearning"  # the assignment these tests grade
NOTEBOOK = f"{ASSIGNMENT}.ipynb"

#: adversarial cases in the class (cheap ones): answer cell, code put after the honest answer,
#: tests it deserves to lose
CLASS_ATTACKS = {
    "sys-exit": ("quiz_q16", "import sys\nsys.exit(1)", set()),
    "network": ("quiz_q1", "import urllib.request\ntry:\n    urllib.request.urlopen("
                "'http://example.com', timeout=3)\nexcept Exception:\n    pass", set()),
    "read-hidden-tests": ("quiz_q1", f"try:\n    print(open({str(REPO / 'solutions')!r} + "
                          "'/metalearning/metalearning.ipynb').read())\nexcept OSError:\n    pass",
                          set()),
    "patch-allclose": ("anil_adapt", "torch.allclose = lambda *a, **k: True", set()),
    "nan-params": ("anil_adapt", "_honest = anil_adapt\ndef anil_adapt(*a, **k):\n"
                   "    return {n: v * float('nan') for n, v in _honest(*a, **k).items()}",
                   {"test_anil"}),
    "wrong-shape": ("anil_adapt", "_honest = anil_adapt\ndef anil_adapt(*a, **k):\n"
                    "    return {n: v.flatten() for n, v in _honest(*a, **k).items()}",
                    {"test_anil"}),
    "str-subclass": ("quiz_q1", "class S(str):\n    __eq__ = lambda s, o: True\n"
                     "    __hash__ = str.__hash__\nanswer_q1 = S('a')", {"test_quiz_q1"}),
}


def _with_attack(solution: dict, cell_id: str, code: str) -> dict:
    nb = copy.deepcopy(solution)
    cell = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id")
                == cell_id)
    cell["source"] = "".join(cell["source"]) + "\n" + code
    return nb


def _points(notebook: dict) -> dict[str, float]:
    return {c["metadata"]["nbgrader"]["grade_id"]: float(c["metadata"]["nbgrader"]["points"])
            for c in notebook["cells"] if c["metadata"].get("nbgrader", {}).get("grade")}


def _kinds(solution: dict, blank: dict) -> dict[str, tuple[str, set[str] | None]]:
    """kind → (file content, tests it loses; None: nothing can be graded).  A bug loses its
    test and possibly accuracy tiers (which train with the student's functions)."""
    kinds = {"good": (json.dumps(solution), set()), "blank": (json.dumps(blank), None),
             "not-json": ("{ this is not a notebook", None), "empty": ("", None)}
    for m in MUTANTS:
        kinds[f"bug-{m.name}"] = (json.dumps(mutate_notebook(solution, m)), {GRADE_IDS[m.check]})
    for name, (cell_id, code, lost) in CLASS_ATTACKS.items():
        kinds[f"attack-{name}"] = (json.dumps(_with_attack(solution, cell_id, code)), lost)
    return kinds


@pytest.mark.scale
@pytest.mark.timeout(3 * 3600)
def test_a_class_of_200_gets_one_correct_row_each(tmp_path, grading_data):
    n = int(os.environ.get("HW_SCALE_SUBMISSIONS", "200"))
    solution = json.loads((REPO / "solutions" / ASSIGNMENT / NOTEBOOK).read_text())
    blank = json.loads((REPO / "notebooks" / ASSIGNMENT / NOTEBOOK).read_text())
    points, kinds = _points(solution), _kinds(solution, blank)
    names, kind_of = list(kinds), {}
    for i in range(n):  # good work is the most common kind in a real class
        kind = "good" if i % 3 == 0 else names[i % len(names)]
        student = f"s{i:03d}-{kind}"
        kind_of[student] = kind
        (tmp_path / "subs" / student).mkdir(parents=True)
        (tmp_path / "subs" / student / NOTEBOOK).write_text(kinds[kind][0])

    start = time.perf_counter()
    rows = grade(tmp_path / "subs", tmp_path / "out", "tiny", progress=True, jobs=2)
    minutes = (time.perf_counter() - start) / 60
    report = {"submissions": n, "jobs": 2, "minutes": round(minutes, 2),
              "submissions_per_minute": round(n / minutes, 2), "cpus": os.cpu_count()}
    print(json.dumps(report))
    if os.environ.get("HW_SCALE_REPORT"):
        open(os.environ["HW_SCALE_REPORT"], "w").write(json.dumps(report, indent=1))

    total, wrong, first = sum(points.values()), [], {}
    for r in rows:
        kind = kind_of[r.student]
        lost = kinds[kind][1]
        if lost is None:
            ok = r.score == 0
        elif kind.startswith("bug-"):
            (test,) = lost
            ok = r.tests[test][0] == 0 and r.score <= total - points[test]
        else:
            ok = r.score == total - sum(points[t] for t in lost)
        same = first.setdefault(kind, (r.score, r.tests)) == (r.score, r.tests)  # determinism
        if not (ok and same):
            wrong.append((r.student, r.score, r.status, r.messages))
    assert not wrong, wrong[:5]
    expected = {r.student: r.score for r in rows}
    assert sorted(expected) == sorted(kind_of)
    written = list(csv.DictReader(open(tmp_path / "out" / "grades.csv")))
    assert sorted(r["student"] for r in written) == sorted(expected)  # one row each
    assert {r["student"]: float(r["score"]) for r in written} == expected
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{tmp_path / 'out' / 'gradebook.db'}") as gb:
        assert sorted(s.id for s in gb.students) == sorted(expected)
        assert len(gb.assignment_submissions(ASSIGNMENT)) == n
        assert {s.student.id: s.score for s in gb.assignment_submissions(ASSIGNMENT)} == expected

    again_start = time.perf_counter()
    again = grade(tmp_path / "subs", tmp_path / "out", "tiny", progress=False, jobs=2)
    assert time.perf_counter() - again_start < 60 + n * 0.5  # nobody graded twice
    assert [(r.student, r.score, r.tests) for r in again] == \
        [(r.student, r.score, r.tests) for r in rows]
    assert len(list(csv.DictReader(open(tmp_path / "out" / "grades.csv")))) == n
