"""Grading a whole class: parallel jobs, deterministic shards, resumable results.

The unit of truth is one result file per student, ``<out>/results/<course id>.json`` (written
atomically once that student is graded: score, per-test scores, messages, the notebook's
SHA-256 and the profile).  Everything else is derived from those files:

* ``--jobs N`` runs N workers, each with its own nbgrader workspace (its own gradebook, so no
  two processes ever write one database), pulling students from a shared queue; with GPUs,
  worker k sees only GPU k mod #GPUs (``CUDA_VISIBLE_DEVICES``);
* ``--shard i/n`` grades students ``i, i+n, i+2n, ...`` of the sorted list — a deterministic
  slice, so n runners (a GitHub Actions matrix, a Slurm job array) split a class without a
  scheduler, and :func:`merge` combines their ``<out>`` folders;
* each worker judges its students one by one and has nbgrader record them
  :func:`record_every` at a time (one ``autograde`` and one ``generate_feedback`` call: most of
  nbgrader's cost is its start-up; ``HW_RECORD_EVERY=1`` records each student at once, so a
  job killed mid-way keeps every student finished before);
* a student whose result file exists for the same notebook bytes and profile is not graded
  again: re-running a crashed batch resumes, re-running a finished one changes nothing (a
  ``grader error`` is not a result: it is graded again);
* the judge's inputs come from a seed keyed on the notebook's bytes (``grading_key.derive``:
  unpredictable without the grading key, and the same for the same notebook — every regrade,
  every copy of it gets the same score; recorded in the result, ``--regrade`` reuses it);
* whatever happens to one submission becomes that student's row: the batch never stops
  (:mod:`autograder.pipeline.jobs`: the job threads).
"""

from __future__ import annotations

import os
import tempfile
import threading
from dataclasses import replace
from pathlib import Path
from typing import Callable, Optional, Sequence

from hwlib.progress import progress_bar

from autograder.assignments import Assignment, assignment_named
from autograder.pipeline.course import ensure_template
from autograder.judge.grading_key import derive
from autograder.pipeline.gradebook import TEMPLATE
from autograder.sandbox.isolation import PRIVATE
from autograder.pipeline.jobs import Jobs, copy_regular_files, reporter
from hwlib.profiles import PROFILES, Profile
from autograder.pipeline.results import (GRADER_ERROR, RESULTS, Row, assignment_of, load_result, notebook_digest,
                      row_of)
from autograder.pipeline.submissions import locate
from autograder.pipeline.text import course_id


#: judged notebooks recorded by one nbgrader call (a crash loses at most these: they are
#: graded again on the next run, as results are written after nbgrader recorded them)
RECORD_EVERY = 8
RECORD_EVERY_ENV = "HW_RECORD_EVERY"


