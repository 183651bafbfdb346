"""Attacks by students, graded in ONE batch through the real pipeline (tiny profile).

The attacks are in ``tests/adversarial_cases.py``, packed several to a notebook (``PACKS``:
each attack in its own answer cell; the expected score of a notebook adds up its attacks').

Student code runs in a sandboxed worker and the judge computes every verdict, so no attack
may buy a point, cost another student anything, leave a file or process behind, or show a
hidden test in feedback.  ``CASES``: ``name: (base, answer cell, code, where, deserved, message)``.

* ``base="blank"``: the blank release with that answer cell *replaced* by the attack (every
  other answer raises NotImplementedError).  Deserved 0 (the attack scores only if it works),
  or that cell's points when the attack also holds an honest correct answer.
* ``base="solution"``: every answer cell holds the instructor's code (as a student types it,
  without solution markers); the attack goes ``"before"``/``"after"`` that of one cell.
  Deserved 33 minus the points of the tests whose answer it breaks (episode_sizes 1,
  inner_update 2, outer_step 1, maml_gradient 3, tiers 1 each, fomaml 2, anil 2, reptile 2,
  quiz 1 each).  A cell that kills or hangs the worker fails alone (it is not run again); a
  graded function that kills it fails its own test.  ``(low, high)`` only for the fork bomb:
  whether it takes its worker down with it (then its cell, holding an answer, is not run again)
  depends on the machine's load.
* ``message``: None, a substring expected (any case) in the row's status, messages or notes,
  or ``ANY``: there must be some message or note (or a status other than "graded").

Placeholders ``@SOLUTION@ @REFERENCE@ @REPO@ @TMP@ @CANARY@ @TOKEN@`` are filled in by
:func:`write_submissions`.  Attacks that signal processes aim only at ones that look like the
grader, so that a broken sandbox fails this test rather than the developer's session.
"""

from __future__ import annotations

import copy
import csv
import html
import json
import os
import signal
import time
import uuid
from pathlib import Path

import pytest

from adversarial_cases import ANY, CASES, HIDDEN
from autograder.pipeline.course import REPO
from autograder.pipeline.grade import grade

ASSIGNMENT = "metalearning"  # the assignment these tests grade
NOTEBOOK = f"{ASSIGNMENT}.ipynb"

# The notebooks: each attack in its own answer cell, no two in one cell, none that could hide
# another's success (an attack that redefines a function another one defines, or that patches
# torch in the worker, shares a notebook only with attacks it cannot mask).  Worker-killing
# attacks share a notebook only while the worker's restarts last (4 starts per notebook).
PACKS = {
    "blank-reading": ["read-solution", "read-reference", "gradebook-sqlite", "native-read",
                      "proc-snoop", "walk-for-notebooks"],
    "blank-checker": ["import-reference", "grad-hook", "inspect-stack", "gc-walk"],
    "blank-torch": ["torch-library", "torch-function-mode", "patch-torch-and-env"],
    "blank-credit": ["output-33", "display-1.0", "fake-grader-output", "dict-subclass",
                     "lying-tensor", "nan-loss", "zero-meta-gradient", "nan-outer-step"],
    "blank-lying-str": ["lying-str", "frame-walk"],
    "blank-honest-steal": ["read-solution-honest", "steal-substituted", "leak-lent-source"],
    "blank-crashing": ["killpg-self", "memory-bomb", "swallow-timeout"],
    "blank-segfault": ["segfault"],
    "solution-harmless": ["control-solution", "huge-print", "print-history",
                          "fifo-socket-symlink", "fill-disk", "daemon", "switch-objective"],
    "solution-kill-and-loop": ["kill-graders", "infinite-loop"],
    "solution-fork-bomb": ["fork-bomb"],
    "solution-crash-twice": ["os-exit-in-function", "deep-recursion"],
    "solution-abort": ["abort-in-function"],
}
FULL = 33  # the assignment's points


def deserved(pack: str) -> tuple[float, float]:
    """The pack's score range: a blank pack earns its attacks' honest points, a solution pack
    loses the points its attacks break (each attack alone: ``FULL - deserved``)."""
    cases = [CASES[c] for c in PACKS[pack]]
    ranges = [d if isinstance(d, tuple) else (d, d) for *_, d, _ in cases]
    if cases[0][0] == "blank":
        return sum(lo for lo, _ in ranges), sum(hi for _, hi in ranges)
    return FULL - sum(FULL - lo for lo, _ in ranges), FULL - sum(FULL - hi for _, hi in ranges)


