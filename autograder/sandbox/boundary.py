"""Can the worker sandbox be set up here?  And if not, why not, and what fixes it.

:func:`boundary_problem` starts one sandbox (:mod:`autograder.sandbox.isolation`) with a probe that
checks the boundary from inside: the sandbox's user, that the instructor's files are not
there, no network, nothing writable but ``/tmp``.  ``grade`` refuses to grade when it fails (fail closed).

bubblewrap needs *unprivileged user namespaces*, which some kernels and security modules refuse
to ordinary users; :func:`userns_refusal` names which one from the kernel's settings and
bubblewrap's words, with the known fix (also in ``docs/ta.md``).
"""

from __future__ import annotations

import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from autograder.sandbox.isolation import REPO, Limits, bwrap_command

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
for place in ("/usr", "/", "/var", "/home"):  # the only writable place is /tmp
    try:
        open(os.path.join(place, "probe"), "w"); problems.append(f"{place} is writable")
    except OSError: pass
print("OK" if not problems else "; ".join(problems))
"""

APPARMOR_PROFILE = ("abi <abi/4.0>,\\ninclude <tunables/global>\\nprofile bwrap /usr/bin/bwrap "
                    "flags=(unconfined) {\\n  userns,\\n}")
#: (setting under /proc/sys, the value that refuses, what it means and the known fix)
SETTINGS = (
    ("kernel/apparmor_restrict_unprivileged_userns", "1",
     "AppArmor restricts unprivileged user namespaces (Ubuntu 23.10 and later: "
     "kernel.apparmor_restrict_unprivileged_userns = 1)",
     "give bubblewrap an AppArmor profile that allows them: printf '" + APPARMOR_PROFILE
     + "\\n' | sudo tee /etc/apparmor.d/bwrap && sudo apparmor_parser -r /etc/apparmor.d/bwrap"
     " (or, for the whole machine: sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0)"),
    ("kernel/unprivileged_userns_clone", "0",
     "the kernel refuses user namespaces to ordinary users (kernel.unprivileged_userns_clone = 0)",
     "sudo sysctl -w kernel.unprivileged_userns_clone=1"),
    ("user/max_user_namespaces", "0",
     "user namespaces are switched off (user.max_user_namespaces = 0)",
     "sudo sysctl -w user.max_user_namespaces=15000"),
)
_NAMESPACE_WORDS = ("namespace", "uid map", "gid map", "Operation not permitted",
                    "Permission denied", "ENOSPC")


def userns_refusal(said: str, sysctl: Path = Path("/proc/sys")) -> str | None:
    """Why bubblewrap could not make its namespaces, with the known fix; None when ``said``
    (bubblewrap's error) is about something else."""
    for name, refused, why, fix in SETTINGS:
        try:
            value = (sysctl / name).read_text().strip()
        except OSError:
            continue
        if value == refused:
            return f"{why}. Fix: {fix}"
    if "max_*_namespaces exceeded" in said or "nesting depth" in said:
        return ("this process may not create user namespaces (it runs inside a sandbox or a "
                "container that forbids nesting them). Fix: grade outside it, or allow nested "
                "user namespaces (Docker: --security-opt seccomp=unconfined, or a rootful "
                "bubblewrap on the host)")
    if any(w in said for w in _NAMESPACE_WORDS):
        return ("the kernel or a security module refuses unprivileged user namespaces "
                f"({said.strip()[-200:]}). Fix: see docs/ta.md, 'When grading is refused'")
    return None


def probe_command() -> list[str]:
    """The sandbox of a worker, running :data:`PROBE` instead of the harness."""
    return bwrap_command({}, Limits(), (0, 1), ["-c", PROBE, str(REPO / "solutions"),
                                                 str(REPO / "autograder" / "reference"),
                                                 str(REPO / "autograder" / "assignments")])


@lru_cache(maxsize=1)
def boundary_problem() -> str | None:
    """Why a worker sandbox cannot be set up here, or None when it can (tried once)."""
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed (Debian: apt-get install bubblewrap)"
    try:
        proc = subprocess.run(probe_command(), capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"bubblewrap could not start: {e}"
    said = (proc.stdout.strip().splitlines() or [""])[-1]
    if proc.returncode != 0 or said != "OK":
        refusal = userns_refusal(proc.stderr) if proc.stderr.startswith("bwrap") else None
        if refusal:
            return f"bubblewrap cannot create its namespaces here: {refusal}"
        return f"the sandbox is not sound: {said or proc.stderr.strip()[-300:]}"
    return None
