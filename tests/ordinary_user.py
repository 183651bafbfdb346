"""An ordinary (non-root) user with the course set up as the README says — for the tests that
must run as a TA runs them, not as CI's root.

When the tests run as root, the session fixture :func:`ordinary_user` makes the user ``hwta``
(once per machine), copies the checkout (tracked and untracked files, not the ignored ones)
into a folder of theirs **whose path holds a space**, and, *as that user*, makes a **``--copies``
venv** there and installs exactly as the README says (``python -m pip install torch==2.13.0
-e ".[dev]"``).  :meth:`OrdinaryUser.run` then runs a command as that user, in that checkout,
with that venv first on ``PATH``.  It skips with the reason where it cannot: not root (the
suite itself then runs as an ordinary user), no ``useradd``/``runuser``, no Python the user may
run (``/root`` is private: a root-owned pyenv is not theirs).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
USER = "hwta"
INSTALL = ["-m", "pip", "install", "-q", "torch==2.13.0", "-e", ".[dev]"]  # as the README


@dataclass
class OrdinaryUser:
    name: str
    home: Path
    folder: Path      # theirs, with a space in its path
    checkout: Path
    venv: Path
    install_seconds: float

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")

    def env(self, extra: dict | None = None) -> dict:
        keep = {k: v for k, v in os.environ.items() if k.startswith(("PIP_", "LANG", "LC_"))}
        return {**keep, "HOME": str(self.home), "USER": self.name, "LOGNAME": self.name,
                "PATH": f"{self.venv / 'bin'}:/usr/local/bin:/usr/bin:/bin",
                "TMPDIR": "/tmp", **(extra or {})}

    def run(self, *cmd: str, env: dict | None = None, timeout: float = 900,
            cwd: Path | None = None) -> subprocess.CompletedProcess:
        """``cmd`` as this user (``runuser``), in their checkout."""
        return subprocess.run(["runuser", "-u", self.name, "--", "env", "-i",
                               *[f"{k}={v}" for k, v in self.env(env).items()], *cmd],
                              cwd=cwd or self.checkout, capture_output=True, text=True,
                              timeout=timeout)

    def give(self, path: Path) -> Path:
        """Make ``path`` (a file or folder made by the tests as root) this user's."""
        shutil.chown(path, self.name, self.name)
        for folder, dirs, files in os.walk(path):
            for name in dirs + files:
                shutil.chown(os.path.join(folder, name), self.name, self.name)
        return path


def _as(user: str, *cmd: str, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", user, "--", *cmd], capture_output=True, text=True,
                          timeout=timeout, **kw)


def _python_for(user: str) -> str | None:
    """A Python ``user`` may run and make a venv with (the tests' own first)."""
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    candidates = [getattr(sys, "_base_executable", ""), os.path.realpath(sys.executable),
                  f"/usr/bin/{version}", f"/usr/local/bin/{version}", shutil.which(version) or ""]
    for python in dict.fromkeys(c for c in candidates if c):
        if _as(user, python, "-c", "import venv, ensurepip").returncode == 0:
            return python
    return None


def _copy_checkout(target: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        src = REPO / name
        if src.is_file() and not src.is_symlink():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target / name)


def make_ordinary_user(base: Path) -> OrdinaryUser:
    if os.getuid() != 0:
        pytest.skip("the tests already run as an ordinary user (this is the ordinary-user run)")
    if not (shutil.which("useradd") and shutil.which("runuser")):
        pytest.skip("useradd/runuser are missing: cannot make an ordinary user here")
    if subprocess.run(["id", USER], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", USER], check=True)
    home = Path(os.path.expanduser(f"~{USER}"))
    python = _python_for(USER)
    if python is None:
        pytest.skip(f"no Python that {USER} may run and make a venv with")
    folder = base / "TA course folder"
    _copy_checkout(folder / "checkout")
    user = OrdinaryUser(USER, home, folder, folder / "checkout", folder / "venv copies", 0.0)
    user.give(base)
    start = time.perf_counter()
    for cmd in ([python, "-m", "venv", "--copies", str(user.venv)], [user.python, *INSTALL]):
        proc = user.run(*cmd, timeout=1200)
        assert proc.returncode == 0, f"{cmd} as {USER}: {proc.stdout[-2000:]}{proc.stderr[-3000:]}"
    user.install_seconds = round(time.perf_counter() - start, 1)
    return user


@pytest.fixture(scope="session")
def ordinary_user() -> OrdinaryUser:
    """The ordinary user with the course installed (see the module docstring)."""
    base = Path(tempfile.mkdtemp(prefix="hw-ordinary-user-"))
    os.chmod(base, 0o755)
    try:
        yield make_ordinary_user(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)
