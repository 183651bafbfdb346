"""Learned learning rates: Meta-SGD in the skeleton (Li et al., 2017).

Meta-SGD learns one inner learning rate per element of φ: θ̂ = φ − α ⊙ ∇φ l_support(φ).  The
skeleton's outer loop optimises one dict, so the learned α travels in it under the prefix
``alpha/`` (:func:`pack` and :func:`unpack`); :func:`metasgd_learner` plugs the student's
step and meta-loss into a :class:`~hwlib.learner.MetaLearner`.
"""

from __future__ import annotations

from typing import Callable, Mapping, Optional

import torch
from torch import nn

from .learner import MetaLearner
from .models import Params
from .tasks import TaskBatch

ALPHA_PREFIX = "alpha/"


def init_alphas(phi: Mapping[str, torch.Tensor], value: float) -> Params:
    """Meta-SGD's α: one learning rate per element of φ, all equal to ``value`` at the start."""
    return {k: torch.full_like(v, value).detach().requires_grad_(True) for k, v in phi.items()}


def pack(phi: Mapping[str, torch.Tensor], alphas: Mapping[str, torch.Tensor]) -> Params:
    """φ and α in one dict (α under ``alpha/<name>``): what the outer loop optimises."""
    if set(phi) != set(alphas):
        raise KeyError("alphas must have exactly φ's names (one learning rate per tensor of φ)")
    return {**phi, **{ALPHA_PREFIX + k: v for k, v in alphas.items()}}


def unpack(params: Mapping[str, torch.Tensor]) -> tuple[Params, Params]:
    """``(φ, α)`` from a dict made by :func:`pack`."""
    phi = {k: v for k, v in params.items() if not k.startswith(ALPHA_PREFIX)}
    alphas = {k[len(ALPHA_PREFIX):]: v for k, v in params.items() if k.startswith(ALPHA_PREFIX)}
    return phi, alphas


def metasgd_learner(model: nn.Module, *, inner_update: Callable, meta_loss: Callable,
                    name: str = "metasgd", inner_steps: int = 1,
                    meta_gradient: Optional[Callable] = None,
                    evaluate_tasks: Optional[Callable] = None) -> MetaLearner:
    """Meta-SGD: the outer loop learns φ and the per-element learning rates α, packed in
    one dict (:func:`pack`).  ``inner_update(model, θ, α, x, y, create_graph)`` is one step
    θ − α ⊙ ∇θ l(θ); ``meta_loss(model, φ, α, batch, steps)`` (or, instead, a faster
    ``meta_gradient(params, batch)`` of the same meta-loss)."""
    def adapt(params: Params, x: torch.Tensor, y: torch.Tensor, steps: int) -> Params:
        theta, alphas = unpack(params)
        for _ in range(steps):
            theta = inner_update(model, theta, alphas, x, y, False)  # no second order
        return theta

    def outer(params: Params, batch: TaskBatch):
        return meta_loss(model, *unpack(params), batch, learner.inner_steps)

    learner = MetaLearner(model, adapt, meta_loss=None if meta_gradient else outer,
                          meta_gradient=meta_gradient, name=name, inner_steps=inner_steps,
                          evaluate_tasks=evaluate_tasks)
    return learner
