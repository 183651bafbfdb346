"""MAML, first-order MAML, ANIL, Reptile and multi-task pretraining as hwlib MetaLearners."""

from __future__ import annotations

from functools import partial

import torch
from torch import nn

from hwlib.learner import MetaLearner
from hwlib.models import Params, split_body_head
from hwlib.tasks import TaskBatch

from .inner_loop import adapted_query_loss, inner_loop, task_loss


def _mean_over_tasks(model: nn.Module, phi: Params, batch: TaskBatch, alpha: float, steps: int,
                     create_graph: bool, names=None) -> tuple[torch.Tensor, torch.Tensor]:
    losses, accs = zip(*(adapted_query_loss(model, phi, task, alpha, steps, create_graph, names)
                         for task in batch))
    return torch.stack(losses).mean(), torch.stack(accs).mean()


def make_maml(model: nn.Module, alpha: float = 0.4, steps: int = 1,
              first_order: bool = False) -> MetaLearner:
    """MAML: meta-loss (1/B) Σ_i l_query_i(φ − α∇φ l_support_i(φ)), differentiated through the
    inner loop (second order), or with ∂θ̂/∂φ ≈ I when ``first_order``."""
    meta_loss = partial(_mean_over_tasks, model, alpha=alpha, steps=steps,
                        create_graph=not first_order)
    adapt = lambda phi, x, y, k: inner_loop(model, phi, x, y, alpha, k, create_graph=False)
    return MetaLearner(model, adapt, meta_loss=meta_loss,
                       name="fomaml" if first_order else "maml")


def make_anil(model: nn.Module, alpha: float = 0.4, steps: int = 1) -> MetaLearner:
    """ANIL: MAML whose inner loop adapts only the head; the body is learned in the outer loop."""
    head = list(split_body_head(dict(model.named_parameters()))[1])
    meta_loss = partial(_mean_over_tasks, model, alpha=alpha, steps=steps, create_graph=True,
                        names=head)
    adapt = lambda phi, x, y, k: inner_loop(model, phi, x, y, alpha, k, create_graph=False,
                                            names=head)
    return MetaLearner(model, adapt, meta_loss=meta_loss, name="anil")


def make_reptile(model: nn.Module, alpha: float = 0.4, steps: int = 5) -> MetaLearner:
    """Reptile: θ̂_i = SGD on task i (support ∪ query) for ``steps`` steps; the update direction
    is the mean of φ − θ̂_i, so an SGD outer step with rate ε gives φ ← φ + ε·mean(θ̂_i − φ)."""

    def meta_gradient(phi: Params, batch: TaskBatch):
        total = {k: torch.zeros_like(v) for k, v in phi.items()}
        losses = []
        for task in batch:
            x = torch.cat([task.x_support, task.x_query])
            y = torch.cat([task.y_support, task.y_query])
            theta = inner_loop(model, phi, x, y, alpha, steps, create_graph=False)
            for k in total:
                total[k] += (phi[k] - theta[k]).detach()
            with torch.no_grad():
                losses.append(task_loss(model, theta, x, y))
        return {k: v / len(batch) for k, v in total.items()}, torch.stack(losses).mean()

    adapt = lambda phi, x, y, k: inner_loop(model, phi, x, y, alpha, k, create_graph=False)
    return MetaLearner(model, adapt, meta_gradient=meta_gradient, name="reptile")


def make_pretrain(model: nn.Module, alpha: float = 0.4, steps: int = 1) -> MetaLearner:
    """Multi-task pretraining baseline: minimise the loss of φ itself on every task,
    (1/B) Σ_i l_i(φ) — no inner loop during training; fine-tune on the support set at test."""

    def meta_loss(phi: Params, batch: TaskBatch):
        losses = [task_loss(model, phi, t.x_query, t.y_query) for t in batch]
        return torch.stack(losses).mean()

    adapt = lambda phi, x, y, k: inner_loop(model, phi, x, y, alpha, k, create_graph=False)
    return MetaLearner(model, adapt, meta_loss=meta_loss, name="pretrain")


ALGORITHMS = {"maml": make_maml, "fomaml": partial(make_maml, first_order=True),
              "anil": make_anil, "reptile": make_reptile, "pretrain": make_pretrain}


def make_learner(algo: str, model: nn.Module, alpha: float, steps: int) -> MetaLearner:
    """The reference MetaLearner called ``algo`` (one of :data:`ALGORITHMS`)."""
    if algo not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algo!r}; choose from {sorted(ALGORITHMS)}")
    return ALGORITHMS[algo](model, alpha=alpha, steps=steps)
