"""One submission → one row: rebuild, run in a worker, judge, write the verdicts into nbgrader.

The graded notebook that nbgrader records is written by the judge: the release notebook, the
student's answer cells (source only) with the errors they raised in the worker, and on every
graded test cell either nothing (passed) or one error output carrying the judge's message
(failed).  nbgrader's ``autograde`` then runs without executing anything (see
:mod:`autograder.pipeline.nbgrader_config`): it restores the test cells from the gradebook, scores the
outputs the judge wrote and records them; ``generate_feedback`` renders them for the student.
No output a student wrote survives the rebuild, so none can give credit.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Sequence

from autograder.checks.student import Student
from hwlib.cache import CACHE_ENV, resolve_cache_dir
from autograder.assignments import Assignment, assignment_named
from autograder.pipeline.course import nbgrader, submit
from autograder.sandbox.isolation import Limits
from hwlib.profiles import Profile
from autograder.pipeline.results import GRADER_ERROR, Row, read_gradebook
from autograder.pipeline.sanitize import SKIP_TAG, SubmissionError, load_submission, rebuild
from autograder.pipeline.text import clean_text, course_id

from autograder.transport.client import GraderError, WorkerClient, WorkerLost
from .verdicts import catalogue, judge_all

JUDGED = "judged (not yet recorded by nbgrader)"
OVERRUN = "graded until the notebook ran over"


def plain_text(text: object, limit: int = 1500) -> str:
    """A message as it may be shown (:func:`autograder.pipeline.text.clean_text`: the one helper)."""
    return clean_text(text, limit)


NOTES_CELL = "grader-notes"


def notes_cell(notes: list[str]) -> dict:
    """The grader's notes, first in the graded notebook: a code cell whose only output is a
    plain-text stream.  Notes quote student text (an exception message, a file name), so they
    are never markdown: nbconvert, JupyterLab and the formgrader show a stream as text."""
    text = "".join(f"* {clean_text(n, 300, newlines=False)}\n" for n in notes[:100])
    return {"cell_type": "code", "id": NOTES_CELL, "execution_count": None,
            "metadata": {"editable": False, "deletable": False, "tags": [NOTES_CELL]},
            "source": "# Notes from the grader (its output below; nothing in this cell is run)",
            "outputs": [{"output_type": "stream", "name": "stdout", "text": text}]}


def worker_cells(nb: dict) -> list[dict]:
    """The code cells a worker runs: every release code cell but the graded tests and the
    demonstrations, with the student's answers."""
    cells = []
    for i, cell in enumerate(nb["cells"]):
        meta = cell.get("metadata", {})
        nbg = meta.get("nbgrader", {})
        if cell.get("cell_type") != "code" or SKIP_TAG in meta.get("tags", []):
            continue
        if nbg.get("grade") and not nbg.get("solution"):
            continue
        src = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        cells.append({"id": nbg.get("grade_id") or f"cell {i + 1}", "source": src})
    return cells


def worker_env(profile: Profile, extra: dict) -> dict:
    """The worker's environment: the profile, the data, and the judge's preprocessing cache
    (always named: inside the sandbox ``HOME`` is ``/tmp``, so the default cache folder would
    be an empty one there, and every worker would decode the 32,460 PNGs again)."""
    env = {"HW_GRADING": "1", "HW_GRADING_PROFILE": profile.name, "PYTHONUNBUFFERED": "1",
           CACHE_ENV: str(resolve_cache_dir().resolve())}
    for name in ("OMNIGLOT_ROOT", "HWLIB_CACHE_DIR", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                 "CUDA_VISIBLE_DEVICES"):
        value = extra.get(name, os.environ.get(name))
        if value:
            env[name] = str(Path(value).resolve()) if name in ("OMNIGLOT_ROOT",
                                                                 "HWLIB_CACHE_DIR") else value
    return env


def explain(verdicts: dict, cell_errors: dict, tests) -> dict:
    """A failure about a name that is not defined says what the student's cell raised."""
    related = {t.grade_id: t.answer_cells for t in tests}
    out = dict(verdicts)
    for gid, message in verdicts.items():
        raised = [f"{a}: {cell_errors[a]}" for a in related.get(gid, []) if a in cell_errors]
        if message and raised and ("not defined" in message or "undefined" in message):
            out[gid] = message + " (your cell raised " + "; ".join(raised)[:400] + ")"
    return out


def write_verdicts(nb: dict, verdicts: dict, cell_errors: dict) -> dict:
    """The judge's outputs on the graded cells (and the worker's errors on answer cells)."""
    for cell in nb["cells"]:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if cell.get("cell_type") != "code":
            continue
        cell["outputs"], cell["execution_count"] = [], None
        message = verdicts.get(gid) if gid in verdicts else cell_errors.get(gid)
        if message:
            text = plain_text(message)
            name = "CheckFailed" if gid in verdicts else "Error"
            cell["outputs"] = [{"output_type": "error", "ename": name, "evalue": text,
                                "traceback": [f"{name}: {text}"]}]
    return nb


