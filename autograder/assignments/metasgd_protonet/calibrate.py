"""``python -m autograder calibrate --assignment metasgd_protonet``: check a grading profile's
ProtoNet tiers against the reference (JSON)."""

from __future__ import annotations

from typing import Sequence

from autograder.checks.calibration import calibrate_verified, passed

from .tiers import BUDGETS, protonet_tier_results, protonet_train_and_evaluate


def calibrate(profile_name: str, seeds: Sequence[int], margin: float = 0.01,
              curve: Sequence[int] = ()) -> dict:
    """The tiers (``curve`` is not used here): the reference ProtoNet through the grading path on
    ``seeds`` must reach every tier with ``margin`` to spare; an embedding that never moves (a
    random Conv4's prototype classifier) and a zero gradient must fail tier 1."""
    return calibrate_verified(
        __name__.split(".")[-2], BUDGETS, profile_name, seeds, margin,
        protonet_train_and_evaluate, protonet_tier_results,
        lambda model, phi, batch: 0 * sum(p.sum() for p in phi.values()), "protonet")


__all__ = ["calibrate", "passed"]
