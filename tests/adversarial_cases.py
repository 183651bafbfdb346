"""The attacks of tests/test_adversarial.py: what real students and attackers write.

``CASES``: ``name: (base, answer cell, code, where, deserved, message)`` (see the test's
docstring); the test packs them several to a notebook.
"""

from __future__ import annotations

ANY = "<any message or note>"
# not "check_inner_update(" alone: the release's self-check calls selfcheck.check_inner_update
HIDDEN = ["BEGIN HIDDEN TESTS", "check_accuracy_tier(", 'answer_q1, "c"',
          "import check_inner_update"]
HARVEST = r'''import contextlib, glob, os, re, time
def harvest(text):  # every quiz answer in a notebook, a database or a memory dump
    for q, a in re.findall(r'answer_q(\d+) = \\?"([abcd])\\?"', text):
        globals()["answer_q" + q] = a
'''
CASES = {
    "control-solution": ("solution", "quiz_q1", "", "after", 33, None),
    # ---- reading what it should not (a success would harvest the quiz answers) ---------------
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
    "gradebook-sqlite": ("blank", "quiz_q2", HARVEST + r'''import sqlite3
found, here = ["@TMP@/out/gradebook.db"], os.getcwd()
while here != "/":  # up from the working folder, then everywhere
    found += glob.glob(here + "/gradebook.db") + glob.glob(here + "/*/gradebook.db")
    here = os.path.dirname(here)
for top in ("/tmp", "/work", "/home", "/srv", "/var", "/opt", "/root", "@TMP@/.."):
    found += glob.glob(top + "/**/gradebook.db", recursive=True)
for db in found:
    with contextlib.suppress(Exception):
        con = sqlite3.connect(db)
        print(db, con.execute("SELECT * FROM grade").fetchall()[:5])
        con.execute("UPDATE grade SET extra_credit = 33")
        con.commit()
answer_q2 = "a"  # a wrong guess''', "replace", 0, None),
    "native-read": ("blank", "quiz_q3", HARVEST + r'''import ctypes, torch
size = os.path.getsize("@SOLUTION@")  # around Python's open(): torch's reader, then libc's
with contextlib.suppress(Exception):
    raw = torch.from_file("@SOLUTION@", size=size, dtype=torch.uint8)
    harvest(raw.numpy().tobytes().decode("utf-8", "replace"))
libc, buf = ctypes.CDLL(None, use_errno=True), ctypes.create_string_buffer(1 << 22)
n = libc.read(libc.open(b"@SOLUTION@", os.O_RDONLY), buf, len(buf))
print("libc read", n, "bytes, errno", ctypes.get_errno())
harvest(buf.raw[:max(n, 0)].decode("utf-8", "replace"))''', "replace", 0, None),
    "proc-snoop": ("blank", "quiz_q5", HARVEST + r'''t0 = time.time()
for pid in [p for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()]:
    with contextlib.suppress(OSError):
        for part in ("cmdline", "environ"):
            print(pid, part, open(f"/proc/{pid}/{part}", "rb").read()[:300])
        mem = open(f"/proc/{pid}/mem", "rb")
        for line in open(f"/proc/{pid}/maps"):  # its memory, region by region
            lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
            with contextlib.suppress(OSError, ValueError, OverflowError):
                if "r" in line.split()[1] and hi - lo < 1 << 28 and time.time() - t0 < 40:
                    mem.seek(lo)
                    harvest(mem.read(hi - lo).decode("latin-1"))''', "replace", 0, None),
    "walk-for-notebooks": ("blank", "quiz_q6", HARVEST + r'''t0 = time.time()
for top in ["/", "..", "@TMP@/subs", "@TMP@/out/autograded"]:  # the others' submissions
    print(top, os.listdir(top) if os.path.isdir(top) else "-")
    for root, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if d not in ("proc", "sys", "dev") and time.time() - t0 < 40]
        for path in [os.path.join(root, f) for f in files if f.endswith(".ipynb")]:
            with contextlib.suppress(OSError):
                text = open(path, errors="replace").read()
                if "BEGIN HIDDEN" + " TESTS" in text or "answer_q" in text:
                    harvest(text)''', "replace", 0, None),
    # ---- using the instructor's answers --------------------------------------------------------
    "import-reference": ("blank", "inner_update", r'''import sys
sys.path[:0] = ["@REPO@", "..", "../.."]
from autograder.assignments.metalearning.answers import inner_update''', "replace", 0, None),
    "steal-substituted": ("blank", "maml_meta_loss", r'''_stolen, _mine = [], None
def maml_meta_loss(model, phi, batch, alpha, steps=1):
    if globals()["inner_update"] is not _mine:  # the grader's own, lent for this call?
        _stolen.append(globals()["inner_update"])
    return 0.0 * sum(p.sum() for p in phi.values())
def inner_update(model, params, x, y, alpha, create_graph=False):
    return _stolen[-1](model, params, x, y, alpha, create_graph) if _stolen else dict(params)
_mine = inner_update''', "replace", 0, None),
    "leak-lent-source": ("blank", "fomaml_meta_loss", r'''import dis, gc, inspect
def fomaml_meta_loss(model, phi, batch, alpha, steps=1):
    """Everything that could carry the lent inner_update's source, raised into the feedback."""
    lent, found = globals()["inner_update"], []
    for get in (lambda: inspect.getsource(lent), lambda: repr(lent.__code__.co_consts),
                lambda: repr([c.cell_contents for c in lent.__closure__ or ()]),
                lambda: repr(vars(lent)), lambda: dis.Bytecode(lent).dis(),
                lambda: repr([getattr(o, "__name__", o) for o in gc.get_referents(lent)]),
                lambda: repr(lent(model, phi, batch.x_support[0], batch.y_support[0], alpha))):
        try:
            found.append(get())
        except Exception as e:
            found.append(repr(e))
    raise RuntimeError("LEAK " + " | ".join(found))''', "replace", 0, None),
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
                info.frame.f_globals[name] = lambda *a, **k: None
    builtins.AssertionError = type("Quiet", (Exception,), {})
    return dict(phi)''', "replace", 0, None),
    "gc-walk": ("blank", "reptile_meta_gradient", r'''import gc, torch
def reptile_meta_gradient(model, phi, batch, alpha, steps=5):
    for obj in gc.get_objects():  # loosen every tolerance, empty every check
        try:
            if isinstance(obj, dict):
                obj.update({k: 1e9 for k, v in obj.items() if "tol" in str(k) and type(v) is float})
            elif callable(obj) and getattr(obj, "__name__", "").startswith("check_"):
                obj.__code__ = (lambda *a, **k: None).__code__
        except Exception:
            pass
    return {k: torch.zeros_like(v) for k, v in phi.items()}, torch.tensor(0.0)''',
                "replace", 0, None),
    "grad-hook": ("blank", "maml_meta_loss", r'''import sys, torch
from hwlib.models import task_loss
def _hook(grad):
    frame = sys._getframe()
    while frame is not None:  # whoever asked for this gradient
        frame.f_globals.update({n: 1e9 for n in list(frame.f_globals) if "tol" in n.lower()})
        frame = frame.f_back
    return torch.zeros_like(grad)
def maml_meta_loss(model, phi, batch, alpha, steps=1):
    for p in [p for p in phi.values() if p.requires_grad]:
        p.register_hook(_hook)
    return torch.stack([task_loss(model, phi, t.x_query, t.y_query) for t in batch]).mean()''',
                  "replace", 0, None),
    "patch-torch-and-env": ("blank", "fomaml_meta_loss", r'''import numpy.testing, os, torch
torch.allclose = torch.equal = lambda *a, **k: True
torch.isclose = lambda a, b, *r, **k: torch.ones_like(a, dtype=torch.bool)
torch.testing.assert_close = numpy.testing.assert_allclose = lambda *a, **k: None
torch.Tensor.__eq__ = lambda a, b: torch.ones((), dtype=torch.bool)
os.environ.update(HW_GRADING_PROFILE="tiny", HW_GRADING="0", HW_SANDBOX="0", HW_TRUSTED="1")
def fomaml_meta_loss(model, phi, batch, alpha, steps=1):
    return sum(p.sum() for p in phi.values())''', "replace", 0, None),
    # ---- changing comparisons ------------------------------------------------------------------
    "torch-function-mode": ("blank", "anil_adapt", r'''import torch
class AllEqual(torch.overrides.TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in (torch.allclose, torch.equal, torch.eq, torch.isclose, torch.Tensor.__eq__):
            return torch.ones((), dtype=torch.bool)
        if func in (torch.sub, torch.Tensor.sub, torch.Tensor.__sub__):
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
    "display-1.0": ("blank", "ex_episode_sizes", "from IPython.display import display\n"
                    "display(1.0)\ndisplay({'text/plain': '33'}, raw=True)\n1.0", "replace", 0,
                    None),
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
    __eq__, __hash__ = (lambda self, other: True), torch.Tensor.__hash__
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func in (torch.allclose, torch.equal, torch.eq, torch.isclose):
            return True
        return super().__torch_function__(func, types, args, kwargs or {})
def anil_adapt(model, phi, x, y, alpha, steps=1, create_graph=False):
    return {k: v.as_subclass(Liar) for k, v in phi.items()}''', "replace", 0, "subclass"),
    "lying-str": ("blank", "quiz_q1", r'''class Answer(str):
    __eq__, __hash__ = (lambda self, other: True), str.__hash__
for q in range(1, 17):
    globals()[f"answer_q{q}"] = Answer("a")''', "replace", 0, "str"),
    "dict-subclass": ("blank", "inner_update", r'''class Agreeable(dict):
    __eq__ = lambda self, other: True
    __getitem__ = lambda self, key: dict.get(self, key, 0.0)
def inner_update(model, params, x, y, alpha, create_graph=False):
    return Agreeable(params)''', "replace", 0, None),
    "nan-loss": ("blank", "fomaml_meta_loss", "def fomaml_meta_loss(model, phi, batch, alpha, "
                 "steps=1):\n    return sum(p.sum() for p in phi.values()) * float('nan')",
                 "replace", 0, "finite"),
    "zero-meta-gradient": ("blank", "maml_meta_loss", "def maml_meta_loss(model, phi, batch, "
                           "alpha, steps=1):  # 'pretrained': phi never moves\n"
                           "    return 0 * sum(p.sum() for p in phi.values())", "replace", 0,
                           None),
    # ---- steering the judge's training (every meta-step is verified; the judge applies its own)
    "nan-outer-step": ("blank", "outer_step", r'''def outer_step(optimizer, meta_loss):
    optimizer.zero_grad()
    meta_loss.backward()
    optimizer.step()
    return float("nan")  # abs(nan - x) > tol is False: a bare comparison would pass it''',
                       "replace", 0, "NaN"),
    "switch-objective": ("solution", "maml_meta_loss", r'''_honest_maml, _tier_calls = maml_meta_loss, [0]
def maml_meta_loss(model, phi, batch, alpha, steps=1):
    """Honest at the tiers' first meta-step, then pulled toward pasted weights."""
    loss = _honest_maml(model, phi, batch, alpha, steps)
    if next(iter(phi.values())).dtype != torch.float32:  # a unit test's float64 call
        return loss
    _tier_calls[0] += 1
    if _tier_calls[0] == 1:
        return loss
    return loss + 10 * sum(((p - 0.01) ** 2).sum() for p in phi.values())''', "after", 29,
                         "no longer that of MAML"),
    # ---- breaking the batch or other students ------------------------------------------------
    "kill-graders": ("solution", "quiz_q16", r'''import os, signal
for pid in [p for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()]:
    try:
        cmd = open(f"/proc/{pid}/cmdline", "rb").read()
        if any(w in cmd for w in (b"autograder", b"nbgrader", b"hw_worker", b"pytest", b"bwrap")):
            os.kill(int(pid), signal.SIGKILL)
            signal.pidfd_send_signal(os.pidfd_open(int(pid)), signal.SIGKILL)
    except OSError as e:
        print(pid, e)''', "after", 33, None),
    "killpg-self": ("blank", "quiz_q1", "import os\nos.killpg(0, 9)", "replace", 0, None),
    "fifo-socket-symlink": ("solution", "quiz_q14", r'''import os, socket
for d in (".", "/tmp", "@CANARY@", "@TMP@/out"):
    for name, make in (("fifo", os.mkfifo), ("sock", socket.socket(socket.AF_UNIX).bind),
                       ("passwd", lambda p: os.symlink("/etc/passwd", p)),
                       ("gradebook.db", lambda p: os.symlink("@TMP@/out/gradebook.db", p))):
        try:
            make(f"{d}/@TOKEN@-{name}")
        except OSError as e:
            print(d, name, e)''', "after", 33, None),
    "fork-bomb": ("solution", "quiz_q16", "import os\nwhile True:\n    os.fork()", "after",
                  (32, 33), ANY),  # 32 when the bomb took the worker down (the cell is not rerun)
    # ---- leaving things behind -----------------------------------------------------------------
    "fill-disk": ("solution", "quiz_q13", r'''for path in ("/tmp/", "./", "@CANARY@/"):
    try:
        with open(path + "@TOKEN@-fill", "wb") as f:
            for _ in range(2048):  # until the disk is full (2 GiB at most)
                f.write(b"x" * 2**20)
    except OSError as e:
        print(path, e)''', "after", 33, None),
    "daemon": ("solution", "quiz_q12", r'''import os, sys
LATER = ("import time  # @TOKEN@: rewrites files long after the grader is done\n"
         "for _ in range(600):\n    time.sleep(1)\n    for p in ('@CANARY@/precious.txt', "
         "'@CANARY@/@TOKEN@-daemon', '/tmp/@TOKEN@-daemon'):\n        try:\n"
         "            open(p, 'w').write('rewritten later')\n        except OSError:\n"
         "            pass\n")
if os.fork() == 0:  # a grandchild in a session of its own outlives the cell
    try:
        os.setsid()
        os.fork() or os.execv(sys.executable, [sys.executable, "-c", LATER])
    finally:
        os._exit(0)
os.wait()''', "after", 33, None),
    "infinite-loop": ("solution", "quiz_q2", "while True:\n    pass", "before", 32, "CellTimeout"),
    "swallow-timeout": ("blank", "quiz_q4", r'''import time
while True:  # whatever the grader raises to stop this cell, catch it (held to the notebook limit)
    try:
        time.sleep(1)
    except BaseException:
        pass''', "replace", 0, None),
    # ---- crashing the worker -------------------------------------------------------------------
    "os-exit-in-function": ("solution", "anil_adapt", "import os\ndef anil_adapt(*args, **kw):\n"
                            "    os._exit(0)", "after", 31, "stopped the grading process"),
    "abort-in-function": ("solution", "reptile_meta_gradient", "import os\n"
                          "def reptile_meta_gradient(*args, **kw):\n    os.abort()", "after",
                          31, "stopped the grading process"),
    "segfault": ("blank", "quiz_q1", "import ctypes\nctypes.string_at(0)", "replace", 0, None),
    "memory-bomb": ("blank", "ex_episode_sizes", "hoard = bytearray(64 * 2**30)\n"
                    "n_support = n_query = len(hoard)", "replace", 0, None),
    "deep-recursion": ("solution", "outer_step", r'''import sys
sys.setrecursionlimit(10**6)
def outer_step(optimizer, meta_loss):
    def down(n):  # through C (max, map): a stack overflow, not a RecursionError
        return 1 + max(map(down, [n + 1]))
    return down(0)''', "after", 32, "stopped the grading process"),
    # ---- allowed, and harmless -----------------------------------------------------------------
    "huge-print": ("solution", "quiz_q11", "print('x' * 100_000_000)", "after", 33, None),
    "print-history": ("solution", "quiz_q10", r'''import sys
print(In, Out, _ih, _oh, sep="\n")
print(list(get_ipython().history_manager.get_range(raw=True, output=True)))
print(sorted(sys.modules), {k: type(v) for k, v in globals().items()})''', "after", 33, None),
}
