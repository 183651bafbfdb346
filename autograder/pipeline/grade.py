"""``python -m autograder grade SUBMISSIONS/``: collect → judge → gradebook → feedback → CSV.

``SUBMISSIONS/`` holds one folder per student (the folder name is the student id) with the
notebook inside (``<assignment>.ipynb`` anywhere below it), or ``<student>.ipynb`` files.
``--assignment NAME`` chooses the assignment (:mod:`autograder.assignments`; default the
first); each assignment is graded into its own ``--out`` folder (default ``grading/<NAME>``).
Every submission gets a row, whatever happens to it (timeout, invalid notebook, crash, attack).
Student code runs only in sandboxed workers (:mod:`autograder.sandbox.isolation`); the judge
(:mod:`autograder.judge`) computes every verdict.  Grading fails closed:

* where the sandbox cannot be set up, grading is refused (:mod:`autograder.sandbox.boundary`) unless
  ``isolated=False`` (``--no-isolation``: trusted notebooks only; recorded in the gradebook
  and the CSV);
* the reference answers are graded first, the same way (:mod:`autograder.pipeline.canary`): unless
  they get full marks, the class is not graded and the cause is named;
* a submission the grader fails on (its environment, nbgrader) gets the status
  ``grader error: …`` — no score, no gradebook entry, graded again on the next run — and the
  command exits non-zero.
Outputs in ``--out`` (default ``grading/``): the nbgrader course directory (``autograded/``,
``feedback/<student>/<assignment>/<assignment>.html``, ``gradebook.db``), ``grades.csv``
(one row per student, one column per graded test) and ``failures.csv`` (why each lost point
was lost).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

from tqdm.auto import tqdm

from autograder.assignments import assignment_named
from autograder.pipeline.batch import grade_batch, results_for
from autograder.sandbox.boundary import boundary_problem
from autograder.pipeline.canary import GradingRefused, run_canary
from autograder.pipeline.gradebook import write_gradebook
from autograder.pipeline.results import Row


class IsolationUnavailable(GradingRefused):
    """The worker sandbox cannot be set up here: grading is refused."""


def grade(submissions: Path, out: Path, profile: str, cell_timeout: int | None = None,
          notebook_timeout: int | None = None, progress: bool = True, jobs: int = 1,
          shard: tuple[int, int] = (1, 1), regrade: Sequence[str] = (),
          isolated: bool = True, assignment: str | None = None, canary: bool = True
          ) -> list[Row]:
    """Grade the submissions of ``shard`` with ``jobs`` workers into the course directory
    ``out`` (results, feedback, gradebook, CSVs); students already graded are skipped, except
    those named in ``regrade``.  Raises :class:`GradingRefused` (nothing written) where the
    sandbox or the ``canary`` (the reference answers, graded first) fails."""
    if isolated:
        problem = boundary_problem()
        if problem:
            raise IsolationUnavailable(
                f"refusing to grade: the worker sandbox cannot be set up here ({problem}). "
                "Install bubblewrap (apt-get install bubblewrap) on a kernel with user "
                "namespaces, or pass --no-isolation for trusted notebooks only.")
    if canary:
        run_canary(profile, isolated, assignment_named(assignment), progress)

    def log(r: Row) -> None:
        if progress:  # above the progress bar
            tqdm.write(f"{r.student:<30} {r.score:6.1f} / {r.max_score:<6.1f} {r.seconds:7.1f} s  "
                       f"{r.status}", file=sys.stdout)

    students = grade_batch(submissions, out, profile, jobs, shard, log, progress, regrade,
                           isolated, cell_timeout, notebook_timeout, assignment)
    rows = results_for(out, students)
    write_gradebook(out, rows, assignment)
    return rows
