"""The notebook's first cell, where students work (Colab, a laptop): installs hwlib when it is
missing — from HWLIB_SOURCE, an uploaded wheel or the course folder — and picks up uploaded
Omniglot zips.  The cell's own source is run, taken from the generated student notebook."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
WHEEL_COMMAND = ["python", "-m", "pip", "wheel", "--no-deps", "-w", "dist", "."]  # docs/instructor.md


def setup_cell() -> str:
    nb = json.loads((REPO / "notebooks/metalearning/metalearning.ipynb").read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    source = "".join(code[0]["source"])
    assert source.startswith("# Setup: installs hwlib"), "the setup cell must come first"
    return source


def run_cell(cwd: Path, hide_hwlib: bool, target: Path | None = None,
             env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the setup cell in ``cwd`` as a fresh Python would on a machine without hwlib
    (``hide_hwlib``); pip installs go to ``target`` (or are only printed)."""
    prelude = textwrap.dedent(f"""
        import importlib.util, subprocess, sys
        _find = importlib.util.find_spec
        if {hide_hwlib!r}:
            importlib.util.find_spec = lambda name, *a: None if name == "hwlib" else _find(name, *a)
        def _run(cmd, **kw):
            print("PIP", cmd[3:])
            if {str(target) if target else None!r}:
                return _real(cmd + ["--no-deps", "--target", {str(target)!r}], **kw)
        _real, subprocess.run = subprocess.run, _run
    """)
    code = prelude + setup_cell() + "\nimport os; print('ROOT', os.environ.get('OMNIGLOT_ROOT'))"
    clean = {k: v for k, v in os.environ.items() if k not in ("OMNIGLOT_ROOT", "HWLIB_SOURCE")}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env={**clean, **(env or {})},
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The instructor's wheel of hwlib, built with the command of docs/instructor.md."""
    out = tmp_path_factory.mktemp("dist")
    cmd = [sys.executable, *WHEEL_COMMAND[1:-3], "-w", str(out), "--no-build-isolation", str(REPO)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    (found,) = out.glob("hwlib-*.whl")
    return found


def test_uploaded_wheel_is_installed(tmp_path, wheel):
    colab = tmp_path / "content"
    colab.mkdir()
    (colab / wheel.name).write_bytes(wheel.read_bytes())
    proc = run_cell(colab, hide_hwlib=True, target=tmp_path / "site")
    assert proc.returncode == 0, proc.stderr
    assert f"installing hwlib from {wheel.name}" in proc.stdout
    installed = tmp_path / "site" / "hwlib"
    assert (installed / "widgets.py").is_file() and (installed / "outer_loop.py").is_file()
    assert not (tmp_path / "site" / "autograder").exists()  # the answers are never shipped


def test_course_source_comes_first_then_the_course_folder(tmp_path):
    proc = run_cell(tmp_path, hide_hwlib=True, env={"HWLIB_SOURCE": "git+https://example.org/c"})
    assert "PIP ['install', '-q', 'git+https://example.org/c']" in proc.stdout, proc.stderr
    proc = run_cell(REPO / "notebooks" / "metalearning", hide_hwlib=True)
    assert f"PIP ['install', '-q', '{os.path.join('..', '..')}']" in proc.stdout, proc.stderr


def test_nothing_to_install_from_says_what_to_upload(tmp_path):
    proc = run_cell(tmp_path, hide_hwlib=True)
    assert proc.returncode != 0
    assert "upload the course's hwlib-*.whl next to this notebook" in proc.stderr


def test_installed_hwlib_is_left_alone_and_uploaded_zips_are_used(tmp_path):
    proc = run_cell(tmp_path, hide_hwlib=False)
    assert proc.returncode == 0 and "PIP" not in proc.stdout and "ROOT None" in proc.stdout
    for name in ("images_background.zip", "images_evaluation.zip"):
        (tmp_path / name).write_bytes(b"")
    proc = run_cell(tmp_path, hide_hwlib=False)
    assert f"ROOT {tmp_path}" in proc.stdout, proc.stderr
