"""Self-checks for the notebook: instant, specific feedback that does not reveal the solution.

Each function runs your code on a small example and prints ``✓ ...`` or raises an
``AssertionError`` that says what looks wrong and what to look at.  They check shapes, types,
a hand-computed example and *consistency of your own code* (e.g. your meta-gradient against a
finite-difference estimate of your own meta-loss); the graded tests are stricter.
"""

from __future__ import annotations

from typing import Callable, Mapping

import torch
from torch import nn

from .models import Params, split_body_head, task_loss
from .sinusoid import tiny_sine_problem

# The 2-parameter example: y ≈ w·x + b on three points, one step with α = 0.1.
_X = [[1.0], [2.0], [-1.0]]
_Y = [[1.0], [3.0], [-2.0]]
_PHI = {"weight": [[0.5]], "bias": [-0.2]}
_EXPECTED = {"weight": 0.926667, "bias": -0.093333}  # worked out by hand from the MSE


def _ok(message: str) -> None:
    print(f"✓ {message}")


def _leaves(params: Mapping[str, torch.Tensor]) -> Params:
    """Fresh leaf copies that require grad (their ``.grad`` starts empty)."""
    return {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}


def _gradient(loss: torch.Tensor, *dicts: Params) -> list[Params]:
    """∂loss/∂ every leaf of ``dicts`` (zeros where the loss does not depend on it)."""
    loss.backward()
    return [{k: torch.zeros_like(v) if v.grad is None else v.grad.detach() for k, v in d.items()}
            for d in dicts]


def _dot(a: Params, b: Params) -> float:
    return sum((a[k] * b[k]).sum().item() for k in a)


def _is_params(out: object, like: Mapping[str, torch.Tensor], what: str) -> None:
    assert isinstance(out, dict), f"{what} must return a dict name -> tensor, got {type(out).__name__}"
    assert set(out) == set(like), f"{what} returned the keys {sorted(out)}, expected {sorted(like)}"
    wrong = [k for k in like if not isinstance(out[k], torch.Tensor) or out[k].shape != like[k].shape]
    assert not wrong, f"{what}: wrong shape (or not a tensor) for {wrong[:3]}: θ̂ has φ's shapes"


def _scalar(loss: object, what: str) -> torch.Tensor:
    assert isinstance(loss, torch.Tensor) and loss.dim() == 0, (
        f"{what} must return a scalar tensor, got {type(loss).__name__} "
        f"{tuple(getattr(loss, 'shape', ()))}")
    assert torch.isfinite(loss), f"{what} returned {loss.item()}"
    assert loss.requires_grad, f"{what}'s loss has no graph back to its parameters (detached?)"
    return loss


def check_inner_update(inner_update: Callable) -> None:
    """Your inner step on a 2-parameter linear model, compared with the hand-computed values."""
    model = nn.Linear(1, 1).double()
    phi = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in _PHI.items()}
    x, y = torch.tensor(_X, dtype=torch.float64), torch.tensor(_Y, dtype=torch.float64)
    out = inner_update(model, phi, x, y, 0.1)
    assert isinstance(out, dict), f"inner_update must return a dict like params, got {type(out).__name__}"
    assert set(out) == set(phi), f"inner_update returned keys {sorted(out)}, expected {sorted(phi)}"
    got = {k: out[k].detach().flatten()[0].item() for k in phi}
    assert all(abs(got[k] - _EXPECTED[k]) < 1e-5 for k in phi), (
        f"your inner step on this 2-parameter example gives θ̂ = (w={got['weight']:.6f}, "
        f"b={got['bias']:.6f}), expected (w={_EXPECTED['weight']:.6f}, b={_EXPECTED['bias']:.6f}) "
        f"for φ = (w=0.5, b=-0.2), α = 0.1 and the MSE loss. Check the sign and the size of the step.")
    assert out["weight"].requires_grad, ("θ̂ is detached from φ: do not use .detach(), .data or "
                                         "torch.no_grad() in the inner update")
    _ok(f"inner_update: θ̂ = (w={got['weight']:.4f}, b={got['bias']:.4f}) as expected")


