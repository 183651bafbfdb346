"""MAML, first-order MAML, ANIL, Reptile and multi-task pretraining as hwlib MetaLearners.

Each is built with :meth:`hwlib.MetaLearner.from_answers` from the reference answers
(:mod:`.answers`, the students' form) — the same bridge the notebook uses — so α
(``learner.alpha``) and the inner steps are visible on the learner.  Two implementations of
the same mathematics: ``impl="fast"`` (default) adapts the whole meta-batch at once
(:mod:`.fast`) and evaluates the test tasks in batches; ``impl="loop"`` is the per-task loop of
the answers and the skeleton's per-task evaluation.  Their meta-gradients are equal to
floating-point rounding (``tests/test_fast_path.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

import torch
from torch import nn

from hwlib.learner import MetaLearner, pretrain_loss
from hwlib.models import Params, detach_params, init_params, split_body_head, task_loss
from hwlib.tasks import TaskBatch

from hwlib.metasgd import init_alphas, metasgd_learner, pack, unpack
from hwlib.protonet import protonet_learner

from . import fast, fast_protonet
from .incontext import run_incontext
from .learned_optimizer import run_lstm_optimizer
from autograder.assignments.metalearning.answers import (anil_adapt, fomaml_meta_loss,
                                                         inner_update, maml_meta_loss,
                                                         reptile_meta_gradient)
from autograder.assignments.metasgd_protonet.answers import (metasgd_inner_update,
                                                             metasgd_meta_loss, protonet_loss,
                                                             prototypes)

IMPLS = ("fast", "loop")


def _learner(name: str, model: nn.Module, alpha: float, steps: int, impl: str, *, loop: dict,
             quick: dict, adapt=None, head_only: bool = False) -> MetaLearner:
    """The learner ``name``: its outer objective from ``loop`` (``impl="loop"``) or ``quick``
    (``impl="fast"``, with the batched evaluation); its inner loop is ``inner_update``
    repeated, or ``adapt``."""
    inner = {"inner_update": inner_update} if adapt is None else {"adapt": adapt}
    evaluate = partial(fast.evaluate_tasks, head_only=head_only) if impl == "fast" else None
    return MetaLearner.from_answers(model, alpha, name=name, inner_steps=steps,
                                    evaluate_tasks=evaluate, **inner,
                                    **(quick if impl == "fast" else loop))


def make_maml(model: nn.Module, alpha: float, steps: int = 1,
              first_order: bool = False, impl: str = "fast") -> MetaLearner:
    """MAML (second order) or, with ``first_order``, FOMAML."""
    return _learner("fomaml" if first_order else "maml", model, alpha, steps, impl,
                    loop=dict(meta_loss=fomaml_meta_loss if first_order else maml_meta_loss),
                    quick=dict(meta_gradient=partial(fast.meta_gradient,
                                                     first_order=first_order)))


def anil_meta_loss(model: nn.Module, phi: Params, batch: TaskBatch, alpha: float,
                   steps: int = 1) -> torch.Tensor:
    """MAML's meta-loss with ANIL's head-only inner loop (second order through the head)."""
    losses = [task_loss(model, anil_adapt(model, phi, t.x_support, t.y_support, alpha, steps,
                                          create_graph=True), t.x_query, t.y_query)
              for t in batch]
    return torch.stack(losses).mean()


def make_anil(model: nn.Module, alpha: float, steps: int = 1,
              impl: str = "fast") -> MetaLearner:
    """ANIL: the inner loop adapts only the head; the body is learned in the outer loop."""
    return _learner("anil", model, alpha, steps, impl, adapt=anil_adapt, head_only=True,
                    loop=dict(meta_loss=anil_meta_loss),
                    quick=dict(meta_gradient=partial(fast.meta_gradient, head_only=True)))


def make_reptile(model: nn.Module, alpha: float, steps: int = 5,
                 impl: str = "fast") -> MetaLearner:
    """Reptile with plain-SGD inner steps; use the skeleton's SGD outer optimizer (rate ε)."""
    return _learner("reptile", model, alpha, steps, impl,
                    loop=dict(meta_gradient=reptile_meta_gradient),
                    quick=dict(meta_gradient=fast.reptile_meta_gradient))


def make_pretrain(model: nn.Module, alpha: float, steps: int = 1,
                  impl: str = "fast") -> MetaLearner:
    """The baseline: train φ on every task's loss directly; fine-tune on the support at test."""
    return _learner("pretrain", model, alpha, steps, impl, loop=dict(meta_loss=pretrain_loss),
                    quick=dict(meta_loss=fast.pretrain_loss))


def make_metasgd(model: nn.Module, alpha: float, steps: int = 1,
                 impl: str = "fast") -> MetaLearner:
    """Meta-SGD: φ and the per-element inner rates α (all ``alpha`` at the start) are learned
    together, packed in one dict (:func:`initial_params`).  ``learner.alpha`` stays None: the
    rates are learned and live in φ, so no single α describes the learner (``alpha`` here is only
    their start, :func:`initial_params`)."""
    def fast_gradient(params: Params, batch: TaskBatch):
        phi, alphas = unpack(params)
        return fast.meta_gradient(model, phi, batch, alphas, learner.inner_steps)

    def evaluate_fn(params: Params, tasks, steps: int):
        phi, alphas = unpack(params)
        return fast.evaluate_tasks(model, phi, tasks, detach_params(alphas), steps)

    learner = metasgd_learner(model, inner_update=metasgd_inner_update,
                              meta_loss=metasgd_meta_loss, inner_steps=steps,
                              meta_gradient=fast_gradient if impl == "fast" else None,
                              evaluate_tasks=evaluate_fn if impl == "fast" else None)
    return learner


