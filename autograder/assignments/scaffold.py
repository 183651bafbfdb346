"""``python -m autograder new-assignment NAME``: a new assignment from the template
(``autograder/assignments/_template/``): its folder ``autograder/assignments/NAME/`` and its
source notebook ``solutions/NAME/NAME.ipynb``.  Then add ``NAME`` to :data:`NAMES` (one line)
and replace the template's function, check, bug and variant with the assignment's own."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from . import REPO

TEMPLATE = Path(__file__).resolve().parent / "_template"


def scaffold(name: str, title: str, root: Path = REPO, packages: Path | None = None) -> Path:
    """Copy the template to ``packages/NAME`` (default: this folder) and its notebook to
    ``root/solutions/NAME/NAME.ipynb``; returns the package folder."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise ValueError(f"an assignment's name is a Python package name (a-z, 0-9, _): {name!r}")
    target = (packages or TEMPLATE.parent) / name
    notebook = root / "solutions" / name / f"{name}.ipynb"
    if target.exists() or notebook.exists():
        raise FileExistsError(f"{target} or {notebook} already exists: choose another name")
    shutil.copytree(TEMPLATE, target, ignore=shutil.ignore_patterns("__pycache__", "*.ipynb"))
    init = target / "__init__.py"
    init.write_text(init.read_text().replace('TITLE = "TITLE"', f"TITLE = {title!r}"))
    notebook.parent.mkdir(parents=True)
    text = (TEMPLATE / "template.ipynb").read_text()
    notebook.write_text(text.replace("assignments.NAME.", f"assignments.{name}.")
                        .replace("# TITLE", f"# {title}"))
    return target