def _fd_direction(loss_fn: Callable, phi: dict, direction: dict, eps: float = 1e-6) -> float:
    """(L(φ + εd) − L(φ − εd)) / 2ε: the directional derivative of L along d."""
    def at(sign: float):
        p = {k: (v.detach() + sign * eps * direction[k]).requires_grad_(True) for k, v in phi.items()}
        return loss_fn(p).item()
    return (at(1.0) - at(-1.0)) / (2 * eps)


def check_meta_gradient(meta_loss: Callable, name: str = "maml_meta_loss",
                        alpha: float = 0.1) -> None:
    """Your meta-gradient against a finite-difference estimate of *your own* meta-loss."""
    model, phi, batch = tiny_sine_problem(tasks=2, seed=1, hidden=5, q_query=4)
    loss = meta_loss(model, phi, batch, alpha)
    assert isinstance(loss, torch.Tensor) and loss.dim() == 0, (
        f"{name} must return a scalar tensor, got {type(loss).__name__} {tuple(getattr(loss, 'shape', ()))}")
    assert loss.requires_grad, f"{name}'s loss has no graph back to φ (detached?)"
    grads = torch.autograd.grad(loss, list(phi.values()), allow_unused=True)
    torch.manual_seed(0)
    direction = {k: torch.randn_like(v) for k, v in phi.items()}
    analytic = sum((g * direction[k]).sum().item() for (k, v), g in zip(phi.items(), grads)
                   if g is not None)
    numeric = _fd_direction(lambda p: meta_loss(model, p, batch, alpha), phi, direction)
    assert abs(analytic - numeric) <= 1e-4 * max(1.0, abs(numeric)), (
        f"your meta-gradient disagrees with a finite-difference estimate of your own meta-loss "
        f"(directional derivative {analytic:.6f} vs {numeric:.6f}) — did you build the graph "
        "through the inner loop (create_graph=True)?")
    _ok(f"{name}: the meta-gradient matches finite differences of your meta-loss "
        f"({analytic:.5f} vs {numeric:.5f})")


def check_first_order(fomaml_meta_loss: Callable, inner_update: Callable,
                      alpha: float = 0.1) -> None:
    """First-order MAML against your own inner step: same value, gradient = query gradient at θ̂.

    With ∂θ̂/∂φ ≈ I the meta-gradient is (1/B) Σ_i ∇θ l_i^q(θ)|θ=θ̂_i.  θ̂_i is computed here with
    *your* ``inner_update`` and then treated as a fresh leaf, so this compares your FOMAML with
    your inner loop, not with a hidden answer.
    """
    model, phi, batch = tiny_sine_problem(tasks=2, seed=1, hidden=5, q_query=4)
    loss = fomaml_meta_loss(model, phi, batch, alpha)
    assert isinstance(loss, torch.Tensor) and loss.dim() == 0, (
        f"fomaml_meta_loss must return a scalar tensor, got {type(loss).__name__} "
        f"{tuple(getattr(loss, 'shape', ()))}")
    assert loss.requires_grad, "fomaml_meta_loss's loss has no graph back to φ (detached?)"
    grads = torch.autograd.grad(loss, list(phi.values()), allow_unused=True)
    expected = [torch.zeros_like(v) for v in phi.values()]
    values = []
    for t in batch:
        theta = {k: v.detach().requires_grad_(True) for k, v in
                 inner_update(model, phi, t.x_support, t.y_support, alpha).items()}
        q = task_loss(model, theta, t.x_query, t.y_query)
        values.append(q.item())
        for e, g in zip(expected, torch.autograd.grad(q, list(theta.values()))):
            e += g / len(batch)
    value = sum(values) / len(values)
    assert abs(loss.item() - value) < 1e-6 * max(1.0, abs(value)), (
        f"fomaml_meta_loss = {loss.item():.6f}, but the mean query loss at θ̂ (from your "
        f"inner_update) is {value:.6f}: FOMAML changes the gradient, not the value of the meta-loss")
    got = [torch.zeros_like(v) if g is None else g for v, g in zip(phi.values(), grads)]
    worst = max((g - e).abs().max().item() for g, e in zip(got, expected))
    assert worst < 1e-6, (
        f"your first-order meta-gradient differs from the mean query gradient at θ̂ by up to "
        f"{worst:.3g}: with ∂θ̂/∂φ ≈ I nothing may flow through the inner gradients — is the "
        "inner loop's gradient still part of the graph?")
    _ok("fomaml_meta_loss: MAML's value, and the query gradient at θ̂ as its meta-gradient")


