"""The meta-learning skeleton: outer loop, evaluation with 95% CI, history and checkpoints."""

from __future__ import annotations

import json
import math

import pytest
import torch

from autograder.reference import make_learner
from hwlib.evaluate import evaluate, evaluate_steps, mean_ci95
from hwlib.learner import MetaLearner, outer_gradient
from hwlib.models import Conv4, init_params
from hwlib.outer_loop import TrainConfig, meta_train
from hwlib.tasks import EpisodeSampler, FixedTaskSet


def test_mean_ci95_by_hand():
    mean, ci = mean_ci95([0.5, 0.7, 0.9, 0.7])
    std = math.sqrt(((0.2 ** 2) * 2) / 3)
    assert mean == pytest.approx(0.7) and ci == pytest.approx(1.96 * std / 2)
    with pytest.raises(ValueError):
        mean_ci95([])


def _setup(splits, algo="maml", seed=0, n_way=3):
    model = Conv4(n_way)
    phi = init_params(model, seed)
    sampler = EpisodeSampler(splits.train, n_way, 1, 2, rotations=True, seed=seed)
    return model, phi, sampler, make_learner(algo, model, 0.4, 1)


def test_meta_training_improves_over_initialisation(synthetic_splits):
    model, phi, sampler, learner = _setup(synthetic_splits)
    tasks = FixedTaskSet(synthetic_splits.test, 3, 1, 5, num_tasks=40)
    before = evaluate(model, phi, learner.adapt, tasks)
    result = meta_train(learner, phi, sampler.sample,
                        TrainConfig(meta_batch_size=4, steps=30, progress=False, log_every=5))
    after = evaluate(model, phi, learner.adapt, tasks)
    assert after.mean > before.mean + 0.1
    assert result.steps == 30 and result.tasks_seen == 120 and result.tasks_per_second > 0
    steps = [row["step"] for row in result.history.train]
    assert steps == [1, 5, 10, 15, 20, 25, 30]
    assert result.history.train[-1]["loss"] < result.history.train[0]["loss"]
    assert len(after.accuracies) == 40 and 0 <= after.ci95 < 0.2 and "95% CI" in str(after)


def test_evaluation_does_not_change_phi(synthetic_splits):
    model, phi, _, learner = _setup(synthetic_splits)
    before = {k: v.clone() for k, v in phi.items()}
    evaluate(model, phi, learner.adapt, FixedTaskSet(synthetic_splits.test, 3, 1, 2, num_tasks=5))
    assert all(torch.equal(before[k], phi[k]) for k in phi)


def test_evaluate_steps_continues_adaptation_exactly(synthetic_splits):
    model, phi, sampler, learner = _setup(synthetic_splits)
    meta_train(learner, phi, sampler.sample, TrainConfig(meta_batch_size=2, steps=5,
                                                          progress=False))
    tasks = FixedTaskSet(synthetic_splits.test, 3, 1, 5, num_tasks=12)
    by_steps = evaluate_steps(model, phi, learner.adapt, tasks, [3, 0, 1])
    assert list(by_steps) == [0, 1, 3]
    for k, res in by_steps.items():
        alone = evaluate(model, phi, learner.adapt, tasks, steps=k)
        assert res.steps == k and torch.allclose(res.accuracies, alone.accuracies)
    assert not torch.equal(by_steps[0].accuracies, by_steps[3].accuracies)
    with pytest.raises(ValueError, match="non-negative"):
        evaluate_steps(model, phi, learner.adapt, tasks, [-1])


def test_same_seed_same_training_same_accuracy(synthetic_splits):
    def once():
        model, phi, sampler, learner = _setup(synthetic_splits, seed=3)
        meta_train(learner, phi, sampler.sample, TrainConfig(meta_batch_size=2, steps=6,
                                                              progress=False))
        tasks = FixedTaskSet(synthetic_splits.test, 3, 1, 3, num_tasks=20)
        return phi, evaluate(model, phi, learner.adapt, tasks)
    (p1, e1), (p2, e2) = once(), once()
    assert all(torch.equal(p1[k], p2[k]) for k in p1)
    assert torch.equal(e1.accuracies, e2.accuracies)


