"""The inner loop (within-task adaptation) and the per-task meta-losses — reference answers."""

from __future__ import annotations

from typing import Iterable, Optional

import torch
import torch.nn.functional as F
from torch import nn

from hwlib.evaluate import accuracy
from hwlib.models import Params, forward


def task_loss(model: nn.Module, params: Params, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy for class labels (long ``y``), mean squared error for regression."""
    out = forward(model, params, x)
    return F.cross_entropy(out, y) if y.dtype == torch.long else F.mse_loss(out, y)


def inner_loop(model: nn.Module, phi: Params, x_support: torch.Tensor, y_support: torch.Tensor,
               alpha: float, steps: int = 1, create_graph: bool = True,
               names: Optional[Iterable[str]] = None) -> Params:
    """θ̂: ``steps`` steps of θ ← θ − α ∇θ l_support(θ) from θ = φ, on the parameters ``names``.

    ``create_graph=True`` keeps the graph of each step, so θ̂ is differentiable w.r.t. φ to
    second order (MAML); ``False`` treats the inner gradients as constants (first-order MAML:
    ∂θ̂/∂φ = I).
    """
    names = list(phi) if names is None else list(names)
    theta = dict(phi)
    for _ in range(steps):
        loss = task_loss(model, theta, x_support, y_support)
        grads = torch.autograd.grad(loss, [theta[k] for k in names], create_graph=create_graph)
        theta.update({k: theta[k] - alpha * g for k, g in zip(names, grads)})
    return theta


def adapted_query_loss(model: nn.Module, phi: Params, task, alpha: float, steps: int,
                       create_graph: bool, names: Optional[Iterable[str]] = None
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """l_query(θ̂) of one task and the query accuracy of θ̂ (nan for regression)."""
    theta = inner_loop(model, phi, task.x_support, task.y_support, alpha, steps, create_graph,
                       names)
    out = forward(model, theta, task.x_query)
    if task.y_query.dtype == torch.long:
        return F.cross_entropy(out, task.y_query), accuracy(out.detach(), task.y_query)
    return F.mse_loss(out, task.y_query), torch.tensor(float("nan"))
