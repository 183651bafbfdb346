"""Self-checks of Meta-SGD (learned inner learning rates): instant, specific feedback that does
not reveal the solution.

As in :mod:`hwlib.selfcheck`, each function runs *your* code on a small example and prints
``✓ ...`` or raises an ``AssertionError`` that says what looks wrong and where to look.  The
checks use properties of the mathematics, never a hidden answer: θ̂ = φ when α = 0; changing
one element of α moves only that element of θ̂; your meta-gradient (w.r.t. φ *and* α) against
finite differences of your own meta-loss on the tiny float64 sine problem.  The graded tests
are stricter.

Gradients are taken here only of your own functions' outputs (``.backward()`` on fresh leaves),
to compare them with finite differences.
"""


from __future__ import annotations

from typing import Callable

import torch

from .models import Params, task_loss
from .sinusoid import tiny_sine_problem
from .selfcheck import _ok, _leaves, _gradient, _dot, _is_params, _scalar


def _rates(phi: Params, low: float = 0.02, high: float = 0.1, seed: int = 0) -> Params:
    """A different learning rate for every element of φ, in [low, high]."""
    gen = torch.Generator().manual_seed(seed)
    return {k: (low + (high - low) * torch.rand(v.shape, generator=gen, dtype=v.dtype))
            for k, v in phi.items()}




def check_metasgd_inner_update(metasgd_inner_update: Callable) -> None:
    """Your Meta-SGD step on the tiny sine problem: shapes, α = 0, one α element at a time, the
    sign of the step, and a graph back to φ (through the gradient) and to α."""
    model, phi, batch = tiny_sine_problem(tasks=1, seed=2, hidden=5, q_query=4)
    x, y = batch.x_support[0], batch.y_support[0]
    alphas = _rates(phi)
    out = metasgd_inner_update(model, phi, alphas, x, y)
    _is_params(out, phi, "metasgd_inner_update")

    zero = metasgd_inner_update(model, phi, {k: torch.zeros_like(v) for k, v in alphas.items()}, x, y)
    moved = [k for k in phi if not torch.allclose(zero[k].detach(), phi[k].detach(), atol=1e-12)]
    assert not moved, (f"with α = 0 everywhere θ̂ must equal φ, but {moved[:3]} moved: every "
                       "change of θ̂ must be scaled by its own α")

    step = {k: (phi[k] - out[k]).detach() for k in phi}  # α ⊙ (your step direction)
    name = max(phi, key=lambda k: step[k].abs().max().item() if phi[k].numel() > 1 else -1.0)
    index = int(step[name].abs().argmax())
    bumped = {k: v.clone() for k, v in alphas.items()}
    bumped[name].view(-1)[index] *= 2  # double the rate of one element only
    out2 = metasgd_inner_update(model, phi, bumped, x, y)
    diff = {k: (out2[k] - out[k]).detach() for k in phi}
    others = sum(int((d.abs() > 1e-12).sum()) for d in diff.values()) - int(
        diff[name].view(-1)[index].abs() > 1e-12)
    assert others == 0, (
        f"doubling the learning rate of ONE element of '{name}' changed {others} other entries of "
        "θ̂: α must multiply the gradient element by element (α ⊙ ∇θ l), one rate per parameter "
        "(no sum, mean or norm of α)")
    expected, got = -step[name].view(-1)[index].item(), diff[name].view(-1)[index].item()
    assert abs(got - expected) <= 1e-9 * max(1.0, abs(expected)), (
        f"doubling that element's α should double its step ({-expected:.3g} → {-2 * expected:.3g}), "
        f"but the entry moved by {got:.3g} instead of {expected:.3g}: θ̂ − φ must be proportional to α")

    small = {k: torch.full_like(v, 1e-3) for k, v in phi.items()}
    before = task_loss(model, phi, x, y).item()
    after = task_loss(model, metasgd_inner_update(model, phi, small, x, y), x, y).item()
    assert after < before, (f"a small step (α = 0.001 everywhere) raised the support loss "
                            f"({before:.6f} → {after:.6f}): check the sign of the step")

    # a loss at θ̂ must reach back to α, and to φ through the gradient (create_graph=True)
    leaf_phi, leaf_alpha = _leaves(phi), _leaves(alphas)
    q = lambda p, a: task_loss(model, metasgd_inner_update(model, p, a, x, y),
                               batch.x_query[0], batch.y_query[0])
    grad_phi, grad_alpha = _gradient(q(leaf_phi, leaf_alpha), leaf_phi, leaf_alpha)
    assert any(g.abs().max() > 0 for g in grad_alpha.values()), (
        "θ̂ has no graph back to α: use the alphas you were given as tensors (no .item(), "
        ".detach() or float())")
    torch.manual_seed(0)
    d = {k: torch.randn_like(v) for k, v in phi.items()}
    eps = 1e-6
    numeric = (q(_leaves({k: phi[k] + eps * d[k] for k in phi}), alphas).item()
               - q(_leaves({k: phi[k] - eps * d[k] for k in phi}), alphas).item()) / (2 * eps)
    analytic = _dot(grad_phi, d)
    assert abs(analytic - numeric) <= 1e-5 * max(1.0, abs(numeric)), (
        f"the gradient of a loss at θ̂ w.r.t. φ disagrees with finite differences ({analytic:.6f} vs "
        f"{numeric:.6f}): with create_graph=True (the default) the path through ∇φ l(φ) must be "
        "kept — pass create_graph on to torch.autograd.grad")
    _ok(f"metasgd_inner_update: θ̂ = φ when α = 0, one rate per element ('{name}'), a descent "
        "step, differentiable w.r.t. φ and α")


