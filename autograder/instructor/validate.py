"""``python -m autograder validate``: proof that the graded tests work.

Grades, through the real ``grade`` pipeline: the instructor solution (must get full marks), the
blank student release (must get zero on every graded cell) and, with ``--mutants``, every
known student bug (:mod:`autograder.assignments.metalearning.catalogue.mutants`, :mod:`autograder.assignments.metalearning.catalogue`: each must lose
the test meant for it, with a message naming the cause) and every correct answer written
differently (each must get full marks).  Bugs of different functions share a notebook (each
function is graded alone), so a few notebooks hold them all.  Prints a table and returns
whether everything held.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hwlib.cache import atomic_write_text

from autograder.assignments import Assignment, assignment_named
from autograder.pipeline.course import release
from autograder.pipeline.grade import Row, grade
from autograder.student_code.entries import buckets, mutate_notebook


@dataclass
class Verdict:
    name: str
    row: Row
    ok: bool
    expectation: str
    said: str = ""      # the message of the test meant to catch a bug


def groups(entries: list, assignment: Assignment) -> list[list]:
    """:func:`buckets` with the assignment's functions graded with others (``GRADED_WITH``)."""
    return buckets(entries, getattr(assignment.catalogue, "GRADED_WITH", {}))


def proof(assignment: Assignment, sample: int | None = None) -> tuple[list, list, dict]:
    """``(bugs, correct variants, grade_id of each graded function)``: what ``validate
    --mutants`` grades to prove the assignment's tests (its catalogue: the one-token mutants
    and the bugs written as students write them).  ``sample``: only the first ``sample``
    notebooks of bugs and of variants (the first holds one bug of every graded function)."""
    c = assignment.catalogue
    bugs, variants = [*c.MUTANTS, *c.BUGS], list(c.VARIANTS)
    if sample is not None:
        bugs, variants = ([e for g in groups(x, assignment)[:sample] for e in g] for x in (bugs, variants))
    return bugs, variants, c.GRADE_IDS


def build_submissions(folder: Path, mutants: bool, assignment: Assignment,
                      sample: int | None = None) -> None:
    """solution/, blank/ and mutant-*/ submissions, each with its notebook."""
    solution = json.loads(assignment.source.read_text())
    blank = release(folder / "_release", assignment)
    entries = {"solution": solution, "blank": json.loads(blank.read_text())}
    if mutants:
        bugs, variants, _ = proof(assignment, sample)
        for i, group in enumerate(groups(bugs, assignment), 1):
            entries[f"bugs-{i}"] = mutate_notebook(solution, *group)
        for i, group in enumerate(groups(variants, assignment), 1):
            entries[f"variants-{i}"] = mutate_notebook(solution, *group)
    for name, nb in entries.items():
        (folder / "submissions" / name).mkdir(parents=True)
        atomic_write_text(folder / "submissions" / name / assignment.notebook,
                          json.dumps(nb, indent=1))


def judge(rows: list[Row], assignment: Assignment, sample: int | None = None) -> list[Verdict]:
    by_name = {r.student: r for r in rows}
    verdicts = []
    sol = by_name["solution"]
    verdicts.append(Verdict("solution", sol, sol.score == sol.max_score > 0, "full marks"))
    blank = by_name["blank"]
    verdicts.append(Verdict("blank", blank, blank.score == 0 and all(
        s == 0 for s, _ in blank.tests.values()) and len(blank.tests) > 0,
        "zero on every graded cell"))
    if any(name.startswith("bugs-") for name in by_name):
        bugs, variants, grade_ids = proof(assignment, sample)
        for i, group in enumerate(groups(bugs, assignment), 1):
            row = by_name[f"bugs-{i}"]
            for m in group:
                test = grade_ids[m.check]
                lost = row.tests.get(test, (1, 1))[0] == 0
                named = m.message in row.messages.get(test, "")
                verdicts.append(Verdict(f"bug {m.name}", row, lost and named,
                                        f"fails {test} naming '{m.message}'",
                                        row.messages.get(test, "")))
        for i, group in enumerate(groups(variants, assignment), 1):
            row = by_name[f"variants-{i}"]
            for v in group:
                verdicts.append(Verdict(f"correct {v.name}", row, row.score == row.max_score > 0,
                                        "full marks"))
    return verdicts


def validate(profile: str = "tiny", mutants: bool = False, out: Path | None = None,
             progress: bool = True, jobs: int = 1,
             assignment: str | Assignment | None = None,
             sample: int | None = None) -> list[Verdict]:
    """Grade the solution, the blank release and (``mutants``) the catalogue — all of it, or the
    first ``sample`` notebooks of bugs and of variants — and judge each against its expectation."""
    a = assignment_named(assignment)
    with tempfile.TemporaryDirectory() as tmp:
        build_submissions(Path(tmp), mutants, a, sample)
        rows = grade(Path(tmp) / "submissions", out or Path(tmp) / "course", profile,
                     progress=progress, jobs=jobs, assignment=a.name, canary=False)
    verdicts = judge(rows, a, sample)
    if progress:
        print(f"\n{'submission':<36} {'score':>12}  {'expected':<52} ok")
        for v in verdicts:
            print(f"{v.name:<36} {v.row.score:5.1f} / {v.row.max_score:<5.1f}  "
                  f"{v.expectation:<52} {'yes' if v.ok else 'NO'}"
                  + (f"\n{'':<38}→ {v.said[:160]}" if v.said else ""))
    return verdicts
