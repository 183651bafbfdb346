"""``python -m autograder calibrate --assignment metalearning``: check a grading profile's tiers
against the reference.

Trains the reference MAML and the multi-task pretraining baseline through exactly the grading
path (:func:`autograder.assignments.metalearning.tiers.train_and_evaluate`) on several seeds and reports, as
JSON, each run's test accuracy and whether the profile's tiers hold: the reference must reach
every tier with ``margin`` to spare on every seed, and the baseline must stay below the MAML
tier (tier 3).  ``curve`` adds the accuracy after smaller (or larger) meta-step budgets of the
same runs, to choose a profile's budget.
"""

from __future__ import annotations

import json
import time
from typing import Sequence

import torch

from hwlib.device import default_device
from hwlib.models import Conv4

from hwlib.profiles import PROFILES

from autograder.assignments import tier_budget
from autograder.reference.fast import meta_gradient, pretrain_loss

from .tiers import ALPHA, BUDGETS, tier_results, train_and_evaluate


def _reference(model):
    """The reference MAML meta-gradient (fast path), as the judge gets one from a worker."""
    def grad(phi, batch):
        grads, loss, _ = meta_gradient(model, phi, batch, ALPHA, steps=1)
        return grads, loss
    return grad


def _pretrain(model):
    """The multi-task pretraining baseline: ∇φ of the loss of φ itself."""
    def grad(phi, batch):
        names = list(phi)
        loss = pretrain_loss(model, phi, batch)
        return dict(zip(names, torch.autograd.grad(loss, [phi[k] for k in names]))), loss.item()
    return grad


def calibrate(profile_name: str, seeds: Sequence[int], margin: float = 0.01,
              curve: Sequence[int] = ()) -> dict:
    profile = PROFILES[profile_name]
    budget = tier_budget(BUDGETS, profile)
    budgets = sorted(set(curve) | {budget.steps})
    runs = []
    model = Conv4(5).to(default_device())
    for method, make in (("maml", _reference), ("pretrain", _pretrain)):
        for seed in seeds:
            start = time.perf_counter()
            res = train_and_evaluate(make(model), profile, seed=seed, curve=budgets)
            final = res[budget.steps]
            runs.append({"method": method, "seed": seed, "accuracy": round(final.mean, 4),
                         "ci95": round(final.ci95, 4),
                         "curve": {s: round(r.mean, 4) for s, r in res.items()},
                         "seconds": round(time.perf_counter() - start, 1)})
            print(json.dumps(runs[-1]), flush=True)
    maml = [r["accuracy"] for r in runs if r["method"] == "maml"]
    base = [r["accuracy"] for r in runs if r["method"] == "pretrain"]
    return {"profile": profile_name, "tiers": budget.tiers, "steps": budget.steps,
            "meta_batch_size": budget.meta_batch_size, "margin": margin, "runs": runs,
            "reference_reaches_every_tier": min(maml) >= budget.tiers[-1] + margin,
            "baseline_below_maml_tier": max(base) < budget.tiers[2],
            "controls": controls(profile)}


def _zero_meta_loss(model, phi, batch, alpha, steps=1):
    """A student's MAML whose meta-gradient is zero."""
    return 0 * sum(p.sum() for p in phi.values())


def controls(profile) -> dict:
    """What must fail tier 1: φ that never moves (its accuracy after the test-time steps) and a
    zero meta-gradient through the grading path (verification names it)."""
    def never_moves(phi, batch):
        return {k: torch.zeros_like(v) for k, v in phi.items()}, 0.0

    still = train_and_evaluate(never_moves, profile).mean
    zero = tier_results(_zero_meta_loss, profile, seed=0)
    zero_accuracy = zero if isinstance(zero, str) else round(zero.mean, 4)
    tier1 = tier_budget(BUDGETS, profile).tiers[0]
    return {"phi_never_moves_accuracy": round(still, 4),
            "phi_never_moves_fails_tier1": still < tier1,
            "zero_meta_gradient": zero_accuracy,
            "zero_meta_gradient_fails_tier1": isinstance(zero, str) or zero.mean < tier1}


def passed(report: dict) -> bool:
    """The reference reaches every tier, the baseline stays below MAML's, the controls fail."""
    c = report["controls"]
    return bool(report["reference_reaches_every_tier"] and report["baseline_below_maml_tier"]
                and c["phi_never_moves_fails_tier1"] and c["zero_meta_gradient_fails_tier1"])