def reference_lines() -> list[str]:
    """The reference answers' own lines (not in the release notebook, ≥ 25 characters)."""
    release = (REPO / "notebooks" / ASSIGNMENT / NOTEBOOK).read_text()
    lines = {line.strip() for path in (REPO / "autograder" / "assignments").glob("*/answers.py")
             for line in path.read_text().splitlines()}
    return sorted(line for line in lines if len(line) >= 25 and not line.startswith(("#", '"', "from ", "import "))
                  and json.dumps(line, ensure_ascii=False)[1:-1] not in release
                  and line not in release)


def _grade_id(cell: dict) -> str | None:
    return cell["metadata"].get("nbgrader", {}).get("grade_id")


def write_submissions(subs: Path, tmp: Path, canary: Path, token: str) -> None:
    """``subs/<pack>/metalearning.ipynb`` for every pack (see the module docstring)."""
    blank = json.loads((REPO / "notebooks" / ASSIGNMENT / NOTEBOOK).read_text())
    solution = json.loads((REPO / "solutions" / ASSIGNMENT / NOTEBOOK).read_text())
    honest = {_grade_id(c): "".join(line for line in "".join(c["source"]).splitlines(True)
                                    if not line.strip().startswith(("### BEGIN SOLUTION",
                                                                    "### END SOLUTION")))
              for c in solution["cells"] if c["metadata"].get("nbgrader", {}).get("solution")}
    fill = {"@SOLUTION@": str(REPO / "solutions" / ASSIGNMENT / NOTEBOOK), "@REPO@": str(REPO),
            "@REFERENCE@": str(REPO / "autograder" / "assignments" / "metalearning" / "answers.py"),
            "@TMP@": str(tmp), "@CANARY@": str(canary), "@TOKEN@": token}
    for pack, names in PACKS.items():
        nb = copy.deepcopy(blank)
        attacks = {}
        for name in names:
            base, cell_id, code, where, _, _ = CASES[name]
            for key, value in fill.items():
                code = code.replace(key, value)
            assert any(_grade_id(c) == cell_id for c in nb["cells"]), (name, cell_id)
            attacks[cell_id] = (name, code, where)
        for cell in nb["cells"]:
            ours = honest.get(_grade_id(cell)) if pack.startswith("solution") else None
            if _grade_id(cell) in attacks:
                name, code, where = attacks[_grade_id(cell)]
                ours = {"replace": code, "before": f"{code}\n{ours}", "after": f"{ours}\n{code}"
                        }[where]
            if ours is not None:
                compile(ours, f"{pack}:{_grade_id(cell)}", "exec")  # an attack must not be a typo
                cell["source"] = ours
        (subs / pack).mkdir(parents=True)
        (subs / pack / NOTEBOOK).write_text(json.dumps(nb, indent=1))


def test_packs_are_well_formed():
    """Every attack is graded, once, alone in its cell, on the base its expectation assumes."""
    packed = [c for names in PACKS.values() for c in names]
    assert sorted(packed) == sorted(CASES) and len(packed) == len(set(packed))
    for pack, names in PACKS.items():
        assert {CASES[c][0] for c in names} == {pack.split("-")[0]}, pack
        cells = [CASES[c][1] for c in names]
        assert len(cells) == len(set(cells)), (pack, cells)
    assert deserved("solution-crash-twice") == (30, 30) and deserved("blank-honest-steal") == (1, 1)


def _leftovers(marks: list[str]) -> dict[str, str]:
    """Live processes (not this one, not zombies) whose cwd or cmdline mentions a mark."""
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("latin-1")
        except (OSError, IndexError):
            continue
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:  # another user's, or gone
            cwd = ""
        if int(pid) != os.getpid() and state != "Z" and any(m in cmd or m in cwd for m in marks):
            found[pid] = f"pid {pid} cwd={cwd} {cmd[:200]}"
    return found


