"""Limits of a grading kernel, installed before the first cell of a submission runs.

nbgrader starts every kernel with ``--IPKernelApp.exec_lines`` running :func:`install`
(see :func:`autograder.course.make_workspace`).  It

* loads the trusted modules (torch, hwlib, the checks and the reference they use) first, so
  no graded cell needs to read them from disk later;
* sets resource limits: address space (``HW_SANDBOX_MEMORY_MB``; on CPU only — CUDA needs a
  large virtual address space, use the runner's cgroup/container limit there), size of any
  file written (100 MB), no core dumps;
* adds a Python audit hook — hooks cannot be removed once added — that refuses, with a
  ``PermissionError`` naming the rule: network sockets; starting processes (fork, exec,
  subprocess, os.system, os.kill: no fork bombs, no escaping the time limit); reading the
  instructor's files (``solutions/``, ``autograder/``, any ``gradebook.db``), anything in
  the grading workspace but the kernel's own folder, and the folders named in
  ``HW_SANDBOX_PRIVATE`` (the class's submissions and results); writing anywhere but that folder and a
  private temporary folder (so a submission cannot touch the gradebook, another student's
  folder or the data cache); loading native libraries; ``gc`` object walks;
* makes ``os._exit`` / ``os.abort`` raise instead of killing the kernel (``sys.exit`` and
  ``KeyboardInterrupt`` only fail their own cell in IPython already).

This is defence in depth inside one Python process, not a security boundary against a
determined attacker with native code: run graders in a container/VM without credentials.
"""

from __future__ import annotations

import os
import re
import resource
from socket import AF_UNIX
import sys
import tempfile
from types import FunctionType

from .tamper import Snapshot, failure


NETWORK = ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr",
           "socket.sendto", "socket.sendmsg")  # + inet sockets and addresses, see _hook
PROCESSES = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn",
             "os.fork", "os.forkpty", "os.kill", "os.killpg", "pty.spawn", "os.startfile")
PATH_WRITES = ("os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown",
               "os.symlink", "os.link", "os.truncate", "os.utime", "shutil.rmtree",
               "shutil.copyfile", "shutil.move", "os.chdir")
OTHER = {"ctypes.dlopen": "loading native libraries", "gc.get_objects": "walking the heap",
         "gc.get_referrers": "walking the heap", "gc.get_referents": "walking the heap",
         "sys.settrace": "tracing other code", "sys.setprofile": "tracing other code"}
#: the file names IPython/ipykernel compile notebook cells under
CELL_FILE = re.compile(r"(ipykernel_\d+[/\\]\d+\.py|<ipython-input-\d+-[0-9a-f]+>)$")
#: a function of this name whose ``__code__`` is set asks the hook to verify the environment
#: (see :func:`autograder.checks.common.call_student`): an audit event student code cannot skip
PROBE = "_hw_probe"
TRUSTED = ("torch", "numpy", "numpy.testing", "matplotlib.pyplot", "hwlib", "autograder.checks")

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


class SandboxViolation(PermissionError):
    """A submission tried something the grader does not allow."""


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _hook(repo: str, workspace: str, here: str, tmp: str, private: list[str],
          snapshot: Snapshot):
    deny_read = [os.path.join(repo, "solutions"), os.path.join(repo, "autograder"), *private]
    writable = [here, tmp, "/dev/null"]
    realpath = os.path.realpath

    def refuse(what: str) -> None:
        raise SandboxViolation(f"{what} is not allowed while grading")

    def check_read(path: str) -> None:
        if (any(_inside(path, d) for d in deny_read) or path.endswith("gradebook.db")
                or (workspace and _inside(path, workspace) and not _inside(path, here))):
            refuse(f"reading {path} (the instructor's files or another submission)")

    def check_write(path: str) -> None:
        if not any(_inside(path, w) for w in writable):
            refuse(f"writing {path} (only this notebook's folder and the temporary folder "
                   f"{tmp} are writable)")

    def verify() -> None:
        changed = snapshot.verify()
        if changed:
            raise failure(changed)

    first_cell = [True]

    def hook(event: str, args: tuple) -> None:
        if event == "compile":
            if isinstance(args[1], str) and CELL_FILE.search(args[1]):
                if first_cell:
                    first_cell.clear()
                    _refuse_threads(snapshot)
                verify()  # before a cell, and before each of its statements
        elif event in ("object.__setattr__", "object.__delattr__"):
            if type(args[0]) is FunctionType and args[0].__code__.co_name == PROBE:
                verify()
            else:
                why = snapshot.refuse_patch(args[0], args[1])
                if why:
                    refuse(why)
        elif event == "open":
            path, mode, flags = args
            if not isinstance(path, (str, bytes, os.PathLike)):
                return
            path = realpath(os.fsdecode(path))
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or \
                (isinstance(flags, int) and flags & _WRITE_FLAGS)
            check_write(path) if writing else check_read(path)
        elif event in NETWORK or (event == "socket.__new__" and args[1] not in (-1, AF_UNIX)) \
                or (event in ("socket.connect", "socket.bind") and isinstance(args[1], tuple)):
            refuse("network access")  # AF_UNIX socket pairs stay: the event loop needs them
        elif event in PROCESSES:
            refuse(f"starting or signalling processes ({event})")
        elif event in PATH_WRITES:
            for a in args[:2]:
                if isinstance(a, (str, bytes, os.PathLike)):
                    (check_read if event == "os.chdir" else check_write)(realpath(os.fsdecode(a)))
        elif event in OTHER:
            refuse(OTHER[event])

    return hook


