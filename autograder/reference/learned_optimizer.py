"""``train --algo lstm-opt``: the learned optimizer of the third assignment (Andrychowicz et
al., 2016), meta-trained from the reference answers (``unrolled_loss``) on random quadratics
and compared on held-out problems with SGD and Adam tuned on training problems — the
notebook's Part 1 as a command, with a JSON report."""

from __future__ import annotations

import time

import torch

from hwlib.learned_optimizer import (CoordinateLSTM, hand_designed, initial_theta, learned,
                                     loss_curves, meta_train_optimizer, sample_quadratics,
                                     tune_learning_rate)
from hwlib.models import init_params

from autograder.assignments.hypergradients.answers import unrolled_loss

GRIDS = {"sgd": (0.001, 0.003, 0.01, 0.03), "adam": (0.01, 0.03, 0.1, 0.3, 1.0)}
AT = (20, 100, 200)  # the training horizon is 100: step 200 is twice it


def run_lstm_optimizer(spec, **_) -> dict:
    """Meta-train an LSTM (seed ``spec.seed``) for ``spec.steps`` meta-steps (default 300)
    with η = ``spec.meta_lr``; the mean loss on 128 held-out quadratics at steps 20, 100 and
    200 against the tuned SGD and Adam (run it once per seed)."""
    seeds = [spec.seed]
    steps = spec.steps or 300
    test = sample_quadratics(128, seed=10_000)
    theta0 = initial_theta(test, seed=10_000)
    learned_at, seconds = {t: [] for t in AT}, []
    for seed in seeds:
        net = CoordinateLSTM()
        phi = {k: v.requires_grad_(True) for k, v in init_params(net, seed).items()}
        start = time.perf_counter()
        meta_train_optimizer(unrolled_loss, net, phi, steps=steps, meta_lr=spec.meta_lr,
                             seed=seed)
        seconds.append(time.perf_counter() - start)
        curve = loss_curves(learned(net, phi, unrolled_loss), test, theta0, max(AT))
        for t in AT:
            learned_at[t].append(curve[t - 1].item())
    tuned = {kind: tune_learning_rate(kind, grid) for kind, grid in GRIDS.items()}
    baselines = {kind: loss_curves(hand_designed(kind, lr), test, theta0, max(AT))
                 for kind, lr in tuned.items()}
    return {
        "algo": spec.algo, "seeds": list(seeds), "meta_steps": steps, "meta_lr": spec.meta_lr,
        "train_seconds": [round(s, 1) for s in seconds], "tuned_lr": tuned,
        "loss_at_step": {str(t): {"learned": [round(v, 4) for v in learned_at[t]],
                                  **{k: round(c[t - 1].item(), 4) for k, c in baselines.items()}}
                         for t in AT},
        "torch": torch.__version__, "threads": torch.get_num_threads(),
    }
