"""Attacks by students, graded in ONE batch through the real pipeline (tiny profile).

Student code runs in a sandboxed worker (no ``solutions/``, ``autograder/``, gradebook, other
submissions or results in sight) and the judge computes every verdict from plain data, so no
attack below may buy a point, cost another student anything, leave a file or a process behind
or show a hidden test in a feedback file.  ``CASES`` is ``name: (base, answer cell, attack
code, where, deserved, message)``:

* ``base="blank"``: the blank release with that one answer cell *replaced* by the attack; all
  other answers raise NotImplementedError.  Deserved 0 — the attack scores only if it works —
  or that cell's test points when the attack also holds an honest correct answer.
* ``base="solution"``: every answer cell holds the instructor's answer (as a student types it,
  without solution markers) and the attack goes ``"before"`` or ``"after"`` the honest code of
  one cell.  Deserved 33, or 33 minus the points of the tests whose answer the attack breaks
  (episode_sizes 1, inner_update 2, outer_step 1, maml_gradient 3, accuracy tiers 1 each,
  fomaml 2, anil 2, reptile 2, quiz 1 each).
* ``deserved``: a score, or ``(low, high)`` where the exact score is the grader's design
  choice (a worker killed inside a graded function, an endless cell, a fork bomb).
* ``message``: None, a substring expected (case-insensitive) in the row's status, messages or
  notes, or ``ANY``: some message or note (or a status other than "graded") must exist.

Code placeholders (``@SOLUTION@ @REFERENCE@ @REPO@ @TMP@ @CANARY@ @TOKEN@``) are filled in by
:func:`write_submissions`.  Attacks that signal processes only aim at processes that look like
the grader, so that a broken sandbox fails this test rather than the developer's session.
"""

from __future__ import annotations

import copy
import html
import json
import os
import signal
import time
import uuid
from pathlib import Path

import pytest

from autograder.course import ASSIGNMENT, NOTEBOOK, REPO
from autograder.grade import grade

