"""The real nbgrader pipeline, driven through nbgrader's own command line.

A *grading workspace* is an ordinary nbgrader course directory (``submitted/``,
``autograded/``, ``feedback/``, ``gradebook.db``) whose ``nbgrader_config.py`` loads the course
configuration (:mod:`autograder.pipeline.nbgrader_config`) and points the source folder at this
repository's ``solutions/`` — so TAs can also open it with nbgrader's formgrader.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from hwlib.cache import atomic_write_text

from autograder.assignments import REPO, Assignment, assignment_named
from autograder.pipeline.text import PLAIN_ID

CONFIG = REPO / "autograder" / "pipeline" / "nbgrader_config.py"


class PipelineError(RuntimeError):
    """An nbgrader step failed for the whole batch (not for one student)."""


#: ``python -m nbgrader``, without jsonschema's optional IRI-format checker: importing
#: ``rfc3987_syntax`` builds 38 lark grammars, 1.5–2.3 s of every nbgrader process (two per
#: student: autograde, feedback), and nothing here validates an IRI format (jsonschema checks
#: formats only when asked to; nbformat does not ask)
NBGRADER_MAIN = ("import sys; sys.modules.setdefault('rfc3987_syntax', None); "
                 "sys.argv[0] = 'nbgrader'; from nbgrader.apps.nbgraderapp import main; main()")


def nbgrader(args: list[str], cwd: Path, env: dict | None = None, timeout: float | None = None,
             check: bool = True) -> subprocess.CompletedProcess:
    """Run nbgrader's command line (:data:`NBGRADER_MAIN`) with ``args`` in ``cwd``; raise
    :class:`PipelineError` on failure.

    On a timeout nbgrader and every process it started are killed (the kernel runs in a
    session of its own, so killing nbgrader's process group alone would leave it running) and
    ``subprocess.TimeoutExpired`` is raised.
    """
    cmd = [sys.executable, "-c", NBGRADER_MAIN, *args]
    env = dict(os.environ if env is None else env)
    # nbgrader starts other commands (alembic, jupyter) by name: this environment's, also when
    # it is a venv that was never activated
    env["PATH"] = os.pathsep.join([os.path.dirname(os.path.abspath(sys.executable)),
                                   env.get("PATH", os.defpath)])
    with subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, start_new_session=True) as popen:
        try:
            out, err = popen.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for pid in [popen.pid, *_descendants(popen.pid)]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            popen.communicate()
            raise
    proc = subprocess.CompletedProcess(cmd, popen.returncode, out, err)
    if check and proc.returncode != 0:
        raise PipelineError(f"nbgrader {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n"
                            f"{proc.stderr[-3000:]}")
    return proc


def _descendants(pid: int) -> list[int]:
    """All processes below ``pid`` (children, grandchildren, …), from the parent ids in
    ``/proc/*/stat``."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def release(out: Path | None = None, assignment: str | Assignment | None = None) -> Path:
    """nbgrader generate_assignment: ``solutions/<name>`` → ``notebooks/<name>``."""
    a = assignment_named(assignment)
    with tempfile.TemporaryDirectory() as tmp:
        target = (out or a.root / "notebooks").resolve()
        (Path(tmp) / "nbgrader_config.py").write_text(
            f"c = get_config()\nload_subconfig({str(CONFIG)!r})\n"
            f"c.CourseDirectory.root = {tmp!r}\n"
            f"c.CourseDirectory.source_directory = {str(a.root / 'solutions')!r}\n"
            f"c.CourseDirectory.release_directory = {str(target)!r}\n"
            f"c.CourseDirectory.db_url = 'sqlite:///{tmp}/gradebook.db'\n")
        nbgrader(["generate_assignment", a.name, "--force", "--create"], cwd=Path(tmp))
    released = target / a.name / a.notebook
    _stamp_source(released, a)
    return released


def source_sha256(*extra: bytes, assignment: str | Assignment | None = None) -> str:
    """SHA-256 of the assignment's solutions notebook (and of ``extra``, e.g. a configuration)."""
    digest = hashlib.sha256(assignment_named(assignment).source.read_bytes())
    for part in extra:
        digest.update(part)
    return digest.hexdigest()


def _stamp_source(released: Path, assignment: Assignment) -> None:
    """Record in the release which source it was generated from (SHA-256 of the solutions
    notebook), so a stale ``notebooks/`` shows in its diff even when only hidden tests changed."""
    nb = json.loads(released.read_text())
    nb["metadata"]["hw_release"] = {"source_sha256": source_sha256(assignment=assignment)}
    atomic_write_text(released, json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def make_workspace(root: Path, template: Path | None = None,
                   assignment: str | Assignment | None = None) -> Path:
    """A grading course directory at ``root`` with the assignment generated into its gradebook
    (copied from ``template``, made by :func:`ensure_template`, when given: nbgrader's
    ``generate_assignment`` takes ~10 s).  Nothing in it is ever visible to a worker."""
    a = assignment_named(assignment)
    root.mkdir(parents=True, exist_ok=True)
    atomic_write_text(root / "nbgrader_config.py",
        f"c = get_config()\nload_subconfig({str(CONFIG)!r})\n"
        f"c.CourseDirectory.root = {str(root.resolve())!r}\n"
        f"c.CourseDirectory.source_directory = {str(a.root / 'solutions')!r}\n"
        f"c.CourseDirectory.release_directory = 'release'\n"
        f"c.CourseDirectory.db_url = 'sqlite:///{root.resolve()}/gradebook.db'\n")
    if template is not None:
        shutil.copytree(template / "release", root / "release", dirs_exist_ok=True)
        shutil.copy2(template / "gradebook.db", root / "gradebook.db")
    else:
        nbgrader(["generate_assignment", a.name, "--force", "--create"], cwd=root)
    return root


def ensure_template(folder: Path, assignment: str | Assignment | None = None) -> Path:
    """The generated assignment (``release/`` + ``gradebook.db``) for the current source,
    made once under ``folder`` (keyed by the assignment, the SHA-256 of its source notebook and
    the course configuration) and copied into each workspace by :func:`make_workspace`.  Keep
    ``folder`` in a private place: the gradebook holds the hidden tests."""
    import nbgrader as nbgrader_package

    a = assignment_named(assignment)
    key = source_sha256(CONFIG.read_bytes(), nbgrader_package.__version__.encode(), assignment=a)
    made = folder / f"{a.name}-{key[:16]}"
    if (made / "gradebook.db").exists() and not _template_intact(made, a):
        shutil.rmtree(made)  # changed since it was made (e.g. a trigger planted): make it again
    if not (made / "gradebook.db").exists():
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            work = make_workspace(Path(tmp) / "w", assignment=a)
            (work / TEMPLATE_HASH).write_text(_template_digest(work, a))
            with contextlib.suppress(OSError):  # another process made it meanwhile
                os.replace(work, made)
    return made


TEMPLATE_HASH = "template.sha256"


def _template_digest(made: Path, assignment: Assignment) -> str:
    """SHA-256 of the template's gradebook and release notebook."""
    digest = hashlib.sha256()
    for part in (made / "gradebook.db", made / "release" / assignment.name / assignment.notebook):
        digest.update(part.read_bytes())
    return digest.hexdigest()


def _template_intact(made: Path, assignment: Assignment) -> bool:
    try:
        return (made / TEMPLATE_HASH).read_text().strip() == _template_digest(made, assignment)
    except OSError:
        return False


def submit(root: Path, student: str, notebook: dict,
           assignment: str | Assignment | None = None) -> Path:
    """'Collect' one (rebuilt) submission: write it to ``submitted/<student>/<assignment>/``.
    ``student`` is the id nbgrader records (:func:`autograder.pipeline.text.course_id`): a plain one."""
    a = assignment_named(assignment)
    if not PLAIN_ID.fullmatch(student):
        raise ValueError(f"nbgrader records plain ids only, not {student!r}: use course_id()")
    dest = root / "submitted" / student / a.name / a.notebook
    if dest.parent.exists():
        shutil.rmtree(dest.parent)
    dest.parent.mkdir(parents=True)
    atomic_write_text(dest, json.dumps(notebook, indent=1))
    return dest
