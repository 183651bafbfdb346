"""One gradebook and one CSV from per-student results — of one run or of many shards.

``<out>`` is an ordinary nbgrader course directory: :func:`write_gradebook` records every
student's auto-graded scores in its ``gradebook.db`` through nbgrader's own API (so the
formgrader and ``nbgrader export`` work on it), replacing that student's previous submission
if there was one — re-running never duplicates or loses a row.  :func:`merge` first gathers the
``results/``, ``autograded/`` and ``feedback/`` folders of shard outputs into ``<out>``.
Students are recorded under their :func:`autograder.pipeline.text.course_id` (the id itself when it is
plain; ``grades.csv`` keeps the id as it is).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from hwlib.cache import atomic_write_text

from autograder.assignments import Assignment, assignment_named
from autograder.pipeline.course import ensure_template, make_workspace
from autograder.pipeline.results import (RESULTS, Row, assignment_of, load_result, result_path, row_of,
                      write_reports)
from autograder.pipeline.text import course_id

TEMPLATE = ".nbgrader-template"  # the generated assignment, made once per source
NO_ISOLATION = "graded with --no-isolation: student code ran without the sandbox"


def write_gradebook(out: Path, rows: list[Row], assignment: str | Assignment | None = None
                    ) -> None:
    """Every row into ``out/gradebook.db`` (one submission per student) + grades/failures CSV."""
    from nbgrader.api import Gradebook

    a = assignment_named(assignment)
    if not (out / "gradebook.db").exists():
        make_workspace(out, ensure_template(out / TEMPLATE, a), a)
    with Gradebook(f"sqlite:///{out.resolve()}/gradebook.db") as gb:
        for row in rows:
            gb.update_or_create_student(row.course_id)
            try:
                gb.remove_submission(a.name, row.course_id)
            except Exception:  # noqa: BLE001 - MissingEntry: first time
                pass
            if row.grader_error:
                continue  # no grade rather than a wrong one
            gb.add_submission(a.name, row.course_id)
            submitted = gb.find_submission_notebook(a.name, a.name, row.course_id)
            for grade in submitted.grades:
                grade.auto_score = row.tests.get(grade.name, (0.0, 0.0))[0]
            if row.isolation == "none" and submitted.comments:  # the formgrader shows it
                submitted.comments[0].auto_comment = NO_ISOLATION
            gb.db.commit()
    write_reports(out, rows)


def merge(out: Path, shards: list[Path]) -> list[Row]:
    """Combine shard outputs into ``out``: results, autograded notebooks, feedback, gradebook.

    A student graded in two shards must have the same result in both (deterministic grading);
    a conflict is an error naming the student, not a silent choice.
    """
    out.mkdir(parents=True, exist_ok=True)
    names = {assignment_of(shard) for shard in shards} | ({assignment_of(out)} - {None})
    if len(names) > 1:
        raise ValueError(f"these folders hold results of different assignments "
                         f"({', '.join(sorted(str(n) for n in names))}): merge each "
                         "assignment's shards into its own --out folder")
    seen: dict[str, dict] = {}
    for shard in shards:
        files = sorted((shard / RESULTS).glob("*.json"))
        if not files:
            raise ValueError(f"{shard} has no {RESULTS}/*.json: is it a grading output folder?")
        for f in files:
            result = json.loads(f.read_text(encoding="utf-8"))
            student, key = result["student"], _comparable(result)
            if student in seen and _comparable(seen[student]) != key:
                raise ValueError(f"student {student!r} has different results in two shards")
            seen[student] = result
            if shard.resolve() != out.resolve():
                (out / RESULTS).mkdir(exist_ok=True)
                atomic_write_text(result_path(out, student), f.read_text(encoding="utf-8"))
                for kind in ("autograded", "feedback"):  # nbgrader's folders: by course id
                    src = shard / kind / course_id(student)
                    if src.is_dir() and not src.is_symlink():
                        shutil.copytree(src, out / kind / course_id(student), dirs_exist_ok=True)
    rows = [row_of(load_result(out, s)) for s in sorted(seen)]
    write_gradebook(out, rows, assignment_of(out))
    return rows


def _comparable(result: dict) -> tuple:
    return (result["notebook_sha256"], result["profile"], result["score"],
            json.dumps(result["tests"], sort_keys=True))
