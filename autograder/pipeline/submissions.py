"""Where each student's notebook is in a folder of submissions, and what was passed over.

``SUBMISSIONS/`` holds one folder per student (its name is the student id) with the notebook
somewhere below it, or ``<student>.ipynb`` files.  Every name the file system allows is an id
(:mod:`autograder.pipeline.text` maps an odd one for nbgrader and says so in the row's notes); nothing
that is not a regular file is ever read as a notebook, and the search goes past it.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from autograder.pipeline.text import id_note, one_line


@dataclass
class Found:
    """A student's notebook (None: none found) and what the search passed over."""

    notebook: Path | None
    notes: list = field(default_factory=list)


def find_submissions(folder: Path, notebook: str = "metalearning.ipynb"
                     ) -> dict[str, Path | None]:
    """``{student id: notebook path or None}`` (:func:`locate` without its notes)."""
    return {s: found.notebook for s, found in locate(folder, notebook).items()}


def locate(folder: Path, notebook: str = "metalearning.ipynb") -> dict[str, Found]:
    """Every student of ``folder`` and their notebook, with notes on what was passed over.

    Ids are the names of the folders (any name the file system allows: :mod:`autograder.pipeline.text`
    maps an odd one for nbgrader) and of the ``*.ipynb`` files in ``folder``.  In a folder the
    notebook is the first regular file named ``notebook`` below it, else the first ``*.ipynb``;
    a path named like a notebook that is not a regular file (a folder, a link, a FIFO) is
    passed over with a note and the search goes on.  A link in place of a student's folder
    gets a row without a notebook."""
    found: dict[str, Found] = {}
    for entry in sorted(folder.iterdir()):
        if entry.is_symlink() and (entry.suffix == ".ipynb" or entry.is_dir()):
            _add(found, entry.stem if entry.suffix == ".ipynb" else entry.name, Found(
                None, [f"{_shown(entry.name)} is a symbolic link: not followed"]))
        elif entry.is_dir():
            _add(found, entry.name, search_folder(entry, notebook))
        elif entry.suffix == ".ipynb":
            regular = _regular(entry)
            _add(found, entry.stem, Found(entry if regular else None, [] if regular else [
                f"{_shown(entry.name)} is not a regular file ({_kind(entry)}): not read"]))
    for student, item in found.items():
        note = id_note(student)
        if note:
            item.notes.insert(0, note)
    return found


#: entries looked at in one student's folder (a submission of a million files is not searched)
MAX_ENTRIES = 20_000


def search_folder(folder: Path, notebook: str) -> Found:
    """The notebook in a student's folder (see :func:`locate`)."""
    exact, other, notes, seen = [], [], [], 0
    for here, dirs, files in os.walk(folder, followlinks=False):
        dirs.sort()
        for name in dirs + files:
            seen += 1
            path = Path(here) / name
            if not name.endswith(".ipynb"):
                continue
            if not _regular(path):
                notes.append(f"{_shown(path.relative_to(folder))} is not a regular file "
                             f"({_kind(path)}): passed over")
            else:
                (exact if name == notebook else other).append(path)
        if seen > MAX_ENTRIES:
            notes.append(f"the submission holds more than {MAX_ENTRIES} files: the rest was "
                         "not searched")
            break
    chosen = sorted(exact) or sorted(other)
    if len(chosen) > 1:
        notes.append(f"{len(chosen)} notebooks found: graded "
                     f"{_shown(chosen[0].relative_to(folder))}")
    return Found(chosen[0] if chosen else None, notes)


def _add(found: dict[str, Found], student: str, item: Found) -> None:
    if student in found:  # a folder and a notebook file of one name: the folder is graded
        found[student].notes.append(f"{_shown(student + '.ipynb')} beside the folder "
                                    f"{_shown(student)} was not graded")
    else:
        found[student] = item


def _regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _kind(path: Path) -> str:
    try:
        mode = os.lstat(path).st_mode
    except OSError as e:
        return f"unreadable: {e.strerror}"
    return ("a folder" if stat.S_ISDIR(mode) else "a symbolic link" if stat.S_ISLNK(mode)
            else "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "a device")


def _shown(name: object) -> str:
    return repr(one_line(name, 200))
