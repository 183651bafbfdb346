"""Self-checks of the third assignment (a learned optimizer, learned sample weights): instant,
specific feedback that does not reveal the solution (``✓ ...`` or an ``AssertionError`` saying
what looks wrong).  Properties of the mathematics, never a hidden answer: features that are
continuous at the threshold and odd in g, a meta-loss that is a sum over the steps and whose
hypergradient agrees with finite differences, weights that are a distribution and do not
depend on the learning rate.  The graded tests are stricter."""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .learned_optimizer import CoordinateLSTM, sample_quadratics
from .models import forward, init_params
from .selfcheck import _ok


def check_preprocess_gradient(preprocess_gradient: Callable) -> None:
    """Shape, g = 0, continuity at |g| = e^{−p}, odd symmetry, the sign feature."""
    p = 10.0
    g = torch.tensor([[0.0, 1e-9, -3e-6, 2.0], [-0.5, 1e-3, 40.0, -7e-5]], dtype=torch.float64)
    out = preprocess_gradient(g, p)
    assert isinstance(out, torch.Tensor) and tuple(out.shape) == (2, 4, 2), (
        f"preprocess_gradient(g) must return g.shape + (2,) = [2, 4, 2] (two features per entry, "
        f"stacked on a new last dimension), got {getattr(out, 'shape', type(out).__name__)}")
    assert torch.isfinite(out).all(), ("NaN or ∞ in the features (log of 0?): below the "
                                       "threshold e^{−p} no logarithm is needed")
    t = math.exp(-p)
    edge = torch.tensor([t * (1 + 1e-9), t * (1 - 1e-9)], dtype=torch.float64)
    a, b = preprocess_gradient(edge, p)
    assert torch.allclose(a, b, atol=1e-6), (
        "the features jump at |g| = e^{−p}: the two cases must meet there (both give (−1, ±1))")
    assert torch.allclose(preprocess_gradient(-g, p)[..., 0], out[..., 0]) and torch.allclose(
        preprocess_gradient(-g, p)[..., 1], -out[..., 1]), (
        "preprocess(−g) must be (a, −b) when preprocess(g) = (a, b): the first feature is a "
        "magnitude, the second carries the sign")
    assert torch.allclose(out[0, 0], torch.tensor([-1.0, 0.0], dtype=torch.float64)), (
        "g = 0 is below the threshold: its features are (−1, 0) — no logarithm of 0")
    assert torch.equal(out[0, 3, 1], torch.tensor(1.0, dtype=torch.float64)) and \
        torch.equal(out[1, 0, 1], torch.tensor(-1.0, dtype=torch.float64)), (
        "for large |g| the second feature is the sign of g (±1)")
    _ok("preprocess_gradient: [..., 2], finite at 0, continuous at e^{-p}, odd in g, sign ±1")


def _lstm_problem(seed: int = 0):
    model = CoordinateLSTM(hidden=3, scale=1.0).double()
    phi = {k: 0.5 * v.double() for k, v in init_params(model, seed).items()}
    problem = sample_quadratics(2, dim=3, seed=seed, dtype=torch.float64)
    problem["W"] = problem["W"] / 3
    theta = torch.randn(2, 3, generator=torch.Generator().manual_seed(seed + 1),
                        dtype=torch.float64)
    return model, phi, problem, theta, model.init_state(6, torch.float64)


