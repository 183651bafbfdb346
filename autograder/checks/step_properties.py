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
    for prop in (_step_repeatable, _step_taken, _step_alpha_zero, _step_linear, _step_at_phi,
                 _step_direction, _step_large_gradient):
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


def _step_taken(ask, base, name, phi, grad, alpha, keys, delta):
    g = flat({k: grad(phi)[k] for k in keys})
    if g.abs().max() > 1e-8 and all(d.abs().max() == 0 for d in delta.values()):
        return (f"{name} returned φ unchanged (θ̂ = φ although ∇l ≠ 0 and α ≠ 0): no step was "
                "taken — a loop over steps that runs one time too few (an off-by-one such as "
                "range(1, steps)), or the updated values never stored in the result")


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


def _step_direction(ask, base, name, phi, grad, alpha, keys, delta, where=""):
    g = grad(phi)
    want = {k: -(alpha[k] if isinstance(alpha, Mapping) else alpha) * g[k].detach()
            for k in keys}
    rates = flat({k: alpha[k] for k in keys}) if isinstance(alpha, Mapping) else None
    x, y = flat(delta), flat(want)
    said = (negative_rates(name, x, y, _eps(phi), rates) or per_tensor(name, delta, want, _eps(phi))
            or step_shape(name, x, y, _eps(phi), rates))
    return f"{where}{said}" if said else None


LARGE = 100.0  # the support targets scaled by this: gradients with entries far above 1


def _step_large_gradient(ask, base, name, phi, grad, alpha, keys, delta):
    """The step is −α∇l whatever the size of ∇l: on a support set with large targets (entries
    of ∇l ≫ 1, ‖∇l‖ ≫ 1), clipping, normalising or a rate that depends on ∇l shows."""
    big = ask(scale=LARGE)
    g = grad(phi, scale=LARGE)
    d = {k: _flat_of(big, k) - phi[k].detach() for k in keys}
    size = flat({k: g[k] for k in keys})
    return _step_direction(lambda **kw: big, big, name, phi, lambda p: g, alpha, keys, d,
                           where=(f"on a support set with large gradients (‖∇l‖ = "
                                  f"{size.norm():.3g}, largest entry {size.abs().max():.3g}), "))


def per_tensor(name: str, delta: Mapping, want: Mapping, eps: float = 1.0) -> str | None:
    """Whole tensors whose step is missing, or rescaled each by its own factor while the
    others are right (a skipped parameter, a per-tensor normalisation or clipping)."""
    live = [k for k in want if want[k].abs().max() > 1e-12]
    still = [k for k in live if delta[k].abs().max() <= 1e-12 * eps]
    if still and len(still) < len(live):
        return (f"{name} does not update {', '.join(still)} (its step is 0 where −α∇l is not): "
                "every parameter it is given must take the step θ̂ = θ − α∇l — a parameter "
                "left out of the loop, the dict or the gradient call?")
    ratio = {}
    for k in live:
        x, y = delta[k].flatten().double(), want[k].flatten().double()
        if (x @ y / (x.norm() * y.norm() + 1e-300)).item() < 1 - 1e-9 * eps:
            return None  # not a rescaled copy per tensor: see step_shape
        ratio[k] = (x.norm() / y.norm()).item()
    off = {k: r for k, r in ratio.items() if abs(r - 1) > 1e-6 * eps}
    if off and len({round(r, 6) for r in ratio.values()}) > 1:
        shown = ", ".join(f"{k} ×{r:.3g}" for k, r in list(off.items())[:3])
        return (f"{name}'s step has the direction of −α∇l in every tensor, but its size is "
                f"rescaled tensor by tensor ({shown}): each tensor's gradient is normalised or "
                "clipped by its own norm — the inner step uses the gradient as it is")
    return None


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
    said = negative_rates(name, x, y, eps, rates)
    if said:
        return said
    live = y.abs() > 1e-12
    ok = (x[live] / y[live] - 1).abs() < 1e-6 * eps
    if not 0.5 <= ok.double().mean().item() < 1:
        return None
    size, off = y[live].abs(), int((~ok).sum())
    if size[~ok].min() >= size[ok].max():
        return (f"{name}'s step is −α∇l except on the {off} largest gradient entries, which are "
                "smaller: the gradient is clipped (clamp, clip_grad_norm_) — the inner step "
                "uses the gradient as it is")
    return (f"{name}'s step is −α∇l on most entries but not on {off} of {int(live.sum())}: part "
            "of the parameters get another update (a different rate, a skipped or extra term)")


def negative_rates(name: str, x: torch.Tensor, y: torch.Tensor, eps: float,
                   rates: torch.Tensor | None) -> str | None:
    """The step is −α ⊙ ∇l except exactly where Meta-SGD's rate α is negative."""
    if rates is None:
        return None
    live = y.abs() > 1e-12
    ok = (x[live] / y[live] - 1).abs() < 1e-6 * eps
    if not ok.all() and bool((rates[live][~ok] < 0).all()):
        return (f"{name}'s step is wrong exactly where the rate α is negative: a negative rate "
                "must reverse that coordinate's step (θ̂ = θ − α ⊙ ∇l for every α; clamped, "
                "abs'd or relu'd rates?)")
    return None


def _eps(phi: Mapping[str, torch.Tensor]) -> float:
    """Tolerances scale with the precision: float64 as written, float32 ×10⁴."""
    return 1.0 if next(iter(phi.values())).dtype == torch.float64 else 1e4
