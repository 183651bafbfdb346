"""Slurm, for real: ``autograder/runners/grade_class.sh`` on a one-node cluster started here.

The cluster (tests/slurm_cluster.py) is Debian's slurm-wlm and munge with a generated
slurm.conf; its daemons and jobs run as an ordinary user when the tests run as root.  A class
of four is graded in two shards (an array job) and merged by the job that depends on them:

1. shard 1 (alice, carol) is cancelled (``scancel``) as soon as alice's result is written,
   i.e. mid-way through carol; shard 2 (bob, dave) finishes; the merge job starts only after
   both array tasks ended and merges exactly the three graded students;
2. shard 1 alone is resubmitted (``ARRAY=1 grade_class.sh …``): it grades carol only (alice's
   result file is untouched; the shard's log names alice in its first run and carol alone in
   its second), and the new merge job writes one exact row per student.

Results are written after each student here (``HW_RECORD_EVERY=1``, passed to the jobs; the
grader's default records 8 students per nbgrader call, so a shard killed before its 8th
student leaves none behind and its resubmission grades them all).  Marked ``cluster``: ``.ci/run`` installs
slurm-wlm and munge and runs it; without them it skips and says why.
"""

from __future__ import annotations

import csv
import json
import os
import pwd
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from autograder.pipeline.course import REPO
from slurm_cluster import missing, slurm_cluster

pytestmark = pytest.mark.cluster

SOLUTION = REPO / "solutions/metalearning/metalearning.ipynb"
BLANK = REPO / "notebooks/metalearning/metalearning.ipynb"
# sorted, two shards: shard 1 = alice, carol; shard 2 = bob, dave
CLASS = {"alice": SOLUTION, "bob": BLANK, "carol": SOLUTION, "dave": BLANK}
GRADED_LINE = re.compile(r"(?:^|\r)\s*(\w+)\s+\d+(?:\.\d+)? / \d", re.M)  # "alice   33.0 / 33.0"
TIMEOUT = 420  # seconds for each phase (grading one solution: about a minute on 2 cores)


@dataclass
class Account:
    """Who runs the cluster and the jobs: the user, a Python it can run, a checkout it reads."""

    user: str
    python: str
    checkout: Path


@pytest.fixture(scope="module")
def account(request) -> Account:
    """As root: the ordinary user of tests/ordinary_user.py (``hwta``), their venv and their
    copy of the checkout; as anyone else: whoever runs the tests, this Python, this checkout."""
    reason = missing()
    if reason:
        pytest.skip(reason)
    if os.geteuid() != 0:
        return Account(pwd.getpwuid(os.geteuid()).pw_name, sys.executable, REPO)
    user = request.getfixturevalue("ordinary_user")
    return Account(user.name, user.python, user.checkout)


