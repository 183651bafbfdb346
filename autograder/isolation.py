"""The OS boundary around a worker: bubblewrap namespaces, read-only system, limits.

A worker runs as ``bwrap … python -m hw_worker.harness`` with

* its own **user** (uid/gid 65534, every capability dropped, no new privileges, no nested user
  namespaces), **mount**, **pid**, **network** (loopback only, down), **IPC**, **UTS** and
  **cgroup** namespaces, in a new session, killed when the judge goes (``--die-with-parent``);
* an **allow-listed, read-only** file system: the system (``/usr``, the loader's ``/etc``
  files), the Python installation, the judge's own ``hwlib`` and :mod:`autograder.worker`
  (as ``hwlib`` and ``hw_worker`` in one folder on the worker's ``PYTHONPATH``: the worker
  imports the very hwlib the judge runs, however hwlib is installed on the host) and the
  Omniglot data and cache.  ``solutions/``, the rest of
  ``autograder/``, gradebooks, submissions and results are simply not there;
* one writable place, ``/tmp`` (a tmpfs of ``tmp_mb``, also the working folder);
* limits: address space (CPU only — CUDA needs a large virtual space), file size, no core
  files, open files, processes (``RLIMIT_NPROC`` when the judge is not root; a ``pids`` cgroup
  where one is writable), memory cgroup where writable.  The wall time is the judge's: it kills
  the worker's whole process tree (and cgroup) from outside.

:func:`boundary_problem` tries the boundary once and says why it cannot be set up; ``grade``
then refuses to grade (fail closed) unless ``--no-isolation`` was given.
"""

from __future__ import annotations

import contextlib
import glob
import os
import resource
import shutil
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import hwlib

REPO = Path(__file__).resolve().parents[1]
WORKER_PACKAGE = REPO / "autograder" / "worker"
INSIDE_PACKAGES = "/opt/hw"           # hw_worker and hwlib are mounted below this folder
HWLIB_PACKAGE = Path(hwlib.__file__).resolve().parent  # the judge's hwlib
SANDBOX_UID = 65534
PROCESSES = 512                       # threads count too (torch's thread pool)


@dataclass
class Limits:
    memory_mb: int = 8192
    tmp_mb: int = 512
    processes: int = PROCESSES
    gpu: bool = False


@dataclass
class Cgroups:
    """Memory and pids cgroups made for one worker where the hierarchy is writable."""

    folders: list[Path] = field(default_factory=list)

    @classmethod
    def make(cls, limits: Limits) -> "Cgroups":
        made = cls()
        name = f"hw-worker-{uuid.uuid4().hex[:12]}"
        for ctrl, files in (("pids", {"pids.max": limits.processes}),
                            ("memory", {"memory.limit_in_bytes": (limits.memory_mb
                                                                  + limits.tmp_mb) << 20})):
            base = _cgroup_v1_folder(ctrl)
            if base is None:
                continue
            with contextlib.suppress(OSError):
                folder = base / name
                folder.mkdir()
                made.folders.append(folder)
                for f, value in files.items():
                    (folder / f).write_text(str(value))
        return made

    def join(self) -> None:
        """Called in the child before exec: move this process into every folder."""
        for folder in self.folders:
            with contextlib.suppress(OSError):
                (folder / "cgroup.procs").write_text(str(os.getpid()))

    def kill_and_remove(self) -> None:
        for folder in self.folders:
            for _ in range(50):
                with contextlib.suppress(OSError, ValueError):
                    pids = [int(p) for p in (folder / "cgroup.procs").read_text().split()]
                    if not pids:
                        break
                    for pid in pids:
                        with contextlib.suppress(ProcessLookupError, PermissionError):
                            os.kill(pid, signal.SIGKILL)
                import time

                time.sleep(0.02)
            with contextlib.suppress(OSError):
                folder.rmdir()


def _cgroup_v1_folder(controller: str) -> Path | None:
    """This process's cgroup folder of a v1 ``controller``, if it exists and is writable."""
    root = Path("/sys/fs/cgroup") / controller
    if not root.is_dir():
        return None
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, ctrls, path = line.split(":", 2)
            if controller in ctrls.split(","):
                folder = root / path.lstrip("/")
                return folder if os.access(folder, os.W_OK) else None
    return None


def _python_paths() -> list[str]:
    """Folders the worker's Python needs: the installation and every site folder on sys.path,
    never this repository (only ``hwlib/`` of it is mounted, separately)."""
    paths = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix)}
    for p in sys.path:
        real = os.path.realpath(p) if p else ""
        if real and os.path.isdir(real) and not _inside(real, str(REPO)):
            paths.add(real)
    return sorted(p for p in paths if not any(_inside(p, q) and p != q for q in paths))


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _system_mounts() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib64", "/lib32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for f in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
              "/etc/alternatives", "/etc/fonts", "/etc/matplotlibrc"):
        args += ["--ro-bind-try", f, f]
    return args


