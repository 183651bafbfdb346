"""A throw-away one-node Slurm cluster for the tests, from Debian's packages (slurm-wlm, munge).

``slurm_cluster(user=...)`` makes a private folder, generates a munge key and a ``slurm.conf``
in it (free loopback ports, state/spool/log folders inside, no cgroups: proctrack/linuxproc
follows a job's whole process tree, task/none, no accounting database; finished jobs are
logged by jobcomp/filetxt), starts
``munged``, ``slurmctld`` and ``slurmd`` in the foreground, waits for the node to be idle and
yields a :class:`Cluster` whose ``run`` calls the Slurm commands against it.

The daemons and the jobs run as ``user``: the tests run as root in CI and hand an ordinary
user here, so munged, slurmctld, slurmd, slurmstepd and every job run without root
(SlurmUser = SlurmdUser = that user; such a slurmd can only start jobs of its own user, which
is all a test needs).  Called by an ordinary user, everything runs as that user.

On the way out — normal or not — every job is cancelled and then every daemon and every process
that still carries the cluster's token (an environment variable given to the daemons and the
submitters, inherited by slurmstepd and the jobs) is killed; the folder is removed unless the
block raised (then it is kept for a look and its path is printed on stderr).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

SBIN = ("/usr/sbin", "/usr/bin", "/sbin", "/bin")
DAEMONS = ("munged", "slurmctld", "slurmd")
COMMANDS = ("sbatch", "squeue", "scancel", "scontrol", "sinfo")
TOKEN = "HW_SLURM_CLUSTER"


def which(name: str) -> str | None:
    return shutil.which(name, path=os.pathsep.join([os.environ.get("PATH", ""), *SBIN]))


def missing() -> str | None:
    """Why no cluster can start here (a sentence), or None."""
    absent = [n for n in DAEMONS + COMMANDS if not which(n)]
    if absent:
        return (f"Slurm/munge not installed ({', '.join(absent)} missing): "
                "sudo apt-get install slurm-wlm munge")
    return None


def free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def ppid(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def memory_mb() -> int:
    text = Path("/proc/meminfo").read_text()
    return int(re.search(r"MemTotal:\s+(\d+)", text).group(1)) // 1024


class Cluster:
    """A running cluster: ``run`` Slurm commands (as its user), wait for jobs, read logs."""

    def __init__(self, folder: Path, user: str, cpus: int):
        self.folder, self.user, self.cpus = folder, user, cpus
        self.conf = folder / "slurm.conf"
        self.logs = folder / "log"
        self.jobcomp = self.logs / "jobcomp.txt"
        self.token = secrets.token_hex(8)
        entry = pwd.getpwnam(user)
        self.uid, self.gid = entry.pw_uid, entry.pw_gid
        self.switch = os.geteuid() == 0 and self.uid != 0
        # another user gets the system's PATH (root's may point into /root)
        path = os.environ.get("PATH", "") if not self.switch else "/usr/local/bin:/usr/bin:/bin"
        self.env = {"PATH": os.pathsep.join([path, *SBIN]),
                    "HOME": str(folder / "home"), "LANG": "C.UTF-8", "USER": user,
                    "LOGNAME": user, "SLURM_CONF": str(self.conf), TOKEN: self.token}
        self.daemons: dict[str, subprocess.Popen] = {}

    # --- as the cluster's user -------------------------------------------------------------
    def as_user(self) -> dict:
        """``subprocess`` keyword arguments that run a command as the cluster's user."""
        return {"user": self.uid, "group": self.gid, "extra_groups": []} if self.switch else {}

    def chown(self, *paths: Path) -> None:
        """Give ``paths`` (recursively) to the cluster's user (a no-op when not root)."""
        if not self.switch:
            return
        for path in paths:
            os.chown(path, self.uid, self.gid, follow_symlinks=False)
            for base, dirs, files in os.walk(path):
                for name in dirs + files:
                    os.chown(os.path.join(base, name), self.uid, self.gid, follow_symlinks=False)

    def run(self, argv: list[str], env: dict | None = None, check: bool = True,
            timeout: float = 60, cwd: Path | None = None) -> subprocess.CompletedProcess:
        proc = subprocess.run(argv, env={**self.env, **(env or {})}, cwd=cwd or self.folder,
                              capture_output=True, text=True, timeout=timeout, **self.as_user())
        if check and proc.returncode:
            raise RuntimeError(f"{' '.join(map(str, argv))} exited {proc.returncode}:\n"
                               f"{proc.stdout}\n{proc.stderr}\n{self.tail()}")
        return proc

    def popen(self, name: str, argv: list[str]) -> None:
        log = open(self.logs / f"{name}.out", "ab")
        self.daemons[name] = subprocess.Popen(argv, env=self.env, cwd=self.folder, stdout=log,
                                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                              start_new_session=True, **self.as_user())
        log.close()

    # --- jobs --------------------------------------------------------------------------------
    def queued(self) -> dict[str, str]:
        """Job id (``123`` or ``123_2`` for an array task) → state, of the jobs not finished."""
        out = self.run(["squeue", "-h", "-a", "-r", "-o", "%i %T"]).stdout
        return dict(line.split() for line in out.splitlines() if line.strip())

    def finished(self) -> list[dict[str, str]]:
        """One dict per finished job (jobcomp/filetxt: JobId, JobState, StartTime, EndTime…)."""
        if not self.jobcomp.exists():
            return []
        return [dict(re.findall(r"(\w+)=(\S*)", line))
                for line in self.jobcomp.read_text().splitlines() if line.strip()]

    def wait(self, timeout: float, why: str = "jobs", extra: str = "") -> None:
        """Wait until no job is queued or running; on timeout fail with the logs."""
        deadline = time.monotonic() + timeout
        while self.queued():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{why} still queued/running after {timeout:.0f} s: "
                                   f"{self.queued()}\n{extra}\n{self.tail()}")
            time.sleep(1)

    def tail(self, chars: int = 3000) -> str:
        """The end of every daemon log (for failure messages)."""
        parts = []
        for log in sorted(self.logs.glob("*")):
            if log.is_file():
                parts.append(f"--- {log.name}\n{log.read_text(errors='replace')[-chars:]}")
        return "\n".join(parts)

    # --- start and stop ----------------------------------------------------------------------
    def write_config(self) -> None:
        host = socket.gethostname().split(".")[0]
        ctld, slurmd = free_ports(2)
        d = self.folder
        (d / "plugstack.conf").write_text("")
        self.conf.write_text(f"""\
# generated by tests/slurm_cluster.py: one node, everything under {d}
ClusterName=hwtest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld}
SlurmdPort={slurmd}
SlurmUser={self.user}
SlurmdUser={self.user}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={d}/munge/munge.socket
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/state/slurmctld.pid
SlurmdPidFile={d}/spool/slurmd.pid
SlurmctldLogFile={self.logs}/slurmctld.log
SlurmdLogFile={self.logs}/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig={d}/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc={self.jobcomp}
SwitchType=switch/none
MpiDefault=none
MailProg=/bin/true
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=3600
KillWait=5
InactiveLimit=0
TmpFS={d}/tmp
NodeName={host} NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory={memory_mb()} State=UNKNOWN
PartitionName=hw Nodes={host} Default=YES MaxTime=INFINITE State=UP
""")
        self.node = host

    def start(self, timeout: float = 60) -> None:
        d = self.folder
        d.chmod(0o711)  # munged wants its socket's folders executable by all
        for sub in ("munge", "state", "spool", "log", "home", "tmp"):
            (d / sub).mkdir(mode=0o711 if sub == "munge" else 0o700)
        key = d / "munge" / "munge.key"
        key.write_bytes(secrets.token_bytes(1024))
        key.chmod(0o400)
        self.write_config()
        self.chown(d)
        m = d / "munge"
        self.popen("munged", [which("munged"), "--foreground", f"--socket={m}/munge.socket",
                              f"--key-file={key}", f"--pid-file={m}/munged.pid",
                              f"--log-file={self.logs}/munged.log", f"--seed-file={m}/munged.seed"])
        self._until(lambda: (m / "munge.socket").exists(), timeout, "munged to open its socket")
        self.popen("slurmctld", [which("slurmctld"), "-D", "-f", str(self.conf)])
        self._until(lambda: self.run(["scontrol", "ping"], check=False).returncode == 0,
                    timeout, "slurmctld to answer")
        self.popen("slurmd", [which("slurmd"), "-D", "-f", str(self.conf), "-N", self.node])
        self._until(self._idle, timeout, f"node {self.node} to be idle")

    def _idle(self) -> bool:
        out = self.run(["sinfo", "-h", "-N", "-o", "%T"], check=False).stdout.split()
        return out == ["idle"]

    def _until(self, ready, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            dead = [n for n, p in self.daemons.items() if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                raise RuntimeError(f"waiting for {what}: "
                                   + (f"{', '.join(dead)} exited" if dead else "timed out")
                                   + f" (cluster in {self.folder})\n{self.tail()}")
            time.sleep(0.2)

    def stop(self) -> None:
        """Cancel every job, stop the daemons, then kill whatever carries the token."""
        with contextlib.suppress(Exception):
            if "slurmctld" in self.daemons and self.daemons["slurmctld"].poll() is None:
                self.run(["scancel", "--user", self.user], check=False, timeout=20)
                deadline = time.monotonic() + 15
                while self.queued() and time.monotonic() < deadline:
                    time.sleep(0.5)
        for name in ("slurmd", "slurmctld", "munged"):
            proc = self.daemons.get(name)
            if proc is None:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        for _ in range(3):  # slurmstepd and job processes left over (their own sessions)
            pids = self.marked()
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.5)

    def strays(self, grace: float = 10) -> list[int]:
        """Processes of the cluster other than its daemons still alive after ``grace`` s
        (none once every job has ended)."""
        deadline = time.monotonic() + grace
        daemons = {p.pid for p in self.daemons.values()}
        ctld = self.daemons["slurmctld"].pid
        while True:  # slurmctld's child slurmscriptd is a daemon too
            left = [pid for pid in self.marked() if pid not in daemons and ppid(pid) != ctld]
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.5)

    def marked(self) -> list[int]:
        """Processes whose environment carries this cluster's token."""
        needle = f"{TOKEN}={self.token}".encode()
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and int(entry.name) != os.getpid():
                with contextlib.suppress(OSError):
                    if needle in (entry / "environ").read_bytes().split(b"\0"):
                        found.append(int(entry.name))
        return found


@contextlib.contextmanager
def slurm_cluster(user: str | None = None, cpus: int | None = None,
                  base: str | None = None, timeout: float = 60) -> Iterator[Cluster]:
    """A running one-node cluster whose daemons and jobs run as ``user`` (default: whoever
    runs the tests).  ``cpus``: the node's CPU count (default: this machine's)."""
    reason = missing()
    if reason:
        raise RuntimeError(reason)
    user = user or pwd.getpwuid(os.geteuid()).pw_name
    folder = Path(tempfile.mkdtemp(prefix="hw-slurm-", dir=base))
    cluster = Cluster(folder, user, cpus or os.cpu_count() or 1)
    ok = False
    try:
        cluster.start(timeout)
        yield cluster
        ok = True
    finally:
        cluster.stop()
        if ok:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            print(f"slurm_cluster: kept {folder} (logs in {cluster.logs})", file=sys.stderr)


__all__ = ["Cluster", "slurm_cluster", "missing"]
