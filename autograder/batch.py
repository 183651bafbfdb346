"""Grading a whole class: parallel jobs, deterministic shards, resumable results.

The unit of truth is one result file per student, ``<out>/results/<student>.json`` (written
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
* each grading draws a fresh seed for the judge's inputs (recorded in the result; a
  ``--regrade`` reuses it, so a regrade is reproducible);
* whatever happens to one submission becomes that student's row: the batch never stops.
"""

from __future__ import annotations

import os
import queue
import secrets
import shutil
import tempfile
import threading
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Callable, Optional, Sequence

from hwlib.progress import progress_bar

from .assignments import Assignment, assignment_named
from .course import ensure_template, make_workspace
from .gradebook import TEMPLATE
from .isolation import PRIVATE
from .judge.submission import judge_one, record
from .profiles import PROFILES, Profile
from .results import (GRADER_ERROR, RESULTS, Row, assignment_of, find_submissions, load_result,
                      notebook_digest, row_of, save_result)


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


def copy_regular_files(src: Path, dst: Path) -> None:
    """Copy the regular files below ``src`` (no links, FIFOs, sockets or devices)."""
    if dst.exists():
        shutil.rmtree(dst)
    for folder, dirs, files in os.walk(src, followlinks=False):
        here = Path(folder)
        for name in files:
            path = here / name
            if path.is_file() and not path.is_symlink():
                target = dst / path.relative_to(src)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target, follow_symlinks=False)


def _copy_outputs(workspace: Path, out: Path, student: str) -> None:
    """This student's autograded notebook and feedback, from a worker's workspace to ``out``."""
    for kind in ("autograded", "feedback"):
        src = workspace / kind / student
        if src.is_dir() and not src.is_symlink():
            copy_regular_files(src, out / kind / student)


def _gpu_env(worker: int) -> dict:
    try:
        import torch

        n = torch.cuda.device_count()
    except Exception:  # noqa: BLE001 - no torch/CUDA: CPU grading
        n = 0
    return {"CUDA_VISIBLE_DEVICES": str(worker % n)} if n else {}


def _warm_data_cache() -> None:
    """Preprocess Omniglot once, here: workers may read the cache but not write it."""
    from hwlib.errors import DataNotFoundError
    from hwlib.splits import omniglot_splits

    try:
        omniglot_splits(progress=False)
    except DataNotFoundError:
        pass  # the notebooks will say so in their own cells


def _safe_judge_one(root: Path, student: str, notebook, profile: Profile, seed: int,
                    isolated: bool, env: dict, assignment: Assignment) -> Row:
    """:func:`judge_one`, with any failure of the grader itself turned into the row."""
    try:
        return judge_one(root, student, notebook, profile, seed, isolated, env, assignment)
    except Exception as e:  # noqa: BLE001 - one submission never stops the batch
        last = traceback.format_exception_only(type(e), e)[-1].strip()
        return Row(student, status=f"{GRADER_ERROR}: the grader failed on it ({last[:300]})",
                   seed=seed, isolation="bubblewrap" if isolated else "none")


def _record_and_save(root: Path, out: Path, rows: list[Row], digests: dict, profile: str,
                     report: Callable[[Row], None], assignment: Assignment) -> None:
    """nbgrader records the judged rows (one start-up for all), then each student's outputs
    and result file are written to ``out`` and the workspace is cleared of them."""
    try:
        record(root, rows, assignment)
    except Exception as e:  # noqa: BLE001 - the rows say so; the batch goes on
        last = traceback.format_exception_only(type(e), e)[-1].strip()
        for row in rows:
            row.status = f"{GRADER_ERROR}: nbgrader could not record it ({last[:300]})"
    for row in rows:
        _copy_outputs(root, out, row.student)
        save_result(out, row, digests[row.student], profile, assignment.name)
        for kind in ("submitted", "autograded", "feedback"):
            shutil.rmtree(root / kind / row.student, ignore_errors=True)
        report(row)


