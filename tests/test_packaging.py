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
    """No hwlib code builds θ̂ = φ − α∇ or MAML's second-order graph.

    Gradients are taken only by the skeleton (``learner.py``: ∇φ of the student's meta-loss)
    and by the self-checks (``selfcheck.py``: the gradient of the student's own loss, compared
    with finite differences), and ∇f of an optimizee for the hand-designed baselines of the
    learned optimizer (``learned_optimizer.py``: SGD's and Adam's input, no hypergradient);
    nothing in hwlib passes ``create_graph`` (prose may mention it).
    """
    for path in (ROOT / "hwlib").glob("*.py"):
        source = path.read_text()
        assert "autograder" not in source, f"{path} imports the instructor side"
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.Call):
                continue
            assert not any(k.arg == "create_graph" for k in node.keywords), \
                f"{path}:{node.lineno}: create_graph= builds MAML's second-order graph"
            if getattr(node.func, "attr", "") == "grad":
                assert path.name.startswith(("learner.py", "selfcheck", "learned_optimizer.py")), \
                    f"{path}:{node.lineno}: gradient computed outside the skeleton/self-checks"