def uid_of(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^Uid:\s+(\d+)", status, re.M).group(1))


@pytest.mark.timeout(1500)  # the first test to ask for the ordinary user pays its install
def test_daemons_and_jobs_run_as_an_ordinary_user(account):
    user = account.user
    with slurm_cluster(user=user, cpus=1) as cluster:
        uid = pwd.getpwnam(user).pw_uid
        assert uid != 0, "the cluster would run as root"
        assert {n: uid_of(p.pid) for n, p in cluster.daemons.items()} == \
            dict.fromkeys(("munged", "slurmctld", "slurmd"), uid)
        out = cluster.folder / "whoami.log"
        cluster.run(["sbatch", f"--output={out}", "--wrap", "id -u; id -un"])
        cluster.wait(60, "the job")
        assert out.read_text().split() == [str(uid), user]
        (job,) = cluster.finished()
        assert job["JobState"] == "COMPLETED", job
    assert not cluster.marked(), "a process of the cluster outlived it"


def full_marks() -> float:
    nb = json.loads(BLANK.read_text())
    return sum(c["metadata"]["nbgrader"]["points"] for c in nb["cells"]
               if c["metadata"].get("nbgrader", {}).get("grade"))


def scores(csv_path: Path) -> dict[str, float]:
    rows = list(csv.DictReader(open(csv_path)))
    students = [r["student"] for r in rows]
    assert len(students) == len(set(students)), f"a student twice in {csv_path}: {students}"
    return {r["student"]: float(r["score"]) for r in rows}


def attempts(log: Path) -> list[list[str]]:
    """The students graded by each run of a shard (its log: one header line per run)."""
    text = log.read_text(errors="replace") if log.exists() else ""
    runs = re.split(r"^shard \d+/\d+ \(job \d+\)", text, flags=re.M)[1:]
    return [GRADED_LINE.findall(run) for run in runs]


@pytest.mark.timeout(2 * TIMEOUT + 1500)  # (and perhaps the ordinary user's install)
def test_grade_class_shards_merge_kill_and_resubmit(account, grading_data):
    start = time.monotonic()
    cpus = len(os.sched_getaffinity(0))
    with slurm_cluster(user=account.user, cpus=cpus) as cluster:
        d = cluster.folder
        subs, out, data, cache = d / "submissions", d / "grading out", d / "data", d / "cache"
        for student, notebook in CLASS.items():
            (subs / student).mkdir(parents=True)
            shutil.copy(notebook, subs / student / "metalearning.ipynb")
        shutil.copytree(grading_data, data)  # the tests' data may sit in root's tmp folder
        cache.mkdir()
        cluster.chown(subs, data, cache)
        env = {"PATH": f"{Path(account.python).parent}:{cluster.env['PATH']}",  # activated
               "HW_RECORD_EVERY": "1",  # each result written at once (see the docstring)
               "PYTHON": account.python, "GPUS": "0", "CPUS": "1", "MEM": "2G", "TIME": "30:00",
               "OMNIGLOT_ROOT": str(data), "HWLIB_CACHE_DIR": str(cache)}
        submit = [str(account.checkout / "autograder/runners/grade_class.sh"),
                  str(subs), str(out), "2", "tiny"]

        def shard_logs() -> str:
            return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}"
                             for p in sorted((out / "logs").glob("*.log")))

        # 1. two shards and a merge; shard 1 cancelled once alice is graded
        printed = cluster.run(submit, env=env).stdout
        array = re.search(r"submitted shards (\d+)", printed).group(1)
        first, log1 = out / "shard-1" / "results" / "alice.json", out / "logs" / "shard-1.log"
        deadline = time.monotonic() + TIMEOUT
        while not (first.exists() and attempts(log1) == [["alice"]]):  # written, then printed
            assert f"{array}_1" in cluster.queued(), \
                f"shard 1 ended before alice's result was written\n{shard_logs()}"
            assert time.monotonic() < deadline, \
                f"no result for alice after {TIMEOUT} s\n{shard_logs()}\n{cluster.tail()}"
            time.sleep(0.5)
        cluster.run(["scancel", f"{array}_1"])
        cluster.wait(TIMEOUT, "the shards and the merge", shard_logs())
        assert not cluster.strays(), "the cancelled shard left processes behind"
        jobs = cluster.finished()
        shards = [j for j in jobs if j["Name"] == "hw-grade"]
        (merge,) = [j for j in jobs if j["Name"] == "hw-merge"]
        states = {j["ArrayTaskId"]: j["JobState"] for j in shards}
        assert states == {"1": "CANCELLED", "2": "COMPLETED"}, (states, shard_logs())
        assert merge["JobState"] == "COMPLETED", shard_logs()
        assert merge["StartTime"] >= max(j["EndTime"] for j in shards), jobs
        assert sorted(p.stem for p in (out / "shard-1" / "results").glob("*.json")) == ["alice"]
        assert scores(out / "merged" / "grades.csv") == \
            {"alice": full_marks(), "bob": 0, "dave": 0}, shard_logs()
        kept = first.stat().st_mtime_ns, first.read_bytes()

        # 2. shard 1 resubmitted: carol alone is graded, then everyone is merged
        cluster.run(submit, env={**env, "ARRAY": "1"})
        cluster.wait(TIMEOUT, "the resubmitted shard and the merge", shard_logs())
        jobs = cluster.finished()[len(jobs):]
        assert sorted(j["JobState"] for j in jobs) == ["COMPLETED"] * 2, (jobs, shard_logs())
        assert (first.stat().st_mtime_ns, first.read_bytes()) == kept, "alice was graded again"
        graded = attempts(log1)
        assert graded == [["alice"], ["carol"]], (graded, shard_logs())
        assert attempts(out / "logs" / "shard-2.log") == [["bob", "dave"]], shard_logs()
        assert scores(out / "merged" / "grades.csv") == \
            {"alice": full_marks(), "bob": 0, "carol": full_marks(), "dave": 0}, shard_logs()
        print(shard_logs())
    assert not cluster.marked(), "a process of the cluster outlived it"
    print(f"cluster grading test: {time.monotonic() - start:.0f} s")