def grade_batch(submissions: Path, out: Path, profile: str | Profile, jobs: int = 1,
                shard: tuple[int, int] = (1, 1), log: Callable[[Row], None] = lambda r: None,
                progress: bool = False, regrade: Sequence[str] = (), isolated: bool = True,
                cell_timeout: Optional[int] = None, notebook_timeout: Optional[int] = None,
                assignment: str | Assignment | None = None, seed: int | None = None
                ) -> list[str]:
    """Grade this shard's students not graded yet (and those in ``regrade``) into
    ``out/results``; return the shard's ids (``progress``: a bar on stderr).  ``seed``: the
    judge's inputs for everyone (default: a fresh seed per student)."""
    if jobs < 1:
        raise ValueError(f"--jobs must be >= 1, got {jobs}")
    base = profile if isinstance(profile, Profile) else PROFILES[profile]
    profile = base.name
    a = assignment_named(assignment)
    PRIVATE.update(str(p.resolve()) for p in (submissions, out))
    held = assignment_of(out)
    if held not in (None, a.name):
        raise ValueError(f"{out} holds results of the assignment {held!r}: grade "
                         f"{a.name!r} into another --out folder (e.g. grading/{a.name})")
    found = find_submissions(submissions, a.notebook)
    unknown = sorted(set(regrade) - set(found))
    if unknown:
        raise ValueError(f"--regrade {' '.join(unknown)}: no such submission in {submissions} "
                         f"(students are the folder names, e.g. {', '.join(list(found)[:3])})")
    mine = shard_of(list(found), shard)
    digests = {s: notebook_digest(found[s]) for s in mine}
    todo: queue.Queue = queue.Queue()
    seeds = {}
    for s in mine:
        old = load_result(out, s)
        seeds[s] = seed if seed is not None else int(old["seed"]) \
            if s in regrade and old and "seed" in old else secrets.randbits(31)
        if s in regrade or not (old and old.get("notebook_sha256") == digests[s]
                                and old.get("profile") == profile
                                and not str(old.get("status")).startswith(GRADER_ERROR)):
            todo.put(s)
    n = str(max(1, (os.cpu_count() or 1) // jobs))
    thread_env = {"OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n}
    _warm_data_cache()
    template = ensure_template(out / TEMPLATE, a) if not todo.empty() else None
    bar = progress_bar(total=todo.qsize(), desc="Grading", unit="notebook", disable=not progress)
    done, errors = threading.Lock(), []
    every = record_every()
    limits = replace(base, cell_seconds=cell_timeout or base.cell_seconds,
                     notebook_seconds=notebook_timeout or base.notebook_seconds)

    def report(row: Row) -> None:
        with done:
            log(row)
            bar.update(1)

    def worker(k: int, root: Path) -> None:
        try:
            make_workspace(root, template, a)
            pending: list[Row] = []
            while True:
                try:
                    s = todo.get_nowait()
                except queue.Empty:
                    s = None
                if s is not None:
                    pending.append(_safe_judge_one(root, s, found[s], limits, seeds[s],
                                                   isolated, {**_gpu_env(k), **thread_env}, a))
                if pending and (s is None or len(pending) >= every):
                    _record_and_save(root, out, pending, digests, profile, report, a)
                    pending = []
                if s is None:
                    return
        except BaseException as e:  # noqa: BLE001 - reported after the other workers finish
            errors.append(e)

    with tempfile.TemporaryDirectory(prefix="hw-grading-") as tmp:
        PRIVATE.add(str(Path(tmp).resolve()))
        threads = [threading.Thread(target=worker, args=(k, Path(tmp) / f"worker{k}"))
                   for k in range(min(jobs, max(1, todo.qsize())))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    bar.close()
    if errors:
        raise errors[0]
    return mine


def results_for(out: Path, students: list[str]) -> list[Row]:
    """The rows of ``students`` from ``out/results`` (a student without a file is an error)."""
    missing = [s for s in students if load_result(out, s) is None]
    if missing:
        raise RuntimeError(f"no result for {missing[:5]} in {out / RESULTS}: grade them again "
                           f"(finished students are skipped)")
    return [row_of(load_result(out, s)) for s in students]


__all__ = ["grade_batch", "parse_shard", "shard_of", "results_for", "copy_regular_files"]
