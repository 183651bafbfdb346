"""The contract between the skeleton (outer loop, evaluation) and an algorithm's own pieces.

A meta-learning algorithm is described by two functions that *you* write:

* **inner loop** — ``adapt(φ, x_support, y_support, steps) -> θ̂``: starting from the
  initialisation φ, take ``steps`` gradient steps on the support loss,
  θ ← θ − α ∇θ l_support(θ), and return the adapted parameters θ̂ (a dict).
* **outer objective**, one of
  - ``meta_loss(φ, batch) -> loss`` or ``(loss, accuracy)``: the meta-loss averaged over the
    tasks of the meta-batch, (1/B) Σ_i l_query_i(θ̂_i(φ)), differentiable w.r.t. φ; the
    skeleton takes its gradient; or
  - ``meta_gradient(φ, batch) -> (grads, loss[, accuracy])``: the meta-update direction
    itself (e.g. Reptile's φ − θ̂, averaged over tasks), a dict like φ.

The skeleton then applies the outer update with the meta-optimizer (Adam with meta learning
rate η by default): φ ← φ − η · update(∇φ).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Optional

import torch
from torch import nn

from .tasks import TaskBatch

Params = dict[str, torch.Tensor]
AdaptFn = Callable[[Params, torch.Tensor, torch.Tensor, int], Params]
MetaLossFn = Callable[[Params, TaskBatch], object]
MetaGradientFn = Callable[[Params, TaskBatch], tuple]


@dataclass
class MetaLearner:
    """An algorithm plugged into the skeleton: a model, an inner loop and an outer objective."""

    model: nn.Module
    adapt: AdaptFn
    meta_loss: Optional[MetaLossFn] = None
    meta_gradient: Optional[MetaGradientFn] = None
    name: str = "meta-learner"

    def __post_init__(self) -> None:
        if (self.meta_loss is None) == (self.meta_gradient is None):
            raise ValueError("give exactly one of meta_loss (the skeleton differentiates it) or "
                             "meta_gradient (you return the update direction)")


def _as_float(x: object) -> float:
    return float(x.detach()) if isinstance(x, torch.Tensor) else float(x)


def outer_gradient(learner: MetaLearner, phi: Params,
                   batch: TaskBatch) -> tuple[Params, float, float]:
    """The meta-gradient of ``learner`` at φ on ``batch``, with the loss and query accuracy."""
    if learner.meta_loss is not None:
        out = learner.meta_loss(phi, batch)
        loss, acc = out if isinstance(out, tuple) else (out, float("nan"))
        if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
            raise TypeError(f"meta_loss must return a scalar tensor (or (loss, accuracy)), got "
                            f"{type(loss).__name__} {getattr(loss, 'shape', '')}")
        if not loss.requires_grad:
            raise RuntimeError("meta_loss returned a loss with no graph back to φ: compute it "
                               "from the dict phi you were given (no .detach(), no torch.no_grad)")
        names = [k for k, v in phi.items() if v.requires_grad]
        grads = torch.autograd.grad(loss, [phi[k] for k in names], allow_unused=True)
        grads = {k: torch.zeros_like(phi[k]) if g is None else g for k, g in zip(names, grads)}
        return grads, _as_float(loss), _as_float(acc)
    out = learner.meta_gradient(phi, batch)
    grads, loss, acc = (*out, float("nan")) if len(out) == 2 else out
    if not isinstance(grads, Mapping) or set(grads) - set(phi):
        raise TypeError("meta_gradient must return (grads, loss[, accuracy]) with grads a dict "
                        "whose keys are names of φ")
    return {k: g.detach() for k, g in grads.items()}, _as_float(loss), _as_float(acc)