def initial_params(algo: str, model: nn.Module, seed: int, alpha: float) -> Params:
    """The meta-parameters an algorithm learns, freshly initialised from ``seed``: φ (all
    algorithms), only the embedding's body (``protonet``), φ with α packed beside it
    (``metasgd``)."""
    phi = init_params(model, seed)
    if algo == "protonet":
        return split_body_head(phi)[0]
    if algo == "metasgd":
        return pack(phi, init_alphas(phi, alpha))
    return phi


def make_protonet(model: nn.Module, alpha: float = 0.0, steps: int = 0,
                  impl: str = "fast") -> MetaLearner:
    """A prototypical network: φ is the embedding (Conv4's body); no inner loop (α unused)."""
    if impl == "fast":
        return protonet_learner(
            model, prototypes=prototypes, loss=lambda m, phi, b: fast_protonet.protonet_loss(
                m, phi, b), evaluate_tasks=lambda phi, tasks, steps: fast_protonet.evaluate_tasks(
                    model, phi, tasks))
    return protonet_learner(model, prototypes=prototypes, loss=protonet_loss)


@dataclass(frozen=True)
class Algorithm:
    """One algorithm, one record: how its learner is built (``build(model, alpha, steps,
    impl)``: the reference answers behind a fast batched path and the per-task loop) and its
    recipe — what ``train`` and ``bench`` use by default, what the tiers train with.

    ``alpha`` is α, the inner learning rate of θ̂ = φ − α∇l (Meta-SGD: every learned rate's
    starting value; ProtoNet: no inner loop); ``meta_lr`` is η, the outer step size."""

    name: str
    build: Callable[..., MetaLearner] | None
    alpha: float
    inner_steps: int
    eval_inner_steps: int
    meta_lr: float = 1e-3
    optimizer: str = "adam"
    anneal: bool = False               # η annealed linearly to 0 over the budget (Reptile)
    train_shots: int | None = None     # training episodes with more shots than the test's
    bench: bool = False                # compared across implementations by ``bench``
    #: a learner that is no MetaLearner (φ an optimizer, a network that reads the support set):
    #: ``run(spec) -> report`` trains and evaluates it in ``train`` instead of the skeleton
    run: Callable[..., dict] | None = None

    def recipe(self) -> dict:
        """The training defaults (``train``'s ``RunSpec`` fields)."""
        out = dict(inner_lr=self.alpha, inner_steps=self.inner_steps,
                   eval_inner_steps=self.eval_inner_steps, meta_lr=self.meta_lr,
                   optimizer=self.optimizer)
        return {**out, **({"anneal": True} if self.anneal else {}),
                **({"train_shots": self.train_shots} if self.train_shots else {})}


ALGORITHMS = {a.name: a for a in (
    Algorithm("maml", make_maml, alpha=0.4, inner_steps=1, eval_inner_steps=3, bench=True),
    # α = 0.4 makes first-order MAML learn slowly here (about 50% against 86% with 0.1)
    Algorithm("fomaml", partial(make_maml, first_order=True), alpha=0.1, inner_steps=1,
              eval_inner_steps=3, bench=True),
    Algorithm("anil", make_anil, alpha=0.4, inner_steps=1, eval_inner_steps=3, bench=True),
    # the Reptile paper's recipe scaled to minutes: 5-shot training episodes, ε = 1 annealed
    # to 0, 10 test steps (71.8% → 78.3% in 3 minutes on 2 cores: docs/benchmarks.md)
    Algorithm("reptile", make_reptile, alpha=0.1, inner_steps=5, eval_inner_steps=10,
              meta_lr=1.0, optimizer="sgd", anneal=True, train_shots=5),
    Algorithm("pretrain", make_pretrain, alpha=0.4, inner_steps=1, eval_inner_steps=3),
    Algorithm("metasgd", make_metasgd, alpha=0.4, inner_steps=1, eval_inner_steps=1),
    Algorithm("protonet", make_protonet, alpha=0.0, inner_steps=0, eval_inner_steps=0),
    # the third assignment's learned optimizer: meta-trained on quadratics, not on Omniglot
    Algorithm("lstm-opt", None, alpha=0.0, inner_steps=0, eval_inner_steps=0, meta_lr=3e-3,
              run=run_lstm_optimizer),
    # the third assignment's in-context learner: a transformer reads the support set
    Algorithm("incontext", None, alpha=0.0, inner_steps=0, eval_inner_steps=0, meta_lr=1e-3,
              run=run_incontext, bench=True),
)}


def make_learner(algo: str, model: nn.Module, alpha: float, steps: int,
                 impl: str = "fast") -> MetaLearner:
    """The reference MetaLearner called ``algo`` (one of :data:`ALGORITHMS`)."""
    if algo not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algo!r}; choose from {sorted(ALGORITHMS)}")
    if impl not in IMPLS:
        raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")
    if ALGORITHMS[algo].build is None:
        raise ValueError(f"{algo} is not a MetaLearner: train it with "
                         f"`python -m autograder train --algo {algo}`")
    return ALGORITHMS[algo].build(model, alpha=alpha, steps=steps, impl=impl)
