"""``python -m autograder calibrate``: check a grading profile's tiers against the reference.

Trains the reference MAML and the multi-task pretraining baseline through exactly the grading
path (:func:`autograder.checks.accuracy.train_and_evaluate`) on several seeds and reports, as
JSON, each run's test accuracy and whether the profile's tiers hold: the reference must reach
every tier with ``margin`` to spare on every seed, and the baseline must stay below the MAML
tier (tier 3).  ``curve`` adds the accuracy after smaller (or larger) meta-step budgets of the
same runs, to choose a profile's budget.
"""

from __future__ import annotations

import json
import time
from typing import Sequence

from .checks.accuracy import PROFILES, train_and_evaluate
from .reference import inner_update, maml_meta_loss
from .reference.algorithms import pretrain_loss


def _pretrain_as_meta_loss(model, phi, batch, alpha, steps=1):
    return pretrain_loss(model, phi, batch)


def calibrate(profile_name: str, seeds: Sequence[int], margin: float = 0.01,
              curve: Sequence[int] = ()) -> dict:
    profile = PROFILES[profile_name]
    budgets = sorted(set(curve) | {profile.steps})
    runs = []
    for method, loss in (("maml", maml_meta_loss), ("pretrain", _pretrain_as_meta_loss)):
        for seed in seeds:
            start = time.perf_counter()
            res = train_and_evaluate(inner_update, loss, profile, seed=seed, curve=budgets)
            final = res[profile.steps]
            runs.append({"method": method, "seed": seed, "accuracy": round(final.mean, 4),
                         "ci95": round(final.ci95, 4),
                         "curve": {s: round(r.mean, 4) for s, r in res.items()},
                         "seconds": round(time.perf_counter() - start, 1)})
            print(json.dumps(runs[-1]), flush=True)
    maml = [r["accuracy"] for r in runs if r["method"] == "maml"]
    base = [r["accuracy"] for r in runs if r["method"] == "pretrain"]
    return {"profile": profile_name, "tiers": profile.tiers, "steps": profile.steps,
            "meta_batch_size": profile.meta_batch_size, "margin": margin, "runs": runs,
            "reference_reaches_every_tier": min(maml) >= profile.tiers[-1] + margin,
            "baseline_below_maml_tier": max(base) < profile.tiers[2]}