ANY = "<any message or note>"
HIDDEN = ["BEGIN HIDDEN TESTS", "check_accuracy_tier(", 'answer_q1, "c"', "check_inner_update("]
HARVEST = r'''import glob, os, re, time
def harvest(text):  # every quiz answer in a notebook, a database or a memory dump
    for q, a in re.findall(r'answer_q(\d+) = \\?"([abcd])\\?"', text):
        globals()["answer_q" + q] = a
'''
GRADERS = r'''import os, signal
def graders():  # every other process that looks like part of the grader
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = open(f"/proc/{p}/cmdline", "rb").read()
        except OSError:
            continue
        words = (b"autograder", b"nbgrader", b"hw_worker", b"pytest", b"bwrap")
        if int(p) != os.getpid() and any(w in cmd for w in words):
            yield int(p)
'''
WALK_UP = r'''found, here = [], os.getcwd()
while here != os.path.dirname(here):
    found += glob.glob(here + "/gradebook.db") + glob.glob(here + "/*/gradebook.db")
    here = os.path.dirname(here)
for top in ("/tmp", "/work", "/home", "/srv", "/var", "/opt", "/root", "@TMP@", "@TMP@/.."):
    found += glob.glob(top + "/**/gradebook.db", recursive=True)
'''
CASES = {
    "control-solution": ("solution", "quiz_q1", "", "after", 33, None),
    "control-blank": ("blank", "quiz_q1", "raise NotImplementedError()", "replace", 0, None),
    # ---- reading what it should not (would harvest the quiz answers) -------------------------
    "read-solution": ("blank", "quiz_q1", HARVEST + 'harvest(open("@SOLUTION@").read())',
                      "replace", 0, None),
    "read-solution-honest": ("blank", "quiz_q1", HARVEST + r'''try:
    harvest(open("@SOLUTION@").read())
    print(open("@SOLUTION@").read())  # the hidden tests, into my feedback
except OSError as e:
    print("no luck:", e)
answer_q1 = "c"''', "replace", 1, None),
    "read-reference": ("blank", "inner_update", 'exec(open("@REFERENCE@").read(), globals())',
                       "replace", 0, None),
    "gradebook-sqlite": ("blank", "quiz_q2", HARVEST + WALK_UP + r'''import sqlite3
for db in found + ["@TMP@/out/gradebook.db"]:
    try:
        con = sqlite3.connect(db)
        print(db, con.execute("SELECT * FROM grade").fetchall()[:5])
        con.execute("UPDATE grade SET extra_credit = 33")
        con.commit()
    except Exception as e:
        print(db, e)
answer_q2 = "a"  # a wrong guess''', "replace", 0, None),
    "torch-from-file": ("blank", "quiz_q3", HARVEST + r'''import torch
raw = torch.from_file("@SOLUTION@", size=os.path.getsize("@SOLUTION@"), dtype=torch.uint8)
harvest(raw.numpy().tobytes().decode("utf-8", "replace"))''', "replace", 0, None),
    "libc-read": ("blank", "quiz_q4", HARVEST + r'''import ctypes
libc = ctypes.CDLL(None, use_errno=True)
buf, fd = ctypes.create_string_buffer(1 << 22), libc.open(b"@SOLUTION@", os.O_RDONLY)
n = libc.read(fd, buf, len(buf))
print("read", n, "bytes, errno", ctypes.get_errno())
harvest(buf.raw[:max(n, 0)].decode("utf-8", "replace"))''', "replace", 0, None),
    "proc-snoop": ("blank", "quiz_q5", HARVEST + r'''t0 = time.time()
for pid in [p for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()]:
    for part in ("cmdline", "environ"):
        try:
            text = open(f"/proc/{pid}/{part}", "rb").read().replace(b"\0", b" ").decode("latin-1")
        except OSError:
            continue
        print(pid, part, text[:300])
        for path in re.findall(r"/[\w./-]+\.(?:ipynb|db|py)", text):
            try:
                harvest(open(path, encoding="latin-1").read())
            except OSError:
                pass
    try:
        maps, mem = open(f"/proc/{pid}/maps"), open(f"/proc/{pid}/mem", "rb")
    except OSError:
        continue
    for line in maps:  # the other process's memory, region by region
        lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
        try:
            if "r" in line.split()[1] and hi - lo < 1 << 28 and time.time() - t0 < 40:
                mem.seek(lo)
                harvest(mem.read(hi - lo).decode("latin-1"))
        except (OSError, ValueError, OverflowError):
            pass''', "replace", 0, None),
    "walk-for-notebooks": ("blank", "quiz_q6", HARVEST + r'''t0, seen = time.time(), []
for top in ["/", "..", "../..", "@TMP@", "@TMP@/subs", "@TMP@/out/autograded"]:
    for root, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if os.path.join(root, d) not in ("/proc", "/sys", "/dev")]
        if time.time() - t0 > 40:
            break
        for f in [f for f in files if f.endswith(".ipynb")]:
            try:
                text = open(os.path.join(root, f), encoding="utf-8", errors="replace").read()
            except OSError:
                continue
            seen.append(os.path.join(root, f))
            if "BEGIN HIDDEN" + " TESTS" in text or "answer_q" in text:
                harvest(text)
    print(top, os.listdir(top) if os.path.isdir(top) else "-")
print(len(seen), "notebooks:", seen[:20])''', "replace", 0, None),
    # ---- using the instructor's answers --------------------------------------------------------
    "import-reference": ("blank", "inner_update", r'''import sys
sys.path[:0] = ["@REPO@", "..", "../.."]
from autograder.reference.inner_loop import inner_update''', "replace", 0, None),
    "steal-substituted": ("blank", "maml_meta_loss", r'''_stolen, _mine = [], None
def maml_meta_loss(model, phi, batch, alpha, steps=1):
    if globals()["inner_update"] is not _mine:  # the grader's own, lent for this call
        _stolen.append(globals()["inner_update"])
    return 0.0 * sum(p.sum() for p in phi.values())
def inner_update(model, params, x, y, alpha, create_graph=False):
    if _stolen:
        return _stolen[-1](model, params, x, y, alpha, create_graph)
    return dict(params)
_mine = inner_update''', "replace", 0, None),
    # ---- reaching the checker (all with a wrong answer) ------------------------------------
    "frame-walk": ("blank", "inner_update", r'''import ctypes, sys
def inner_update(model, params, x, y, alpha, create_graph=False):
    frame = sys._getframe(1)
    while frame is not None:  # every caller: loosen its tolerances, silence its checks
        for name, value in list(frame.f_locals.items()):
            if isinstance(value, float) and "tol" in name.lower():
                frame.f_locals[name] = 1e9
        ctypes.pythonapi.PyFrame_LocalsToFast(ctypes.py_object(frame), ctypes.c_int(0))
        for name, value in list(frame.f_globals.items()):
            if name.startswith(("check_", "fail", "assert")) and callable(value):
                frame.f_globals[name] = lambda *a, **k: None
        frame = frame.f_back
    return {k: v + 0.0 for k, v in params.items()}  # no step at all''', "replace", 0, None),
    "inspect-stack": ("blank", "anil_adapt", r'''import builtins, inspect
def anil_adapt(model, phi, x, y, alpha, steps=1, create_graph=False):
    for info in inspect.stack():
        for name, value in list(info.frame.f_globals.items()):
            if inspect.isfunction(value) and value.__name__.startswith("check_"):
                try:
                    value.__code__ = (lambda *a, **k: None).__code__
                except ValueError:
                    info.frame.f_globals[name] = lambda *a, **k: None
    builtins.AssertionError = type("Quiet", (Exception,), {})
    return dict(phi)''', "replace", 0, None),
    "gc-walk": ("blank", "reptile_meta_gradient", r'''import gc, torch
def reptile_meta_gradient(model, phi, batch, alpha, steps=5):
    for obj in gc.get_objects():
        try:
            if isinstance(obj, dict):
                for key in [k for k in obj if isinstance(k, str) and "tol" in k]:
                    obj[key] = 1e9 if isinstance(obj[key], float) else obj[key]
            elif callable(obj) and getattr(obj, "__name__", "").startswith("check_"):
                obj.__code__ = (lambda *a, **k: None).__code__
        except Exception:
            pass
    return {k: torch.zeros_like(v) for k, v in phi.items()}, torch.tensor(0.0)''', "replace", 0,
                None),
    "grad-hook": ("blank", "maml_meta_loss", r'''import sys, torch
from hwlib.models import task_loss
def _hook(grad):
    frame = sys._getframe()
    while frame is not None:  # whoever asked for this gradient
        for name in [n for n in frame.f_globals if "tol" in n.lower()]:
            frame.f_globals[name] = 1e9
        frame = frame.f_back
    return torch.zeros_like(grad)
def maml_meta_loss(model, phi, batch, alpha, steps=1):
    for p in phi.values():
        if p.requires_grad:
            p.register_hook(_hook)
    return torch.stack([task_loss(model, phi, t.x_query, t.y_query) for t in batch]).mean()''',
                  "replace", 0, None),
    "patch-torch": ("blank", "fomaml_meta_loss", r'''import numpy.testing, torch, torch.testing
torch.allclose = torch.equal = lambda *a, **k: True
torch.isclose = lambda a, b, *r, **k: torch.ones_like(a, dtype=torch.bool)
torch.testing.assert_close = numpy.testing.assert_allclose = lambda *a, **k: None
torch.Tensor.__eq__ = lambda a, b: torch.ones((), dtype=torch.bool)
def fomaml_meta_loss(model, phi, batch, alpha, steps=1):
    return sum(p.sum() for p in phi.values())''', "replace", 0, None),
    "env-vars": ("blank", "outer_step", r'''import os
os.environ.update(HW_GRADING_PROFILE="tiny", HW_GRADING="0", HW_SANDBOX="0", HW_TRUSTED="1",
                  NBGRADER_VALIDATING="1", OMNIGLOT_ROOT="/nonexistent")
def outer_step(optimizer, meta_loss):
    meta_loss.backward()  # no zero_grad: gradients pile up
    optimizer.step()
    return meta_loss.item()''', "replace", 0, None),
    # ---- changing comparisons ------------------------------------------------------------------
    "torch-function-mode": ("blank", "anil_adapt", r'''import torch
from torch.overrides import TorchFunctionMode
class AllEqual(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in ("allclose", "equal"):
            return True
        if name in ("eq", "isclose", "__eq__"):
            return torch.ones((), dtype=torch.bool)
        if name in ("sub", "__sub__", "__rsub__") and isinstance(args[0], torch.Tensor):
            return torch.zeros_like(args[0])
        return func(*args, **(kwargs or {}))
AllEqual().__enter__()  # and never leave
def anil_adapt(model, phi, x, y, alpha, steps=1, create_graph=False):
    return dict(phi)''', "replace", 0, None),
    "torch-library": ("blank", "inner_update", r'''import torch
_lib = torch.library.Library("aten", "IMPL")
_lib.impl("allclose", lambda a, b, rtol=1e-5, atol=1e-8, equal_nan=False: True, "CPU")
_lib.impl("sub.Tensor", lambda a, b, alpha=1: torch.zeros_like(a), "CPU")
def inner_update(model, params, x, y, alpha, create_graph=False):
    return dict(params)''', "replace", 0, None),
    # ---- getting credit the wrong way --------------------------------------------------------
    "output-33": ("blank", "quiz_q1", "33", "replace", 0, None),
    "display-1.0": ("blank", "ex_episode_sizes", r'''from IPython.display import display
display(1.0)
display({"text/plain": "33"}, raw=True)
1.0''', "replace", 0, None),
    "fake-grader-output": ("blank", "quiz_q3", r'''import json, os
print("[AutogradeApp] Total score: 33 / 33")
print(json.dumps({"score": 33, "max_score": 33, "status": "graded"}))
for fd in range(1, 64):  # the judge's channel, whichever it is
    try:
        os.write(fd, b'{"score": 33, "cells": [], "values": {"answer_q3": "a"}}\n')
    except OSError:
        pass''', "replace", 0, None),
    "lying-tensor": ("blank", "anil_adapt", r'''import torch
class Liar(torch.Tensor):
    def __eq__(self, other):
        return True
    __hash__ = torch.Tensor.__hash__
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") in ("allclose", "equal", "eq", "isclose"):
            return True
        return super().__torch_function__(func, types, args, kwargs or {})
def anil_adapt(model, phi, x, y, alpha, steps=1, create_graph=False):
    return {k: v.as_subclass(Liar) for k, v in phi.items()}''', "replace", 0, None),
    "lying-str": ("blank", "quiz_q1", r'''class Answer(str):
    def __eq__(self, other):
        return True
    __hash__ = str.__hash__
for q in range(1, 17):
    globals()[f"answer_q{q}"] = Answer("a")''', "replace", 0, "str"),
    "dict-subclass": ("blank", "inner_update", r'''class Agreeable(dict):
    def __eq__(self, other):
        return True
    def __getitem__(self, key):
        return dict.get(self, key, 0.0)
def inner_update(model, params, x, y, alpha, create_graph=False):
    return Agreeable(params)''', "replace", 0, None),
    "getitem-object": ("blank", "reptile_meta_gradient", r'''class Anything:
    __getitem__ = __getattr__ = __call__ = lambda self, *a, **k: self
    __iter__ = lambda self: iter((self, self))
    __len__, __eq__, __float__ = (lambda self: 2), (lambda self, o: True), (lambda self: 0.0)
def reptile_meta_gradient(model, phi, batch, alpha, steps=5):
    return Anything()''', "replace", 0, None),
    "nan-loss": ("blank", "fomaml_meta_loss", r'''def fomaml_meta_loss(model, phi, batch, alpha, steps=1):
    return sum(p.sum() for p in phi.values()) * float("nan")''', "replace", 0, None),
    "zero-meta-gradient": ("blank", "maml_meta_loss", r'''def maml_meta_loss(model, phi, batch, alpha, steps=1):
    return 0 * sum(p.sum() for p in phi.values())  # "pretrained": phi never moves''',
                           "replace", 0, None),
    # ---- breaking the batch or other students ------------------------------------------------
    "kill-everyone": ("solution", "quiz_q16", GRADERS + r'''for pid in graders():
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError as e:
        print(pid, e)''', "after", 33, None),
    "pidfd-kill": ("solution", "quiz_q15", GRADERS + r'''for pid in graders():
    try:
        signal.pidfd_send_signal(os.pidfd_open(pid), signal.SIGKILL)
    except OSError as e:
        print(pid, e)''', "after", 33, None),
    "killpg-self": ("blank", "quiz_q1", "import os\nos.killpg(0, 9)", "replace", 0, None),
    "fifo-socket-symlink": ("solution", "quiz_q14", r'''import os, socket
for d in (".", "/tmp", "@CANARY@", "@TMP@/out"):
    for suffix, make in (("fifo", os.mkfifo),
                         ("sock", lambda p: socket.socket(socket.AF_UNIX).bind(p)),
                         ("passwd", lambda p: os.symlink("/etc/passwd", p)),
                         ("gradebook", lambda p: os.symlink("@TMP@/out/gradebook.db", p))):
        try:
            make(f"{d}/@TOKEN@-{suffix}")
        except OSError as e:
            print(d, suffix, e)
try:
    os.symlink("@TMP@/out/gradebook.db", "gradebook.db")
except OSError as e:
    print(e)''', "after", 33, None),
    "fork-bomb": ("solution", "quiz_q16", "import os\nwhile True:\n    os.fork()", "after", (0, 33),
                  ANY),
    # ---- leaving things behind -----------------------------------------------------------------
    "fill-disk": ("solution", "quiz_q13", r'''chunk = b"x" * 2**20
for path in ("/tmp/@TOKEN@-fill", "@TOKEN@-fill", "@CANARY@/@TOKEN@-fill"):
    try:
        with open(path, "wb") as f:
            for _ in range(2048):  # until the disk is full (2 GiB at most)
                f.write(chunk)
    except OSError as e:
        print(path, e)''', "after", 33, None),
    "daemon": ("solution", "quiz_q12", r'''import os, sys
LATER = """import time
for _ in range(600):  # @TOKEN@: rewrite files long after the grader is done
    time.sleep(1)
    for path in ("@CANARY@/precious.txt", "@CANARY@/@TOKEN@-daemon", "/tmp/@TOKEN@-daemon"):
        try:
            open(path, "w").write("rewritten later")
        except OSError:
            pass
"""
try:
    if os.fork() == 0:
        try:
            os.setsid()
            if os.fork() == 0:
                os.execv(sys.executable, [sys.executable, "-c", LATER])
        finally:
            os._exit(0)
    os.wait()
except OSError as e:
    print("no daemon:", e)''', "after", 33, None),
    "infinite-loop": ("solution", "quiz_q2", "while True:\n    pass", "before", (0, 32), ANY),
    "swallow-timeout": ("blank", "quiz_q4", r'''import time
while True:  # whatever the grader raises to stop me, I catch
    try:
        time.sleep(1)
    except BaseException:
        pass''', "replace", 0, None),
    # ---- crashing the worker -------------------------------------------------------------------
    "os-exit-in-function": ("solution", "anil_adapt", r'''import os
def anil_adapt(model, phi, x, y, alpha, steps=1, create_graph=False):
    os._exit(0)  # no process left to give a verdict''', "after", (0, 31), ANY),
    "abort-in-function": ("solution", "reptile_meta_gradient", r'''import os
def reptile_meta_gradient(model, phi, batch, alpha, steps=5):
    os.abort()''', "after", (0, 31), ANY),
    "segfault": ("blank", "quiz_q1", "import ctypes\nctypes.string_at(0)", "replace", 0, None),
    "memory-bomb": ("blank", "ex_episode_sizes", "hoard = bytearray(64 * 2**30)\n"
                    "n_support = n_query = len(hoard)", "replace", 0, None),
    "deep-recursion": ("solution", "outer_step", r'''import sys
sys.setrecursionlimit(10**6)
def outer_step(optimizer, meta_loss):
    def down(n):  # through C (max, map): a stack overflow, not a RecursionError
        return 1 + max(map(down, [n + 1]))
    return down(0)''', "after", (0, 32), ANY),
    # ---- allowed, and harmless -----------------------------------------------------------------
    "huge-print": ("solution", "quiz_q11", "print('x' * 100_000_000)", "after", 33, None),
    "print-history": ("solution", "quiz_q10", r'''import sys
print(In, Out, _ih, _oh, sep="\n")
print(list(get_ipython().history_manager.get_range(raw=True, output=True)))
print(sorted(sys.modules), {k: type(v) for k, v in globals().items()})''', "after", 33, None),
}