def _gpu_mounts() -> list[str]:
    args = []
    for dev in sorted(glob.glob("/dev/nvidia*")):
        args += ["--dev-bind", dev, dev]
    return args + ["--ro-bind-try", "/sys", "/sys"]


def data_folders() -> list[str]:
    """Omniglot and its preprocessed cache: read-only inside (the judge warms the cache)."""
    from hwlib.cache import resolve_cache_dir

    found = [os.environ.get("OMNIGLOT_ROOT", ""), str(resolve_cache_dir())]
    return [os.path.realpath(p) for p in found if p and os.path.isdir(p)]


def bwrap_command(env: dict[str, str], limits: Limits, fds: tuple[int, int]) -> list[str]:
    """The bubblewrap command line that starts the harness (see the module docstring)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise FileNotFoundError("bubblewrap (bwrap) is not installed: apt-get install bubblewrap")
    args = [bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--uid",
            str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--hostname", "grader",
            "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--clearenv",
            *_system_mounts()]
    for p in _python_paths():
        args += ["--ro-bind", p, p]
    args += ["--ro-bind", str(HWLIB_PACKAGE), f"{INSIDE_PACKAGES}/hwlib",
             "--ro-bind", str(WORKER_PACKAGE), f"{INSIDE_PACKAGES}/hw_worker",
             "--proc", "/proc", "--dev", "/dev", "--size", str(limits.tmp_mb << 20),
             "--tmpfs", "/tmp"]
    for folder in data_folders():
        args += ["--ro-bind", folder, folder]
    if limits.gpu:
        args += _gpu_mounts()
    inside = {**env, "HOME": "/tmp", "TMPDIR": "/tmp", "PATH": "/usr/bin:/bin",
              "PYTHONPATH": INSIDE_PACKAGES, "PYTHONDONTWRITEBYTECODE": "1",
              "MPLBACKEND": "Agg", "MPLCONFIGDIR": "/tmp/.matplotlib", "HW_SANDBOXED": "1",
              "HW_REQUEST_FD": str(fds[0]), "HW_REPLY_FD": str(fds[1])}
    for k, v in sorted(inside.items()):
        args += ["--setenv", k, v]
    return args + ["--chdir", "/tmp", os.path.realpath(sys.executable), "-m", "hw_worker.harness"]


def plain_command(env: dict[str, str], fds: tuple[int, int]) -> tuple[list[str], dict]:
    """``--no-isolation``: the same harness in a plain child process (trusted notebooks only)."""
    full = {**os.environ, **env, "PYTHONPATH": os.pathsep.join([str(REPO / "autograder"),
                                                                  str(HWLIB_PACKAGE.parent)]),
            "HW_REQUEST_FD": str(fds[0]), "HW_REPLY_FD": str(fds[1]), "MPLBACKEND": "Agg"}
    return [sys.executable, "-m", "worker.harness"], full


def limit_child(limits: Limits, cgroups: Cgroups):
    """``preexec_fn``: rlimits, then the cgroups (runs in the child, before exec)."""
    def apply() -> None:
        cgroups.join()
        nofile = 1024
        if not limits.gpu:
            memory = limits.memory_mb << 20
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_FSIZE, ((limits.tmp_mb << 20,) * 2))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        if os.getuid() != 0:  # root is exempt from RLIMIT_NPROC: the pids cgroup covers it
            resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
    return apply


PROBE = r"""
import os, socket, sys
problems = []
if os.getuid() != 65534: problems.append(f"uid is {os.getuid()}")
for p in sys.argv[1:]:
    if os.path.exists(p): problems.append(f"{p} is visible")
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2); problems.append("network reachable")
except OSError: pass
open("/tmp/probe", "w").write("ok")
try:
    open("/usr/probe", "w"); problems.append("/usr is writable")
except OSError: pass
print("OK" if not problems else "; ".join(problems))
"""


@lru_cache(maxsize=1)
def boundary_problem() -> str | None:
    """Why a worker sandbox cannot be set up here, or None when it can (tried once)."""
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed (Debian: apt-get install bubblewrap)"
    cmd = bwrap_command({}, Limits(), (0, 1))
    cmd = cmd[:-3] + [os.path.realpath(sys.executable), "-c", PROBE,
                      str(REPO / "solutions"), str(REPO / "autograder" / "reference")]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"bubblewrap could not start: {e}"
    said = (proc.stdout.strip().splitlines() or [""])[-1]
    if proc.returncode != 0 or said != "OK":
        return f"the sandbox is not sound: {said or proc.stderr.strip()[-300:]}"
    return None
