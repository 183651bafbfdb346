"""Per-student results: the row, its file, its gradebook scores and the two CSVs.

The unit of truth is one file per student, ``<out>/results/<student>.json``, written
atomically by the judge once that student is graded; everything else (the gradebook, the CSVs)
is derived from those files.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

from hwlib.cache import atomic_write, atomic_write_text

from .assignments import Assignment, assignment_named

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


def find_submissions(folder: Path, notebook: str = "metalearning.ipynb"
                     ) -> dict[str, Path | None]:
    """``{student id: notebook path or None}``; ids are folder or file names (in a folder, the
    file named ``notebook`` if there is one, else the first ``*.ipynb``).  Only regular files
    count (a link, FIFO or socket named like a notebook is not one)."""
    found: dict[str, Path | None] = {}
    for entry in sorted(folder.iterdir()):
        if entry.is_dir() and not entry.is_symlink():
            nbs = [p for p in sorted(entry.rglob(notebook)) or sorted(entry.rglob("*.ipynb"))
                   if p.is_file() and not p.is_symlink()]
            found[entry.name] = nbs[0] if nbs else None
        elif entry.suffix == ".ipynb":
            found[entry.stem] = entry if entry.is_file() and not entry.is_symlink() else None
    bad = [s for s in found if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", s)]
    if bad:
        raise ValueError(f"student ids must be letters, digits, '_', '.', '-': rename {bad[:3]}")
    return found


def read_gradebook(root: Path, row: Row, assignment: str | Assignment | None = None) -> Row:
    """The student's scores as nbgrader recorded them in ``root/gradebook.db``."""
    from nbgrader.api import Gradebook, MissingEntry

    a = assignment_named(assignment)
    with Gradebook(f"sqlite:///{root.resolve()}/gradebook.db") as gb:
        row.max_score = float(gb.find_assignment(a.name).max_score)
        try:
            nb = gb.find_submission_notebook(a.name, a.name, row.student)
        except MissingEntry:
            return row
        row.score, row.max_score = float(nb.score), float(nb.max_score)
        row.tests = {g.name: (float(g.score), float(g.max_score)) for g in nb.grades}
    return row


def notebook_digest(notebook: Optional[Path]) -> str:
    return hashlib.sha256(notebook.read_bytes()).hexdigest() if notebook else "missing"


def load_result(out: Path, student: str) -> Optional[dict]:
    try:
        return json.loads((out / RESULTS / f"{student}.json").read_text())
    except (OSError, ValueError):
        return None


def save_result(out: Path, row: Row, digest: str, profile: str,
                assignment: str = "metalearning") -> None:
    """Atomic write: a crash leaves either the old file or the new one, never half of one."""
    folder = out / RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    data = {**asdict(row), "notebook_sha256": digest, "profile": profile,
            "assignment": assignment}
    atomic_write_text(folder / f"{row.student}.json", json.dumps(data, indent=1, sort_keys=True))


def assignment_of(out: Path) -> str | None:
    """The assignment whose results ``out/results`` holds (``None``: none yet).  A file
    written before results named their assignment is the first assignment's."""
    names = set()
    for f in sorted((out / RESULTS).glob("*.json")) if (out / RESULTS).is_dir() else []:
        try:
            names.add(json.loads(f.read_text()).get("assignment", "metalearning"))
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
    return Row(**fields, **extra, tests=tests, messages=dict(result.get("messages", {})),
               notes=list(result.get("notes", [])))


def write_reports(root: Path, rows: list[Row]) -> None:
    """``grades.csv`` (one row per student) and ``failures.csv`` (one row per lost test)."""
    tests = sorted({t for r in rows for t in r.tests})
    with atomic_write(root / "grades.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", "score", "max_score", "status", "seconds", "isolation", "seed",
                    "notes", *tests])
        for r in rows:
            w.writerow([r.student, "" if r.grader_error else r.score, r.max_score, r.status,
                        r.seconds, r.isolation, r.seed, " | ".join(r.notes),
                        *["" if r.grader_error else r.tests.get(t, (0.0, 0.0))[0]
                          for t in tests]])
    with atomic_write(root / "failures.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", "test", "score", "max_score", "message"])
        for r in rows:
            for t, (score, top) in sorted(r.tests.items()):
                if score < top:
                    w.writerow([r.student, t, score, top, r.messages.get(t, "")])
