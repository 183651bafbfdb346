"""The instructor's reference answers: gradients checked against finite differences.

These are what the autograder compares students with, so they are verified from first
principles: float64, a tiny MLP, central finite differences of the meta-loss itself.
"""

from __future__ import annotations

import pytest
import torch

from autograder.reference import (anil_adapt, fomaml_meta_loss, inner_update, make_learner,
                                  maml_meta_loss, outer_step, reptile_meta_gradient)
from autograder.reference.algorithms import anil_meta_loss
from hwlib.learner import pretrain_loss
from hwlib.learner import outer_gradient
from hwlib.models import MLP, forward, split_body_head, task_loss
from hwlib.sinusoid import tiny_sine_problem


@pytest.fixture
def tiny():
    return tiny_sine_problem()


def finite_difference(f, phi, eps=1e-6):
    grads = {}
    for k, v in phi.items():
        g = torch.zeros_like(v)
        for i in range(v.numel()):
            with torch.no_grad():
                flat = v.view(-1)
                old = flat[i].item()
                flat[i] = old + eps
                up = f(phi).item()
                flat[i] = old - eps
                down = f(phi).item()
                flat[i] = old
            g.view(-1)[i] = (up - down) / (2 * eps)
        grads[k] = g
    return grads


def value_of(loss_fn, model, batch, **kw):
    """The meta-loss as a plain function of φ (its value does not depend on the graph)."""
    def f(phi):
        with torch.enable_grad():
            p = {k: v.detach().requires_grad_(True) for k, v in phi.items()}
            return loss_fn(model, p, batch, **kw)
    return f


def grad_of(loss, phi):
    return dict(zip(phi, torch.autograd.grad(loss, list(phi.values()))))


@pytest.mark.parametrize("steps", [1, 2])
def test_maml_meta_gradient_matches_finite_differences(tiny, steps):
    model, phi, batch = tiny
    grads = grad_of(maml_meta_loss(model, phi, batch, 0.05, steps), phi)
    fd = finite_difference(value_of(maml_meta_loss, model, batch, alpha=0.05, steps=steps), phi)
    for k in phi:
        assert torch.allclose(grads[k], fd[k], rtol=1e-5, atol=1e-7), k


def test_first_order_maml_is_the_query_gradient_at_theta_hat(tiny):
    model, phi, batch = tiny
    fo = grad_of(fomaml_meta_loss(model, phi, batch, 0.05), phi)
    so = grad_of(maml_meta_loss(model, phi, batch, 0.05), phi)
    expected = {k: torch.zeros_like(v) for k, v in phi.items()}
    for t in batch:
        theta = inner_update(model, phi, t.x_support, t.y_support, 0.05)
        theta = {k: v.detach().requires_grad_(True) for k, v in theta.items()}
        for k, g in grad_of(task_loss(model, theta, t.x_query, t.y_query), theta).items():
            expected[k] += g / len(batch)
    for k in phi:
        assert torch.allclose(fo[k], expected[k], atol=1e-12)
    assert max((fo[k] - so[k]).abs().max().item() for k in phi) > 1e-4  # second order is real


def test_anil_adapts_only_the_head_and_matches_finite_differences(tiny):
    model, phi, batch = tiny
    t = batch[0]
    theta = anil_adapt(model, phi, t.x_support, t.y_support, 0.05, steps=3)
    body, head = split_body_head(theta)
    assert all(torch.equal(body[k], phi[k]) for k in body)
    assert any(not torch.equal(head[k], phi[k]) for k in head)
    grads = grad_of(anil_meta_loss(model, phi, batch, 0.05), phi)
    fd = finite_difference(value_of(anil_meta_loss, model, batch, alpha=0.05), phi)
    for k in phi:
        assert torch.allclose(grads[k], fd[k], rtol=1e-5, atol=1e-7), k


def test_reptile_direction_is_phi_minus_theta_hat(tiny):
    model, phi, batch = tiny
    grads, loss = reptile_meta_gradient(model, phi, batch, 0.02, steps=4)
    expected = {k: torch.zeros_like(v) for k, v in phi.items()}
    for t in batch:
        x, y = torch.cat([t.x_support, t.x_query]), torch.cat([t.y_support, t.y_query])
        theta = {k: v.detach().clone() for k, v in phi.items()}
        for _ in range(4):  # plain SGD, written out independently of the reference
            theta = {k: v.requires_grad_(True) for k, v in theta.items()}
            g = grad_of(task_loss(model, theta, x, y), theta)
            theta = {k: (v - 0.02 * g[k]).detach() for k, v in theta.items()}
        for k in phi:
            expected[k] += (phi[k].detach() - theta[k]) / len(batch)
    for k in phi:
        assert torch.allclose(grads[k], expected[k], atol=1e-12)
    assert loss > 0


def test_inner_update_by_hand():
    model, phi, _ = tiny_sine_problem()
    x, y = torch.rand(4, 1, dtype=torch.float64), torch.rand(4, 1, dtype=torch.float64)
    g = grad_of(((forward(model, phi, x) - y) ** 2).mean(), phi)
    theta = inner_update(model, phi, x, y, alpha=0.1)
    for k, v in phi.items():
        assert torch.allclose(theta[k], v - 0.1 * g[k])
    assert theta["head.bias"].requires_grad  # differentiable w.r.t. φ (first order)
    # with create_graph the inner gradient itself depends on φ (second-order terms)
    def cross(th):
        (g,) = torch.autograd.grad(th["body.2.weight"].sum(), phi["head.weight"], allow_unused=True)
        return 0.0 if g is None else g.abs().sum().item()
    assert cross(inner_update(model, phi, x, y, 0.1, create_graph=True)) > 0
    assert cross(theta) == 0


def test_outer_step_resets_gradients(tiny):
    model, phi, batch = tiny
    opt = torch.optim.SGD(list(phi.values()), lr=0.0)
    outer_step(opt, maml_meta_loss(model, phi, batch, 0.05))
    outer_step(opt, maml_meta_loss(model, phi, batch, 0.05))
    expected = grad_of(maml_meta_loss(model, phi, batch, 0.05), phi)
    assert all(torch.allclose(phi[k].grad, expected[k]) for k in phi)


def test_learners_plug_the_answers_into_the_skeleton(tiny):
    model, phi, batch = tiny
    grads, loss, _ = outer_gradient(make_learner("maml", model, 0.05, 1), phi, batch)
    assert torch.allclose(grads["head.bias"], grad_of(maml_meta_loss(model, phi, batch, 0.05),
                                                      phi)["head.bias"])
    grads, _, _ = outer_gradient(make_learner("pretrain", model, 0.05, 1), phi, batch)
    expected = grad_of(pretrain_loss(model, phi, batch), phi)
    assert all(torch.allclose(grads[k], expected[k]) for k in phi)
    with pytest.raises(ValueError, match="choose from"):
        make_learner("relationnet", MLP(), 0.1, 1)
