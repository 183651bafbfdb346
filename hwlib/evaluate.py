"""Evaluation: adapt φ on each task's support set, score θ̂ on its query set, report mean ± 95% CI.

For a fixed set of M test tasks with query accuracies a_1..a_M, the reported number is
mean(a) ± 1.96 · std(a) / √M — the usual 95% confidence interval of the mean accuracy of
few-shot learning papers (normal approximation over tasks).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import torch
from torch import nn

from .models import Params, detach_params, forward
from .errors import out_of_memory_hint
from .progress import progress_bar
from .tasks import FixedTaskSet, TaskBatch

# The inner loop, as the skeleton calls it: adapt(φ, x_support, y_support, steps) -> θ̂
# (see :mod:`hwlib.learner`).
AdaptFn = Callable[[Params, torch.Tensor, torch.Tensor, int], Params]


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Fraction of rows of ``logits`` whose arg-max equals ``labels`` (a 0-d tensor)."""
    return (logits.argmax(dim=-1) == labels).float().mean()


def mean_ci95(values: torch.Tensor | list[float]) -> tuple[float, float]:
    """``(mean, half-width of the 95% confidence interval)`` of per-task values."""
    v = torch.as_tensor(values, dtype=torch.float64).flatten()
    if v.numel() == 0:
        raise ValueError("mean_ci95 needs at least one value")
    ci = 1.96 * v.std(unbiased=True).item() / math.sqrt(v.numel()) if v.numel() > 1 else math.nan
    return v.mean().item(), ci


#: t_{0.975, n−1} for n = 2…10 runs (a few seeds: the normal 1.96 would be too narrow)
_T975 = {2: 12.706, 3: 4.303, 4: 3.182, 5: 2.776, 6: 2.571, 7: 2.447, 8: 2.365, 9: 2.306,
         10: 2.262}


def seeds_ci95(values: torch.Tensor | list[float]) -> tuple[float, float]:
    """``(mean, half-width of the 95% t-interval)`` over a few runs (seeds): t_{0.975, n−1}
    · std / √n, which for 3 seeds is 4.30 · std / √3 (NaN for one run)."""
    v = torch.as_tensor(values, dtype=torch.float64).flatten()
    if v.numel() == 0:
        raise ValueError("seeds_ci95 needs at least one value")
    n = v.numel()
    t = _T975.get(n, 1.96)
    return v.mean().item(), (t * v.std(unbiased=True).item() / math.sqrt(n) if n > 1 else math.nan)


@dataclass(frozen=True)
class EvalResult:
    """Per-task query accuracies and their summary."""

    accuracies: torch.Tensor
    steps: int

    @property
    def mean(self) -> float:
        return mean_ci95(self.accuracies)[0]

    @property
    def ci95(self) -> float:
        return mean_ci95(self.accuracies)[1]

    def __str__(self) -> str:
        return (f"{100 * self.mean:.2f}% ± {100 * self.ci95:.2f}% (95% CI, {len(self.accuracies)} "
                f"tasks, {self.steps} inner steps)")


def evaluate(model: nn.Module, phi: Params, adapt: AdaptFn,
             tasks: FixedTaskSet | Iterable[TaskBatch], steps: int = 1,
             device: torch.device | str | None = None, batch_size: int = 50,
             progress: bool = False) -> EvalResult:
    """Adapt φ with ``adapt`` for ``steps`` inner steps on every task; query accuracy of θ̂."""
    return evaluate_steps(model, phi, adapt, tasks, [steps], device, batch_size, progress)[steps]


def evaluate_steps(model: nn.Module, phi: Params, adapt: AdaptFn,
                   tasks: FixedTaskSet | Iterable[TaskBatch], steps: Sequence[int],
                   device: torch.device | str | None = None, batch_size: int = 50,
                   progress: bool = False) -> dict[int, EvalResult]:
    """:func:`evaluate` after each number of inner steps in ``steps``, in one pass.

    Adaptation continues from the previous θ̂ (θ̂_k = adapt(θ̂_j, k − j) for j < k), so the
    cost is that of the largest number of steps, not of their sum.
    """
    if not steps or any(not isinstance(k, int) or k < 0 for k in steps):
        raise ValueError(f"steps must be non-negative ints, got {steps!r}")
    order = sorted(set(steps))
    if device is None:
        device = next(iter(phi.values())).device
    batches = tasks.batches(batch_size, device) if isinstance(tasks, FixedTaskSet) else tasks
    total = len(tasks) if isinstance(tasks, FixedTaskSet) else None
    phi = detach_params(phi, requires_grad=True)
    accs: dict[int, list[torch.Tensor]] = {k: [] for k in order}
    with progress_bar(total=total, desc="Evaluating", disable=not progress) as bar, \
            out_of_memory_hint(f"evaluation batch of {batch_size} tasks", "batch_size=..."):
        for batch in batches:
            for task in batch:
                theta, done = phi, 0
                for k in order:
                    if k > done:
                        with torch.enable_grad():
                            theta = detach_params(adapt(theta, task.x_support, task.y_support,
                                                          k - done), requires_grad=True)
                        done = k
                    with torch.no_grad():
                        accs[k].append(accuracy(forward(model, theta, task.x_query),
                                                task.y_query))
            bar.update(len(batch))
    return {k: EvalResult(torch.stack(accs[k]).cpu(), k) for k in order}


def graph_memory_mb(loss_fn, *args) -> float:
    """MB of tensors autograd saves for the backward pass while computing ``loss_fn(*args)``.

    A device-independent measure of a meta-loss's memory: second-order MAML keeps the inner
    loop's graph (and the inner gradients' graph), first-order MAML does not.
    """
    total = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal total
        total += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss_fn(*args)
    return total / 2 ** 20
