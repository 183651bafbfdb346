"""The reference algorithms on a whole meta-batch at once (the fast path).

Same mathematics as :mod:`.answers` — which keeps the students' one-task-at-a-time form —
but every task of the meta-batch is adapted together with :mod:`autograder.reference.batched`: θ is a dict of
``[B, *shape]`` tensors, θ_i = φ at the start, and one inner step for all tasks is

    θ ← θ − α ∇θ Σ_i l_support_i(θ_i)

(the sum's gradient w.r.t. θ_i is task i's own gradient).  The meta-loss is
(1/B) Σ_i l_query_i(θ̂_i); its gradient w.r.t. φ sums the per-task paths, as in the loop.
``tests/test_fast_path.py`` checks that values and meta-gradients equal the loop's.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from .batched import per_task, task_accuracies, task_losses, task_losses_and_accuracies
from hwlib.evaluate import EvalResult
from hwlib.models import Params, split_body_head
from hwlib.tasks import FixedTaskSet, TaskBatch


def adapt_tasks(model: nn.Module, phi: Params, x: torch.Tensor, y: torch.Tensor, alpha: float,
                steps: int, create_graph: bool = False, head_only: bool = False) -> Params:
    """θ̂ for every task: ``steps`` gradient steps from φ on ``(x [B, n, ...], y [B, n])``.

    ``create_graph`` keeps θ̂ a differentiable function of φ through the inner gradients
    (second order); without it θ̂ still depends on φ through θ = φ + (steps), i.e.
    ∂θ̂/∂φ = I (first order).  ``head_only`` is ANIL: the body stays at φ (shared).
    """
    b = x.shape[0]
    if head_only:
        shared, theta = split_body_head(phi)
        theta = per_task(theta, b)
    else:
        shared, theta = {}, per_task(phi, b)
    for _ in range(steps):
        loss = task_losses(model, {**shared, **theta}, x, y).sum()
        grads = torch.autograd.grad(loss, list(theta.values()), create_graph=create_graph)
        theta = {k: v - _rate(alpha, k) * g for (k, v), g in zip(theta.items(), grads)}
    return {**shared, **theta}


def _rate(alpha: float | Params, name: str):
    """α for the tensor ``name``: one number, or Meta-SGD's per-element rates (a dict like φ)."""
    return alpha[name] if isinstance(alpha, dict) else alpha


def meta_loss(model: nn.Module, phi: Params, batch: TaskBatch, alpha: float, steps: int = 1,
              first_order: bool = False, head_only: bool = False) -> tuple[torch.Tensor, float]:
    """MAML (second order), FOMAML (``first_order``) or ANIL (``head_only``, second order
    through the head): ``((1/B) Σ_i l_query_i(θ̂_i), mean query accuracy)``."""
    theta = adapt_tasks(model, phi, batch.x_support, batch.y_support, alpha, steps,
                        create_graph=not first_order, head_only=head_only)
    if batch.y_query.dtype != torch.long:  # regression: no accuracy
        return task_losses(model, theta, batch.x_query, batch.y_query).mean(), float("nan")
    losses, accs = task_losses_and_accuracies(model, theta, batch.x_query, batch.y_query)
    return losses.mean(), float(accs.mean())


#: images (support + query, all tasks) per pass of :func:`meta_gradient`.  Bigger passes
#: amortise per-call overhead; smaller ones keep BatchNorm's element-wise double backward in
#: cache.  160 was the fastest on 2 CPU cores for 5w1s q1 (16 tasks), 5w1s q15 (2) and 20w1s
#: q1 (4) — docs/benchmarks.md.
IMAGES_PER_PASS = 160


