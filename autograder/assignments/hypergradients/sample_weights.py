"""Hidden checks of Part 2, learned sample weights (learning to reweight examples):
``example_weights``.

In float64 on a small classifier (a 3-way Conv4, 16×16 images) with a noisy training batch
and a clean validation set: the weights against the judge's own, computed **without** the
student's method — the hypergradient ∂L_val(θ̂(ε))/∂ε_i at ε = 0 of the validation loss after
the virtual step θ̂(ε) = θ − lr Σ_i ε_i ∇l_i(θ), in closed form −lr ∇L_val(θ̂)·∇l_i(θ) (first
derivatives only), then max(0, −·) normalised.  A wrong answer is named by the properties every
correct answer has (non-negative, summing to 1 or all zero, the same for any lr > 0, following
the examples when they are reordered, changing with the validation set) before the known
mistakes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from autograder.checks.common import CONV_SPEC, fail, tiny_classification
from autograder.checks.student import MODEL, P, Student
from hwlib.models import forward

FORMULA = "w = max(0, −∂L_val(θ̂(ε))/∂ε) at ε = 0, normalised to sum 1"


def batch_of(seed: int):
    """The model, θ, a 9-example training batch with 3 labels flipped, 6 clean validation
    examples, and lr."""
    model, theta, tasks = tiny_classification(tasks=2, seed=seed)
    x, y = tasks.x_query[0], tasks.y_query[0].clone()
    gen = torch.Generator().manual_seed(seed + 3)
    flip = torch.randperm(len(y), generator=gen)[:3]
    y[flip] = (y[flip] + 1) % 3
    x_val, y_val = tasks.x_support[1], tasks.y_support[1]
    return model, theta, x, y, x_val, y_val, 0.1 + 0.05 * (seed % 5)


def _loss(model, theta, x, y, reduction="mean"):
    return F.cross_entropy(forward(model, theta, x), y, reduction=reduction)


def hypergradient(model, theta, x, y, x_val, y_val, lr: float, at: float = 0.0) -> torch.Tensor:
    """∂L_val(θ̂(ε))/∂ε_i at ε = 0 (or every ε_i = ``at``), θ̂(ε) = θ − lr Σ_j ε_j ∇l_j(θ).

    By the chain rule it is exactly −lr ∇L_val(θ̂)·∇l_i(θ): a dot product of first derivatives
    (one per-example gradient each, one validation gradient), not the student's double backward
    — and no finite differences, whose step crosses a ReLU's kink on some draws (measured: seed
    22 moved one weight by 16%).  ``tests/test_check_details.py`` confirms it against finite
    differences where they measure a slope."""
    at_theta = {k: v.detach().requires_grad_(True) for k, v in theta.items()}
    losses = _loss(model, at_theta, x, y, "none")
    per_example = [torch.autograd.grad(losses[i], list(at_theta.values()), retain_graph=True)
                   for i in range(len(y))]
    moved = {k: (v.detach() - lr * at * sum(g[j] for g in per_example)).requires_grad_(True)
             for j, (k, v) in enumerate(theta.items())}
    g_val = torch.autograd.grad(_loss(model, moved, x_val, y_val), list(moved.values()))
    return torch.stack([-lr * sum((a * b).sum() for a, b in zip(g, g_val)) for g in per_example])


def weights_from(hyper: torch.Tensor) -> torch.Tensor:
    w = torch.clamp(-hyper, min=0)
    return w / w.sum() if w.sum() > 0 else w


def _ask(s: Student, theta, x, y, x_val, y_val, lr) -> torch.Tensor:
    call = s.call("example_weights", CONV_SPEC, MODEL, P(theta), x, y, x_val, y_val, lr)
    if call.error and any(t in call.error for t in ("not have been used in the graph",
                                                    "does not require grad")):
        fail("example_weights: θ̂(ε) does not depend on ε, so there is no hypergradient — compute "
             "∇θ Σ_i ε_i l_i with create_graph=True, so that the virtual step keeps its graph "
             f"to ε ({call.error})")
    if call.error:
        fail(call.error)
    w = call.value
    if not isinstance(w, torch.Tensor) or tuple(w.shape) != (len(y),):
        got = list(w.shape) if isinstance(w, torch.Tensor) else type(w).__name__
        fail(f"example_weights must return one weight per training example, a tensor [{len(y)}],"
             f" got {got}.")
    if not torch.isfinite(w).all():
        fail("example_weights returned NaN or ∞ (dividing by a zero sum? when no weight is "
             "positive, return the zeros).")
    return w.double()


def _property(s: Student, w, theta, x, y, x_val, y_val, lr) -> str | None:
    """The first property of a correct answer that the student's weights break."""
    if (w < -1e-12).any():
        return (f"a weight is negative ({w.min().item():.3g}): w = max(0, −∂L_val/∂ε) — examples "
                "whose step would raise the validation loss get weight 0")
    total = w.sum().item()
    if total > 0 and abs(total - 1) > 1e-9:
        return f"the weights sum to {total:.6g}: normalise them to sum 1"
    if not torch.allclose(_ask(s, theta, x, y, x_val, y_val, 3 * lr), w, atol=1e-9):
        return ("the weights change with lr: the hypergradient is proportional to lr, so the "
                "normalised weights must not depend on it")
    if len(w) > 1 and torch.allclose(w, w[0].expand_as(w), atol=1e-12):
        return ("every example gets the same weight: the per-example losses were averaged before "
                "weighting (use reduction='none': one loss l_i per example, each times its ε_i)")
    perm = torch.arange(len(y) - 1, -1, -1)
    if not torch.allclose(_ask(s, theta, x[perm], y[perm], x_val, y_val, lr), w[perm], atol=1e-9):
        return ("reversing the training examples must reverse their weights: a weight belongs "
                "to its example (ε has one entry per example, in the batch's order)")
    if torch.allclose(_ask(s, theta, x, y, x_val.flip(-1), y_val.roll(1), lr), w, atol=1e-9):
        return ("the weights do not change when the validation set changes: the hypergradient is "
                "of the validation loss L_val(θ̂(ε)) on (x_val, y_val), after the virtual step")
    return None


