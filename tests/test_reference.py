"""The instructor's reference algorithms: gradients checked against finite differences.

These are the answers the autograder compares students with, so they are verified from first
principles: float64, a tiny MLP, central finite differences of the meta-loss itself.
"""

from __future__ import annotations

import pytest
import torch

from autograder.reference import inner_loop, make_learner
from autograder.reference.inner_loop import task_loss
from hwlib.learner import outer_gradient
from hwlib.models import MLP, forward, init_params, split_body_head
from hwlib.sinusoid import SinusoidSampler


@pytest.fixture
def tiny():
    torch.manual_seed(0)
    model = MLP(hidden=6).double()
    phi = {k: v.double().detach().requires_grad_(True) for k, v in init_params(model, 0).items()}
    batch = SinusoidSampler(k_shot=5, q_query=5, seed=0).sample(3)
    batch = type(batch)(*(t.double() for t in (batch.x_support, batch.y_support,
                                                batch.x_query, batch.y_query)))
    return model, phi, batch


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


def meta_loss_value(model, batch, alpha, steps, names=None):
    def f(phi):
        with torch.enable_grad():
            losses = []
            for t in batch:
                p = {k: v.detach().requires_grad_(True) for k, v in phi.items()}
                theta = inner_loop(model, p, t.x_support, t.y_support, alpha, steps, False, names)
                losses.append(task_loss(model, theta, t.x_query, t.y_query))
        return torch.stack(losses).mean()
    return f


@pytest.mark.parametrize("steps", [1, 2])
def test_maml_meta_gradient_matches_finite_differences(tiny, steps):
    model, phi, batch = tiny
    grads, _, _ = outer_gradient(make_learner("maml", model, 0.05, steps), phi, batch)
    fd = finite_difference(meta_loss_value(model, batch, 0.05, steps), phi)
    for k in phi:
        assert torch.allclose(grads[k], fd[k], rtol=1e-5, atol=1e-7), k


def test_first_order_maml_is_the_query_gradient_at_theta_hat(tiny):
    model, phi, batch = tiny
    fo, _, _ = outer_gradient(make_learner("fomaml", model, 0.05, 1), phi, batch)
    so, _, _ = outer_gradient(make_learner("maml", model, 0.05, 1), phi, batch)
    expected = {k: torch.zeros_like(v) for k, v in phi.items()}
    for t in batch:
        theta = inner_loop(model, phi, t.x_support, t.y_support, 0.05, 1, create_graph=False)
        theta = {k: v.detach().requires_grad_(True) for k, v in theta.items()}
        g = torch.autograd.grad(task_loss(model, theta, t.x_query, t.y_query), list(theta.values()))
        for k, gk in zip(theta, g):
            expected[k] += gk / len(batch)
    for k in phi:
        assert torch.allclose(fo[k], expected[k], atol=1e-12)
    # and it is not the true meta-gradient: the second-order term is real here
    assert max((fo[k] - so[k]).abs().max().item() for k in phi) > 1e-4


def test_anil_adapts_only_the_head_and_matches_finite_differences(tiny):
    model, phi, batch = tiny
    learner = make_learner("anil", model, 0.05, 1)
    t = batch[0]
    theta = learner.adapt(phi, t.x_support, t.y_support, 3)
    body, head = split_body_head(theta)
    assert all(torch.equal(body[k], phi[k]) for k in body)
    assert any(not torch.equal(head[k], phi[k]) for k in head)
    grads, _, _ = outer_gradient(learner, phi, batch)
    fd = finite_difference(meta_loss_value(model, batch, 0.05, 1, list(head)), phi)
    for k in phi:
        assert torch.allclose(grads[k], fd[k], rtol=1e-5, atol=1e-7), k


def test_reptile_direction_is_phi_minus_theta_hat(tiny):
    model, phi, batch = tiny
    grads, loss, _ = outer_gradient(make_learner("reptile", model, 0.02, 4), phi, batch)
    expected = {k: torch.zeros_like(v) for k, v in phi.items()}
    for t in batch:
        x, y = torch.cat([t.x_support, t.x_query]), torch.cat([t.y_support, t.y_query])
        theta = {k: v.detach().clone() for k, v in phi.items()}
        for _ in range(4):  # plain SGD, written out independently of the reference
            theta = {k: v.requires_grad_(True) for k, v in theta.items()}
            g = torch.autograd.grad(task_loss(model, theta, x, y), list(theta.values()))
            theta = {k: (v - 0.02 * gk).detach() for (k, v), gk in zip(theta.items(), g)}
        for k in phi:
            expected[k] += (phi[k].detach() - theta[k]) / len(batch)
    for k in phi:
        assert torch.allclose(grads[k], expected[k], atol=1e-12)
    assert loss > 0


def test_inner_loop_step_by_hand():
    model = MLP(hidden=3).double()
    phi = {k: v.double().detach().requires_grad_(True) for k, v in init_params(model, 1).items()}
    x, y = torch.rand(4, 1, dtype=torch.float64), torch.rand(4, 1, dtype=torch.float64)
    loss = ((forward(model, phi, x) - y) ** 2).mean()
    g = torch.autograd.grad(loss, list(phi.values()))
    theta = inner_loop(model, phi, x, y, alpha=0.1, steps=1)
    for (k, v), gk in zip(phi.items(), g):
        assert torch.allclose(theta[k], v - 0.1 * gk)


def test_pretraining_baseline_has_no_inner_loop_in_training(tiny):
    model, phi, batch = tiny
    grads, _, _ = outer_gradient(make_learner("pretrain", model, 0.05, 1), phi, batch)
    loss = torch.stack([task_loss(model, phi, t.x_query, t.y_query) for t in batch]).mean()
    expected = torch.autograd.grad(loss, list(phi.values()))
    for k, e in zip(phi, expected):
        assert torch.allclose(grads[k], e)


def test_unknown_algorithm():
    with pytest.raises(ValueError, match="choose from"):
        make_learner("protonet", MLP(), 0.1, 1)
