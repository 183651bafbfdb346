"""Differential diagnosis for Meta-SGD: the answers of its common mistakes.

The graded α holds one learning rate per element of φ, drawn from the grading's seed.  Each
mistake with α is a replacement of α (its sign flipped, squared, doubled, one scalar, ignored,
a hard-coded number); each mistake of the meta-loss is a change of :func:`metasgd_loss`
(support and query swapped, summed over the tasks, the wrong number of steps, …).
"""

from __future__ import annotations

from typing import Callable, Mapping

import torch

from hwlib.models import task_loss
from hwlib.tasks import TaskBatch

from autograder.checks.common import grading_alpha, leaf
from autograder.checks.diagnose import HARD_CODED, meta_batch_causes, sets

Params = dict[str, torch.Tensor]
SCALAR = ("α is used as one scalar ({}): Meta-SGD learns one learning rate per element of θ, so "
          "multiply each gradient elementwise by its own alphas[name]")


def draw_alphas(phi: Mapping[str, torch.Tensor], seed: int) -> Params:
    """α of one grading: one learning rate per element of φ, around :func:`grading_alpha`,
    all different (so that one scalar α, or a hard-coded one, gives a wrong θ̂) — some of them
    negative and one per tensor exactly zero, as the notebook promises they work (a negative
    rate reverses that coordinate's step, a zero one freezes it)."""
    gen = torch.Generator().manual_seed(seed + 23)
    base = grading_alpha(seed)
    rates = {k: base * (2 * torch.rand(v.shape, generator=gen, dtype=v.dtype) - 0.5)
             for k, v in phi.items()}
    for r in rates.values():
        r.view(-1)[0] = 0.0
    return rates


def stepped(phi: Mapping[str, torch.Tensor], alphas: Mapping[str, torch.Tensor],
            g: Mapping[str, torch.Tensor]) -> Params:
    """θ − α ⊙ g, detached."""
    return {k: (phi[k] - alphas[k] * g[k]).detach() for k in phi}


def alpha_family(alphas: Mapping[str, torch.Tensor]) -> list[tuple[str, Params]]:
    """(cause, the α that the mistake amounts to) of the common mistakes with α."""
    a = {k: v.detach() for k, v in alphas.items()}
    flat = torch.cat([v.flatten() for v in a.values()])
    like = lambda f: {k: f(v) for k, v in a.items()}  # noqa: E731
    family = [
        ("the step has the wrong sign: θ̂ = θ − α ⊙ ∇θ l(θ) subtracts the scaled gradient",
         like(lambda v: -v)),
        ("α is applied twice (the step is α ⊙ α ⊙ ∇l)", like(lambda v: v * v)),
        ("the step α ⊙ ∇l is applied twice", like(lambda v: 2 * v)),
        ("α is ignored: the step is ∇l, with no learning rate", like(torch.ones_like)),
        ("θ̂ equals θ: the parameters were not updated", like(torch.zeros_like)),
        (SCALAR.format("each tensor's mean"), like(lambda v: v.mean().expand_as(v))),
        (SCALAR.format("the mean of all α"), like(lambda v: flat.mean().expand_as(v))),
        (SCALAR.format("each tensor's first entry"), like(lambda v: v.flatten()[0].expand_as(v))),
        (SCALAR.format("the first entry of α"), like(lambda v: flat[0].expand_as(v))),
        (SCALAR.format("each tensor's largest entry"), like(lambda v: v.max().expand_as(v))),
    ]
    return family + [(f"α is ignored: the learning rate is hard-coded to {h:g} instead of the "
                      "learned alphas", like(lambda v, h=h: torch.full_like(v, h)))
                     for h in HARD_CODED]


def scalar_step(got: Mapping[str, torch.Tensor], phi: Mapping[str, torch.Tensor],
                g: Mapping[str, torch.Tensor], rtol: float = 1e-5) -> str | None:
    """The cause when θ − ``got`` is s·∇l with one scalar s for all of θ, or one per tensor
    (any scalar: a mean of α, its first entry, ``float(α)``, …), else None."""
    scale = {}
    for k in phi:
        step, gk = (phi[k] - got[k]).detach().flatten(), g[k].detach().flatten()
        if gk.numel() > 1 and gk.abs().max() > 0:
            s = (step @ gk) / (gk @ gk)
            if not torch.allclose(step, s * gk, rtol=rtol, atol=rtol * gk.abs().max().item()):
                return None
            scale[k] = s.item()
    if not scale:
        return None
    values = list(scale.values())
    if max(values) - min(values) <= rtol * max(abs(v) for v in values):
        return SCALAR.format(f"{values[0]:.4g} for every parameter")
    return SCALAR.format("one learning rate per tensor")


def metasgd_loss(model, phi: Mapping[str, torch.Tensor], alphas: Mapping[str, torch.Tensor],
                 batch: TaskBatch, steps: int = 1, adapt_on: str = "support",
                 score_on: str = "query", reduce: str = "mean",
                 create_graph: bool = True) -> torch.Tensor:
    """The Meta-SGD meta-loss, or one of its common wrong versions (``create_graph=False``:
    the first-order approximation)."""
    losses = []
    for task in batch:
        theta = dict(phi)
        x, y = sets(task, adapt_on)
        for _ in range(steps):
            g = torch.autograd.grad(task_loss(model, theta, x, y), list(theta.values()),
                                    create_graph=create_graph)
            theta = {k: p - alphas[k] * gk for (k, p), gk in zip(theta.items(), g)}
        losses.append(task_loss(model, theta, *sets(task, score_on)))
    stacked = torch.stack(losses)
    return {"mean": stacked.mean(), "sum": stacked.sum(), "first": stacked[0],
            "last": stacked[-1], "mean/B": stacked.mean() / len(losses)}[reduce]


def meta_loss_family(model, phi, alphas, batch: TaskBatch, steps: int
                     ) -> list[tuple[str, Callable[[], float]]]:
    """(cause, value) of the common wrong Meta-SGD meta-losses (computed lazily)."""
    B = len(batch)
    v = lambda **kw: (lambda: metasgd_loss(model, leaf(phi), **{  # noqa: E731
        "alphas": alphas, "batch": batch, "steps": steps, **kw}).item())
    family = [
        *meta_batch_causes(B, v),
        ("it is the loss of φ itself: the inner loop (adaptation to θ̂) is missing", v(steps=0)),
        (f"it takes {steps + 1} inner steps instead of `steps` = {steps} (the loop runs one "
         "step too many)", v(steps=steps + 1)),
    ]
    if steps > 1:
        family += [
            (f"it takes 1 inner step whatever `steps` is (asked for {steps})", v(steps=1)),
            (f"it takes {steps - 1} inner steps instead of `steps` = {steps}", v(steps=steps - 1)),
        ]
    return family + [(cause, v(alphas=a)) for cause, a in alpha_family(alphas)]


def describe(batch: TaskBatch, steps: int) -> str:
    return (f"a meta-batch of {len(batch)} sine tasks ({batch.x_support.shape[1]} support and "
            f"{batch.x_query.shape[1]} query points each, one α per element of φ, "
            f"steps = {steps})")
