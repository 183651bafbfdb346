"""Self-checks of Part 3 of the third assignment, a searched architecture (DARTS): instant,
specific feedback that never reveals the solution (``✓ ...`` or an ``AssertionError`` saying
what looks wrong).  Properties of the mathematics: the mixture is a convex combination that a
shift of α leaves unchanged; the architecture gradient's rows sum to 0, both orders agree at
ξ = 0, and the second-order one agrees with finite differences of the bilevel objective.  The
graded tests are stricter."""

from __future__ import annotations

from typing import Callable

import torch

from .darts import OPS, SearchNet, search_loss
from .models import init_params
from .selfcheck import _ok


def check_mixed_op(mixed_op: Callable) -> None:
    """Shape, a convex combination, invariant to a shift of α, selecting a dominant operation,
    differentiable in α."""
    gen = torch.Generator().manual_seed(0)
    c = torch.randn(len(OPS), 2, 3, generator=gen, dtype=torch.float64)
    a = torch.randn(len(OPS), generator=gen, dtype=torch.float64, requires_grad=True)
    out = mixed_op(c, a)
    assert isinstance(out, torch.Tensor) and tuple(out.shape) == (2, 3), (
        f"mixed_op must return one operation's output shape [2, 3] (candidates without their "
        f"first dimension), got {getattr(out, 'shape', type(out).__name__)}")
    assert torch.allclose(mixed_op(c, a.detach() + 5.0), out.detach()), (
        "adding 5 to every α_o changed the output: the weights of the operations must not "
        "depend on a shift of α (which normalisation makes that true?)")
    same = c[:1].expand_as(c).clone()
    assert torch.allclose(mixed_op(same, a.detach()), same[0]), (
        "with every candidate equal to c the output must be c: the operation weights must be "
        "non-negative and sum to 1")
    big = torch.tensor([0.0, 30.0, 0.0, 0.0], dtype=torch.float64)
    assert torch.allclose(mixed_op(c, big), c[1], atol=1e-6), (
        "with α_1 far above the others the output must be candidates[1]")
    g = (torch.autograd.grad(out.sum(), a, allow_unused=True)[0] if out.requires_grad
         else None)
    assert g is not None and g.abs().sum() > 0, (
        "the output has no gradient w.r.t. α: the relaxation must be continuous in α (a hard "
        "choice such as arg-max has no gradient)")
    _ok("mixed_op: a convex combination of the candidates, invariant to a shift of α, "
        "differentiable in α")


def check_architecture_gradient(architecture_gradient: Callable, mixed_op: Callable) -> None:
    """Shape, rows summing to 0, ξ = 0 agreement, second order against finite differences."""
    gen = torch.Generator().manual_seed(1)
    model = SearchNet(n_way=3, channels=2, edges=2, image_size=8).double()
    w = {k: v.double() for k, v in init_params(model, 1).items()}
    alpha = 0.5 * torch.randn(2, len(OPS), generator=gen, dtype=torch.float64)
    x, x_val = (torch.rand(6, 1, 8, 8, generator=gen, dtype=torch.float64) for _ in range(2))
    y, y_val = (torch.randint(0, 3, (6,), generator=gen) for _ in range(2))
    xi = 0.3
    first = architecture_gradient(model, w, alpha, x, y, x_val, y_val, xi, False)
    second = architecture_gradient(model, w, alpha, x, y, x_val, y_val, xi, True)
    for name, g in (("first", first), ("second", second)):
        assert isinstance(g, torch.Tensor) and tuple(g.shape) == (2, len(OPS)), (
            f"the {name}-order gradient must be shaped like α, [2, {len(OPS)}], got "
            f"{getattr(g, 'shape', type(g).__name__)}")
        assert g.sum(1).abs().max() < 1e-8, (
            f"a row of the {name}-order gradient does not sum to 0: the loss depends on α only "
            "through the mixture's weights, which a shift of α_e leaves unchanged")
    at_zero = architecture_gradient(model, w, alpha, x, y, x_val, y_val, 0.0, True)
    assert torch.allclose(at_zero, first), (
        "with ξ = 0 the virtual step does not move w: both orders must agree")

    def objective(a: torch.Tensor) -> float:
        w0 = {k: v.detach().requires_grad_(True) for k, v in w.items()}
        g = torch.autograd.grad(search_loss(model, w0, a, x, y, mixed_op), list(w0.values()))
        moved = {k: v - xi * d for (k, v), d in zip(w0.items(), g)}
        return search_loss(model, moved, a, x_val, y_val, mixed_op).item()
    e, h = torch.zeros_like(alpha), 1e-5
    e[0, 1] = h
    fd = (objective(alpha + e) - objective(alpha - e)) / (2 * h)
    assert abs(second[0, 1].item() - fd) < 1e-5 * max(1.0, abs(fd)) + 1e-8, (
        f"second order: ∂/∂α_01 is {second[0, 1].item():.6g}, finite differences of "
        f"L_val(w − ξ∇_w L_train(w, α), α) give {fd:.6g} (first order: {first[0, 1].item():.6g})"
        " — the virtual step depends on α too")
    _ok(f"architecture_gradient: shaped like α, rows sum to 0, the orders agree at ξ = 0, the "
        f"second order matches finite differences ({fd:.5g})")
