"""What students install: hwlib only — the reference answers never leave the instructor side."""

from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_ships_hwlib_without_autograder(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(ROOT)], check=True, timeout=300)
    (wheel,) = tmp_path.glob("hwlib-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "hwlib/tasks.py" in names and "hwlib/outer_loop.py" in names
    assert not [n for n in names if n.startswith(("autograder/", "solutions/", "tests/"))]


def test_hwlib_holds_no_inner_loop_answers():
    """No hwlib function builds θ̂ = φ − α∇: no create_graph, no parameter-minus-gradient."""
    for path in (ROOT / "hwlib").glob("*.py"):
        source = path.read_text()
        assert "create_graph" not in source, path
        assert "autograder" not in source, f"{path} imports the instructor side"
        tree = ast.parse(source)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "grad":
                assert path.name == "learner.py", f"{path}: gradient computed outside the contract"
