"""The OS boundary around a worker: bubblewrap namespaces, read-only system, limits.

A worker runs as ``bwrap … python -m hw_worker`` — the judge's own interpreter and packages
(:mod:`autograder.sandbox.python_env`) — with

* its own **user** (uid/gid 65534, every capability dropped, no new privileges, no nested user
  namespaces), **mount**, **pid**, **network** (loopback only, down), **IPC**, **UTS** and
  **cgroup** namespaces, in a new session, killed when the judge goes (``--die-with-parent``);
* an **allow-listed, read-only** file system: the system (``/usr``, the loader's ``/etc``
  files), the judge's Python environment, the judge's own ``hwlib`` and :mod:`autograder.worker`
  (as ``hwlib`` and ``hw_worker`` in one folder on the worker's ``PYTHONPATH``: the worker
  imports the very hwlib the judge runs, however hwlib is installed on the host) and the
  Omniglot data and cache.  ``solutions/``, the rest of
  ``autograder/``, gradebooks, submissions and results are simply not there (an empty tmpfs
  covers any of them that lies inside a folder the worker reads: :data:`PRIVATE`);
* one writable place, ``/tmp`` (a tmpfs of ``tmp_mb``, also the working folder and ``HOME``),
  mounted first: everything the worker reads is mounted on top of it, never hidden by it; the
  sandbox's root, ``/dev`` and the empty folders over private ones are remounted read-only
  after the mounts (:func:`read_only_remounts`);
* limits: address space (CPU only — CUDA needs a large virtual space), file size, no core
  files, open files, processes (``RLIMIT_NPROC`` when the judge is not root; a ``pids`` cgroup
  where one is writable), memory cgroup where writable.  The wall time is the judge's: it kills
  the worker's whole process tree (and cgroup) from outside.

:func:`autograder.sandbox.boundary.boundary_problem` tries the boundary once and says why it cannot be
set up; ``grade`` then refuses to grade (fail closed) unless ``--no-isolation`` was given.
"""

from __future__ import annotations

import contextlib
import glob
import os
import resource
import shutil
import signal
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import hwlib

from autograder.sandbox import python_env
from autograder.sandbox.python_env import INSIDE_PACKAGES, inside

REPO = Path(__file__).resolve().parents[2]
WORKER_PACKAGE = REPO / "autograder" / "worker"
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


SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
                "/etc/alternatives", "/etc/fonts", "/etc/matplotlibrc")


def _system_links() -> tuple[list[str], list[str]]:
    """``/bin``-like top folders: links made inside (merged /usr), or folders to read."""
    links, folders = [], ["/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib64", "/lib32"):
        if os.path.islink(top):
            links += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            folders.append(top)
    return links, folders


#: folders no worker may see even where they lie inside a folder it reads (the grading
#: commands add the submissions, the results and their workspaces)
PRIVATE: set[str] = {str(REPO)}


def mount_plan(read: list[str], private: list[str], optional: tuple[str, ...] = ()
               ) -> list[str]:
    """Read-only binds of ``read`` (and of ``optional`` files where they exist) and, over any
    ``private`` folder inside one of them, an empty tmpfs — in path order, so that a folder is
    mounted before what lies inside it and nothing mounted later hides what the worker reads
    (a venv under ``/tmp`` on top of the ``/tmp`` scratch space; a venv inside the checkout on
    top of the hidden checkout)."""
    entries = [(p, 0, "--ro-bind") for p in read] + [(p, 0, "--ro-bind-try") for p in optional]
    entries += [(p, 1, "--tmpfs") for p in private
                if any(inside(p, r) for r in [*read, *optional])]
    args = []
    for path, _, op in sorted(set(entries), key=lambda e: (e[0].rstrip("/").split("/"), e[1])):
        args += [op, path] if op == "--tmpfs" else [op, path, path]
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


WORKER = ["-m", "hw_worker"]