def check_metasgd_meta_loss(metasgd_meta_loss: Callable) -> None:
    """Your Meta-SGD meta-loss on the tiny float64 sine problem: its value when α = 0, `steps`,
    and its gradient w.r.t. φ AND α against finite differences of your own meta-loss."""
    model, phi, batch = tiny_sine_problem(tasks=2, seed=1, hidden=5, q_query=4)
    alphas = _rates(phi, seed=1)
    loss = _scalar(metasgd_meta_loss(model, phi, alphas, batch), "metasgd_meta_loss")

    zero = metasgd_meta_loss(model, phi, {k: torch.zeros_like(v) for k, v in alphas.items()}, batch)
    at_phi = sum(task_loss(model, phi, t.x_query, t.y_query).item() for t in batch) / len(batch)
    assert abs(zero.item() - at_phi) <= 1e-9 * max(1.0, at_phi), (
        f"with α = 0 nothing adapts (θ̂ = φ), so the meta-loss should be the query loss at φ averaged "
        f"over the tasks ({at_phi:.6f}); yours is {zero.item():.6f}. Score θ̂ on each task's QUERY "
        "set, and average (not sum) over the tasks")
    two = metasgd_meta_loss(model, phi, alphas, batch, 2)
    assert abs(two.item() - loss.item()) > 1e-9, (
        "steps=2 gives the same meta-loss as steps=1: take `steps` inner updates from φ")

    leaf_phi, leaf_alpha = _leaves(phi), _leaves(alphas)
    grad_phi, grad_alpha = _gradient(metasgd_meta_loss(model, leaf_phi, leaf_alpha, batch),
                                     leaf_phi, leaf_alpha)
    assert any(g.abs().max() > 0 for g in grad_alpha.values()), (
        "your meta-loss has no gradient w.r.t. α: θ̂ must be built from the alphas you were given "
        "(not a constant, not detached), so that the outer loop can learn them")
    torch.manual_seed(0)
    d_phi = {k: torch.randn_like(v) for k, v in phi.items()}
    d_alpha = {k: 0.01 * torch.randn_like(v) for k, v in alphas.items()}
    eps = 1e-6

    def along(dp: Params | None, da: Params | None) -> float:
        def at(s: float) -> float:
            p = _leaves({k: phi[k] + (0 if dp is None else s * eps * dp[k]) for k in phi})
            a = {k: alphas[k] + (0 if da is None else s * eps * da[k]) for k in alphas}
            return metasgd_meta_loss(model, p, a, batch).item()
        return (at(1.0) - at(-1.0)) / (2 * eps)

    for what, analytic, numeric, hint in [
            ("φ", _dot(grad_phi, d_phi), along(d_phi, None),
             "did you build the graph through the inner loop (create_graph=True), so that "
             "∂θ̂/∂φ = I − diag(α) ∇²l^s(φ) is part of it?"),
            ("α", _dot(grad_alpha, d_alpha), along(None, d_alpha),
             "θ̂ must depend on α only through α ⊙ ∇l^s, so that ∂θ̂/∂α = −∇l^s element by element")]:
        assert abs(analytic - numeric) <= 1e-4 * max(1e-3, abs(numeric)), (
            f"your meta-gradient w.r.t. {what} disagrees with a finite-difference estimate of your "
            f"own meta-loss (directional derivative {analytic:.6g} vs {numeric:.6g}) — {hint}")
    _ok("metasgd_meta_loss: the query loss at φ when α = 0, uses `steps`, and its gradients "
        "w.r.t. φ and α match finite differences of your meta-loss")