def judge_one(root: Path, student: str, notebook: Path | None, profile: Profile, seed: int,
              isolated: bool = True, extra_env: dict | None = None,
              assignment: str | Assignment | None = None, notes: Sequence[str] = ()) -> Row:
    """Judge one submission and write its graded notebook into ``root/submitted/`` (under
    the student's :func:`autograder.pipeline.text.course_id`); the row holds the messages and notes
    (``notes``: what finding the notebook passed over).  :func:`record` then has nbgrader
    score it (``status`` stays ``"judged"`` until then; a submission that cannot be judged
    gets its final status)."""
    a = assignment_named(assignment)
    row, start = Row(student, seed=seed, isolation="bubblewrap" if isolated else "none",
                     notes=list(notes)), time.perf_counter()
    if notebook is None:
        row.status = "no notebook found in the submission"
        return read_gradebook(root, row, a)
    try:
        rebuilt = rebuild(load_submission(notebook),
                          json.loads((root / "release" / a.name / a.notebook).read_text()))
    except SubmissionError as e:
        row.status = f"not graded: {plain_text(e, 600)}"
        return read_gradebook(root, row, a)
    row.notes += rebuilt.notes
    tests = catalogue(a)
    import torch

    limits = Limits(memory_mb=profile.memory_mb, gpu=torch.cuda.is_available())
    deadline = time.monotonic() + profile.notebook_seconds
    client = WorkerClient(worker_cells(rebuilt.notebook), worker_env(profile, extra_env or {}),
                          limits, profile.cell_seconds, isolated, deadline)
    with client:
        try:
            verdicts = judge_all(Student(client), tests, profile, seed, deadline, a)
        except WorkerLost as e:  # the cells themselves could not be run
            verdicts = {t.grade_id: f"your notebook stopped the grading process: {e}"
                        for t in tests}
        except GraderError as e:  # never a grade: the environment must be fixed first
            row.status = f"{GRADER_ERROR}: {plain_text(e, 600)}"
            row.seconds = round(time.perf_counter() - start, 1)
            return read_gradebook(root, row, a)
    row.startup_seconds = round(sum(client.startup_seconds), 2)
    row.status = JUDGED
    if time.monotonic() >= deadline:
        row.status = (f"{OVERRUN} {profile.notebook_seconds} s (the tests not run by then "
                      "failed)")
    if client.starts > 1:
        row.notes.append(f"the grading process was started {client.starts} times (your code "
                         "ended or hung it)")
    row.notes += [f"refused or failed in cell {k}: {plain_text(v, 200)}"
                  for k, v in client.cell_errors.items() if _refusal(v)]
    verdicts = explain(verdicts, client.cell_errors, tests)
    nb = write_verdicts(rebuilt.notebook, verdicts, client.cell_errors)
    row.notes = [plain_text(n, 600) for n in row.notes]
    if row.notes:
        nb["cells"].insert(0, notes_cell(row.notes))
    submit(root, course_id(student), nb, a)
    row.messages = {k: plain_text(v) for k, v in verdicts.items() if v}
    row.seconds = round(time.perf_counter() - start, 1)
    return row


def record(root: Path, rows: list[Row], assignment: str | Assignment | None = None
           ) -> list[Row]:
    """nbgrader scores the judged rows' notebooks (one ``autograde`` and one
    ``generate_feedback`` for all of them: nbgrader's start-up is paid once) and their rows get
    the gradebook's scores.  A notebook nbgrader cannot record fails alone."""
    judged = [r for r in rows if r.status == JUDGED or r.status.startswith(OVERRUN)]
    if not judged:
        return rows
    start, a = time.perf_counter(), assignment_named(assignment)
    proc = nbgrader(["autograde", a.name, "--force", "--create"], cwd=root, timeout=600,
                    check=False)
    log = " | ".join((proc.stdout + proc.stderr).strip().splitlines()[-3:])[:300]
    for row in judged:
        if (root / "autograded" / row.course_id / a.name / a.notebook).is_file():
            row.status = "graded" if row.status == JUDGED else row.status
        else:
            row.status = f"{GRADER_ERROR}: nbgrader could not record it ({log})"
        read_gradebook(root, row, a)
    if any(r.status.startswith("graded") for r in judged):
        nbgrader(["generate_feedback", a.name, "--force"], cwd=root, timeout=600,
                 check=False)
    share = (time.perf_counter() - start) / len(judged)
    for row in judged:
        if row.status.startswith("graded") and not _feedback(root, row.course_id, a).is_file():
            row.status = "graded (feedback could not be generated)"
        row.seconds = round(row.seconds + share, 1)
    return rows


def _feedback(root: Path, student: str, a: Assignment) -> Path:
    """``student``: the course id."""
    return root / "feedback" / student / a.name / f"{a.name}.html"


_REFUSED = re.compile(r"PermissionError|Read-only file system|Network is unreachable|"
                      r"Operation not permitted|No such file|BlockingIOError|Resource temporarily|"
                      r"MemoryError|CellTimeout|ModuleNotFoundError: No module named 'autograder'",
                      re.I)


def _refusal(error: str) -> bool:
    """An error that the boundary or a limit caused (worth a line in the TA's notes)."""
    return bool(_REFUSED.search(error or ""))
