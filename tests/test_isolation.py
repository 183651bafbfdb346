"""The OS boundary around a worker (autograder/sandbox/isolation.py), tested from inside a real one.

Each test starts a sandboxed worker (bubblewrap) with small cells that try something a student
should not be able to do, then reads back, as plain values, what happened.  Where bubblewrap
cannot run here the tests skip with the reason; ``.ci/run`` installs it, so CI never skips.
"""

from __future__ import annotations

import os
import socket
import time

import pytest

from autograder.pipeline.course import REPO
from autograder.sandbox.boundary import boundary_problem
from autograder.sandbox.isolation import Limits
from autograder.transport.client import WorkerClient, WorkerLost

PROBLEM = boundary_problem()
pytestmark = pytest.mark.skipif(PROBLEM is not None, reason=f"no sandbox here: {PROBLEM}")

ATTEMPT = '''
import os
def attempt(fn):
    try:
        fn()
        return "allowed"
    except BaseException as e:
        return type(e).__name__
'''


def worker(source: str, **limits) -> WorkerClient:
    return WorkerClient([{"id": "prelude", "source": ATTEMPT}, {"id": "attack", "source": source}],
                        {}, Limits(**limits), cell_seconds=60)


def values(client: WorkerClient, *names: str) -> dict:
    got = client.request({"op": "values", "names": list(names)}).head["values"]
    return {n: got[n].get("value", got[n]["type"]) for n in names}


def test_worker_sees_no_instructor_file_and_no_other_submission(tmp_path):
    other = tmp_path / "submissions" / "bob" / "metalearning.ipynb"
    other.parent.mkdir(parents=True)
    other.write_text("{}")
    gradebook = tmp_path / "gradebook.db"
    gradebook.write_text("secret")
    code = f'''
paths = [{str(REPO / "solutions" / "metalearning" / "metalearning.ipynb")!r},
         {str(REPO / "autograder" / "assignments" / "metalearning" / "answers.py")!r},
         {str(REPO / "autograder" / "checks" / "gradients.py")!r}, {str(other)!r}, {str(gradebook)!r}]
reads = [attempt(lambda p=p: open(p, "rb").read(1)) for p in paths]
repo = attempt(lambda: os.listdir({str(REPO)!r}))
import hwlib
hwlib_file = hwlib.__file__  # the judge's own hwlib, mounted read-only beside the worker
uid = os.getuid()
import importlib.util
has_reference = importlib.util.find_spec("autograder") is not None
usr_write = attempt(lambda: open("/usr/x", "w"))
hwlib_write = attempt(lambda: open(os.path.join(os.path.dirname(hwlib.__file__), "x.py"), "w"))
reads = ",".join(reads)  # plain values cross the boundary, lists do not
'''
    with worker(code) as w:
        got = values(w, "reads", "repo", "uid", "has_reference", "usr_write", "hwlib_write",
                     "hwlib_file")
    assert "allowed" not in got["reads"].split(","), got
    assert got["repo"] == "FileNotFoundError"  # the repository is not there at all
    assert got["hwlib_file"] == "/opt/hw/hwlib/__init__.py"
    assert got["uid"] == 65534
    assert got["has_reference"] is False
    assert got["usr_write"] != "allowed" and got["hwlib_write"] != "allowed"


def test_worker_has_no_network():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.setblocking(False)
    port = server.getsockname()[1]
    code = f'''
import socket
local = attempt(lambda: socket.create_connection(("127.0.0.1", {port}), timeout=3))
outside = attempt(lambda: socket.create_connection(("1.1.1.1", 53), timeout=3))
dns = attempt(lambda: socket.getaddrinfo("pypi.org", 443))
'''
    with worker(code) as w:
        got = values(w, "local", "outside", "dns")
    assert all(v != "allowed" for v in got.values()), got
    with pytest.raises(BlockingIOError):
        server.accept()  # nothing reached the judge's machine
    server.close()