def test_checkpoint_resume_equals_uninterrupted_run(synthetic_splits, tmp_path):
    model, phi, sampler, learner = _setup(synthetic_splits, seed=1)
    meta_train(learner, phi, sampler.sample, TrainConfig(meta_batch_size=2, steps=6,
                                                          progress=False))
    model2, phi2, sampler2, learner2 = _setup(synthetic_splits, seed=1)
    ckpt = str(tmp_path / "run.ckpt")
    meta_train(learner2, phi2, sampler2.sample,
               TrainConfig(meta_batch_size=2, steps=3, progress=False, checkpoint_path=ckpt),
               sampler_state=sampler2)
    model3, phi3, sampler3, learner3 = _setup(synthetic_splits, seed=99)  # a fresh process
    res = meta_train(learner3, phi3, sampler3.sample,
                     TrainConfig(meta_batch_size=2, steps=6, progress=False),
                     resume_from=ckpt, sampler_state=sampler3)
    assert res.steps == 6 and res.tasks_seen == 12
    assert all(torch.allclose(phi[k], phi3[k], atol=1e-6) for k in phi)


def test_validation_history_and_log_file(synthetic_splits, tmp_path):
    model, phi, sampler, learner = _setup(synthetic_splits)
    val = FixedTaskSet(synthetic_splits.val, 2, 1, 2, num_tasks=6)
    log = tmp_path / "log.jsonl"
    res = meta_train(learner, phi, sampler.sample,
                     TrainConfig(meta_batch_size=2, steps=4, val_every=2, progress=False,
                                 log_every=2, log_path=str(log)), val_tasks=val)
    assert [r["step"] for r in res.history.val] == [2, 4]
    assert all(0 <= r["val_accuracy"] <= 1 for r in res.history.val)
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert {r["kind"] for r in rows} == {"train", "val"} and len(rows) == 5


def test_minutes_budget_stops_training(synthetic_splits):
    model, phi, sampler, learner = _setup(synthetic_splits)
    res = meta_train(learner, phi, sampler.sample,
                     TrainConfig(meta_batch_size=2, minutes=0.02, progress=False))
    assert res.steps >= 1 and res.train_seconds < 5


def test_all_reference_algorithms_plug_into_the_skeleton(synthetic_splits):
    for algo, opt in [("fomaml", "adam"), ("anil", "adam"), ("reptile", "sgd"),
                      ("pretrain", "adam")]:
        model, phi, sampler, learner = _setup(synthetic_splits, algo)
        before = {k: v.clone() for k, v in phi.items()}
        meta_train(learner, phi, sampler.sample,
                   TrainConfig(meta_batch_size=2, steps=2, optimizer=opt, progress=False))
        assert any(not torch.equal(before[k], phi[k]) for k in phi), algo


def test_skeleton_gives_clear_errors(synthetic_splits):
    model, phi, sampler, _ = _setup(synthetic_splits)
    adapt = lambda p, x, y, k: p
    with pytest.raises(ValueError, match="exactly one"):
        MetaLearner(model, adapt)
    detached = MetaLearner(model, adapt, meta_loss=lambda p, b: torch.tensor(1.0))
    with pytest.raises(RuntimeError, match="no graph back to φ"):
        outer_gradient(detached, phi, sampler.sample(1))
    nan = MetaLearner(model, adapt, meta_loss=lambda p, b: p["head.bias"].sum() * float("nan"))
    with pytest.raises(FloatingPointError, match="diverged"):
        meta_train(nan, phi, sampler.sample, TrainConfig(steps=2, progress=False))
    with pytest.raises(ValueError, match="budget"):
        TrainConfig()