def tasks_per_pass(batch: TaskBatch, images: int = IMAGES_PER_PASS) -> int:
    """How many tasks of ``batch`` go through one pass: ``images`` // images per task, ≥ 1."""
    per_task = batch.x_support.shape[1] + batch.x_query.shape[1]
    return max(1, min(batch.x_support.shape[0], images // per_task))


def meta_gradient(model: nn.Module, phi: Params, batch: TaskBatch, alpha: float, steps: int = 1,
                  first_order: bool = False, head_only: bool = False,
                  images_per_pass: int = IMAGES_PER_PASS) -> tuple[Params, float, float]:
    """∇φ of :func:`meta_loss`, the meta-batch cut into passes of :func:`tasks_per_pass` tasks
    (with Meta-SGD's rates, ``alpha`` a dict like φ, also ∇α under ``alpha/<name>``).

    The meta-loss is an average over tasks, so its gradient is Σ_chunks (|c|/B) ∇φ L_c: each
    chunk's graph is freed before the next is built.  Returns ``(grads, loss, accuracy)``.
    """
    b, c = batch.x_support.shape[0], tasks_per_pass(batch, images_per_pass)
    wrt = {**phi, **({f"alpha/{k}": v for k, v in alpha.items()} if isinstance(alpha, dict)
                     else {})}  # Meta-SGD: also ∇α
    names = [k for k, v in wrt.items() if v.requires_grad]
    total, loss, acc = None, 0.0, 0.0
    for i in range(0, b, c):
        chunk_loss, chunk_acc = meta_loss(model, phi, batch[i:i + c], alpha, steps,
                                          first_order, head_only)
        w = min(c, b - i) / b
        grads = torch.autograd.grad(chunk_loss * w, [wrt[k] for k in names])
        total = grads if total is None else [t + g for t, g in zip(total, grads)]
        loss, acc = loss + w * chunk_loss.item(), acc + w * chunk_acc
    return dict(zip(names, total)), loss, acc


def reptile_meta_gradient(model: nn.Module, phi: Params, batch: TaskBatch, alpha: float,
                          steps: int = 5) -> tuple[Params, torch.Tensor]:
    """Reptile: ``steps`` SGD steps per task on support ∪ query; direction (1/B) Σ_i (φ − θ̂_i)."""
    x = torch.cat([batch.x_support, batch.x_query], dim=1)
    y = torch.cat([batch.y_support, batch.y_query], dim=1)
    start = {k: v.detach() for k, v in phi.items()}
    with torch.enable_grad():
        theta = adapt_tasks(model, {k: v.requires_grad_() for k, v in start.items()}, x, y,
                            alpha, steps)
    theta = {k: v.detach() for k, v in theta.items()}
    direction = {k: start[k] - theta[k].mean(0) for k in phi}
    return direction, task_losses(model, theta, x, y).detach().mean()


def pretrain_loss(model: nn.Module, phi: Params, batch: TaskBatch, alpha: float = 0.0,
                  steps: int = 0) -> torch.Tensor:
    """Multi-task pretraining: (1/B) Σ_i l_query_i(φ) — the loss of φ itself
    (:func:`hwlib.learner.pretrain_loss`, all tasks at once; α and steps are not used)."""
    return task_losses(model, phi, batch.x_query, batch.y_query).mean()


def evaluate_tasks(model: nn.Module, phi: Params, tasks: FixedTaskSet, alpha: float,
                   steps: int, head_only: bool = False, batch_size: int = 10,
                   device: Optional[torch.device] = None) -> EvalResult:
    """:func:`hwlib.evaluate.evaluate` for the reference inner loop, ``batch_size`` tasks at a
    time: adapt every task's θ̂ from φ on its support set, score its query set."""
    device = device or next(iter(phi.values())).device
    phi = {k: v.detach().requires_grad_() for k, v in phi.items()}
    accs = []
    for batch in tasks.batches(batch_size, device):
        with torch.enable_grad():
            theta = adapt_tasks(model, phi, batch.x_support, batch.y_support, alpha, steps,
                                head_only=head_only)
        accs.append(task_accuracies(model, {k: v.detach() for k, v in theta.items()},
                                    batch.x_query, batch.y_query))
    return EvalResult(torch.cat(accs).cpu(), steps)