def sandbox_mounts(system: list[str] | None = None) -> list[str]:
    """What a worker reads, as bubblewrap mounts: the system, the judge's Python environment,
    the data; the private folders hidden where they lie inside one of them."""
    read = [*(system or _system_links()[1]), *python_env.read_folders(sorted(PRIVATE)),
            *data_folders()]
    return mount_plan(read, sorted(PRIVATE), SYSTEM_FILES)


def bwrap_command(env: dict[str, str], limits: Limits, fds: tuple[int, int],
                  argv: list[str] = WORKER) -> list[str]:
    """The bubblewrap command line that starts the harness (see the module docstring): the
    judge's interpreter with ``argv``.  The ``/tmp`` scratch space is made first, every read
    folder on top of it (:func:`mount_plan`), so the scratch space covers nothing the worker
    reads."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise FileNotFoundError("bubblewrap (bwrap) is not installed: apt-get install bubblewrap")
    links, system = _system_links()
    args = [bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--uid",
            str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--hostname", "grader",
            "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--clearenv", *links,
            "--proc", "/proc", "--dev", "/dev", "--size", str(limits.tmp_mb << 20),
            "--tmpfs", "/tmp"]
    args += sandbox_mounts(system)
    args += ["--ro-bind", str(HWLIB_PACKAGE), f"{INSIDE_PACKAGES}/hwlib",
             "--ro-bind", str(WORKER_PACKAGE), f"{INSIDE_PACKAGES}/hw_worker"]
    if limits.gpu:
        args += _gpu_mounts()
    inside = {**env, **python_env.python_variables(sorted(PRIVATE)), "HOME": "/tmp", "TMPDIR": "/tmp",
              "PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1",
              "MPLBACKEND": "Agg", "MPLCONFIGDIR": "/tmp/.matplotlib", "HW_SANDBOXED": "1",
              "HW_REQUEST_FD": str(fds[0]), "HW_REPLY_FD": str(fds[1])}
    for k, v in sorted(inside.items()):
        args += ["--setenv", k, v]
    args += read_only_remounts(args)
    return args + ["--chdir", "/tmp", python_env.interpreter(), *argv]


def read_only_remounts(args: list[str]) -> list[str]:
    """``--remount-ro`` of every file system bubblewrap made writable but ``/tmp``, after all
    the mounts: the empty tmpfs over each private folder, ``/dev`` (its ``shm`` folder: the
    device nodes stay usable) and the sandbox's root itself — a tmpfs as large as half the
    machine's memory otherwise.  The size-limited ``/tmp`` stays the only writable place."""
    made = {args[i + 1] for i, op in enumerate(args[:-1]) if op == "--tmpfs"} - {"/tmp"}
    remounts = []
    for path in [*sorted(made, reverse=True), "/dev", "/"]:
        remounts += ["--remount-ro", path]
    return remounts


def plain_command(env: dict[str, str], fds: tuple[int, int]) -> tuple[list[str], dict]:
    """``--no-isolation``: the same harness in a plain child process (trusted notebooks only)."""
    path = [str(REPO / "autograder"), str(HWLIB_PACKAGE.parent)]
    full = {**os.environ, **env, "PYTHONPATH": os.pathsep.join(
                path + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]),
            "HW_REQUEST_FD": str(fds[0]), "HW_REPLY_FD": str(fds[1]), "MPLBACKEND": "Agg"}
    return [python_env.interpreter(), "-m", "worker"], full


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
            resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    # RLIMIT_NPROC counts every task of the user (the TA's shell, the judge's threads, the
    # other workers): the worker may start ``processes`` more than the user runs now
    nproc = limits.processes + (_tasks_of(os.getuid()) if os.getuid() != 0 else 0)
    return apply


def _tasks_of(uid: int) -> int:
    """Processes and threads whose real user is ``uid`` (what RLIMIT_NPROC counts)."""
    count = 0
    for status in glob.glob("/proc/[0-9]*/status"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = dict(line.split(":", 1) for line in open(status).read().splitlines()
                          if ":" in line)
            if int(fields["Uid"].split()[0]) == uid:
                count += int(fields["Threads"])
    return count
