"""Reference answers, with exactly the signatures the students implement in the notebook.

The solution notebook's solution cells hold the same code (``tests/test_assignment.py`` checks
that they match), so there is one answer, here.
"""

from __future__ import annotations

import torch
from torch import nn

from hwlib.models import Params, split_body_head, task_loss
from hwlib.tasks import TaskBatch


def inner_update(model: nn.Module, params: Params, x: torch.Tensor, y: torch.Tensor,
                 alpha: float, create_graph: bool = False) -> Params:
    """One inner step on (x, y): θ' = θ − α ∇θ l(θ), for every parameter."""
    loss = task_loss(model, params, x, y)
    grads = torch.autograd.grad(loss, list(params.values()), create_graph=create_graph)
    return {name: p - alpha * g for (name, p), g in zip(params.items(), grads)}


def outer_step(optimizer: torch.optim.Optimizer, meta_loss: torch.Tensor) -> float:
    """The outer update: one optimizer step on the gradient of this meta-loss.

    Contract (what is graded): when it returns, φ has taken exactly one ``optimizer.step()``
    on ∇φ of ``meta_loss`` alone — gradients left from earlier calls must not add in (clear
    them before ``backward()``, or after ``step()``; ``zero_grad()`` or ``p.grad = None``) —
    and the meta-loss is returned as a Python float.  What ``.grad`` holds afterwards is not
    graded."""
    optimizer.zero_grad()
    meta_loss.backward()
    optimizer.step()
    return meta_loss.item()


def maml_meta_loss(model: nn.Module, phi: Params, batch: TaskBatch, alpha: float,
                   steps: int = 1) -> torch.Tensor:
    """(1/B) Σ_i l_query_i(θ̂_i), θ̂_i = ``steps`` inner updates from φ on support_i, keeping
    the graph through the inner loop (second order)."""
    losses = []
    for task in batch:
        theta = phi
        for _ in range(steps):
            theta = inner_update(model, theta, task.x_support, task.y_support, alpha,
                                 create_graph=True)
        losses.append(task_loss(model, theta, task.x_query, task.y_query))
    return torch.stack(losses).mean()


def fomaml_meta_loss(model: nn.Module, phi: Params, batch: TaskBatch, alpha: float,
                     steps: int = 1) -> torch.Tensor:
    """First-order MAML: as :func:`maml_meta_loss` but with ∂θ̂/∂φ ≈ I (no graph through the
    inner gradients), so ∇φ of this loss is the query gradient at θ̂."""
    losses = []
    for task in batch:
        theta = phi
        for _ in range(steps):
            theta = inner_update(model, theta, task.x_support, task.y_support, alpha,
                                 create_graph=False)
        losses.append(task_loss(model, theta, task.x_query, task.y_query))
    return torch.stack(losses).mean()


def anil_adapt(model: nn.Module, phi: Params, x: torch.Tensor, y: torch.Tensor, alpha: float,
               steps: int = 1, create_graph: bool = False) -> Params:
    """ANIL's inner loop: ``steps`` gradient steps on the head only; the body stays at φ."""
    body, head = split_body_head(phi)
    for _ in range(steps):
        loss = task_loss(model, {**body, **head}, x, y)
        grads = torch.autograd.grad(loss, list(head.values()), create_graph=create_graph)
        head = {name: p - alpha * g for (name, p), g in zip(head.items(), grads)}
    return {**body, **head}


def reptile_meta_gradient(model: nn.Module, phi: Params, batch: TaskBatch, alpha: float,
                          steps: int = 5) -> tuple[Params, torch.Tensor]:
    """Reptile: θ̂_i = ``steps`` SGD steps on task i (support ∪ query); returns the direction
    (1/B) Σ_i (φ − θ̂_i) — an SGD outer step with rate ε gives φ ← φ + ε·mean(θ̂_i − φ) —
    and the mean task loss at θ̂."""
    direction = {name: torch.zeros_like(p) for name, p in phi.items()}
    losses = []
    for task in batch:
        x = torch.cat([task.x_support, task.x_query])
        y = torch.cat([task.y_support, task.y_query])
        theta = phi
        for _ in range(steps):
            theta = inner_update(model, theta, x, y, alpha)
        for name in direction:
            direction[name] += (phi[name] - theta[name]).detach() / len(batch)
        losses.append(task_loss(model, theta, x, y).detach())
    return direction, torch.stack(losses).mean()