def _grade_id(cell: dict) -> str | None:
    return cell["metadata"].get("nbgrader", {}).get("grade_id")


def write_submissions(subs: Path, tmp: Path, canary: Path, token: str) -> None:
    """One folder per case in ``subs``, each with its notebook (see the module docstring)."""
    blank = json.loads((REPO / "notebooks" / ASSIGNMENT / NOTEBOOK).read_text())
    solution = json.loads((REPO / "solutions" / ASSIGNMENT / NOTEBOOK).read_text())
    honest = {_grade_id(c): "".join(line for line in "".join(c["source"]).splitlines(True)
                                    if "### BEGIN SOLUTION" not in line
                                    and "### END SOLUTION" not in line)
              for c in solution["cells"] if c["metadata"].get("nbgrader", {}).get("solution")}
    fill = {"@SOLUTION@": str(REPO / "solutions" / ASSIGNMENT / NOTEBOOK), "@REPO@": str(REPO),
            "@REFERENCE@": str(REPO / "autograder" / "reference" / "inner_loop.py"),
            "@TMP@": str(tmp), "@CANARY@": str(canary), "@TOKEN@": token}
    for name, (base, cell_id, code, where, _, _) in CASES.items():
        for key, value in fill.items():
            code = code.replace(key, value)
        nb = copy.deepcopy(blank)
        for cell in nb["cells"]:
            ours = honest.get(_grade_id(cell)) if base == "solution" else None
            if _grade_id(cell) == cell_id:
                ours = {"replace": code, "before": f"{code}\n{ours}",
                        "after": f"{ours}\n{code}"}[where]
            if ours is not None:
                compile(ours, f"{name}:{cell_id}", "exec")  # an attack must not be a typo
                cell["source"] = ours
        assert any(_grade_id(c) == cell_id for c in nb["cells"]), (name, cell_id)
        (subs / name).mkdir(parents=True)
        (subs / name / NOTEBOOK).write_text(json.dumps(nb, indent=1))


