"""Rebuild a submission from the trusted release notebook before it is run.

A submitted notebook is untrusted in every part but the answers.  :func:`rebuild` keeps only
the *source* of the student's answer cells (``nbgrader.solution``), matched by ``grade_id``
and cell type, and takes everything else from the release notebook the grader generated:
the cell order, every locked / test / instruction cell, the metadata and kernelspec; outputs
are dropped.  So an edited, deleted, duplicated, re-typed or re-ordered test cell, a cell the
student added (which could run code between the graded cells), or outputs hard-coded in the
JSON cannot change what runs; cells a student added — markdown included — are dropped, and a
markdown answer is made inert (:func:`inert_markdown`).  What was thrown away is reported, in
words, as the submission's notes (shown in the CSV and the feedback).  nbgrader's own
``OverwriteCells`` then restores the hidden tests into the test cells from the gradebook
(checksums).

Cells tagged ``skip-when-grading`` in the source (demonstrations, plots, widgets: nothing a
graded cell needs) are left out of the graded notebook, which keeps grading a class fast.
"""

from __future__ import annotations

import copy
import html
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

MAX_NOTEBOOK_BYTES = 20 * 2 ** 20
MAX_ANSWER_CHARS = 200_000
SKIP_TAG = "skip-when-grading"


class SubmissionError(ValueError):
    """The file cannot be graded at all (not a notebook): the student gets 0 and this reason."""


@dataclass
class Rebuilt:
    notebook: dict
    notes: list[str] = field(default_factory=list)


def load_submission(path: Path) -> dict:
    """The notebook JSON, or :class:`SubmissionError` saying what is wrong with the file."""
    size = path.stat().st_size
    if size == 0:
        raise SubmissionError("the submitted notebook is an empty file (0 bytes): re-download "
                              "it from Jupyter (File > Download) and submit again")
    if size > MAX_NOTEBOOK_BYTES:
        raise SubmissionError(f"the submitted notebook is {size / 2**20:.0f} MB (limit "
                              f"{MAX_NOTEBOOK_BYTES // 2**20} MB): clear the outputs and submit again")
    try:
        nb = json.loads(path.read_bytes())
    except (UnicodeDecodeError, ValueError) as e:
        raise SubmissionError(f"the submitted file is not a valid notebook (not JSON: {e})") \
            from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise SubmissionError("the submitted file is JSON but not a Jupyter notebook "
                              "(no list of cells)")
    return nb


def _grade_id(cell: dict) -> str | None:
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    nbg = meta.get("nbgrader") if isinstance(meta, dict) else None
    return nbg.get("grade_id") if isinstance(nbg, dict) else None


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src if isinstance(src, str) else ""


def rebuild(submitted: dict, template: dict) -> Rebuilt:
    """The graded notebook: ``template`` with the student's answers put into its answer cells."""
    theirs: dict[str, list[dict]] = {}
    for cell in submitted.get("cells", []):
        gid = _grade_id(cell)
        if gid:
            theirs.setdefault(gid, []).append(cell)
    out, notes, known = copy.deepcopy(template), [], set()
    cells = []
    for cell in out["cells"]:
        if SKIP_TAG in cell.get("metadata", {}).get("tags", []):
            continue
        gid, nbg = _grade_id(cell), cell.get("metadata", {}).get("nbgrader", {})
        known.add(gid)
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
        if nbg.get("solution"):
            cell["source"] = _answer(cell, theirs.get(gid, []), notes)
        cells.append(cell)
    out["cells"] = cells
    plain = {_source(c) for c in template["cells"] if not _grade_id(c)}
    extra = sum(1 for c in submitted.get("cells", []) if isinstance(c, dict) and (
        _grade_id(c) not in known or not _grade_id(c) and _source(c) not in plain))
    if extra:
        notes.append(f"{extra} cell(s) you added (or whose grading metadata changed) were not "
                     f"run: put all your code in the answer cells")
    return Rebuilt(out, notes)


def _answer(cell: dict, candidates: list[dict], notes: list[str]) -> str:
    gid, stub = _grade_id(cell), cell["source"]
    if not candidates:
        notes.append(f"answer cell {gid!r} is missing from your notebook (deleted?): graded "
                     f"as unanswered")
        return stub
    if len(candidates) > 1:
        notes.append(f"answer cell {gid!r} appears {len(candidates)} times: the first is graded")
    mine = candidates[0]
    if mine.get("cell_type") != cell.get("cell_type"):
        notes.append(f"answer cell {gid!r} was changed from {cell.get('cell_type')} to "
                     f"{mine.get('cell_type')}: graded as unanswered")
        return stub
    source = _source(mine)
    if len(source) > MAX_ANSWER_CHARS:
        notes.append(f"answer cell {gid!r} has {len(source)} characters (limit "
                     f"{MAX_ANSWER_CHARS}): graded as unanswered")
        return stub
    return inert_markdown(source) if cell.get("cell_type") == "markdown" else source


_SCHEME = re.compile(r"(?i)\b(javascript|vbscript|data)(\s*):")


def inert_markdown(text: str) -> str:
    """A student's markdown answer as text that renders as written, never as live HTML (the
    feedback and the formgrader render markdown without sanitising it): ``& < >`` escaped, and
    ``javascript:``-like link targets broken (``javascript :``).  Markdown itself (emphasis,
    lists, math) still renders."""
    return _SCHEME.sub(r"\1\2 :", html.escape(text, quote=False))


MAX_OUTPUT_CHARS = 20_000


def _cap(text: str) -> str:
    if len(text) <= MAX_OUTPUT_CHARS:
        return text
    return (text[:MAX_OUTPUT_CHARS] + f"\n... [{len(text) - MAX_OUTPUT_CHARS} more characters "
            f"cut by the grader]\n")


def cap_outputs(nb: dict) -> dict:
    """Every text output of every cell cut to :data:`MAX_OUTPUT_CHARS` (a 100 MB print stays
    out of the gradebook, the autograded notebook and the feedback)."""
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            if isinstance(out.get("text"), (str, list)):
                out["text"] = _cap(_source({"source": out["text"]}))
            for mime, value in (out.get("data") or {}).items():
                if mime.startswith("text/") and isinstance(value, (str, list)):
                    out["data"][mime] = _cap(_source({"source": value}))
            if isinstance(out.get("traceback"), list):
                out["traceback"] = [_cap(line) for line in out["traceback"][:200]]
    return nb