def check_outer_step(outer_step: Callable) -> None:
    """Two outer steps in a row: each moves φ by one SGD step on its *own* meta-gradient (how
    you clear old gradients, before backward or after step, is up to you)."""
    model, phi, batch = tiny_sine_problem(tasks=2, seed=1, hidden=5, q_query=4)
    lr = 0.1
    opt = torch.optim.SGD(list(phi.values()), lr=lr)
    for i in range(2):
        loss = task_loss(model, phi, batch.x_query[i], batch.y_query[i])
        grads = torch.autograd.grad(loss, list(phi.values()), retain_graph=True)
        before = [p.detach().clone() for p in phi.values()]
        value = outer_step(opt, loss)
        after = [p.detach() for p in phi.values()]
        assert any(not torch.equal(a, b) for a, b in zip(after, before)), (
            "outer_step did not change φ: back-propagate the meta-loss, then step the optimizer "
            "(in which order must zero_grad, backward and step come?)")
        assert all(torch.allclose(a, b - lr * g, atol=1e-6) for a, b, g in zip(after, before, grads)), (
            "the second outer step moved φ by more than its own meta-gradient: gradients "
            "accumulate between steps. What must be cleared at every step?" if i else
            "outer_step moved φ by something other than one optimizer step on the meta-loss")
        assert isinstance(value, float), f"outer_step should return a float (loss.item()), got {type(value).__name__}"
    _ok("outer_step: one step on fresh gradients, every time")


def check_anil_adapt(anil_adapt: Callable, alpha: float = 0.1) -> None:
    """ANIL's inner loop must leave every body parameter exactly as it was."""
    model, phi, batch = tiny_sine_problem(tasks=2, seed=1, hidden=5, q_query=4)
    out = anil_adapt(model, phi, batch.x_support[0], batch.y_support[0], alpha, steps=2)
    assert isinstance(out, dict) and set(out) == set(phi), "anil_adapt must return a full dict like φ"
    body, head = split_body_head(phi)
    changed = [k for k in body if not torch.equal(out[k].detach(), body[k].detach())]
    assert not changed, f"your ANIL inner loop changed body parameters: {changed}"
    assert any(not torch.equal(out[k].detach(), head[k].detach()) for k in head), \
        "anil_adapt did not change the head"
    _ok("anil_adapt: only the head moved")


def check_reptile_meta_gradient(reptile_meta_gradient: Callable, alpha: float = 0.05) -> None:
    """Shapes, and a sanity check: a small outer step along your direction lowers the task loss."""
    model, phi, batch = tiny_sine_problem(tasks=2, seed=1, hidden=5, q_query=4)
    direction, loss = reptile_meta_gradient(model, phi, batch, alpha, steps=5)
    assert isinstance(direction, dict) and set(direction) == set(phi), \
        "the direction must be a dict with the keys of φ"
    assert all(d.shape == phi[k].shape for k, d in direction.items()), "direction shapes must match φ"
    def mean_loss(p):
        return sum(task_loss(model, p, torch.cat([t.x_support, t.x_query]),
                             torch.cat([t.y_support, t.y_query])) for t in batch).item()
    stepped = {k: (v - 0.1 * direction[k]).detach() for k, v in phi.items()}  # the skeleton: φ − ε·d
    before, after = mean_loss(phi), mean_loss(stepped)
    assert after < before, (
        f"one outer step φ ← φ − ε·d along your direction raised the tasks' loss "
        f"({before:.4f} → {after:.4f}): φ should move towards the adapted θ̂, not away from it")
    _ok(f"reptile_meta_gradient: an outer step lowers the tasks' loss ({before:.4f} → {after:.4f})")
