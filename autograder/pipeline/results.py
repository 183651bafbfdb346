"""Per-student results: the row, its file, its gradebook scores and the two CSVs.

The unit of truth is one file per student, ``<out>/results/<course id>.json``, written
atomically by the judge once that student is graded; everything else (the gradebook, the CSVs)
is derived from those files.  The file is named by :func:`autograder.pipeline.text.course_id` (never by
the raw id: any folder name is an id); one of the old name, ``<student>.json``, is still read
and is replaced on the next save.  Every text is cleaned (:mod:`autograder.pipeline.text`) before it is
written: a result or a CSV can always be written, whatever a student's code raised.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

from hwlib.cache import atomic_write, atomic_write_text

from autograder.assignments import DEFAULT, Assignment, assignment_named
from autograder.pipeline.text import LIMIT, clean_text, course_id, csv_cell, one_line, result_name

RESULTS = "results"
#: the status of a row the grader failed on (its environment, nbgrader): never a grade — no
#: score in the CSV, no submission in the gradebook, a non-zero exit, graded again next run
GRADER_ERROR = "grader error"


@dataclass
class Row:
    """One student's result: total, per-test scores and failure messages."""

    student: str
    score: float = 0.0
    max_score: float = 0.0
    status: str = "graded"
    seconds: float = 0.0
    tests: dict = field(default_factory=dict)      # grade_id -> (score, max_score)
    messages: dict = field(default_factory=dict)   # grade_id -> failure message
    notes: list = field(default_factory=list)      # what the grader threw away or refused
    seed: int = 0                                  # the judge's inputs (a regrade reuses it)
    isolation: str = "bubblewrap"                  # or "none" (--no-isolation)
    startup_seconds: float = 0.0                   # worker start-ups, summed

    @property
    def grader_error(self) -> bool:
        return self.status.startswith(GRADER_ERROR)

    @property
    def course_id(self) -> str:
        """The id nbgrader records this student under (:func:`autograder.pipeline.text.course_id`)."""
        return course_id(self.student)


def read_gradebook(root: Path, row: Row, assignment: str | Assignment | None = None) -> Row:
    """The student's scores as nbgrader recorded them in ``root/gradebook.db``."""
    from nbgrader.api import Gradebook, MissingEntry

    a = assignment_named(assignment)
    with Gradebook(f"sqlite:///{root.resolve()}/gradebook.db") as gb:
        row.max_score = float(gb.find_assignment(a.name).max_score)
        try:
            nb = gb.find_submission_notebook(a.name, a.name, course_id(row.student))
        except MissingEntry:
            return row
        row.score, row.max_score = float(nb.score), float(nb.max_score)
        row.tests = {g.name: (float(g.score), float(g.max_score)) for g in nb.grades}
    return row


def notebook_digest(notebook: Optional[Path]) -> str:
    """SHA-256 of the notebook's bytes (``missing``; ``unreadable: …`` where it cannot be read:
    grading it then says why)."""
    if not notebook:
        return "missing"
    digest = hashlib.sha256()
    try:
        with open(notebook, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except OSError as e:
        return f"unreadable: {e.strerror}"
    return digest.hexdigest()


def result_path(out: Path, student: str) -> Path:
    """``out/results/<course id>.json`` (:func:`autograder.pipeline.text.result_name`)."""
    return out / RESULTS / result_name(student)


def _legacy_path(out: Path, student: str) -> Optional[Path]:
    """Where results were kept before their names were made safe: ``<student>.json``."""
    if "/" in student or "\0" in student or student in (".", "..") \
            or len(os.fsencode(student)) > 200:
        return None
    path = out / RESULTS / f"{student}.json"
    return None if path == result_path(out, student) else path


def load_result(out: Path, student: str) -> Optional[dict]:
    """The student's result file's content (also one kept under the old name), or None."""
    for path in (result_path(out, student), _legacy_path(out, student)):
        try:
            data = json.loads(path.read_text(encoding="utf-8")) if path else None
        except (OSError, ValueError, UnicodeError):
            continue
        if isinstance(data, dict) and data.get("student") == student:
            return data
    return None


def save_result(out: Path, row: Row, digest: str, profile: str, assignment: str) -> None:
    """Atomic write: a crash leaves either the old file or the new one, never half of one.
    Every text is cleaned first (:func:`autograder.pipeline.text.clean_text`); the id is kept as it is
    (JSON escapes what is not text) and a file of the old name is removed (migrated)."""
    folder = out / RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    data = {**asdict(clean_row(row)), "notebook_sha256": digest, "profile": profile,
            "assignment": assignment, "course_id": course_id(row.student)}
    atomic_write_text(result_path(out, row.student),
                      json.dumps(data, indent=1, sort_keys=True, ensure_ascii=True))
    legacy = _legacy_path(out, row.student)
    if legacy is not None:
        legacy.unlink(missing_ok=True)


def clean_row(row: Row) -> Row:
    """``row`` with its status, messages and notes as plain bounded text (in place)."""
    row.status = one_line(row.status, 2000)
    row.messages = {str(k): clean_text(v) for k, v in row.messages.items()}
    row.notes = [clean_text(n, 600) for n in row.notes][:100]
    return row


def assignment_of(out: Path) -> str | None:
    """The assignment whose results ``out/results`` holds (``None``: none yet).  A file
    written before results named their assignment is the first assignment's (the only one
    there was then)."""
    names = set()
    for f in sorted((out / RESULTS).glob("*.json")) if (out / RESULTS).is_dir() else []:
        try:
            names.add(json.loads(f.read_text()).get("assignment", DEFAULT))
        except (OSError, ValueError):
            continue
    if len(names) > 1:
        raise ValueError(f"{out / RESULTS} holds results of several assignments "
                         f"({', '.join(sorted(names))}): grade each into its own --out folder")
    return names.pop() if names else None


def row_of(result: dict) -> Row:
    fields = {k: result[k] for k in ("student", "score", "max_score", "status", "seconds")}
    extra = {k: result[k] for k in ("seed", "isolation", "startup_seconds") if k in result}
    tests = {k: tuple(v) for k, v in result.get("tests", {}).items()}
    return clean_row(Row(**fields, **extra, tests=tests, messages=dict(result.get("messages", {})),
                         notes=list(result.get("notes", []))))


def write_reports(root: Path, rows: list[Row]) -> None:
    """``grades.csv`` (one row per student) and ``failures.csv`` (one row per lost test), in
    UTF-8; every text cell through :func:`autograder.pipeline.text.csv_cell`."""
    tests = sorted({t for r in rows for t in r.tests})
    with atomic_write(root / "grades.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["student", "score", "max_score", "status", "seconds", "isolation", "seed",
                    "notes", *tests])
        for r in rows:
            w.writerow([csv_cell(r.student, 1000), "" if r.grader_error else r.score,
                        r.max_score, csv_cell(r.status), r.seconds, csv_cell(r.isolation),
                        r.seed, csv_cell(" | ".join(r.notes)),
                        *["" if r.grader_error else r.tests.get(t, (0.0, 0.0))[0]
                          for t in tests]])
    with atomic_write(root / "failures.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["student", "test", "score", "max_score", "message"])
        for r in rows:
            for t, (score, top) in sorted(r.tests.items()):
                if score < top:
                    w.writerow([csv_cell(r.student, 1000), t, score, top,
                                csv_cell(r.messages.get(t, ""), LIMIT)])