def _processes(marks: list[str], since: set[str] | None = None) -> dict[str, str]:
    """Live processes (not zombies, not this one) whose cwd or cmdline mentions a mark; with
    ``since``, also new ones that look like a sandboxed worker."""
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("latin-1")
        except (OSError, IndexError):
            continue
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            cwd = ""
        worker = since is not None and pid not in since and ("hw_worker" in cmd or "bwrap" in cmd)
        if int(pid) != os.getpid() and state != "Z" and (
                worker or any(m in cmd or m in cwd for m in marks)):
            found[pid] = f"pid {pid} cwd={cwd} {cmd[:200]}"
    return found


def _row_text(row) -> str:
    return " ".join([row.status, *row.messages.values(), *row.notes]).lower()


@pytest.mark.timeout(2400)
def test_no_attack_buys_a_point_or_hurts_anyone(tmp_path, grading_data):
    token = "pwn" + uuid.uuid4().hex[:10]
    canary = tmp_path / "canary"
    canary.mkdir()
    (canary / "precious.txt").write_text("ORIGINAL")
    write_submissions(tmp_path / "subs", tmp_path, canary, token)
    before = set(filter(str.isdigit, os.listdir("/proc")))
    out = tmp_path / "out"
    try:
        rows = grade(tmp_path / "subs", out, "tiny", cell_timeout=60, progress=False, jobs=2)
    finally:
        for _ in range(20):  # the grader's teardown may take a moment
            left = _processes([str(tmp_path), token], before)
            if not left:
                break
            time.sleep(0.5)
        for pid in left:  # started by these attacks: do not leave them to the machine
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass
        places = [Path(p) for p in ("/tmp", "/var/tmp", "/dev/shm")]
        places += [Path.home(), Path.cwd(), REPO, REPO / "hwlib", REPO / "notebooks" / ASSIGNMENT]
        strays = sorted({str(p) for d in places if d.is_dir() for p in d.glob(f"*{token}*")})
        for p in strays:
            Path(p).unlink(missing_ok=True)
    assert not left, f"processes left running: {list(left.values())}"
    assert not strays, f"files written outside the test folder: {strays}"
    inside = sorted(str(p) for d in (out, tmp_path / "subs") for p in d.rglob(f"*{token}*"))
    assert not inside, f"files written into the grader's folders: {inside}"
    assert sorted(os.listdir(canary)) == ["precious.txt"], os.listdir(canary)
    assert (canary / "precious.txt").read_text() == "ORIGINAL"

    names = [r.student for r in rows]
    assert sorted(names) == sorted(CASES), "exactly one row per submission"
    problems = []
    for row in rows:
        *_, deserved, message = CASES[row.student]
        low, high = deserved if isinstance(deserved, tuple) else (deserved, deserved)
        said = _row_text(row)
        explained = (message is None or (message.lower() in said if message != ANY else
                                         bool(row.messages or row.notes)
                                         or row.status != "graded"))
        if not (low <= row.score <= high and row.max_score == 33 and explained):
            problems.append((row.student, row.score, row.max_score, deserved, row.status,
                             dict(row.messages), row.notes[:5]))
    assert not problems, "\n".join(map(repr, problems))

    feedback = [p for p in (out / "feedback").rglob("*") if p.is_file()]
    assert feedback, "no feedback was generated"
    shown = []
    for path in feedback:
        text = path.read_bytes().decode("utf-8", "replace")
        for mark in HIDDEN:
            forms = {mark, html.escape(mark), html.escape(mark).replace("&quot;", "&#34;"),
                     json.dumps(mark)[1:-1]}
            shown += [(str(path.relative_to(out)), mark) for f in forms if f in text]
    assert not shown, f"feedback shows hidden tests: {shown}"

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
        students = sorted(s.student.id for s in gb.assignment_submissions(ASSIGNMENT))
    assert students == sorted(CASES), "the gradebook needs exactly one submission per case"
