"""MAML, first-order MAML, ANIL, Reptile and multi-task pretraining as hwlib MetaLearners.

Two implementations of the same mathematics: ``impl="fast"`` (default) adapts the whole
meta-batch at once (:mod:`.fast`); ``impl="loop"`` is the per-task loop of the reference
answers in :mod:`.inner_loop` (the students' form).  Their meta-gradients are equal to
floating-point rounding (``tests/test_fast_path.py``).  Test-time adaptation (``adapt``) is
per task in both, as the skeleton's ``evaluate`` expects; :func:`.fast.evaluate_tasks` is the
batched evaluation.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn

from hwlib.learner import MetaLearner
from hwlib.models import Params, task_loss
from hwlib.tasks import TaskBatch

from . import fast
from .inner_loop import (adapt_steps, anil_adapt, fomaml_meta_loss, inner_update,
                         maml_meta_loss, reptile_meta_gradient)


def _full_adapt(model: nn.Module, alpha: float):
    update = lambda theta, x, y: inner_update(model, theta, x, y, alpha)
    return lambda phi, x, y, steps: adapt_steps(update, phi, x, y, steps)


IMPLS = ("fast", "loop")


def make_maml(model: nn.Module, alpha: float = 0.4, steps: int = 1,
              first_order: bool = False, impl: str = "fast") -> MetaLearner:
    """MAML (second order) or, with ``first_order``, FOMAML."""
    name = "fomaml" if first_order else "maml"
    if impl == "fast":
        return MetaLearner(model, _full_adapt(model, alpha), name=name, meta_gradient=partial(
            fast.meta_gradient, model, alpha=alpha, steps=steps, first_order=first_order))
    loss = partial(fomaml_meta_loss if first_order else maml_meta_loss, model, alpha=alpha,
                   steps=steps)
    return MetaLearner(model, _full_adapt(model, alpha), meta_loss=loss, name=name)


def anil_meta_loss(model: nn.Module, phi: Params, batch: TaskBatch, alpha: float,
                   steps: int = 1) -> torch.Tensor:
    """MAML's meta-loss with ANIL's head-only inner loop (second order through the head)."""
    losses = [task_loss(model, anil_adapt(model, phi, t.x_support, t.y_support, alpha, steps,
                                          create_graph=True), t.x_query, t.y_query)
              for t in batch]
    return torch.stack(losses).mean()


def make_anil(model: nn.Module, alpha: float = 0.4, steps: int = 1,
              impl: str = "fast") -> MetaLearner:
    """ANIL: the inner loop adapts only the head; the body is learned in the outer loop."""
    adapt = lambda phi, x, y, k: anil_adapt(model, phi, x, y, alpha, k)
    if impl == "fast":
        return MetaLearner(model, adapt, name="anil", meta_gradient=partial(
            fast.meta_gradient, model, alpha=alpha, steps=steps, head_only=True))
    return MetaLearner(model, adapt, meta_loss=partial(anil_meta_loss, model, alpha=alpha,
                                                       steps=steps), name="anil")


def make_reptile(model: nn.Module, alpha: float = 0.1, steps: int = 5,
                 impl: str = "fast") -> MetaLearner:
    """Reptile with plain-SGD inner steps; use the skeleton's SGD outer optimizer (rate ε)."""
    direction = fast.reptile_meta_gradient if impl == "fast" else reptile_meta_gradient
    return MetaLearner(model, _full_adapt(model, alpha),
                       meta_gradient=partial(direction, model, alpha=alpha, steps=steps),
                       name="reptile")


def pretrain_loss(model: nn.Module, phi: Params, batch: TaskBatch) -> torch.Tensor:
    """Multi-task pretraining: the loss of φ itself, averaged over tasks — no inner loop."""
    return torch.stack([task_loss(model, phi, t.x_query, t.y_query) for t in batch]).mean()


def make_pretrain(model: nn.Module, alpha: float = 0.4, steps: int = 1,
                  impl: str = "fast") -> MetaLearner:
    """The baseline: train φ on every task's loss directly; fine-tune on the support at test."""
    loss = fast.pretrain_loss if impl == "fast" else pretrain_loss
    return MetaLearner(model, _full_adapt(model, alpha), meta_loss=partial(loss, model),
                       name="pretrain")


ALGORITHMS = {"maml": make_maml, "fomaml": partial(make_maml, first_order=True),
              "anil": make_anil, "reptile": make_reptile, "pretrain": make_pretrain}


def make_learner(algo: str, model: nn.Module, alpha: float, steps: int,
                 impl: str = "fast") -> MetaLearner:
    """The reference MetaLearner called ``algo`` (one of :data:`ALGORITHMS`)."""
    if algo not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algo!r}; choose from {sorted(ALGORITHMS)}")
    if impl not in IMPLS:
        raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")
    return ALGORITHMS[algo](model, alpha=alpha, steps=steps, impl=impl)

