"""The contract between the skeleton (outer loop, evaluation) and an algorithm's own pieces.

A meta-learning algorithm is described by two functions:

* **inner loop** — ``adapt(φ, x_support, y_support, steps) -> θ̂``: starting from the
  initialisation φ, take ``steps`` gradient steps on the support loss,
  θ ← θ − α ∇θ l_support(θ), and return the adapted parameters θ̂ (a dict);
* **outer objective**, one of
  - ``meta_loss(φ, batch) -> loss`` or ``(loss, accuracy)``: the meta-loss averaged over the
    tasks of the meta-batch, (1/B) Σ_i l_query_i(θ̂_i(φ)), differentiable w.r.t. φ; the
    skeleton takes its gradient; or
  - ``meta_gradient(φ, batch) -> (grads, loss[, accuracy])``: the meta-update direction
    itself (e.g. Reptile's φ − θ̂, averaged over tasks), a dict like φ.

The skeleton then applies the outer update with the meta-optimizer (Adam with meta learning
rate η by default): φ ← φ − η · update(∇φ).

In the notebook you write these pieces in the lecture's form — ``inner_update(model, θ, x, y,
α, create_graph)`` and ``maml_meta_loss(model, φ, batch, α, steps)`` — and
:meth:`MetaLearner.from_answers` is the one bridge from that form to the skeleton's.  The
learner then holds the inner learning rate α and the number of inner steps in plain sight
(``learner.alpha``, ``learner.inner_steps``): its inner loop and meta-loss read them on every
call, the outer loop logs α next to η, and evaluation uses the same α.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Optional

import torch
from torch import nn

from .evaluate import AdaptFn, EvalResult, evaluate
from .models import Params, task_loss
from .tasks import FixedTaskSet, TaskBatch

MetaLossFn = Callable[[Params, TaskBatch], object]
MetaGradientFn = Callable[[Params, TaskBatch], tuple]
EvaluateFn = Callable[[Params, FixedTaskSet, int], EvalResult]


def inner_loop(inner_update: Callable, model: nn.Module, alpha: float) -> AdaptFn:
    """The inner loop made of ``inner_update``: θ̂ = U^k(φ), U(θ) = inner_update(model, θ, x, y, α).

    Returns ``adapt(φ, x, y, k)``, the skeleton's form; ``k = 0`` returns φ itself.
    """
    def adapt(phi: Params, x: torch.Tensor, y: torch.Tensor, steps: int) -> Params:
        theta = phi
        for _ in range(steps):
            theta = inner_update(model, theta, x, y, alpha)
        return theta
    return adapt


def pretrain_loss(model: nn.Module, phi: Params, batch: TaskBatch, alpha: float = 0.0,
                  steps: int = 0) -> torch.Tensor:
    """Multi-task pretraining: (1/B) Σ_i l_query_i(φ), the loss of φ itself — no inner loop
    (``alpha`` and ``steps`` are accepted so that it plugs in wherever a meta-loss does)."""
    return torch.stack([task_loss(model, phi, t.x_query, t.y_query) for t in batch]).mean()


@dataclass
class MetaLearner:
    """An algorithm plugged into the skeleton: a model, an inner loop and an outer objective.

    ``alpha`` and ``inner_steps`` are for the reader and the logs when you build the learner
    yourself; :meth:`from_answers` makes them the values the functions actually use.
    ``evaluate_tasks(φ, tasks, steps)``, when given, is a faster evaluation with the same
    result as :func:`hwlib.evaluate.evaluate` (e.g. all tasks of a batch adapted at once).
    """

    model: nn.Module
    adapt: AdaptFn
    meta_loss: Optional[MetaLossFn] = None
    meta_gradient: Optional[MetaGradientFn] = None
    name: str = "meta-learner"
    alpha: Optional[float] = None
    inner_steps: int = 1
    evaluate_tasks: Optional[EvaluateFn] = None

    def __post_init__(self) -> None:
        if (self.meta_loss is None) == (self.meta_gradient is None):
            raise ValueError("give exactly one of meta_loss (the skeleton differentiates it) or "
                             "meta_gradient (you return the update direction)")

    @classmethod
    def from_answers(cls, model: nn.Module, alpha: float, *, name: str,
                     inner_update: Optional[Callable] = None, adapt: Optional[Callable] = None,
                     meta_loss: Optional[Callable] = None,
                     meta_gradient: Optional[Callable] = None, inner_steps: int = 1,
                     evaluate_tasks: Optional[Callable] = None) -> "MetaLearner":
        """A learner from functions written in the lecture's form.

        Inner loop: ``inner_update(model, θ, x, y, α)`` repeated (see :func:`inner_loop`), or
        ``adapt(model, φ, x, y, α, steps)`` (e.g. ANIL's head-only loop).  Outer objective:
        ``meta_loss(model, φ, batch, α, steps)`` (e.g. :func:`pretrain_loss`) or
        ``meta_gradient(model, φ, batch, α, steps)``.  Optional batched evaluation:
        ``evaluate_tasks(model, φ, tasks, α, steps)``.  α and the inner steps are read from the
        learner on every call: ``learner.alpha = 0.1`` changes the inner loop, the meta-loss
        and the evaluation together.
        """
        if (inner_update is None) == (adapt is None):
            raise ValueError("give exactly one of inner_update (repeated `steps` times) or "
                             "adapt (the whole inner loop)")
        if (meta_loss is None) == (meta_gradient is None):
            raise ValueError("give exactly one of meta_loss or meta_gradient")

        def adapt_fn(phi: Params, x: torch.Tensor, y: torch.Tensor, steps: int) -> Params:
            if adapt is not None:
                return adapt(model, phi, x, y, learner.alpha, steps)
            return inner_loop(inner_update, model, learner.alpha)(phi, x, y, steps)

        def outer(fn: Optional[Callable]) -> Optional[Callable]:
            if fn is None:
                return None
            return lambda phi, batch: fn(model, phi, batch, learner.alpha, learner.inner_steps)

        def evaluate_fn(phi: Params, tasks: FixedTaskSet, steps: int) -> EvalResult:
            return evaluate_tasks(model, phi, tasks, learner.alpha, steps)

        learner = cls(model, adapt_fn, meta_loss=outer(meta_loss),
                      meta_gradient=outer(meta_gradient), name=name, alpha=alpha,
                      inner_steps=inner_steps,
                      evaluate_tasks=None if evaluate_tasks is None else evaluate_fn)
        return learner

    def evaluate(self, phi: Params, tasks: FixedTaskSet, steps: int,
                 device: torch.device | str | None = None, progress: bool = False) -> EvalResult:
        """Adapt φ on every task's support set (``steps`` inner steps), score the query sets."""
        if self.evaluate_tasks is not None:
            return self.evaluate_tasks(phi, tasks, steps)
        return evaluate(self.model, phi, self.adapt, tasks, steps, device=device,
                        progress=progress)

    def describe(self) -> str:
        """One line for logs: the name and, when known, α and the inner steps."""
        if self.alpha is None:
            return self.name
        return f"{self.name} (α = {self.alpha:g}, {self.inner_steps} inner step" \
               f"{'s' * (self.inner_steps != 1)})"


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
