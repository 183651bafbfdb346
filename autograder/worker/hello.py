"""The worker's first words: can it import what grading needs, and which packages are they?

Run before any student code, in two steps:

* :func:`check_imports` (``python -m hw_worker``, first thing): imports every package the
  harness needs, one at a time; on the first failure it prints one line
  ``HW-WORKER-IMPORT-ERROR <package>: <error>`` and exits with :data:`IMPORT_FAILED` — so the
  judge can say *"the sandboxed worker cannot import torch: …"* instead of grading a class 0;
* :func:`fingerprint` (the ``hello`` request): the interpreter and each package's version and
  file.  The judge computes its own with the same function and refuses to grade on any
  difference (:mod:`autograder.transport.client`).

Standard library only, so that it runs even where the packages are missing.
"""

from __future__ import annotations

import importlib
import os
import sys

#: what the harness imports (the judge imports the same and compares versions and files)
PACKAGES = ("torch", "numpy", "safetensors", "IPython", "matplotlib", "hwlib")
MARKER = "HW-WORKER-IMPORT-ERROR"
IMPORT_FAILED = 3


def check_imports(packages: tuple[str, ...] = PACKAGES) -> None:
    """Import ``packages``; on the first failure say which one and why, and exit."""
    for name in packages:
        try:
            importlib.import_module(name)
        except BaseException as e:  # noqa: BLE001 - any failure (ImportError, OSError, ...)
            text = " ".join(f"{type(e).__name__}: {e}".split())[:600]
            print(f"{MARKER} {name}: {text}", file=sys.stderr, flush=True)
            os._exit(IMPORT_FAILED)


def _package(name: str) -> dict:
    # import_module, never sys.modules.get: a module another thread is still importing is in
    # sys.modules half-initialised (no __version__ yet); import_module waits for it
    module = importlib.import_module(name)
    where = getattr(module, "__file__", None) or ""
    return {"version": str(getattr(module, "__version__", "")),
            "file": os.path.realpath(where) if where else ""}


def fingerprint(packages: tuple[str, ...] = PACKAGES) -> dict:
    """The interpreter and the packages this process imports: plain strings only."""
    return {"python": sys.version, "executable": sys.executable,
            "prefix": os.path.realpath(sys.prefix),
            **{name: _package(name) for name in packages}}


def differences(judge: dict, worker: dict) -> list[str]:
    """What differs between two fingerprints, in words (empty: the same environment).

    ``hwlib`` is compared by version only: the worker imports the judge's own hwlib from
    another folder (mounted read-only beside the harness)."""
    said = []
    for key in ("python", "executable", "prefix"):
        if worker.get(key) != judge.get(key):
            said.append(f"its {key} is {str(worker.get(key))[:200]!r}, the judge's is "
                        f"{str(judge.get(key))[:200]!r}")
    for name in PACKAGES:
        mine, theirs = judge.get(name) or {}, worker.get(name)
        if not isinstance(theirs, dict):
            said.append(f"it did not report {name}")
            continue
        if theirs.get("version") != mine.get("version"):
            said.append(f"its {name} is version {str(theirs.get('version'))[:80]} "
                        f"({str(theirs.get('file'))[:200]}), the judge's is "
                        f"{mine.get('version')} ({mine.get('file')})")
        elif name != "hwlib" and theirs.get("file") != mine.get("file"):
            said.append(f"it imports {name} from {str(theirs.get('file'))[:200]}, the judge "
                        f"from {mine.get('file')}")
    return said
