"""``python -m autograder calibrate --assignment metasgd_protonet``: check a grading profile's
ProtoNet tiers against the reference (JSON)."""

from __future__ import annotations

import json
import time
from typing import Sequence

import torch

from autograder.assignments import tier_budget
from hwlib.profiles import PROFILES

from .tiers import BUDGETS, protonet_tier_results, protonet_train_and_evaluate


def calibrate(profile_name: str, seeds: Sequence[int], margin: float = 0.01,
              curve: Sequence[int] = ()) -> dict:
    """The tiers (``curve`` is not used here): the reference ProtoNet through the grading path on
    ``seeds`` must reach every tier with ``margin`` to spare; an embedding that never moves (a
    random Conv4's prototype classifier) and a zero gradient must fail tier 1."""
    profile = PROFILES[profile_name]
    budget = tier_budget(BUDGETS, profile)
    runs = []
    for seed in seeds:
        start = time.perf_counter()
        res = protonet_train_and_evaluate(None, profile, train_seed=seed)
        runs.append({"method": "protonet", "seed": seed, "accuracy": round(res.mean, 4),
                     "ci95": round(res.ci95, 4), "seconds": round(time.perf_counter() - start, 1)})
        print(json.dumps(runs[-1]), flush=True)
    still = protonet_train_and_evaluate(None, profile, gradient=lambda phi, batch: (
        {k: torch.zeros_like(v) for k, v in phi.items()}, 0.0)).mean
    zero = protonet_tier_results(lambda model, phi, batch: 0 * sum(p.sum() for p in phi.values()),
                                 profile, seed=0)
    tiers = budget.tiers
    return {"assignment": __name__.split(".")[-2], "profile": profile_name, "tiers": tiers,
            "steps": budget.steps, "meta_batch_size": budget.meta_batch_size,
            "train_ways": budget.train_ways, "margin": margin, "runs": runs,
            "reference_reaches_every_tier": min(r["accuracy"] for r in runs) >= tiers[-1] + margin,
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
