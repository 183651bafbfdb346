"""Grading as a TA runs it: an ordinary user, a ``--copies`` venv under a path with spaces,
installed exactly as the README says (:mod:`ordinary_user`).

Marked ``ordinary_user`` (minutes: the install alone is one or two); ``.ci/run`` runs it.  Run
as root (it makes the user); as an ordinary user it skips — the whole suite is then that run.
"""

from __future__ import annotations

import csv
import shutil

import pytest
from conftest import SYNTH_ALPHABETS, synthetic_members, write_zip

pytestmark = pytest.mark.ordinary_user


def _tail(proc) -> str:
    return f"exit {proc.returncode}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"


def test_sandbox_and_environment_tests_pass_as_an_ordinary_user(ordinary_user):
    """The isolation tests and the environment tests (refusals, grader errors, other kinds of
    environment, kernel refusals), run by the user in their venv: none may skip."""
    proc = ordinary_user.run(ordinary_user.python, "-m", "pytest", "-q", "-p",
                             "no:cacheprovider", "-o", "addopts=-ra", "tests/test_isolation.py",
                             "tests/test_environments.py", timeout=1800)
    assert proc.returncode == 0, _tail(proc)
    summary = proc.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "skipped" not in summary, _tail(proc)


def test_a_class_gets_full_marks_as_an_ordinary_user(ordinary_user):
    """The README's grading command, as the user, on a class of reference-answer notebooks
    (and one blank): the canary first, then full marks for each reference, 0 for the blank."""
    folder = ordinary_user.folder / "class"
    data = folder / "omniglot"
    data.mkdir(parents=True)
    for set_name in SYNTH_ALPHABETS:
        write_zip(data / f"images_{set_name}.zip", synthetic_members(set_name))
    checkout = ordinary_user.checkout
    notebooks = {"ada": "solutions", "grace": "solutions", "blank": "notebooks"}
    for student, where in notebooks.items():
        (folder / "subs" / student).mkdir(parents=True)
        shutil.copyfile(checkout / where / "metalearning" / "metalearning.ipynb",
                        folder / "subs" / student / "metalearning.ipynb")
    ordinary_user.give(folder)
    out = folder / "grading out"
    grade = [ordinary_user.python, "-m", "autograder", "grade", str(folder / "subs"),
             "--profile", "tiny", "--out", str(out)]
    env = {"OMNIGLOT_ROOT": str(data), "HWLIB_CACHE_DIR": str(folder / "cache")}
    proc = ordinary_user.run(*grade, env=env, timeout=1800)
    assert proc.returncode == 0, _tail(proc)
    assert "canary: grading the reference answers" in proc.stdout, _tail(proc)
    rows = {r["student"]: r for r in csv.DictReader(open(out / "grades.csv"))}
    assert sorted(rows) == sorted(notebooks)
    for student, r in rows.items():
        assert r["status"] == "graded" and r["isolation"] == "bubblewrap", r
        full = float(r["score"]) == float(r["max_score"]) > 0
        assert full if notebooks[student] == "solutions" else float(r["score"]) == 0, r
    # the same command again: the canary's pass is remembered, nobody is graded again
    again = ordinary_user.run(*grade, env=env, timeout=600)
    assert again.returncode == 0 and "canary" not in again.stdout, _tail(again)
    assert "3 submissions graded" in again.stdout, _tail(again)
