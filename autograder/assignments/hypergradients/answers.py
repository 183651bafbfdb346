"""The reference answers of the third assignment, with the students' signatures (the solution
notebook's answer cells hold the same code): what else φ can be, each learned through a
hypergradient.

* Part 1, a learned optimizer (Andrychowicz et al., 2016): ``preprocess_gradient``,
  ``unrolled_loss``;
* Part 2, learned sample weights (Ren et al., 2018): ``example_weights``;
* Part 3, a searched architecture (DARTS, Liu et al., 2019): ``mixed_op``,
  ``architecture_gradient``;
* Part 4, a learner that is a network (in-context learning): ``query_mask``,
  ``incontext_logits``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from hwlib.darts import search_loss
from hwlib.incontext import apply
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


def mixed_op(candidates: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """The continuous relaxation of one edge: Σ_o softmax(α)_o · candidates[o], where
    ``candidates`` stacks the outputs of the edge's operations ``[len(OPS), …]``."""
    weights = torch.softmax(alpha, dim=0)
    return torch.tensordot(weights, candidates, dims=1)


def architecture_gradient(model: nn.Module, w: Params, alpha: torch.Tensor, x: torch.Tensor,
                          y: torch.Tensor, x_val: torch.Tensor, y_val: torch.Tensor, xi: float,
                          second_order: bool) -> torch.Tensor:
    """DARTS's gradient for α (``[edges, len(OPS)]``): first order ∇_α L_val(w, α); second
    order d/dα L_val(w'(α), α) with the virtual step w'(α) = w − ξ∇_w L_train(w, α), through
    it (exact, by autograd)."""
    alpha = alpha.detach().requires_grad_(True)
    w = {k: v.detach().requires_grad_(True) for k, v in w.items()}
    if second_order:
        grads = torch.autograd.grad(search_loss(model, w, alpha, x, y, mixed_op),
                                    list(w.values()), create_graph=True)
        w = {k: v - xi * g for (k, v), g in zip(w.items(), grads)}
    g, = torch.autograd.grad(search_loss(model, w, alpha, x_val, y_val, mixed_op), alpha)
    return g


def query_mask(n_support: int, n_query: int) -> torch.Tensor:
    """The attention mask of a task's L = n_support + n_query tokens (supports first), bool
    ``[L, L]`` with True where token i may NOT attend to token j (PyTorch's convention): the
    supports attend to the supports; each query to the supports and to itself, never to
    another query."""
    L = n_support + n_query
    blocked = torch.zeros(L, L, dtype=torch.bool)
    blocked[:, n_support:] = True
    idx = torch.arange(n_support, L)
    blocked[idx, idx] = False
    return blocked


def incontext_logits(model: nn.Module, params: Params, x_support: torch.Tensor,
                     y_support: torch.Tensor, x_query: torch.Tensor,
                     n_way: int) -> torch.Tensor:
    """The query logits ``[n_query, n_way]`` of one task: every drawing embedded by the body,
    the tokens [embedding ⊕ one-hot label ⊕ 0] (supports) and [embedding ⊕ 0 ⊕ 1] (queries),
    the encoder with :func:`query_mask`, the head on the queries' outputs."""
    n_s, n_q = len(x_support), len(x_query)
    z = apply(model, params, "body", torch.cat([x_support, x_query]))
    labels = torch.cat([F.one_hot(y_support, n_way).to(z.dtype), z.new_zeros(n_q, n_way)])
    flag = torch.cat([z.new_zeros(n_s, 1), z.new_ones(n_q, 1)])
    tokens = apply(model, params, "token", torch.cat([z, labels, flag], dim=1))
    mask = query_mask(n_s, n_q).to(z.device)
    out = apply(model, params, "encoder", tokens.unsqueeze(0), mask=mask)
    return apply(model, params, "head", out[0, n_s:])