def record_every() -> int:
    """:data:`RECORD_EVERY`, or ``$HW_RECORD_EVERY`` (a scheduler that may kill a job: 1)."""
    value = os.environ.get(RECORD_EVERY_ENV, "")
    if not value:
        return RECORD_EVERY
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{RECORD_EVERY_ENV} must be a whole number >= 1, got {value!r}")
    return int(value)


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` (1 ≤ i ≤ n) → ``(i, n)``, with a clear error otherwise."""
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard must look like 2/8 (slice 2 of 8), got {text!r}") from None
    if not 1 <= i <= n:
        raise ValueError(f"--shard {text}: need 1 <= i <= n")
    return i, n


def shard_of(students: list[str], shard: tuple[int, int]) -> list[str]:
    """The students of slice ``i/n``: every n-th of the sorted ids, starting at the i-th."""
    i, n = shard
    return sorted(students)[i - 1::n]


def _warm_data_cache() -> None:
    """Preprocess Omniglot once, here: workers may read the cache but not write it."""
    from hwlib.errors import DataNotFoundError
    from hwlib.splits import omniglot_splits

    try:
        omniglot_splits(progress=False)
    except DataNotFoundError:
        pass  # the notebooks will say so in their own cells


def _todo(out: Path, mine: list[str], digests: dict, profile: str, regrade: set,
          seed: Optional[int]) -> tuple[list[str], dict]:
    """The students to grade (not graded yet for these bytes and profile, or in ``regrade``)
    and everyone's seed (a regrade reuses the stored one)."""
    todo, seeds = [], {}
    for s in mine:
        old = load_result(out, s)
        seeds[s] = seed if seed is not None else int(old["seed"]) \
            if s in regrade and old and "seed" in old else derive(0, f"notebook:{digests[s]}")
        if s in regrade or not (old and old.get("notebook_sha256") == digests[s]
                                and old.get("profile") == profile
                                and not str(old.get("status")).startswith(GRADER_ERROR)):
            todo.append(s)
    return todo, seeds


def _regraded(regrade: Sequence[str], found: dict, submissions: Path) -> set:
    """The ids named by ``--regrade`` (an id or the id nbgrader records it under)."""
    known = {**{course_id(s): s for s in found}, **{s: s for s in found}}
    unknown = sorted(set(regrade) - set(known))
    if unknown:
        raise ValueError(f"--regrade {' '.join(unknown)}: no such submission in {submissions} "
                         f"(students are the folder names, e.g. {', '.join(list(found)[:3])})")
    return {known[s] for s in regrade}


def grade_batch(submissions: Path, out: Path, profile: str | Profile, jobs: int = 1,
                shard: tuple[int, int] = (1, 1), log: Callable[[Row], None] = lambda r: None,
                progress: bool = False, regrade: Sequence[str] = (), isolated: bool = True,
                cell_timeout: Optional[int] = None, notebook_timeout: Optional[int] = None,
                assignment: str | Assignment | None = None, seed: int | None = None
                ) -> list[str]:
    """Grade this shard's students not graded yet (and those in ``regrade``) into
    ``out/results``; return the shard's ids (``progress``: a bar on stderr).  ``seed``: the
    judge's inputs for everyone (default: each notebook's own keyed seed)."""
    if jobs < 1:
        raise ValueError(f"--jobs must be >= 1, got {jobs}")
    base = profile if isinstance(profile, Profile) else PROFILES[profile]
    a = assignment_named(assignment)
    PRIVATE.update(str(p.resolve()) for p in (submissions, out))
    held = assignment_of(out)
    if held not in (None, a.name):
        raise ValueError(f"{out} holds results of the assignment {held!r}: grade "
                         f"{a.name!r} into another --out folder (e.g. grading/{a.name})")
    found = locate(submissions, a.notebook)
    regrade = _regraded(regrade, found, submissions)
    mine = shard_of(list(found), shard)
    digests = {s: notebook_digest(found[s].notebook) for s in mine}
    todo, seeds = _todo(out, mine, digests, base.name, regrade, seed)
    n = str(max(1, (os.cpu_count() or 1) // jobs))
    _warm_data_cache()
    bar = progress_bar(total=len(todo), desc="Grading", unit="notebook", disable=not progress)
    jobs_ = Jobs(out, found, digests, seeds,
                  replace(base, cell_seconds=cell_timeout or base.cell_seconds,
                          notebook_seconds=notebook_timeout or base.notebook_seconds),
                  isolated, a, ensure_template(out / TEMPLATE, a) if todo else None,
                  reporter(log, bar), {"OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n},
                  record_every())
    for s in todo:
        jobs_.todo.put(s)
    with tempfile.TemporaryDirectory(prefix="hw-grading-") as tmp:
        PRIVATE.add(str(Path(tmp).resolve()))
        threads = [threading.Thread(target=jobs_.run, args=(k, Path(tmp) / f"worker{k}"))
                   for k in range(min(jobs, len(todo)))]  # nobody to grade: no workspace
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    jobs_.leftovers()
    bar.close()
    return mine


def results_for(out: Path, students: list[str]) -> list[Row]:
    """The rows of ``students`` from ``out/results``; a student without a readable result
    (it could not be saved) gets a ``grader error`` row: graded again on the next run."""
    rows = []
    for s in students:
        result = load_result(out, s)
        rows.append(row_of(result) if result is not None else Row(
            s, status=f"{GRADER_ERROR}: no result was saved for it in {RESULTS}/ (graded "
                      "again on the next run)"))
    return rows


__all__ = ["grade_batch", "parse_shard", "shard_of", "results_for", "copy_regular_files"]
