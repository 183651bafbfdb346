"""The GitHub Actions workflow and the Slurm scripts call the grader with valid arguments.

They cannot run here (no runners, no cluster), so this checks what can be checked locally:
the YAML is a valid workflow with a shard matrix and a merge job that needs it; every
``python -m autograder`` command in them parses with the real command line; the shell scripts
are valid bash; and with a fake ``sbatch`` the Slurm driver submits one array task per shard
and a merge job that depends on the array.
"""

from __future__ import annotations

import os
import re
import shlex
import stat
import subprocess

import yaml

from autograder.__main__ import build_parser
from autograder.pipeline.course import REPO

WORKFLOW = REPO / ".github" / "workflows" / "grade.yml"
RUNNERS = REPO / "autograder" / "runners"


def _autograder_args(text: str) -> list[list[str]]:
    """The arguments of every ``python -m autograder`` command, placeholders filled in."""
    text = text.replace("\\\n", " ")
    text = re.sub(r"\$\{\{\s*matrix\.shard\s*\}\}/\$\{\{[^}]*\}\}", "2/4", text)
    text = re.sub(r"\$SLURM_ARRAY_TASK_ID/\$SHARDS", "2/4", text)
    text = re.sub(r"\$\{\{[^}]*\}\}|\$[A-Za-z_]+", "gpu", text)
    found = []
    for line in text.splitlines():
        m = re.search(r"python -m autograder ([^;&|]+)", line)
        if m:
            cmd = m.group(1).strip()
            cmd = cmd[:-1] if cmd.count('"') % 2 else cmd  # the end of a --wrap="..." string
            found.append([a.replace("*", "1") for a in shlex.split(cmd)])
    return found


def test_workflow_has_a_shard_matrix_and_a_merge_job():
    wf = yaml.safe_load(WORKFLOW.read_text())
    jobs = wf["jobs"]
    assert "matrix" in jobs["shard"]["strategy"] and jobs["merge"]["needs"] == "shard"
    steps = " ".join(s.get("run", "") for job in jobs.values() for s in job["steps"])
    commands = _autograder_args(steps)
    assert {c[0] for c in commands} == {"grade", "merge"}
    for args in commands:
        build_parser().parse_args(args)  # exits (SystemExit) on a bad argument


def test_slurm_scripts_are_valid_and_submit_shards_then_merge(tmp_path):
    for script in RUNNERS.iterdir():
        subprocess.run(["bash", "-n", str(script)], check=True)
        for args in _autograder_args(script.read_text()):
            build_parser().parse_args(args)
    fake = tmp_path / "bin" / "sbatch"
    fake.parent.mkdir()
    fake.write_text(f'#!/usr/bin/env bash\necho "$@" >> {tmp_path}/calls\necho 4242\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    (tmp_path / "subs").mkdir()
    env = {**os.environ, "PATH": f"{fake.parent}:{os.environ['PATH']}"}
    out = subprocess.run(["bash", str(RUNNERS / "grade_class.sh"), str(tmp_path / "subs"),
                          str(tmp_path / "out"), "5"], env=env, capture_output=True, text=True,
                         check=True).stdout
    calls = (tmp_path / "calls").read_text().splitlines()
    assert "--array=1-5" in calls[0] and "grade_shard.sbatch" in calls[0]
    assert "--dependency=afterany:4242" in calls[1] and "autograder merge" in calls[1]
    assert "4242" in out
