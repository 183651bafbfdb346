"""The real nbgrader pipeline, driven through nbgrader's own command line.

A *grading workspace* is an ordinary nbgrader course directory (``submitted/``,
``autograded/``, ``feedback/``, ``gradebook.db``) whose ``nbgrader_config.py`` loads the course
configuration (:mod:`autograder.nbgrader_config`) and points the source folder at this
repository's ``solutions/`` — so TAs can also open it with nbgrader's formgrader.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "autograder" / "nbgrader_config.py"
ASSIGNMENT = "metalearning"
NOTEBOOK = "metalearning.ipynb"


class PipelineError(RuntimeError):
    """An nbgrader step failed for the whole batch (not for one student)."""


def nbgrader(args: list[str], cwd: Path, env: dict | None = None, timeout: float | None = None,
             check: bool = True) -> subprocess.CompletedProcess:
    """Run ``python -m nbgrader <args>`` in ``cwd``; raise :class:`PipelineError` on failure.

    It runs in its own process group, so a timeout kills nbgrader *and* the kernel it started
    (raising ``subprocess.TimeoutExpired``) instead of leaving the kernel running.
    """
    cmd = [sys.executable, "-m", "nbgrader", *args]
    with subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, start_new_session=True) as popen:
        try:
            out, err = popen.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(popen.pid, signal.SIGKILL)
            popen.communicate()
            raise
    proc = subprocess.CompletedProcess(cmd, popen.returncode, out, err)
    if check and proc.returncode != 0:
        raise PipelineError(f"nbgrader {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n"
                            f"{proc.stderr[-3000:]}")
    return proc


def release(out: Path | None = None) -> Path:
    """nbgrader generate_assignment: ``solutions/metalearning`` → ``notebooks/metalearning``."""
    with tempfile.TemporaryDirectory() as tmp:
        target = (out or REPO / "notebooks").resolve()
        (Path(tmp) / "nbgrader_config.py").write_text(
            f"c = get_config()\nload_subconfig({str(CONFIG)!r})\n"
            f"c.CourseDirectory.root = {tmp!r}\n"
            f"c.CourseDirectory.source_directory = {str(REPO / 'solutions')!r}\n"
            f"c.CourseDirectory.release_directory = {str(target)!r}\n"
            f"c.CourseDirectory.db_url = 'sqlite:///{tmp}/gradebook.db'\n")
        nbgrader(["generate_assignment", ASSIGNMENT, "--force", "--create"], cwd=Path(tmp))
    return target / ASSIGNMENT / NOTEBOOK


def make_workspace(root: Path, cell_timeout: int) -> Path:
    """A grading course directory at ``root`` with the assignment generated into its gradebook."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "nbgrader_config.py").write_text(
        f"c = get_config()\nload_subconfig({str(CONFIG)!r})\n"
        f"c.CourseDirectory.root = {str(root.resolve())!r}\n"
        f"c.CourseDirectory.source_directory = {str(REPO / 'solutions')!r}\n"
        f"c.CourseDirectory.release_directory = 'release'\n"
        f"c.CourseDirectory.db_url = 'sqlite:///{root.resolve()}/gradebook.db'\n"
        f"c.Execute.timeout = {int(cell_timeout)}\n")
    nbgrader(["generate_assignment", ASSIGNMENT, "--force", "--create"], cwd=root)
    return root


def submit(root: Path, student: str, notebook: Path) -> Path:
    """'Collect' one submission: copy it to ``submitted/<student>/metalearning/``."""
    dest = root / "submitted" / student / ASSIGNMENT / NOTEBOOK
    if dest.parent.exists():
        shutil.rmtree(dest.parent)
    dest.parent.mkdir(parents=True)
    shutil.copyfile(notebook, dest)
    return dest


def grading_env(profile: str) -> dict:
    """The environment of a grading kernel: trusted code on the path, grading budgets.

    Kernels run in nbgrader's own working directory, so data and cache locations given as
    relative paths (``OMNIGLOT_ROOT=../shared/data/omniglot``) are made absolute here, relative
    to where the grader was started.
    """
    env = dict(os.environ)
    for name in ("OMNIGLOT_ROOT", "HWLIB_CACHE_DIR"):
        if env.get(name):
            env[name] = str(Path(env[name]).expanduser().resolve())
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(HW_GRADING="1", HW_GRADING_PROFILE=profile, PYTHONUNBUFFERED="1")
    return env
