"""The one table of grading profiles: budgets, accuracy tiers, time and memory limits.

Read by the judge (:mod:`autograder.judge`), the command line (``--profile``), the docs
(``docs/grading.md``'s profile table) and the notebook's comments; ``tests/test_profiles.py``
keeps them equal to this table.

Budgets are **meta-steps**, not minutes, so a submission always gets the same score whatever
the load of the grading machine.  ``tiny`` only proves that the pipeline runs: its tiers say
nothing about a submission's accuracy.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

PROFILE_ENV = "HW_GRADING_PROFILE"


@dataclass(frozen=True)
class ProtoNetBudget:
    """The second assignment's accuracy tiers: the judge trains the embedding φ with the
    student's ``protonet_loss`` (``train_ways``-way 1-shot episodes, ``q_query`` queries per
    class) for ``steps`` meta-steps, then tests it on fixed 5-way 1-shot tasks."""

    steps: int
    meta_batch_size: int
    train_ways: int
    q_query: int
    tiers: tuple[float, float, float]


@dataclass(frozen=True)
class Profile:
    """A grading budget, its four accuracy tiers (5-way 1-shot MAML) and its limits."""

    name: str
    steps: int                     # meta-steps of the judge's training for the tiers
    meta_batch_size: int
    test_tasks: int
    test_query: int
    eval_inner_steps: int
    tiers: tuple[float, float, float, float]
    cell_seconds: int              # one answer cell, or one request to the worker
    notebook_seconds: int          # the whole submission (the judge kills the worker after it)
    memory_mb: int                 # the worker's memory (address space on CPU, cgroup where writable)
    protonet: ProtoNetBudget = ProtoNetBudget(20, 2, 5, 5, (0.25, 0.30, 0.35))
    seed: int = 0
    minutes: None = None           # budgets are steps, never minutes (same score on any load)


PROFILES = {
    # HW15's tiers; sized for one GPU (docs/grading.md: calibration status)
    "gpu": Profile("gpu", 3000, 32, 600, 15, 3, (0.60, 0.70, 0.90, 0.95), 600, 900, 16384,
                   ProtoNetBudget(2000, 8, 20, 5, (0.90, 0.95, 0.97))),
    # a 2-core CPU (about 4 minutes of training): tiers calibrated on 3 seeds
    "cpu": Profile("cpu", 500, 16, 600, 15, 3, (0.60, 0.70, 0.85, 0.88), 900, 1800, 8192,
                   ProtoNetBudget(300, 4, 20, 5, (0.85, 0.90, 0.93))),
    # CI smoke profile: seconds; proves the pipeline, not the accuracy
    "tiny": Profile("tiny", 40, 4, 40, 5, 3, (0.26, 0.29, 0.32, 0.35), 300, 900, 8192,
                    ProtoNetBudget(20, 2, 5, 5, (0.25, 0.30, 0.35))),
}


def profile_named(name: str | None = None) -> Profile:
    """``name``, else ``$HW_GRADING_PROFILE``, else ``gpu`` when CUDA is present, else ``cpu``."""
    if not name:
        import torch

        name = os.environ.get(PROFILE_ENV) or ("gpu" if torch.cuda.is_available() else "cpu")
    if name not in PROFILES:
        raise ValueError(f"unknown grading profile {name!r}: use one of {sorted(PROFILES)}")
    return PROFILES[name]
