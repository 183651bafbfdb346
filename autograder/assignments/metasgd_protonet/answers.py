"""The reference answers of the second assignment (Meta-SGD and prototypical networks),
with the students' signatures — INSTRUCTOR SIDE.

The solution notebook's solution cells hold exactly these functions
(``tests/test_assignment.py`` keeps them equal).  Notation of the lecture: φ the
initialisation (or the embedding's parameters), α the inner learning rates, θ̂ the adapted
parameters, support/query sets, c_k the prototype of class k.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hwlib.protonet import embed
from hwlib.models import Params, task_loss
from hwlib.tasks import TaskBatch


def metasgd_inner_update(model: nn.Module, params: Params, alphas: Params, x: torch.Tensor,
                         y: torch.Tensor, create_graph: bool = True) -> Params:
    """One Meta-SGD step: θ' = θ − α ⊙ ∇θ l(θ), with one learning rate per element of θ."""
    loss = task_loss(model, params, x, y)
    grads = torch.autograd.grad(loss, list(params.values()), create_graph=create_graph)
    return {name: p - alphas[name] * g for (name, p), g in zip(params.items(), grads)}


def metasgd_meta_loss(model: nn.Module, phi: Params, alphas: Params, batch: TaskBatch,
                      steps: int = 1) -> torch.Tensor:
    """(1/B) Σ_i l_query_i(θ̂_i(φ, α)): differentiable w.r.t. φ and α (second order)."""
    losses = []
    for task in batch:
        theta = phi
        for _ in range(steps):
            theta = metasgd_inner_update(model, theta, alphas, task.x_support, task.y_support,
                                         create_graph=True)
        losses.append(task_loss(model, theta, task.x_query, task.y_query))
    return torch.stack(losses).mean()


def prototypes(embeddings: torch.Tensor, labels: torch.Tensor, n_way: int) -> torch.Tensor:
    """c_k = (1/|S_k|) Σ_{(x, y) ∈ S, y = k} f_φ(x): ``[n_way, d]``, row k for label k."""
    return torch.stack([embeddings[labels == k].mean(dim=0) for k in range(n_way)])


def protonet_logits(query_embeddings: torch.Tensor, prototypes: torch.Tensor) -> torch.Tensor:
    """−‖f_φ(x) − c_k‖² for every query x and class k: ``[n_query, n_way]``."""
    differences = query_embeddings[:, None, :] - prototypes[None, :, :]
    return -(differences ** 2).sum(dim=-1)


def protonet_loss(model: nn.Module, phi: Params, batch: TaskBatch) -> torch.Tensor:
    """(1/B) Σ_i CE(−‖f_φ(x_query) − c‖², y_query) with the prototypes c of task i's support."""
    losses = []
    for task in batch:
        n_way = int(task.y_support.max()) + 1
        c = prototypes(embed(model, phi, task.x_support), task.y_support, n_way)
        logits = protonet_logits(embed(model, phi, task.x_query), c)
        losses.append(F.cross_entropy(logits, task.y_query))
    return torch.stack(losses).mean()
