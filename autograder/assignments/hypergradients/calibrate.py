"""``python -m autograder calibrate --assignment hypergradients``: check a grading profile's
in-context learner tiers against the reference (JSON)."""

from __future__ import annotations

from typing import Sequence

import torch

from autograder.checks.calibration import calibrate_verified, passed

from .tiers import BUDGETS, incontext_tier_results, incontext_train_and_evaluate


def _constant_logits(model, phi, x_support, y_support, x_query, n_way):
    """A student whose logits do not depend on φ: its gradient is zero."""
    return torch.zeros(len(x_query), n_way) + 0 * sum(p.sum() for p in phi.values())


def calibrate(profile_name: str, seeds: Sequence[int], margin: float = 0.01,
              curve: Sequence[int] = ()) -> dict:
    """The tiers (``curve`` is not used here): the reference in-context learner through the
    grading path on ``seeds`` must reach every tier with ``margin`` to spare; φ that never moves
    (:func:`~hwlib.incontext.init_incontext`'s soft nearest-neighbour reader on a random body)
    and a zero gradient must fail tier 1."""
    return calibrate_verified(__name__.split(".")[-2], BUDGETS, profile_name, seeds, margin,
                              incontext_train_and_evaluate, incontext_tier_results,
                              _constant_logits, "incontext")


__all__ = ["calibrate", "passed"]
