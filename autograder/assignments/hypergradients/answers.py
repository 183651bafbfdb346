"""The reference answers of the third assignment, with the students' signatures (the solution
notebook's answer cells hold the same code): what else φ can be, each learned through a
hypergradient.

* Part 1, a learned optimizer (Andrychowicz et al., 2016): ``preprocess_gradient``,
  ``unrolled_loss``;
* Part 2, learned sample weights (Ren et al., 2018): ``example_weights``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from hwlib.learned_optimizer import Params, Problem, State, propose, quadratic_loss
from hwlib.models import forward


def preprocess_gradient(g: torch.Tensor, p: float = 10.0) -> torch.Tensor:
    """The paper's preprocessing of each gradient entry into two features, ``g.shape + (2,)``:
    (log|g| / p, sign g) where |g| ≥ e^{−p}, else (−1, e^p · g)."""
    big = g.abs() >= math.exp(-p)
    log_magnitude = torch.where(big, g.abs().clamp_min(math.exp(-p)).log() / p,
                                -torch.ones_like(g))
    sign = torch.where(big, torch.sign(g), math.exp(p) * g)
    return torch.stack([log_magnitude, sign], dim=-1)


def unrolled_loss(optimizer: nn.Module, phi: Params, problem: Problem, theta: torch.Tensor,
                  state: State, T: int) -> tuple[torch.Tensor, torch.Tensor, State]:
    """T steps of the learned optimizer from θ (``[n, d]``, one row per problem):
    θ_t = θ_{t−1} + m_φ(preprocess(∇f(θ_{t−1})), s), and the meta-loss
    Σ_{t=1..T} mean_i f_i(θ_t) (the mean over the problems).  Returns (meta-loss, θ_T, s_T);
    ∇f is kept in the graph, so the hypergradient ∂L/∂φ is exact (second order)."""
    total = theta.new_zeros(())
    for _ in range(T):
        g, = torch.autograd.grad(quadratic_loss(problem, theta).sum(), theta, create_graph=True)
        step, state = propose(optimizer, phi, preprocess_gradient(g).reshape(-1, 2), state)
        theta = theta + step.reshape(theta.shape)
        total = total + quadratic_loss(problem, theta).mean()
    return total, theta, state


def example_weights(model: nn.Module, params: Params, x: torch.Tensor, y: torch.Tensor,
                    x_val: torch.Tensor, y_val: torch.Tensor, lr: float) -> torch.Tensor:
    """Learning to reweight examples: per-example weights ε (zero) on the training losses, one
    virtual SGD step θ̂(ε) = θ − lr ∇θ Σ_i ε_i l_i(θ), the clean validation loss L_val(θ̂(ε)),
    and w = max(0, −∂L_val/∂ε) normalised to sum 1 (all zero if none is positive): ``[n]``."""
    eps = torch.zeros(len(y), dtype=x.dtype, device=x.device, requires_grad=True)
    losses = F.cross_entropy(forward(model, params, x), y, reduction="none")
    grads = torch.autograd.grad((eps * losses).sum(), list(params.values()), create_graph=True)
    theta = {k: p - lr * g for (k, p), g in zip(params.items(), grads)}
    val = F.cross_entropy(forward(model, theta, x_val), y_val)
    hyper, = torch.autograd.grad(val, eps)
    w = torch.clamp(-hyper, min=0)
    total = w.sum()
    return w / total if total > 0 else w
