"""The judge's own Python environment, as a sandboxed worker must see it.

A worker runs the judge's interpreter with the judge's packages, whatever the environment is: a
venv (anywhere: under ``/tmp``, under a path with spaces, made with ``--copies``), a conda
environment, the system interpreter, a ``pip install --user``, an editable or a wheel install.
Three things make that so:

* the interpreter is started as the judge was, through ``sys.executable`` — *not* its resolved
  path: a venv's ``bin/python`` is a link to the base interpreter, and only when started
  through the link does Python read the venv's ``pyvenv.cfg`` and use its site-packages;
* :func:`read_folders` lists what that needs to be visible: the prefixes (the venv and its
  base), every folder on ``sys.path`` (site-packages, user site, ``PYTHONPATH``), the folders
  of ``LD_LIBRARY_PATH`` — never this repository (only ``hwlib/`` and ``autograder/worker/``
  of it are mounted, elsewhere);
* :func:`python_variables` passes on what chooses those folders: ``PYTHONPATH``'s extra
  folders, ``PYTHONUSERBASE`` (inside, ``HOME`` is ``/tmp``), ``PYTHONHOME``,
  ``LD_LIBRARY_PATH``.

The judge does not trust any of this to have worked: the worker reports its interpreter and
packages (:mod:`autograder.worker.hello`) and the judge refuses to grade on any difference.
"""

from __future__ import annotations

import os
import site
import sys

INSIDE_PACKAGES = "/opt/hw"   # hw_worker and hwlib are mounted below this folder
SCRATCH = "/tmp"              # the worker's one writable folder


def inside(path: str, folder: str) -> bool:
    """``path`` is ``folder`` or lies below it (plain string paths, no links followed)."""
    folder = folder.rstrip("/") or "/"
    return path == folder or path.startswith(folder if folder == "/" else folder + "/")


def interpreter() -> str:
    """The interpreter a worker runs: the judge's own, as the judge was started."""
    return os.path.abspath(sys.executable)


def _both(path: str) -> list[str]:
    """A path as written and as resolved (a link's target must be visible too)."""
    path = os.path.abspath(path)
    return [path, os.path.realpath(path)]


def read_folders(private: list[str]) -> list[str]:
    """Every file or folder the worker's Python reads: sorted, none inside another.  A
    ``sys.path`` entry in a ``private`` folder (this repository: the working folder, an
    editable install, pytest's) is left out unless a prefix holds it (a venv in the
    checkout); :func:`autograder.sandbox.isolation.bwrap_command` hides what is private below them."""
    found: list[str] = []
    for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
              os.path.dirname(interpreter()), os.path.dirname(os.path.realpath(interpreter()))):
        found += _both(p)
    prefixes = list(found)
    started_in = {os.getcwd(), os.path.dirname(os.path.abspath(sys.argv[0] or "."))}
    for p in [*sys.path, *os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep)]:
        if not p or not os.path.exists(p) or os.path.abspath(p) in started_in:
            continue  # the judge's working or script folder is not an installation
        if inside(SCRATCH, os.path.abspath(p)):
            continue  # "/" or "/tmp" itself: never the whole host, never over the scratch space
        for q in _both(p):
            if any(inside(q, x) for x in private) and not any(inside(q, x) for x in prefixes):
                continue  # e.g. the checkout on sys.path (cwd, an editable install, pytest)
            found.append(q)
    found = [p for p in set(found) if os.path.exists(p)]
    return sorted(p for p in found if not any(inside(p, q) and p != q for q in found))


def python_variables(private: list[str]) -> dict[str, str]:
    """The environment variables that make the worker's ``sys.path`` the judge's (without the
    ``private`` folders)."""
    extra = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
             if p and os.path.isdir(p) and not any(inside(os.path.abspath(p), x) for x in private)]
    env = {"PYTHONPATH": os.pathsep.join([INSIDE_PACKAGES, *extra])}
    user_site = site.getusersitepackages() if site.ENABLE_USER_SITE else None
    if user_site and user_site in sys.path:
        env["PYTHONUSERBASE"] = site.getuserbase()
    else:
        env["PYTHONNOUSERSITE"] = "1"
    for name in ("PYTHONHOME", "LD_LIBRARY_PATH"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    return env