@pytest.mark.timeout(2400)
def test_no_attack_buys_a_point_or_hurts_anyone(tmp_path, grading_data, seed_template):
    token, canary, out = "pwn" + uuid.uuid4().hex[:10], tmp_path / "canary", tmp_path / "out"
    canary.mkdir()
    (canary / "precious.txt").write_text("ORIGINAL")
    write_submissions(tmp_path / "subs", tmp_path, canary, token)
    seed_template(out)
    try:
        rows = grade(tmp_path / "subs", out, "tiny", cell_timeout=20, notebook_timeout=240,
                     progress=False, jobs=3)  # 3: attacks that wait (time limits) overlap
    finally:  # clean up after the attacks whatever happened, then report
        for _ in range(20):  # the grader's teardown may take a moment
            # this session's folder: in the cmdline of every sandbox (bwrap binds its data and
            # cache) and the cwd of the grader's processes; the token: in the attacks' own
            left = _leftovers([str(tmp_path.parent), token])
            if not left:
                break
            time.sleep(0.5)
        for pid in left:  # started by these attacks: do not leave them to the machine
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass
        places = [Path(p) for p in ("/tmp", "/var/tmp", "/dev/shm")] + [
            Path.home(), Path.cwd(), REPO, REPO / "hwlib", REPO / "notebooks" / ASSIGNMENT]
        strays = sorted({str(p) for d in places if d.is_dir() for p in d.glob(f"*{token}*")})
        for p in strays:
            try:
                Path(p).unlink()
            except OSError:
                pass
    problems = [f"process left running: {v}" for v in left.values()]
    problems += [f"written outside the test folder: {p}" for p in strays]
    problems += [f"written into the grader's folders: {p}"
                 for d in (out, tmp_path / "subs") for p in d.rglob(f"*{token}*")]
    if sorted(os.listdir(canary)) != ["precious.txt"] or \
            (canary / "precious.txt").read_text() != "ORIGINAL":
        problems.append(f"canary touched: {os.listdir(canary)}")

    if os.environ.get("HW_ADVERSARIAL_SCORES"):  # the regrade measurement (issue 24) reads it
        Path(os.environ["HW_ADVERSARIAL_SCORES"]).write_text(json.dumps(
            {r.student: [r.score, r.max_score, r.status] for r in rows}, sort_keys=True))
    if sorted(r.student for r in rows) != sorted(PACKS):
        problems.append(f"not one row per notebook: {sorted(r.student for r in rows)}")
    for row in rows:
        low, high = deserved(row.student)
        said = " ".join([row.status, *row.messages.values(), *row.notes]).lower()
        for name in PACKS[row.student]:
            message = CASES[name][-1]
            explained = (message is None or message != ANY and message.lower() in said
                         or message == ANY and (row.messages or row.notes
                                                or row.status != "graded"))
            if not explained:
                problems.append(f"{row.student}: {name} is not explained ({message!r}): {said}")
        if not (low <= row.score <= high and row.max_score == FULL):
            problems.append(repr((row.student, row.score, row.max_score, (low, high), row.status,
                                  dict(row.messages), row.notes[:5])))

    feedback = [p for p in (out / "feedback").rglob("*") if p.is_file()]
    problems += [] if feedback else ["no feedback was generated"]
    blank_texts = {str(p.relative_to(out)): p.read_bytes().decode("utf-8", "replace")
                   for p in feedback if p.relative_to(out / "feedback").parts[0].startswith("blank")}
    with open(out / "failures.csv", newline="") as f:  # the blank packs' rows
        blank_texts["failures.csv"] = " ".join(" ".join(r) for r in csv.reader(f)
                                               if r and r[0].startswith("blank"))
    for where, text in blank_texts.items():  # a solution pack's feedback shows its own code
        problems += [f"{where} shows the reference line {line!r}"
                     for line in reference_lines() if line in text]
    for path in feedback:
        text = path.read_bytes().decode("utf-8", "replace")
        for mark in HIDDEN:
            forms = {mark, html.escape(mark), html.escape(mark).replace("&quot;", "&#34;"),
                     json.dumps(mark)[1:-1]}
            problems += [f"{path.relative_to(out)} shows {mark!r}" for f in forms if f in text]

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
        students = sorted(s.student.id for s in gb.assignment_submissions(ASSIGNMENT))
    if students != sorted(PACKS):
        problems.append(f"gradebook submissions are not one per notebook: {students}")
    assert not problems, "\n".join(problems)
