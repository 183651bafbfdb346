"""The guides for students, TAs and instructors: every command in them is exercised by a test.

Each command of a ```bash block of docs/student.md, docs/ta.md and docs/instructor.md must be
listed in EXERCISED with the tests that run it; the ``python -m autograder`` ones must parse
with the real command line; the TA's commands are run here exactly as written (plus
``--profile tiny``) on a class of two."""

from __future__ import annotations

import csv
import importlib
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.assignments import ASSIGNMENTS

REPO = Path(__file__).resolve().parents[1]
GUIDES = [REPO / "docs" / f"{who}.md" for who in ("student", "ta", "instructor")]

#: command → the tests that run it (module::function)
EXERCISED = {
    "python -m pip install torch==2.13.0 -e .": ["test_setup_cell::test_uploaded_wheel_is_installed"],
    "python3 -m venv ~/venvs/hw && . ~/venvs/hw/bin/activate": ["test_ordinary_user::test_a_class_gets_full_marks_as_an_ordinary_user"],
    'python -m pip install torch==2.13.0 -e ".[dev]"': ["test_ordinary_user::test_a_class_gets_full_marks_as_an_ordinary_user"],
    "jupyter lab notebooks/metalearning/metalearning.ipynb": ["test_browser::test_widgets_in_jupyterlab"],
    "HW_PROFILE=tiny jupyter lab notebooks/metalearning/metalearning.ipynb": ["test_browser::test_widgets_in_jupyterlab"],
    "jupyter lab notebooks/metasgd_protonet/metasgd_protonet.ipynb": ["test_browser::test_embedding_explorer_in_jupyterlab"],
    "jupyter lab notebooks/hypergradients/hypergradients.ipynb": ["test_hypergradients::test_the_solution_notebook_runs_top_to_bottom",
                                                                  "test_browser::test_hypergradients_widgets_in_jupyterlab"],
    "python -m autograder grade submissions/ --out grading": ["test_guides::test_ta_guide_commands_as_written"],
    "python -m autograder grade submissions/ --out grading --jobs 4": ["test_guides::test_ta_guide_commands_as_written"],
    "python -m autograder grade submissions/ --shard 1/2 --out part1": ["test_guides::test_ta_guide_commands_as_written"],
    "python -m autograder grade submissions/ --shard 2/2 --out part2": ["test_guides::test_ta_guide_commands_as_written"],
    "python -m autograder merge part1 part2 --out grading": ["test_guides::test_ta_guide_commands_as_written"],
    "python -m autograder grade submissions/ --out grading --regrade alice": ["test_guides::test_ta_guide_commands_as_written"],
    "python -m autograder grade submissions2/ --assignment metasgd_protonet --out grading2": ["test_guides::test_ta_guide_commands_as_written"],
    "python -m autograder grade submissions3/ --assignment hypergradients --out grading3": ["test_guides::test_ta_guide_commands_as_written"],
    "python -m autograder release": ["test_assignment::test_committed_release_is_generated_from_the_source"],
    "python -m autograder validate --mutants --jobs 2": ["test_grading::test_solution_full_blank_zero_and_bugs_caught"],
    "python -m pip wheel --no-deps -w dist .": ["test_setup_cell::test_uploaded_wheel_is_installed",
                                               "test_packaging::test_wheel_ships_hwlib_without_autograder"],
    "python -m autograder calibrate --profile cpu": ["test_calibrate::test_calibrate_reports_every_run_and_both_verdicts"],
    "python -m autograder calibrate --profile cpu --assignment metasgd_protonet": ["test_calibrate::test_verified_calibration_and_its_controls"],
    "python -m autograder validate --mutants --jobs 2 --assignment metasgd_protonet": ["test_grading::test_solution_full_blank_zero_and_bugs_caught"],
    "python -m autograder validate --mutants --jobs 2 --assignment hypergradients": ["test_grading::test_solution_full_blank_zero_and_bugs_caught"],
}


def guide_commands() -> dict[str, str]:
    """command → the guide it is in, from every ```bash block."""
    found = {}
    for guide in GUIDES:
        for block in re.findall(r"```bash\n(.*?)```", guide.read_text(), re.S):
            for line in block.replace("\\\n", " ").splitlines():
                command = line.split("  #")[0].strip()
                if command and not command.startswith("#"):
                    found[command] = guide.name
    return found


def test_every_guide_command_is_exercised_by_a_test():
    commands = guide_commands()
    assert set(commands) == set(EXERCISED), (
        f"not mapped to a test: {sorted(set(commands) - set(EXERCISED))}; "
        f"no longer in a guide: {sorted(set(EXERCISED) - set(commands))}")
    for command, tests in EXERCISED.items():
        for test in tests:
            module, function = test.split("::")
            assert callable(getattr(importlib.import_module(module), function, None)), test


@pytest.mark.parametrize("command", [c for c in EXERCISED if c.startswith("python -m autograder")])
def test_autograder_commands_parse(command):
    from autograder.__main__ import build_parser

    args = build_parser().parse_args(shlex.split(command)[3:])
    assert callable(args.func)


