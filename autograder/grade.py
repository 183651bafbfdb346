"""``python -m autograder grade SUBMISSIONS/``: collect → autograde → feedback → grades CSV.

``SUBMISSIONS/`` holds one folder per student (the folder name is the student id) with the
notebook inside (``metalearning.ipynb`` anywhere below it), or ``<student>.ipynb`` files.
Every submission gets a row, whatever happens to it (timeout, invalid notebook, crash).
Outputs in ``--out`` (default ``grading/``): the nbgrader course directory (``autograded/``,
``feedback/<student>/metalearning/metalearning.html``, ``gradebook.db``), ``grades.csv``
(one row per student, one column per graded test) and ``failures.csv`` (why each lost point
was lost).
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from tqdm.auto import tqdm

from .course import ASSIGNMENT, NOTEBOOK, SANDBOX_MEMORY_MB, grading_env, nbgrader, submit
from .sanitize import SubmissionError, load_submission, rebuild

PROFILE_LIMITS = {  # per-cell and per-notebook time limits (seconds) of each grading profile
    "tiny": (300, 900),
    "cpu": (900, 1800),
    "gpu": (600, 900),
}


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


def find_submissions(folder: Path) -> dict[str, Path | None]:
    """``{student id: notebook path or None}``; ids are folder or file names."""
    found: dict[str, Path | None] = {}
    for entry in sorted(folder.iterdir()):
        if entry.is_dir():
            nbs = sorted(entry.rglob(NOTEBOOK)) or sorted(entry.rglob("*.ipynb"))
            found[entry.name] = nbs[0] if nbs else None
        elif entry.suffix == ".ipynb":
            found[entry.stem] = entry
    bad = [s for s in found if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", s)]
    if bad:
        raise ValueError(f"student ids must be letters, digits, '_', '.', '-': rename {bad[:3]}")
    return found


#: errors that mean the sandbox refused something or found tampering (autograder/sandbox.py)
REFUSALS = ("SandboxViolation", "GradingEnvironmentModified")


def _messages(autograded: Path) -> tuple[dict[str, str], list[str]]:
    """grade_id → 'ErrorName: message' of every graded cell that raised, and what the sandbox
    refused anywhere in the notebook (for the ``notes`` column: who tried what), from the
    autograded notebook."""
    try:
        nb = json.loads(autograded.read_text())
    except (OSError, ValueError):
        return {}, []
    out, refused = {}, []
    for i, cell in enumerate(nb.get("cells", [])):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if meta.get("grade") and errors:
            out[meta["grade_id"]] = f"{errors[-1].get('ename')}: {errors[-1].get('evalue')}"[:500]
        refused += [f"refused in cell {meta.get('grade_id') or i}: {e.get('evalue')}"[:300]
                    for e in errors if e.get("ename") in REFUSALS  # or wrapped, e.g. URLError
                    or "not allowed while grading" in str(e.get("evalue"))]
    return out, refused


def _read_gradebook(root: Path, row: Row) -> None:
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{root.resolve()}/gradebook.db") as gb:
        row.max_score = float(gb.find_assignment(ASSIGNMENT).max_score)
        try:
            nb = gb.find_submission_notebook(Path(NOTEBOOK).stem, ASSIGNMENT, row.student)
        except MissingEntry:
            return
        row.score, row.max_score = float(nb.score), float(nb.max_score)
        row.tests = {g.name: (float(g.score), float(g.max_score)) for g in nb.grades}


def grade_one(root: Path, student: str, notebook: Path | None, profile: str,
              notebook_timeout: int, extra_env: dict | None = None) -> Row:
    """Autograde one submission in its own nbgrader process; always returns a row."""
    row, start = Row(student), time.perf_counter()
    if notebook is None:
        row.status = "no notebook found in the submission"
        _read_gradebook(root, row)
        return row
    try:
        rebuilt = rebuild(load_submission(notebook),
                          json.loads((root / "release" / ASSIGNMENT / NOTEBOOK).read_text()))
    except SubmissionError as e:
        row.status = f"not graded: {e}"
        _read_gradebook(root, row)
        return row
    row.notes = rebuilt.notes
    if rebuilt.notes:
        rebuilt.notebook["cells"].insert(0, {
            "cell_type": "markdown", "metadata": {}, "source": "**Notes from the grader**\n\n"
            + "\n".join(f"* {n}" for n in rebuilt.notes)})
    submit(root, student, rebuilt.notebook)
    try:
        proc = nbgrader(["autograde", ASSIGNMENT, "--student", student, "--force", "--create"],
                        cwd=root, env={**grading_env(profile), **(extra_env or {}),
                                          "HW_SANDBOX_ROOT": str(root.resolve()),
                                          "HW_SANDBOX_MEMORY_MB": str(SANDBOX_MEMORY_MB)},
                        timeout=notebook_timeout, check=False)
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
            row.status = "not graded: nbgrader could not run it (" + " | ".join(tail)[:300] + ")"
    except subprocess.TimeoutExpired:
        row.status = f"not graded: the notebook ran over {notebook_timeout} s"
    _read_gradebook(root, row)
    row.messages, refused = _messages(root / "autograded" / student / ASSIGNMENT / NOTEBOOK)
    row.notes += refused
    if row.status == "graded":
        feedback = nbgrader(["generate_feedback", ASSIGNMENT, "--student", student, "--force"],
                            cwd=root, check=False)
        if feedback.returncode != 0:
            row.status = "graded (feedback could not be generated)"
    row.seconds = round(time.perf_counter() - start, 1)
    return row


def write_reports(root: Path, rows: list[Row]) -> None:
    """``grades.csv`` (one row per student) and ``failures.csv`` (one row per lost test)."""
    tests = sorted({t for r in rows for t in r.tests})
    with open(root / "grades.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", "score", "max_score", "status", "seconds", "notes", *tests])
        for r in rows:
            w.writerow([r.student, r.score, r.max_score, r.status, r.seconds, " | ".join(r.notes),
                        *[r.tests.get(t, (0.0, 0.0))[0] for t in tests]])
    with open(root / "failures.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", "test", "score", "max_score", "message"])
        for r in rows:
            for t, (score, top) in sorted(r.tests.items()):
                if score < top:
                    w.writerow([r.student, t, score, top, r.messages.get(t, "")])


def grade(submissions: Path, out: Path, profile: str, cell_timeout: int | None = None,
          notebook_timeout: int | None = None, progress: bool = True, jobs: int = 1,
          shard: tuple[int, int] = (1, 1), regrade: Sequence[str] = ()) -> list[Row]:
    """Grade the submissions of ``shard`` with ``jobs`` workers into the course directory
    ``out`` (results, feedback, gradebook, CSVs); students already graded are skipped, except
    those named in ``regrade``."""
    from .batch import grade_batch, results_for
    from .gradebook import write_gradebook

    def log(r: Row) -> None:
        if progress:  # above the progress bar
            tqdm.write(f"{r.student:<30} {r.score:6.1f} / {r.max_score:<6.1f} {r.seconds:7.1f} s  "
                       f"{r.status}", file=sys.stdout)

    students = grade_batch(submissions, out, profile, jobs, shard, cell_timeout,
                           notebook_timeout, log, progress, regrade)
    rows = results_for(out, students)
    write_gradebook(out, rows)
    return rows
