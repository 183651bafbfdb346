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
* a student whose result file exists for the same notebook bytes and profile is not graded
  again: re-running a crashed batch resumes, re-running a finished one changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import shutil
import tempfile
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Optional, Sequence

from hwlib.progress import progress_bar

from .course import ASSIGNMENT, ensure_template, make_workspace
from .grade import PROFILE_LIMITS, Row, find_submissions, grade_one

TEMPLATE = ".nbgrader-template"  # the generated assignment, made once per source
RESULTS = "results"


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


def notebook_digest(notebook: Optional[Path]) -> str:
    return hashlib.sha256(notebook.read_bytes()).hexdigest() if notebook else "missing"


def load_result(out: Path, student: str) -> Optional[dict]:
    try:
        return json.loads((out / RESULTS / f"{student}.json").read_text())
    except (OSError, ValueError):
        return None


def save_result(out: Path, row: Row, digest: str, profile: str) -> None:
    """Atomic write: a crash leaves either the old file or the new one, never half of one."""
    folder = out / RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    data = {**asdict(row), "notebook_sha256": digest, "profile": profile}
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
    os.replace(tmp, folder / f"{row.student}.json")


def row_of(result: dict) -> Row:
    fields = {k: result[k] for k in ("student", "score", "max_score", "status", "seconds")}
    tests = {k: tuple(v) for k, v in result.get("tests", {}).items()}
    return Row(**fields, tests=tests, messages=dict(result.get("messages", {})),
               notes=list(result.get("notes", [])))


def _copy_outputs(workspace: Path, out: Path, student: str) -> None:
    """This student's autograded notebook and feedback, from a worker's workspace to ``out``."""
    for kind in ("autograded", "feedback"):
        src, dst = workspace / kind / student, out / kind / student
        if dst.exists():
            shutil.rmtree(dst)
        if src.exists():
            shutil.copytree(src, dst)


def _gpu_env(worker: int) -> dict:
    try:
        import torch

        n = torch.cuda.device_count()
    except Exception:  # noqa: BLE001 - no torch/CUDA: CPU grading
        n = 0
    return {"CUDA_VISIBLE_DEVICES": str(worker % n)} if n else {}


def _warm_data_cache() -> None:
    """Preprocess Omniglot once, here: grading kernels may read the cache but not write it."""
    from hwlib.errors import DataNotFoundError
    from hwlib.splits import omniglot_splits

    try:
        omniglot_splits(progress=False)
    except DataNotFoundError:
        pass  # the notebooks will say so in their own cells


def grade_batch(submissions: Path, out: Path, profile: str, jobs: int = 1,
                shard: tuple[int, int] = (1, 1), cell_timeout: Optional[int] = None,
                notebook_timeout: Optional[int] = None,
                log: Callable[[Row], None] = lambda r: None, progress: bool = False,
                regrade: Sequence[str] = ()) -> list[str]:
    """Grade this shard's students not graded yet (and those in ``regrade``) into
    ``out/results``; return the shard's ids (``progress``: a bar on stderr)."""
    if jobs < 1:
        raise ValueError(f"--jobs must be >= 1, got {jobs}")
    cell_limit, nb_limit = PROFILE_LIMITS[profile]
    found = find_submissions(submissions)
    unknown = sorted(set(regrade) - set(found))
    if unknown:
        raise ValueError(f"--regrade {' '.join(unknown)}: no such submission in {submissions} "
                         f"(students are the folder names, e.g. {', '.join(list(found)[:3])})")
    mine = shard_of(list(found), shard)
    digests = {s: notebook_digest(found[s]) for s in mine}
    todo: queue.Queue = queue.Queue()
    for s in mine:
        old = None if s in regrade else load_result(out, s)
        if not (old and old.get("notebook_sha256") == digests[s] and old.get("profile") == profile):
            todo.put(s)
    errors: list[BaseException] = []
    private = os.pathsep.join(str(p.resolve()) for p in (out, submissions))
    # jobs share the cores: oversubscribed OpenMP threads slow every job down many times
    n = str(max(1, (os.cpu_count() or 1) // jobs))
    thread_env = {"OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n}
    _warm_data_cache()
    template = ensure_template(out / TEMPLATE) if not todo.empty() else None
    bar = progress_bar(total=todo.qsize(), desc="Grading", unit="notebook", disable=not progress)
    done = threading.Lock()

    def worker(k: int, root: Path) -> None:
        try:
            make_workspace(root, cell_timeout or cell_limit, template)
            while True:
                try:
                    s = todo.get_nowait()
                except queue.Empty:
                    return
                row = grade_one(root, s, found[s], profile, notebook_timeout or nb_limit,
                                extra_env={**_gpu_env(k), **thread_env,
                                           "HW_SANDBOX_PRIVATE": private})
                _copy_outputs(root, out, s)
                save_result(out, row, digests[s], profile)
                with done:
                    log(row)
                    bar.update(1)
        except BaseException as e:  # noqa: BLE001 - reported after the other workers finish
            errors.append(e)

    with tempfile.TemporaryDirectory(prefix="hw-grading-") as tmp:
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


__all__ = ["grade_batch", "parse_shard", "shard_of", "results_for", "save_result", "ASSIGNMENT"]