@pytest.mark.parametrize("assignment", sorted(ASSIGNMENTS))
def test_student_guide_lists_every_graded_test_with_its_points(assignment):
    nb = json.loads((REPO / f"notebooks/{assignment}/{assignment}.ipynb").read_text())
    points = {c["metadata"]["nbgrader"]["grade_id"]: c["metadata"]["nbgrader"]["points"]
              for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade")}
    text = (REPO / "docs" / "student.md").read_text()
    assert f"grader. {sum(points.values()):g} points:" in text.replace("\n", " ")
    for test in points:
        family = re.sub(r"(tier|q)\d+$", "", test)
        assert f"`{test}`" in text or f"`{family}" in text, test


def start(command: str, cwd: Path) -> subprocess.Popen:
    """``command`` as written, started in ``cwd`` (``grade`` with the tiny profile)."""
    argv = [sys.executable, *shlex.split(command)[1:]]
    argv += ["--profile", "tiny"] if argv[3] == "grade" else []
    env = {**os.environ, "PYTHONPATH": str(REPO)}  # OMNIGLOT_ROOT: absolute (grading_data)
    return subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


def finish(command: str, popen: subprocess.Popen) -> subprocess.CompletedProcess:
    out, err = popen.communicate(timeout=900)
    assert popen.returncode == 0, f"{command}\n{out[-2000:]}\n{err[-2000:]}"
    return subprocess.CompletedProcess(popen.args, popen.returncode, out, err)


def run(command: str, cwd: Path) -> subprocess.CompletedProcess:
    return finish(command, start(command, cwd))


@pytest.mark.slow  # ~4 min: each behaviour also runs end to end in the default run (shards,
# merge, resume and --regrade: test_grading's shards test; the second assignment and --jobs:
# its sampled validate; the command line: test_environments) — .ci/run runs it on purpose
def test_ta_guide_commands_as_written(tmp_path, grading_data, monkeypatch, seed_template):
    """A class of two (alice: the solution, bob: the blank release), graded on two runners,
    merged, resumed, and alice regraded — the TA guide's commands in its order."""
    monkeypatch.setenv("OMNIGLOT_ROOT", str(grading_data.resolve()))  # the TA's data folder
    solution = REPO / "solutions/metalearning/metalearning.ipynb"
    blank = REPO / "notebooks/metalearning/metalearning.ipynb"
    for student, notebook in (("alice", solution), ("bob", blank)):
        (tmp_path / "submissions" / student).mkdir(parents=True)
        (tmp_path / "submissions" / student / "metalearning.ipynb").write_bytes(notebook.read_bytes())
    commands = [c for c, g in guide_commands().items()  # the set-up: test_ordinary_user
                if g == "ta.md" and c.startswith("python -m autograder")]
    # the other assignments (`grade SUBS/ --assignment NAME --out OUT`): alice hands in the
    # solution of each
    others = {c: (w[4].rstrip("/"), w[6], w[8]) for c in commands
              if "--assignment" in (w := c.split())}
    for subs, name, out in others.values():
        (tmp_path / subs / "alice").mkdir(parents=True)
        (tmp_path / subs / "alice" / f"{name}.ipynb").write_bytes(
            (REPO / f"solutions/{name}/{name}.ipynb").read_bytes())
        seed_template(tmp_path / out, name)
    assert {n for _, n, _ in others.values()} == set(ASSIGNMENTS) - {"metalearning"}
    second = list(others)
    commands = [c for c in commands if c not in second]
    for out in ("part1", "part2", "grading"):  # the guide's grading folders
        seed_template(tmp_path / out)
    merge_order = [c for c in commands if "--shard" in c or "merge" in c]
    shards = [c for c in merge_order if "--shard" in c]
    runners = [(c, start(c, tmp_path)) for c in shards + second]  # the guide's runners, at once
    for command, popen in runners:
        finish(command, popen)
    for command in [c for c in merge_order if c not in shards]:
        run(command, tmp_path)
    rows = {r["student"]: r for r in csv.DictReader(open(tmp_path / "grading" / "grades.csv"))}
    assert float(rows["alice"]["score"]) == float(rows["alice"]["max_score"]) == 33
    assert float(rows["bob"]["score"]) == 0
    for command in [c for c in commands if c not in merge_order]:
        proc = run(command, tmp_path)
        graded = [line.split()[0] for line in proc.stdout.splitlines()
                  if re.match(r"\w+\s+\d+\.\d / ", line)]
        assert graded == (["alice"] if "--regrade alice" in command else []), proc.stdout
        assert "2 submissions graded" in proc.stdout
    rows = {r["student"]: r for r in csv.DictReader(open(tmp_path / "grading" / "grades.csv"))}
    assert float(rows["alice"]["score"]) == 33 and float(rows["bob"]["score"]) == 0
    assert (tmp_path / "grading" / "feedback" / "alice" / "metalearning" / "metalearning.html").is_file()
    for _, name, out in others.values():
        (row,) = csv.DictReader(open(tmp_path / out / "grades.csv"))
        assert row["student"] == "alice" and float(row["score"]) == float(row["max_score"]) > 0, \
            (name, row)
        assert (tmp_path / out / "feedback" / "alice" / name / f"{name}.html").is_file()