def test_worker_cannot_signal_the_judge_or_another_worker():
    with worker("x = 1") as other:
        values(other, "x")
        outer = other._proc.pid
        code = f'''
import signal
judge = attempt(lambda: os.kill({os.getpid()}, signal.SIGKILL))
other_worker = attempt(lambda: os.kill({outer}, signal.SIGKILL))
pidfd = attempt(lambda: signal.pidfd_send_signal(os.pidfd_open({os.getpid()}), signal.SIGKILL))
group = attempt(lambda: os.killpg(0, 0))
pids = ",".join(sorted(p for p in os.listdir("/proc") if p.isdigit()))
'''
        with worker(code) as w:
            got = values(w, "judge", "other_worker", "pidfd", "pids")
        assert got["judge"] != "allowed" and got["other_worker"] != "allowed", got
        assert got["pidfd"] != "allowed", got
        assert len(got["pids"].split(",")) <= 3, got  # only the sandbox's own processes
        assert values(other, "x")["x"] == 1  # the other worker still answers


def _sandbox_processes(marker: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if marker.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def test_no_process_outlives_its_worker():
    marker = f"HW_TEST_MARKER_{os.getpid()}_{time.time_ns()}"
    code = '''
import time
def daemon():
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            time.sleep(300)
        os._exit(0)
forked = attempt(daemon)
'''
    client = WorkerClient([{"id": "prelude", "source": ATTEMPT}, {"id": "attack", "source": code}],
                          {"HW_TEST_MARKER": marker}, Limits(), cell_seconds=60)
    with client:
        assert values(client, "forked")["forked"] == "allowed"
        time.sleep(0.5)
        assert _sandbox_processes(marker), "the test's marker does not find the sandbox"
    time.sleep(0.5)
    assert _sandbox_processes(marker) == []


def test_limits_hold_and_the_judge_gets_its_answer():
    code = '''
def fill():
    with open("/tmp/fill", "wb") as f:
        for _ in range(2048):
            f.write(b"x" * 2**20)
disk = attempt(fill)
memory = attempt(lambda: bytearray(64 * 2**30))
def fork_bomb():
    kids = []
    for _ in range(10_000):
        pid = os.fork()
        if pid == 0:
            import time; time.sleep(30); os._exit(0)
        kids.append(pid)
forks = attempt(fork_bomb)
'''
    with worker(code, tmp_mb=64) as w:
        got = values(w, "disk", "memory", "forks")
    assert got["memory"] == "MemoryError", got
    assert got["disk"] != "allowed" and got["forks"] != "allowed", got


def test_a_hung_or_dying_worker_is_killed_and_reported():
    with WorkerClient([{"id": "a", "source": "def f(*a, **k):\n    while True: pass"}], {},
                      Limits(), cell_seconds=3) as w:
        from autograder.checks.student import Student

        with pytest.raises(WorkerLost, match="no answer within 3 s"):
            Student(w).call("f", {"kind": "mlp", "hidden": 2, "dtype": "float64"})
    with WorkerClient([{"id": "a", "source": "import os\ndef f(*a, **k):\n    os._exit(3)"}], {},
                      Limits(), cell_seconds=30) as w:
        with pytest.raises(WorkerLost, match="exit code 3"):
            Student(w).call("f", {"kind": "mlp", "hidden": 2, "dtype": "float64"})


def test_grading_fails_closed_without_the_sandbox(tmp_path, monkeypatch, capsys):
    import autograder.sandbox.boundary as boundary
    from autograder.__main__ import main

    monkeypatch.setattr(boundary.shutil, "which", lambda name: None)
    boundary.boundary_problem.cache_clear()
    try:
        (tmp_path / "subs" / "alice").mkdir(parents=True)
        assert main(["grade", str(tmp_path / "subs"), "--out", str(tmp_path / "out"),
                     "--profile", "tiny"]) == 2
        assert "refusing to grade" in capsys.readouterr().err
        assert not (tmp_path / "out" / "grades.csv").exists()
    finally:
        boundary.boundary_problem.cache_clear()


def test_a_fork_that_returns_into_the_worker_never_answers_for_it():
    """A child forked in a cell runs on in the worker's code: it must stop there, not read the
    judge's requests or write answers of its own into the channel."""
    with worker("child = os.fork()\ngrandchild = os.fork()") as w:
        for _ in range(3):
            got = values(w, "child", "grandchild")
            assert got["child"] > 0 and got["grandchild"] > 0, got


def test_worker_reads_the_judges_preprocessed_data_cache():
    """Inside, HOME is /tmp: without the judge's cache folder named, each worker would decode
    the PNGs again (seconds per submission) into its own tmpfs."""
    from autograder.judge.submission import worker_env
    from hwlib.profiles import PROFILES
    from hwlib.cache import resolve_cache_dir

    code = '''
from hwlib.cache import resolve_cache_dir
cache = str(resolve_cache_dir())
mounted = os.path.isdir(cache)
'''
    env = worker_env(PROFILES["tiny"], {})
    with WorkerClient([{"id": "prelude", "source": ATTEMPT}, {"id": "c", "source": code}], env,
                      Limits(), cell_seconds=60) as w:
        got = values(w, "cache", "mounted")
    assert got["cache"] == str(resolve_cache_dir().resolve()) == env["HWLIB_CACHE_DIR"]
    assert got["mounted"] is True or not resolve_cache_dir().is_dir()


def test_only_the_size_limited_tmp_is_writable(isolated_cache):
    """The sandbox's root is read-only (else a tmpfs of half the machine's memory), and so are
    /dev and the empty folder laid over a private one: a worker writes only to its /tmp, which
    is HOME and the working folder, and which is size-limited."""
    import autograder.sandbox.isolation as isolation

    hidden = isolated_cache / "private-inside-a-read-folder"
    hidden.mkdir(parents=True, exist_ok=True)
    isolation.PRIVATE.add(str(hidden))
    code = f'''
def write(folder):
    def go():
        with open(os.path.join(folder, "hw-probe"), "w") as f:
            f.write("x")
    return attempt(go)
places = ["/", "/home", "/var", "/run", "/etc", "/opt", "/usr", "/dev", "/dev/shm",
          {str(hidden)!r}, {str(isolated_cache)!r}, os.path.dirname(os.__file__), "/tmp"]
writes = ",".join(f"{{p}}={{write(p)}}" for p in places)
made = ",".join(attempt(lambda p=p: os.mkdir(p)) for p in ("/home", "/var", "/run", "/x"))
home, cwd = os.environ["HOME"], os.getcwd()
st = os.statvfs("/tmp")
tmp_mb = st.f_blocks * st.f_frsize / 2**20
'''
    try:
        with worker(code, tmp_mb=64) as w:
            got = values(w, "writes", "made", "home", "cwd", "tmp_mb")
    finally:
        isolation.PRIVATE.discard(str(hidden))
    writes = dict(item.rsplit("=", 1) for item in got["writes"].split(","))
    assert writes.pop("/tmp") == "allowed", got
    assert all(v != "allowed" for v in writes.values()), writes
    assert "allowed" not in got["made"], got
    assert got["home"] == got["cwd"] == "/tmp", got
    assert 60 <= got["tmp_mb"] <= 64, got


def test_the_root_is_remounted_read_only_after_every_mount():
    from autograder.sandbox.isolation import bwrap_command

    args = bwrap_command({}, Limits(), (3, 4))
    remounts = [args[i + 1] for i, a in enumerate(args) if a == "--remount-ro"]
    assert remounts[-2:] == ["/dev", "/"], remounts
    last_mount = max(i for i, a in enumerate(args) if a in ("--tmpfs", "--ro-bind", "--bind",
                                                            "--dev-bind", "--ro-bind-try"))
    assert args.index("--remount-ro") > last_mount
