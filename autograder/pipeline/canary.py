"""The canary: before a class is graded, the reference answers are, the same way.

``grade`` first grades the instructor's solution notebook — through the same sandbox, worker,
checks and nbgrader as every student, on the class's profile with the accuracy tiers' short
``tiny`` budget and a fixed seed — and refuses to grade the class unless it gets full marks.
A broken grading environment (a worker that cannot import torch, another torch, a sandbox that
hides the packages, a broken nbgrader) then stops the run with its cause named, before anyone
gets a row, instead of grading the whole class 0.

A pass is remembered (in the data cache folder, ``canary/``) for this environment, sandbox,
code, release and profile — and this machine: shards and re-runs on it do not pay again;
concurrent shards wait for one canary rather than each running their own.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import platform
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from hwlib.cache import atomic_write_text, resolve_cache_dir

from autograder.sandbox import python_env
from autograder.sandbox.isolation import sandbox_mounts
from autograder.assignments import REPO, Assignment
from hwlib.profiles import PROFILES, Profile

STUDENT = "reference-answers"
SEED = 0


class GradingRefused(RuntimeError):
    """The class is not graded: the grading environment is not sound (the cause is named)."""


def canary_profile(profile: Profile) -> Profile:
    """The class's profile (limits, checks) with the tiers' training cut to ``tiny``'s."""
    tiny = PROFILES["tiny"]
    return replace(profile, test_tasks=tiny.test_tasks, test_query=tiny.test_query,
                   eval_inner_steps=tiny.eval_inner_steps, tiers_of=tiny.name)


def environment_key(profile: Profile, isolated: bool, assignment: Assignment) -> str:
    """What a canary's pass stands for: interpreter and packages, what the sandbox mounts and
    sets (the data folders included), the grader's and hwlib's code, the release, the profile, the machine and user."""
    from autograder.transport.environment import judge_environment

    digest = hashlib.sha256()
    for part in (json.dumps(judge_environment(), sort_keys=True), repr(profile), str(isolated),
                 assignment.name, json.dumps(sandbox_mounts()),
                 json.dumps(python_env.python_variables([str(REPO)]), sort_keys=True),
                 str(shutil.which("bwrap")), platform.node(), platform.release(),
                 str(Path.home())):
        digest.update(part.encode() + b"\0")
    digest.update(assignment.source.read_bytes())  # the reference answers it graded
    for folder in ("autograder", "hwlib", f"solutions/{assignment.name}",
                   f"notebooks/{assignment.name}"):
        for f in sorted((REPO / folder).rglob("*")):
            if f.is_file() and f.suffix in (".py", ".ipynb"):
                digest.update(str(f.relative_to(REPO)).encode() + f.read_bytes())
    return digest.hexdigest()


def _verdict(rows: list) -> str | None:
    """Why the reference answers' row is not full marks (None: it is)."""
    row = rows[0]
    if row.grader_error:
        return f"the reference answers could not be graded here: {row.status}"
    if row.status != "graded" or not row.score == row.max_score > 0:
        lost = "; ".join(f"{t}: {m}" for t, m in sorted(row.messages.items()))[:900]
        return (f"the reference answers got {row.score:g} / {row.max_score:g} here ({row.status})"
                f", not full marks — this grading environment is not sound: {lost}")
    return None


_STARTED: set[str] = set()   # environment keys whose worker said hello in this process


def preflight(profile: Profile, isolated: bool, key: str) -> None:
    """One worker, started as for a student, says hello (seconds): it runs in the judge's
    environment, or :class:`GradingRefused` says why not — even where a canary passed before
    (the sandbox is the same, but a package may have been removed since).  Once per process
    and environment ``key``."""
    if key in _STARTED:
        return
    import torch

    from autograder.sandbox.isolation import Limits
    from autograder.transport.client import GraderError, WorkerClient
    from autograder.judge.submission import worker_env

    limits = Limits(memory_mb=profile.memory_mb, gpu=torch.cuda.is_available())
    client = WorkerClient([], worker_env(profile, {}), limits, profile.cell_seconds, isolated)
    try:
        with client:
            client.start()
    except GraderError as e:
        raise GradingRefused(f"refusing to grade: {e}") from None
    _STARTED.add(key)


def run_canary(profile: str, isolated: bool, assignment: Assignment,
               progress: bool = False) -> None:
    """Grade the reference answers (or find that it was done here before); raise
    :class:`GradingRefused` with the cause unless they get full marks."""
    from autograder.pipeline.batch import grade_batch, results_for

    base = canary_profile(PROFILES[profile])
    folder = resolve_cache_dir() / "canary"
    with contextlib.suppress(OSError):  # first: the cache folder is a data folder of the key
        folder.mkdir(parents=True, exist_ok=True)
    key = environment_key(base, isolated, assignment)
    preflight(base, isolated, key)
    passed = folder / f"{assignment.name}-{profile}-{key[:32]}.json"
    with _lock(folder, passed):
        if passed.is_file():
            return
        if progress:
            print(f"canary: grading the reference answers of {assignment.name} in this "
                  "environment first", flush=True)
        with tempfile.TemporaryDirectory(prefix="hw-canary-") as tmp:
            subs = Path(tmp) / "submissions" / STUDENT
            subs.mkdir(parents=True)
            shutil.copyfile(assignment.source, subs / assignment.notebook)
            out = Path(tmp) / "out"
            students = grade_batch(subs.parent, out, base, isolated=isolated,
                                   assignment=assignment, seed=SEED)
            rows = results_for(out, students)
        why = _verdict(rows)
        if why:
            raise GradingRefused(f"refusing to grade: {why}")
        with contextlib.suppress(OSError):
            folder.mkdir(parents=True, exist_ok=True)
            atomic_write_text(passed, json.dumps({"assignment": assignment.name,
                                                  "profile": profile, "key": key,
                                                  "score": rows[0].score}))


@contextlib.contextmanager
def _lock(folder: Path, target: Path):
    """One canary at a time per environment (concurrent shards wait, then find the pass);
    without a writable cache folder, no lock and no memory."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = open(target.with_suffix(".lock"), "w")
    except OSError:
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
