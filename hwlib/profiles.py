"""The one table of profiles, one per kind of machine: how long the notebook's own training
runs take, and how the grader evaluates and limits a submission there.

* ``gpu`` — a CUDA GPU (chosen automatically when present);
* ``cpu`` — a laptop or Colab CPU: every notebook run finishes in a few minutes;
* ``tiny`` — seconds per run: the notebook's runs while it is being autograded (the graded
  accuracy is measured by the grader's own run with a fixed budget, not by these cells), and
  the grading profile that proves the pipeline runs in CI (its tiers say nothing of accuracy).

The notebook reads :func:`notebook_budget` (``HW_PROFILE=cpu|gpu|tiny``; the grader sets
``HW_GRADING=1``, which means tiny); the grader reads :func:`profile_named`
(``--profile`` or ``HW_GRADING_PROFILE``).  Each assignment's accuracy tiers — how many
meta-steps the grader trains and the thresholds — are the assignment's own, keyed by these
names (on the instructor's side, not shipped).  Grading budgets are meta-steps, never
minutes, so a submission gets the same score whatever the machine's load.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

GRADING_ENV = "HW_GRADING_PROFILE"


class Minutes(dict):
    """Minutes of training per algorithm: every meta-learner gets the same (``run``), so their
    accuracies compare at equal time; an entry overrides it (the baseline's shorter run).  A
    new algorithm needs no entry."""

    def __init__(self, run: float, **overrides: float) -> None:
        super().__init__(overrides)
        self.run = run

    def __missing__(self, algo: str) -> float:
        return self.run


@dataclass(frozen=True)
class NotebookBudget:
    """Minutes (or steps) for each training run of the notebook, and evaluation sizes."""

    profile: str
    sine_steps: int
    minutes: Minutes
    max_steps: int | None
    meta_batch_size: int
    test_tasks: int
    val_tasks: int
    val_every: int
    steps_plot_tasks: int


@dataclass(frozen=True)
class Profile:
    """A kind of machine: the notebook's budget there, and the grader's evaluation sizes and
    limits.  ``tiers_of`` names the profile whose tier budgets the judge trains with (default:
    this one; the canary grades with the class's limits and ``tiny``'s short training)."""

    name: str
    notebook: NotebookBudget
    test_tasks: int                # fixed meta-test tasks of the accuracy tiers
    test_query: int                # queries per class on each of them
    eval_inner_steps: int
    cell_seconds: int              # one answer cell, or one request to the worker
    notebook_seconds: int          # the whole submission (the judge kills the worker after it)
    memory_mb: int                 # the worker's memory (address space on CPU, cgroup where writable)
    seed: int = 0
    tiers_of: str = ""

    @property
    def tier_profile(self) -> str:
        return self.tiers_of or self.name


PROFILES = {
    # the meta-learners get the same minutes, so their accuracies compare at equal time
    "gpu": Profile("gpu", NotebookBudget("gpu", 3000, Minutes(3.0, pretrain=2.0), None, 16, 600,
                                         100, 100, 200), 600, 15, 3, 600, 900, 16384),
    "cpu": Profile("cpu", NotebookBudget("cpu", 2000, Minutes(3.0, pretrain=2.0), None, 16, 600,
                                         100, 50, 200), 600, 15, 3, 900, 1800, 8192),
    # CI smoke profile: seconds; proves the pipeline, not the accuracy
    "tiny": Profile("tiny", NotebookBudget("tiny", 30, Minutes(0.1), 3, 2, 20, 4, 2, 4),
                    40, 5, 3, 300, 900, 8192),
}


def _known(name: str, variable: str) -> Profile:
    if name not in PROFILES:
        raise ValueError(f"{variable} must be one of {sorted(PROFILES)}, got {name!r}")
    return PROFILES[name]


def _machine() -> str:
    return "gpu" if torch.cuda.is_available() else "cpu"


def profile_named(name: str | None = None) -> Profile:
    """The grading profile ``name``, else ``$HW_GRADING_PROFILE``, else ``gpu`` when CUDA is
    present, else ``cpu``."""
    return _known(name or os.environ.get(GRADING_ENV) or _machine(),
                  "the grading profile (--profile or $HW_GRADING_PROFILE)")


def profile_name() -> str:
    """The notebook's profile: ``tiny`` under the grader, else ``$HW_PROFILE``, else ``gpu``
    with CUDA, else ``cpu``."""
    if os.environ.get("HW_GRADING"):
        return "tiny"
    return _known(os.environ.get("HW_PROFILE") or _machine(), "HW_PROFILE").name


def notebook_budget() -> NotebookBudget:
    """The budget for this machine's notebook runs (see the module docstring)."""
    return PROFILES[profile_name()].notebook