_REAL_EXIT = os._exit


def _no_exit(*args, **kwargs):
    """``os._exit`` / ``os.abort`` for student code: refused. ipykernel's parent poller still
    gets the real ``os._exit`` — it ends the kernel when the grader (its parent) is gone."""
    import ipykernel.parentpoller

    caller = sys._getframe(1).f_code.co_filename
    if os.path.realpath(caller) == os.path.realpath(ipykernel.parentpoller.__file__):
        _REAL_EXIT(*args, **kwargs)
    raise SandboxViolation("os._exit / os.abort is not allowed while grading: return normally")


def _no_thread(*args, **kwargs):
    raise SandboxViolation("starting threads is not allowed while grading")


def _refuse_threads(snapshot: Snapshot) -> None:
    """Python 3.11 has no audit event for new threads: once the kernel's own threads run (at
    the first cell), the functions that start threads are replaced and recorded in the tamper
    snapshot, so putting them back fails the next cell."""
    import _thread
    import threading

    for module, names in ((_thread, ["start_new_thread", "start_new", "start_joinable_thread"]),
                          (threading, ["_start_new_thread", "_start_joinable_thread"])):
        names = [n for n in names if hasattr(module, n)]
        for name in names:
            setattr(module, name, _no_thread)
        snapshot.watch(module, names)


def install() -> None:
    """Load trusted code, set limits, add the audit hook (call once, before student code)."""
    import importlib

    import pkgutil

    for name in TRUSTED:
        importlib.import_module(name)
    import autograder.reference  # noqa: F401 - loaded now, unreadable from disk afterwards
    import hwlib

    for info in pkgutil.iter_modules(hwlib.__path__):  # all of hwlib: recorded by the snapshot
        importlib.import_module(f"hwlib.{info.name}")
    import torch._dynamo  # noqa: F401 - its import wraps torch.manual_seed & co.: do it now
    import matplotlib.pyplot as plt

    plt.close(plt.figure())  # loads the notebook backend, which registers IPython callbacks
    import torch

    for optimizer in (torch.optim.Adam, torch.optim.SGD):  # their first use patches the class
        optimizer([torch.zeros(1, requires_grad=True)], lr=0.1)
    import tqdm
    from zmq.utils.garbage import gc as zmq_garbage

    tqdm.tqdm.monitor_interval = 0  # no monitor thread: threads are refused (from the first cell)
    if not zmq_garbage.is_alive():
        zmq_garbage.start()  # started by the first large output otherwise
    from hwlib.device import keep_cpu_memory_mapped

    keep_cpu_memory_mapped()
    memory_mb = int(os.environ.get("HW_SANDBOX_MEMORY_MB", "0") or 0)
    import torch

    if memory_mb and not torch.cuda.is_available():
        resource.setrlimit(resource.RLIMIT_AS, (memory_mb * 2 ** 20, memory_mb * 2 ** 20))
    resource.setrlimit(resource.RLIMIT_FSIZE, (100 * 2 ** 20, 100 * 2 ** 20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    tmp = tempfile.mkdtemp(prefix="hw-kernel-")
    for var in ("TMPDIR", "TEMP", "TMP", "MPLCONFIGDIR"):
        os.environ[var] = tmp
    tempfile.tempdir = tmp
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    workspace = os.path.realpath(os.environ.get("HW_SANDBOX_ROOT", "")) \
        if os.environ.get("HW_SANDBOX_ROOT") else ""
    os.abort = _no_exit
    os._exit = _no_exit
    sys.modules["posix"]._exit = _no_exit
    private = [os.path.realpath(p) for p in
               os.environ.get("HW_SANDBOX_PRIVATE", "").split(os.pathsep) if p]
    shell = getattr(sys.modules.get("builtins"), "get_ipython", lambda: None)()
    sys.addaudithook(_hook(os.path.realpath(repo), workspace, os.path.realpath(os.getcwd()),
                           os.path.realpath(tmp), private, Snapshot().take(shell)))


EXEC_LINE = "import autograder.sandbox as _hw_sandbox; _hw_sandbox.install(); del _hw_sandbox"