def _known(w, model, theta, x, y, x_val, y_val, lr) -> str | None:
    hyper = hypergradient(model, theta, x, y, x_val, y_val, lr)
    families = {
        "the sign is flipped: the weights go to the examples whose step raises the validation "
        "loss (w = max(0, −∂L_val/∂ε), with the minus)": weights_from(-hyper),
        "ε starts at 1, so the virtual step is a full step and the hypergradient is taken after "
        "it: ε must be zeros (the derivative at the current θ)": weights_from(
            hypergradient(model, theta, x, y, x_val, y_val, lr, at=1.0)),
        "the hypergradient is taken on the training batch instead of the validation set":
        weights_from(hypergradient(model, theta, x, y, x, y, lr)),
    }
    for cause, want in families.items():
        if torch.allclose(w, want.double(), atol=1e-7):
            return cause
    return None


def check_example_weights(example_weights, seed: int = 0) -> None:
    """The weights against the judge's closed-form hypergradient, then the properties."""
    s = Student.of(example_weights, "example_weights")
    model, theta, x, y, x_val, y_val, lr = batch_of(seed)
    w = _ask(s, theta, x, y, x_val, y_val, lr)
    want = weights_from(hypergradient(model, theta, x, y, x_val, y_val, lr))
    if torch.allclose(w, want, rtol=1e-4, atol=1e-7):
        return
    said = _property(s, w, theta, x, y, x_val, y_val, lr)
    cause = _known(w, model, theta, x, y, x_val, y_val, lr)
    fail(f"example_weights is wrong ({FORMULA}): " + (said or "") +
         (" — precisely, " if said and cause else "") + (cause or "") +
         ("" if said or cause else f"got {w.numpy().round(4).tolist()}, not "
          f"{want.numpy().round(4).tolist()} on a batch with 3 flipped labels") + ".")