def check_unrolled_loss(unrolled_loss: Callable) -> None:
    """Returns (meta-loss, θ_T, state); T = 0; a sum over the steps; depends on φ at T = 1;
    the hypergradient along one direction of φ against finite differences (float64)."""
    model, phi, problem, theta, state = _lstm_problem()

    def run(ph, th=theta, st=state, T=2):
        return unrolled_loss(model, ph, problem, th.clone().requires_grad_(True), st, T)

    out = run(phi)
    assert isinstance(out, tuple) and len(out) == 3, \
        "unrolled_loss must return (meta-loss, θ_T, state_T)"
    total, theta2, state2 = out
    assert torch.is_tensor(total) and total.dim() == 0, "the meta-loss must be a 0-d tensor"
    try:  # T = 0 is never asked for in training: only checked where it runs
        zero = run(phi, T=0)
    except Exception:  # noqa: BLE001 - e.g. torch.stack of no losses
        zero = None
    if zero is not None:
        assert float(torch.as_tensor(zero[0]).detach()) == 0 and \
            torch.equal(zero[1].detach(), theta), \
            "with T = 0 the meta-loss must be 0 and θ unchanged: the loop takes exactly T steps"
    one = run(phi, T=1)
    rest = run(phi, one[1].detach(), {k: v.detach() for k, v in one[2].items()}, T=1)
    assert torch.allclose(total, one[0] + rest[0], rtol=1e-9), (
        "two steps must give the loss of the first plus that of the second started from the "
        "θ₁ and state returned by the first: a sum over the steps, θ and the state carried on")
    moved = {k: 1.3 * v for k, v in phi.items()}
    assert not torch.allclose(run(moved, T=1)[0], one[0]), (
        "with T = 1 the meta-loss does not depend on φ: take the loss after the step, f(θ₁)")
    gen = torch.Generator().manual_seed(3)
    direction = {k: torch.randn(v.shape, generator=gen, dtype=v.dtype) for k, v in phi.items()}
    leaf = {k: v.clone().requires_grad_(True) for k, v in phi.items()}
    grads = torch.autograd.grad(run(leaf)[0], list(leaf.values()))
    slope = sum((g * direction[k]).sum() for g, k in zip(grads, leaf)).item()
    h = 1e-6
    up = run({k: v + h * direction[k] for k, v in phi.items()})[0].item()
    down = run({k: v - h * direction[k] for k, v in phi.items()})[0].item()
    fd = (up - down) / (2 * h)
    assert abs(slope - fd) <= 1e-6 * max(1.0, abs(fd)), (
        f"the hypergradient along a random direction of φ is {slope:.8g}, finite differences "
        f"give {fd:.8g}: keep ∇f(θ_t) in the graph (create_graph=True) and build θ_t from the "
        "LSTM's steps without detaching")
    _ok(f"unrolled_loss: T = 0 gives 0, a sum over the steps, the exact hypergradient "
        f"(slope {slope:.5g} = finite differences {fd:.5g})")


class _Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 8), nn.Tanh())
        self.head = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def check_example_weights(example_weights: Callable) -> None:
    """One weight per example, ≥ 0, summing to 1; independent of lr; following a reorder."""
    gen = torch.Generator().manual_seed(0)
    model = _Tiny().double()
    params = {k: v.double().requires_grad_(True) for k, v in init_params(model, 0).items()}
    x = torch.randn(10, 4, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (10,), generator=gen)
    x_val = torch.randn(6, 4, generator=gen, dtype=torch.float64)
    y_val = torch.randint(0, 3, (6,), generator=gen)
    w = example_weights(model, params, x, y, x_val, y_val, 0.1)
    assert isinstance(w, torch.Tensor) and tuple(w.shape) == (10,), \
        f"one weight per training example: a tensor [10], got {getattr(w, 'shape', w)}"
    assert (w >= 0).all(), "a weight is negative: w = max(0, −∂L_val/∂ε)"
    assert abs(w.sum().item() - 1) < 1e-9 or w.sum().item() == 0, \
        f"the weights sum to {w.sum().item():.6g}: normalise them to sum 1"
    assert not torch.allclose(w, w[0].expand_as(w)), (
        "every example got the same weight: keep one loss per example (reduction='none')")
    assert torch.allclose(example_weights(model, params, x, y, x_val, y_val, 0.7), w), (
        "the weights changed with lr: the hypergradient is proportional to lr, so the "
        "normalised weights cannot depend on it")
    i = int(w.argmax())
    loss_i = F.cross_entropy(forward(model, params, x[i:i + 1]), y[i:i + 1])
    step = torch.autograd.grad(loss_i, list(params.values()))
    after = {k: v - 1e-3 * g for (k, v), g in zip(params.items(), step)}
    with torch.no_grad():
        before_val = F.cross_entropy(forward(model, params, x_val), y_val)
        after_val = F.cross_entropy(forward(model, after, x_val), y_val)
    assert after_val < before_val, (
        "a small SGD step on the example with the largest weight raised the validation loss: "
        "the weights must go to the examples whose step lowers it (check the sign)")
    rev = torch.arange(9, -1, -1)
    assert torch.allclose(example_weights(model, params, x[rev], y[rev], x_val, y_val, 0.1),
                          w[rev]), "reordering the examples must reorder their weights"
    _ok(f"example_weights: [10], ≥ 0, sum {w.sum().item():.3g}, independent of lr, follows "
        "the examples")
