"""The job threads of one batch: judge students from a queue, record them, save their rows.

Each job (``--jobs N``: N threads) has its own nbgrader workspace and pulls students from the
batch's queue (:class:`Jobs`); it judges them one by one and has nbgrader record them
``every`` at a time.  Whatever fails on one student — judging it, recording it, copying its
outputs, saving its result — becomes that student's row (``grader error: …``), and the thread
goes on with the next one; only regular files are copied out of a workspace.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import threading
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Optional

from autograder.assignments import Assignment
from autograder.pipeline.course import make_workspace
from autograder.judge.submission import judge_one, record
from hwlib.profiles import Profile
from autograder.pipeline.results import GRADER_ERROR, Row, save_result
from autograder.pipeline.submissions import Found
from autograder.pipeline.text import course_id, one_line


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
        src = workspace / kind / course_id(student)
        if src.is_dir() and not src.is_symlink():
            copy_regular_files(src, out / kind / course_id(student))


def _gpu_env(worker: int) -> dict:
    try:
        import torch

        n = torch.cuda.device_count()
    except Exception:  # noqa: BLE001 - no torch/CUDA: CPU grading
        n = 0
    return {"CUDA_VISIBLE_DEVICES": str(worker % n)} if n else {}


def _why(e: BaseException) -> str:
    """The last line of an exception, as plain text (it may quote a student's text)."""
    return one_line(traceback.format_exception_only(type(e), e)[-1].strip(), 300)


def _safe_judge_one(root: Path, student: str, found: Found, profile: Profile, seed: int,
                    isolated: bool, env: dict, assignment: Assignment) -> Row:
    """:func:`judge_one`, with any failure of the grader itself turned into the row."""
    try:
        return judge_one(root, student, found.notebook, profile, seed, isolated, env,
                         assignment, notes=found.notes)
    except Exception as e:  # noqa: BLE001 - one submission never stops the batch
        return Row(student, status=f"{GRADER_ERROR}: the grader failed on it ({_why(e)})",
                   seed=seed, isolation="bubblewrap" if isolated else "none",
                   notes=list(found.notes))


def _save_one(root: Path, out: Path, row: Row, digest: str, profile: str,
              assignment: Assignment) -> None:
    """The row's outputs and result file into ``out``; where that fails, the row becomes a
    ``grader error`` (graded again on the next run) and is saved as one."""
    try:
        _copy_outputs(root, out, row.student)
        save_result(out, row, digest, profile, assignment.name)
    except Exception as e:  # noqa: BLE001 - the row says so; the batch goes on
        row.status = f"{GRADER_ERROR}: its result could not be saved ({_why(e)})"
        with contextlib.suppress(Exception):  # else results_for reports it missing
            save_result(out, row, digest, profile, assignment.name)
    finally:
        for kind in ("submitted", "autograded", "feedback"):
            shutil.rmtree(root / kind / row.course_id, ignore_errors=True)


def _record_and_save(root: Path, out: Path, rows: list[Row], digests: dict, profile: str,
                     report: Callable[[Row], None], assignment: Assignment) -> None:
    """nbgrader records the judged rows (one start-up for all), then each student's outputs
    and result file are written to ``out`` and the workspace is cleared of them.  Never
    raises: whatever fails becomes the rows' status."""
    try:
        record(root, rows, assignment)
    except Exception as e:  # noqa: BLE001 - the rows say so; the batch goes on
        for row in rows:
            row.status = f"{GRADER_ERROR}: nbgrader could not record it ({_why(e)})"
    for row in rows:
        _save_one(root, out, row, digests[row.student], profile, assignment)
        report(row)


@dataclass
class Jobs:
    """What the job threads of one batch share: the queue and how to grade each student."""

    out: Path
    found: dict
    digests: dict
    seeds: dict
    limits: Profile
    isolated: bool
    assignment: Assignment
    template: Optional[Path]
    report: Callable[[Row], None]
    env: dict
    every: int
    todo: queue.Queue = field(default_factory=queue.Queue)
    failures: list = field(default_factory=list)

    def next_student(self) -> Optional[str]:
        try:
            return self.todo.get_nowait()
        except queue.Empty:
            return None

    def run(self, k: int, root: Path) -> None:
        """One job thread: judge students from the queue, record them :func:`record_every` at
        a time.  Whatever fails becomes rows (this thread's pending students are saved as
        ``grader error`` rows); only a failure to make the workspace leaves the queue to the
        other threads."""
        try:
            make_workspace(root, self.template, self.assignment)
        except Exception as e:  # noqa: BLE001 - the other jobs go on; leftovers get rows
            self.failures.append(f"no grading workspace could be made ({_why(e)})")
            return
        pending: list[Row] = []
        try:
            while True:
                s = self.next_student()
                if s is not None:
                    pending.append(_safe_judge_one(
                        root, s, self.found[s], self.limits, self.seeds[s], self.isolated,
                        {**_gpu_env(k), **self.env}, self.assignment))
                if pending and (s is None or len(pending) >= self.every):
                    rows, pending = pending, []
                    _record_and_save(root, self.out, rows, self.digests, self.limits.name,
                                     self.report, self.assignment)
                if s is None:
                    return
        except Exception as e:  # noqa: BLE001 - a bug of ours: these students get rows
            for row in pending:
                row.status = f"{GRADER_ERROR}: the grader failed on it ({_why(e)})"
            self.save_lost(pending)

    def save_lost(self, rows: list[Row]) -> None:
        """Rows that were never recorded: saved as they are, reported."""
        for row in rows:
            with contextlib.suppress(Exception):
                save_result(self.out, row, self.digests[row.student], self.limits.name,
                            self.assignment.name)
            self.report(row)

    def leftovers(self) -> None:
        """Students still queued when every job has ended (no workspace could be made)."""
        why = self.failures[0] if self.failures else "no job took it"
        while (s := self.next_student()) is not None:
            self.save_lost([Row(s, status=f"{GRADER_ERROR}: {why}", seed=self.seeds[s],
                                isolation="bubblewrap" if self.isolated else "none",
                                notes=list(self.found[s].notes))])


def reporter(log: Callable[[Row], None], bar) -> Callable[[Row], None]:
    """``report(row)``: the log line (the id shown as plain text; a log that fails loses no
    row) and the progress bar, one thread at a time."""
    lock = threading.Lock()

    def report(row: Row) -> None:
        with lock:
            with contextlib.suppress(Exception):
                log(replace(row, student=one_line(row.student, 200)))
            bar.update(1)
    return report
