"""Differential diagnosis: when a student's value differs, which known mistake gives it?

Each check builds a *family* of perturbed references — the answer each common bug would give
on the same inputs (wrong sign, α applied twice or not at all or hard-coded, the wrong number
of steps, the gradient computed once and reused, support and query swapped, query labels with
support inputs, summed instead of averaged, only one task counted, …) — and names the closest
one that matches.  When none matches, :func:`example_params` / :func:`example_value` show the
smallest concrete example instead: the inputs, the expected output and what the student's
function returned.
"""

from __future__ import annotations

from typing import Callable, Iterable, Mapping

import torch

from hwlib.models import task_loss
from hwlib.tasks import TaskBatch

from .common import close, leaf

#: α values students hard-code (the notebook's, the paper's, common defaults)
HARD_CODED = (0.4, 0.01, 0.1, 0.05, 0.001, 0.5, 1e-2)


def sets(task: TaskBatch, which: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y) of one task: ``support``, ``query``, ``both`` (support ∪ query), or ``mixed``
    (support inputs with query labels: only defined when the sizes agree)."""
    if which == "support":
        return task.x_support, task.y_support
    if which == "query":
        return task.x_query, task.y_query
    if which == "both":
        return torch.cat([task.x_support, task.x_query]), torch.cat([task.y_support, task.y_query])
    return task.x_support, task.y_query


def adapt(model, phi: Mapping[str, torch.Tensor], x, y, alpha: float, steps: int,
          grad_once: bool = False, keys: Iterable[str] | None = None,
          create_graph: bool = True) -> dict[str, torch.Tensor]:
    """``steps`` steps θ ← θ − α∇l(θ) on (x, y) from φ (only ``keys`` move); with
    ``grad_once`` the gradient at φ is reused for every step (a common bug)."""
    theta, first = dict(phi), None
    moving = list(keys) if keys is not None else list(phi)
    for _ in range(steps):
        if not (grad_once and first is not None):
            loss = task_loss(model, theta, x, y)
            g = torch.autograd.grad(loss, [theta[k] for k in moving], create_graph=create_graph)
            first = first if first is not None else g
        else:
            g = first
        theta = {**theta, **{k: theta[k] - alpha * gk for k, gk in zip(moving, g)}}
    return theta


def meta_loss_tensor(model, at: Mapping[str, torch.Tensor], batch: TaskBatch, alpha: float,
                     steps: int = 1, adapt_on: str = "support", score_on: str = "query",
                     reduce: str = "mean", grad_once: bool = False,
                     create_graph: bool = True) -> torch.Tensor:
    """The MAML meta-loss of the parameters ``at``, or one of its common wrong versions
    (``create_graph=False``: first-order MAML's)."""
    losses = []
    for task in batch:
        x, y = sets(task, adapt_on)
        theta = adapt(model, at, x, y, alpha, steps, grad_once, create_graph=create_graph)
        losses.append(task_loss(model, theta, *sets(task, score_on)))
    stacked = torch.stack(losses)
    return {"mean": stacked.mean(), "sum": stacked.sum(), "first": stacked[0],
            "last": stacked[-1], "mean/B": stacked.mean() / len(losses)}[reduce]


def meta_loss_variant(model, phi, batch: TaskBatch, alpha: float, steps: int = 1,
                      **variant) -> float:
    """:func:`meta_loss_tensor` at φ, as a float."""
    return meta_loss_tensor(model, leaf(phi), batch, alpha, steps, **variant).item()


def meta_loss_family(model, phi, batch: TaskBatch, alpha: float, steps: int
                     ) -> list[tuple[str, Callable[[], float]]]:
    """(cause, value) of the common wrong meta-losses (values computed lazily)."""
    B = len(batch)
    same = batch.x_support.shape[1] == batch.x_query.shape[1]
    v = lambda **kw: (lambda: meta_loss_variant(model, phi, batch, **{  # noqa: E731
        "alpha": alpha, "steps": steps, **kw}))
    family = [
        *meta_batch_causes(B, v),
        ("the inner step has the wrong sign", v(alpha=-alpha)),
        ("the inner learning rate α is applied twice (α²)", v(alpha=alpha ** 2)),
        ("the inner learning rate α is missing (a step of ∇l)", v(alpha=1.0)),
        ("it is the loss of φ itself: the inner loop (adaptation to θ̂) is missing", v(steps=0)),
    ]
    if same:
        family.append(("the support inputs are used with the query labels", v(adapt_on="mixed")))
    family += [(f"α is hard-coded to {a:g} instead of the alpha argument", v(alpha=a))
               for a in HARD_CODED if abs(a - alpha) > 1e-12]
    family.append((f"it takes {steps + 1} inner steps instead of `steps` = {steps} (the loop "
                   "runs one step too many)", v(steps=steps + 1)))
    if steps > 1:
        family += [
            (f"it takes 1 inner step whatever `steps` is (asked for {steps})", v(steps=1)),
            (f"it takes {steps - 1} inner steps instead of `steps` = {steps}", v(steps=steps - 1)),
            ("the gradient is computed once at φ and reused for every inner step: recompute "
             "∇l at the current θ in each step", v(grad_once=True)),
            (f"each inner step uses α/{steps}: the inner learning rate is divided by the number "
             "of steps — every step is θ − α∇l(θ) with the α given", v(alpha=alpha / steps)),
        ]
    return family


def closest(got: float, family: list[tuple[str, Callable[[], float]]],
            rtol: float = 1e-7) -> str | None:
    """The cause whose value is the closest to ``got``, if one matches."""
    best, best_gap = None, float("inf")
    for cause, value in family:
        want = value()
        gap = abs(got - want)
        if gap <= rtol * max(1.0, abs(want)) and gap < best_gap:
            best, best_gap = cause, gap
    return best


def closest_params(got: Mapping[str, torch.Tensor],
                   family: list[tuple[str, Callable[[], Mapping[str, torch.Tensor]]]],
                   rtol: float = 1e-5, atol: float = 1e-8) -> str | None:
    for cause, value in family:
        if close(got, value(), rtol=rtol, atol=atol):
            return cause
    return None


def example_params(name: str, got: Mapping[str, torch.Tensor],
                   want: Mapping[str, torch.Tensor], inputs: str) -> str:
    """The first entry where ``got`` and ``want`` differ, in words."""
    for k in want:
        diff = (got[k].detach().to(want[k].dtype) - want[k].detach()).abs()
        if diff.max() > 1e-6 * (1 + want[k].detach().abs().max()):
            i = int(diff.flatten().argmax())
            return (f"{name} differs on {inputs}: for '{k}' (entry {i}) the expected value is "
                    f"{want[k].detach().flatten()[i].item():.6g}, yours is "
                    f"{got[k].detach().flatten()[i].item():.6g}.")
    return f"{name} differs from the expected result on {inputs}."


def example_value(name: str, got: float, want: float, formula: str, inputs: str) -> str:
    return (f"On {inputs}, {formula} = {want:.6g}, but your {name} returned {got:.6g}.")


def describe_batch(batch: TaskBatch, alpha: float, steps: int | None = None) -> str:
    s = f", steps = {steps}" if steps is not None else ""
    return (f"a meta-batch of {len(batch)} sine tasks ({batch.x_support.shape[1]} support and "
            f"{batch.x_query.shape[1]} query points each, α = {alpha:g}{s})")


def reduction_causes(B: int, v: Callable[..., Callable[[], float]]
                     ) -> list[tuple[str, Callable[[], float]]]:
    """How the task losses of a meta-batch are wrongly reduced (summed, divided twice, one task
    only): every meta-batch objective shares them.  ``v(reduce=…)``: its value so, lazily."""
    return [
        (f"it is {B}× too large: the task losses are summed over the meta-batch instead of "
         "averaged", v(reduce="sum")),
        (f"it is {B}× too small: each task loss is divided by B and then averaged again",
         v(reduce="mean/B")),
        ("only the last task counts: the loss is overwritten in the loop over tasks instead "
         "of collected", v(reduce="last")),
        ("only the first task counts: the average is over one task", v(reduce="first")),
    ]


def meta_batch_causes(B: int, v: Callable[..., Callable[[], float]]
                      ) -> list[tuple[str, Callable[[], float]]]:
    """The causes every meta-batch objective with an inner loop shares (MAML's, Meta-SGD's):
    the reduction (:func:`reduction_causes`) and which set θ̂ is adapted and scored on.
    ``v(**kw)``: the objective's value with that mistake (``adapt_on=``, ``score_on=``)."""
    return [
        *reduction_causes(B, v),
        ("support and query are swapped: adapt on the support set, score θ̂ on the query set",
         v(adapt_on="query", score_on="support")),
        ("θ̂ is adapted and scored on the query set: adapt on the support set only",
         v(adapt_on="query")),
        ("θ̂ is scored on the support set it was adapted on: score it on the query set",
         v(score_on="support")),
    ]
