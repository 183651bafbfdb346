"""Properties of an inner step θ̂ = step(φ, x, y, α) (``inner_update``, ``anil_adapt``,
``metasgd_inner_update``) that hold for every correct answer (see :mod:`.properties`): the same
call on the same tensors gives the same θ̂ (whatever their ``.grad`` holds); α = 0 gives φ
back; the step is proportional to α; it is taken at the φ given (moving φ moves the gradient);
it is −α∇l entry by entry — not rescaled, not clipped, not reversed, with negative rates
reversing their coordinate (Meta-SGD).
"""

from __future__ import annotations

from typing import Callable, Mapping

import torch

from .properties import SAME, Ask, agree, flat, perturbed

def step_violation(ask: Ask, name: str, phi: dict, grad: Callable[[dict], dict],
                   alpha: float, moving: list[str] | None = None) -> str | None:
    """The first property of an inner step that fails, or None.  ``grad(φ)``: ∇l at φ (the
    judge's), for the direction; ``moving``: the tensors that may move (ANIL: the head)."""
    base = ask()
    keys = list(moving if moving is not None else phi)
    delta = {k: _flat_of(base, k) - phi[k].detach() for k in keys}
    for prop in (_step_repeatable, _step_alpha_zero, _step_linear, _step_at_phi,
                 _step_direction):
        said = prop(ask, base, name, phi, grad, alpha, keys, delta)
        if said:
            return said
    return None


def _flat_of(out, k):
    return out[k].detach() if isinstance(out, Mapping) and k in out else torch.tensor(float("nan"))


def _step_repeatable(ask, base, name, phi, grad, alpha, keys, delta):
    again = ask(repeat=True)
    if not agree(again, base, SAME * _eps(phi)):
        return (f"calling {name} twice on the same parameter tensors gives a different θ̂ the "
                "second time: the gradient is accumulated in .grad (loss.backward()) or state is "
                "kept between calls — compute it with torch.autograd.grad, which leaves .grad "
                "alone")


def _times(alpha, factor: float):
    """α scaled: a number, or Meta-SGD's dict of per-element rates."""
    return {k: v * factor for k, v in alpha.items()} if isinstance(alpha, Mapping) else \
        alpha * factor


def _step_alpha_zero(ask, base, name, phi, grad, alpha, keys, delta):
    zero = ask(alpha=_times(alpha, 0.0))
    if not agree(zero, {k: v.detach() for k, v in phi.items()}, SAME * _eps(phi)):
        return (f"with α = 0 {name} must return φ itself (θ̂ = φ − 0·∇l), but it moved: the "
                "step is not α·∇l (α missing, or something added besides the gradient step)")


def _step_linear(ask, base, name, phi, grad, alpha, keys, delta):
    double = ask(alpha=_times(alpha, 2.0))
    d2 = {k: _flat_of(double, k) - phi[k].detach() for k in keys}
    if not agree(d2, {k: 2 * v for k, v in delta.items()}, 1e-6 * _eps(phi)):
        return (f"{name}'s step is not proportional to α: doubling α did not double θ̂ − φ "
                "(α applied twice or squared, or the step clipped?)")


def _step_at_phi(ask, base, name, phi, grad, alpha, keys, delta):
    moved = perturbed(phi)
    other = ask(phi=moved)
    d = {k: _flat_of(other, k) - moved[k] for k in keys}
    if agree(d, delta, SAME * _eps(phi)):
        return (f"{name}'s step θ̂ − φ does not change when φ changes: the gradient is not "
                "taken at the parameters you were given (the model's own weights — model(x), "
                "model.parameters() — instead of a functional call on params?)")


def _step_direction(ask, base, name, phi, grad, alpha, keys, delta):
    g = grad(phi)
    want = {k: -(alpha[k] if isinstance(alpha, Mapping) else alpha) * g[k].detach()
            for k in keys}
    return step_shape(name, flat(delta), flat(want), _eps(phi),
                      flat(alpha) if isinstance(alpha, Mapping) else None)


def step_shape(name: str, x: torch.Tensor, y: torch.Tensor, eps: float = 1.0,
               rates: torch.Tensor | None = None, rate: str = "α") -> str | None:
    """How a step ``x`` differs from the step ``y`` = −rate·∇l it should be, if it is a
    rescaled, reversed, clipped or partly different copy of it (else None)."""
    if x.norm() == 0 or y.norm() == 0:
        return None
    cos = (x @ y / (x.norm() * y.norm())).item()
    ratio = (x.norm() / y.norm()).item()
    if cos > 1 - 1e-9 * eps and abs(ratio - 1) > 1e-6 * eps:
        n = round(1 / ratio)
        fraction = (f" = 1/{n}: the loss or its gradient is divided by {n} (the number of "
                    "points? task_loss is already a mean)") \
            if n > 1 and abs(n * ratio - 1) < 1e-6 * eps else ""
        return (f"{name}'s step points along −∇l but its size is {ratio:.4g}× {rate}‖∇l‖"
                f"{fraction}: the gradient or the rate is changed (divided, clipped, normalised, "
                "another learning rate)")
    if cos < -1 + 1e-9 * eps:
        return f"{name}'s step points along +∇l: the update has the wrong sign (θ̂ = θ − α∇l)"
    return _entrywise(name, x, y, eps, rates)


def _entrywise(name: str, x: torch.Tensor, y: torch.Tensor, eps: float,
               rates: torch.Tensor | None) -> str | None:
    """Where the step is −α∇l on most entries but not all: which ones are off (``rates``:
    Meta-SGD's per-element α, flattened like ``x``)."""
    live = y.abs() > 1e-12
    ratio = x[live] / y[live]
    ok = (ratio - 1).abs() < 1e-6 * eps
    if rates is not None and not ok.all() and bool((rates[live][~ok] < 0).all()):
        return (f"{name}'s step is wrong exactly where the rate α is negative: a negative rate "
                "must reverse that coordinate's step (θ̂ = θ − α ⊙ ∇l for every α; clamped, "
                "abs'd or relu'd rates?)")
    if not 0.5 <= ok.double().mean().item() < 1:
        return None
    size, off = y[live].abs(), int((~ok).sum())
    if size[~ok].min() >= size[ok].max():
        return (f"{name}'s step is −α∇l except on the {off} largest gradient entries, which are "
                "smaller: the gradient is clipped (clamp, clip_grad_norm_) — the inner step "
                "uses the gradient as it is")
    return (f"{name}'s step is −α∇l on most entries but not on {off} of {int(live.sum())}: part "
            "of the parameters get another update (a different rate, a skipped or extra term)")


def _eps(phi: Mapping[str, torch.Tensor]) -> float:
    """Tolerances scale with the precision: float64 as written, float32 ×10⁴."""
    return 1.0 if next(iter(phi.values())).dtype == torch.float64 else 1e4
