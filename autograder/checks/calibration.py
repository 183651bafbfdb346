"""The calibration of verified accuracy tiers (``python -m autograder calibrate --assignment
NAME``): the reference, trained through the grading path on several seeds, must reach every
tier with a margin to spare; a φ that never moves and a zero gradient must fail tier 1."""

from __future__ import annotations

import json
import time
from typing import Callable, Sequence

import torch

from autograder.assignments import tier_budget
from hwlib.profiles import PROFILES


def calibrate_verified(assignment: str, budgets: dict, profile_name: str, seeds: Sequence[int],
                       margin: float, train_and_evaluate: Callable, tier_results: Callable,
                       zero_student: Callable, method: str) -> dict:
    """``train_and_evaluate(student, profile, train_seed=, gradient=)`` with ``student=None``
    trains the reference; ``tier_results(zero_student, profile, seed=)`` grades a student
    function whose gradient is zero (a verified trainer must refuse it)."""
    profile = PROFILES[profile_name]
    budget = tier_budget(budgets, profile)
    runs = []
    for seed in seeds:
        start = time.perf_counter()
        res = train_and_evaluate(None, profile, train_seed=seed)
        runs.append({"method": method, "seed": seed, "accuracy": round(res.mean, 4),
                     "ci95": round(res.ci95, 4), "seconds": round(time.perf_counter() - start, 1)})
        print(json.dumps(runs[-1]), flush=True)
    still = train_and_evaluate(None, profile, gradient=lambda phi, batch: (
        {k: torch.zeros_like(v) for k, v in phi.items()}, 0.0)).mean
    zero = tier_results(zero_student, profile, seed=0)
    tiers = budget.tiers
    lowest = min(r["accuracy"] for r in runs)
    return {"assignment": assignment, "profile": profile_name, "tiers": tiers,
            "steps": budget.steps, "meta_batch_size": budget.meta_batch_size,
            "train_ways": budget.train_ways, "margin": margin, "runs": runs,
            "lowest_margin": round(lowest - tiers[-1], 4),
            "reference_reaches_every_tier": lowest >= tiers[-1] + margin,
            "controls": {"phi_never_moves_accuracy": round(still, 4),
                         "phi_never_moves_fails_tier1": still < tiers[0],
                         "zero_gradient": zero if isinstance(zero, str) else round(zero.mean, 4),
                         "zero_gradient_fails_tier1": isinstance(zero, str) or
                         zero.mean < tiers[0]}}


def passed(report: dict) -> bool:
    """The reference reaches every tier; φ that never moves and a zero gradient fail tier 1."""
    c = report["controls"]
    return bool(report["reference_reaches_every_tier"] and c["phi_never_moves_fails_tier1"]
                and c["zero_gradient_fails_tier1"])
