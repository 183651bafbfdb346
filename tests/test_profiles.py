"""One table of profiles (hwlib/profiles.py) and each assignment's tier budgets keyed by it: the
docs, the notebook's comments and the command line say the same as the tables the judge reads."""

from __future__ import annotations

import json
import re

from autograder.__main__ import build_parser
import pytest

from autograder.assignments import ASSIGNMENTS, assignment_named, tier_budget
from autograder.pipeline.course import REPO
from hwlib.profiles import PROFILES

ASSIGNMENT = "metalearning"  # the assignment these tests grade
NOTEBOOK = f"{ASSIGNMENT}.ipynb"


def _budget(assignment: str, profile):
    (tier,) = assignment_named(assignment).checks.TIERS.values()
    return tier_budget(tier.budgets, profile)


@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
def test_every_tier_has_a_budget_for_every_profile(name):
    for tier in assignment_named(name).checks.TIERS.values():
        assert sorted(tier.budgets) == sorted(PROFILES), name


def _percent(tiers) -> str:
    return " / ".join(f"{round(t * 100):d}" for t in tiers)


def test_docs_profile_table_is_the_table():
    text = (REPO / "docs" / "grading.md").read_text()
    for p in PROFILES.values():
        b = _budget("metalearning", p)
        row = next((line for line in text.splitlines() if line.startswith(f"| `{p.name}` |")), "")
        assert row, f"docs/grading.md has no row for the {p.name} profile"
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[1] == f"{b.steps} meta-steps × {b.meta_batch_size} tasks", row
        assert cells[2] == f"{p.test_tasks} × {p.test_query} queries, {p.eval_inner_steps} test-time steps", row
        assert cells[3].startswith(" / ".join(f"{t:.2f}" for t in b.tiers)), row
        assert cells[4] == f"{p.cell_seconds} s / {p.notebook_seconds} s", row
        assert cells[5] == f"{p.memory_mb} MB", row


def test_docs_protonet_table_is_the_table():
    """The second assignment's tiers (a ProtoNet trained by the judge) in docs/grading.md."""
    text = (REPO / "docs" / "grading.md").read_text().split("### The second assignment: ProtoNet tiers")[1]
    for p in PROFILES.values():
        b = _budget("metasgd_protonet", p)
        row = next((line for line in text.splitlines() if line.startswith(f"| `{p.name}` |")), "")
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[1] == (f"{b.steps} meta-steps × {b.meta_batch_size} tasks, "
                            f"{b.train_ways}-way 1-shot, {b.q_query} queries per class"), row
        assert cells[2].startswith(" / ".join(f"{t:.2f}" for t in b.tiers)), row


def test_notebook_comments_state_the_tiers_of_the_table():
    for folder in ("solutions", "notebooks"):
        nb = json.loads((REPO / folder / ASSIGNMENT / NOTEBOOK).read_text())
        said = {m for c in nb["cells"] for m in re.findall(
            r"tiers ([\d /]+) % with the GPU profile, ([\d /]+) % with the CPU one",
            "".join(c["source"]))}
        gpu, cpu = (_budget(ASSIGNMENT, PROFILES[n]).tiers for n in ("gpu", "cpu"))
        assert said == {(_percent(gpu), _percent(cpu))}, said


def test_command_line_offers_exactly_the_profiles():
    parser = build_parser()
    for command in ("grade", "validate", "calibrate"):
        action = next(a for a in parser._subparsers._group_actions[0].choices[command]._actions
                      if "--profile" in a.option_strings)
        assert sorted(action.choices) == sorted(PROFILES)
