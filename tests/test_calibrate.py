"""The grading path's accuracy run and the calibration built on it (synthetic data, tiny sizes)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from autograder.calibrate import calibrate
from autograder.checks.accuracy import PROFILES, train_and_evaluate
from autograder.reference import inner_update, maml_meta_loss

TINY = dataclasses.replace(PROFILES["tiny"], steps=6, meta_batch_size=2, test_tasks=10)


@pytest.fixture
def synthetic_env(synthetic_root, monkeypatch):
    monkeypatch.setenv("OMNIGLOT_ROOT", str(synthetic_root))


def test_curve_points_equal_runs_with_that_budget_alone(synthetic_env):
    curve = train_and_evaluate(inner_update, maml_meta_loss, TINY, curve=[3, 6])
    alone = train_and_evaluate(inner_update, maml_meta_loss, dataclasses.replace(TINY, steps=3))
    assert set(curve) == {3, 6}
    assert torch.equal(curve[3].accuracies, alone.accuracies)
    full = train_and_evaluate(inner_update, maml_meta_loss, TINY)
    assert torch.equal(curve[6].accuracies, full.accuracies)


def test_calibrate_reports_every_run_and_both_verdicts(synthetic_env, monkeypatch):
    monkeypatch.setitem(PROFILES, "tiny", TINY)
    report = calibrate("tiny", seeds=[0, 1], curve=[3])
    assert [(r["method"], r["seed"]) for r in report["runs"]] == \
        [("maml", 0), ("maml", 1), ("pretrain", 0), ("pretrain", 1)]
    assert all(set(r["curve"]) == {3, 6} and 0 <= r["accuracy"] <= 1 for r in report["runs"])
    maml = min(r["accuracy"] for r in report["runs"] if r["method"] == "maml")
    assert report["reference_reaches_every_tier"] == (maml >= TINY.tiers[-1] + 0.01)
