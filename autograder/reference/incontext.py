"""``train --algo incontext``: the third assignment's in-context learner — a transformer that
reads the support set and outputs the query logits — meta-trained from the reference answers
(``incontext_logits``) on Omniglot N-way K-shot episodes and scored on the fixed meta-test
tasks, with its accuracy-against-time curve (the notebook's Part 4 as a command)."""

from __future__ import annotations

import time

import torch

from hwlib.device import default_device
from hwlib.incontext import (InContextLearner, evaluate_incontext, init_incontext,
                             meta_train_incontext)
from hwlib.splits import omniglot_splits
from hwlib.tasks import EpisodeSampler, FixedTaskSet

from autograder.assignments.hypergradients.answers import incontext_logits

Q_QUERY = 3     # queries per class in the training episodes (the notebook's recipe)
META_BATCH = 4  # episodes per meta-step


def run_incontext(spec, root=None, cache_dir=None, download: bool = False) -> dict:
    """Meta-train for ``spec.minutes`` (or ``spec.steps``) with η = ``spec.meta_lr`` annealed,
    scoring φ on ``spec.test_tasks`` fixed tasks every minute of training."""
    device = default_device(spec.device)
    splits = omniglot_splits(root, spec.image_size, spec.val_characters, cache_dir=cache_dir,
                             download=download, progress=False)
    model = InContextLearner(n_way=spec.n_way, image_size=spec.image_size).to(device)
    phi = init_incontext(model, spec.seed)
    episodes = EpisodeSampler(splits.train, spec.n_way, spec.k_shot, Q_QUERY,
                              rotations=spec.rotations, device=device, seed=spec.seed)
    test = FixedTaskSet(splits.test, spec.n_way, spec.k_shot, spec.test_query, spec.test_tasks)
    started = time.perf_counter()
    curve = meta_train_incontext(model, phi, incontext_logits, episodes,
                                 seconds=spec.minutes * 60 if spec.minutes else None,
                                 steps=spec.steps, lr=spec.meta_lr, meta_batch=META_BATCH,
                                 eval_every_s=60, eval_tasks=test, log=None)
    final = evaluate_incontext(model, phi, incontext_logits, test)
    return {"algo": spec.algo, "n_way": spec.n_way, "k_shot": spec.k_shot,
            "test_accuracy": round(final.mean, 4), "ci95": round(final.ci95, 4),
            "test_tasks": len(test), "train_seconds": curve[-1][0] if curve else 0.0,
            "wall_seconds": round(time.perf_counter() - started, 1),
            "curve": [[s, round(a, 4), round(c, 4)] for s, a, c in curve],
            "meta_lr": spec.meta_lr, "meta_batch": META_BATCH, "q_query": Q_QUERY,
            "parameters": sum(v.numel() for v in phi.values()), "device": str(device),
            "torch": torch.__version__, "threads": torch.get_num_threads()}
