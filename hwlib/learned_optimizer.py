"""Learning to learn by gradient descent by gradient descent (Andrychowicz et al., 2016): the
skeleton around the student's preprocessing and unrolled meta-loss.

φ is an optimizer: a small LSTM m_φ applied to every coordinate of θ separately (the same
weights for all, a state of its own for each), which reads the preprocessed gradient and
proposes the step:

    θ_{t+1} = θ_t + g_t,    [g_t, s_{t+1}] = m_φ(preprocess(∇f(θ_t)), s_t)

and is meta-trained on the meta-loss L(φ) = Σ_{t=1..T} f(θ_t) of a trajectory, unrolled and
back-propagated T steps at a time (truncated back-propagation: θ and the LSTM state are
detached between segments).  The optimizees are random quadratics f(θ) = ‖Wθ − y‖², ten
dimensions each: a whole meta-batch of them runs at once (``theta`` is ``[n, d]``).

What lives here: the problems (:func:`sample_quadratics`, :func:`quadratic_loss`), the LSTM
(:class:`CoordinateLSTM`, called functionally through :func:`propose`), the outer loop
(:func:`meta_train_optimizer`) and the comparison with SGD and Adam tuned on the same
training problems (:func:`tune_learning_rate`, :func:`loss_curves`).  The student's
``preprocess_gradient`` and ``unrolled_loss`` plug in.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import nn
from torch.func import functional_call

Params = dict[str, torch.Tensor]
State = dict[str, torch.Tensor]
Problem = dict[str, torch.Tensor]  # {"W": [n, d, d], "y": [n, d]}


def sample_quadratics(n: int, dim: int = 10, seed: int = 0,
                      dtype: torch.dtype = torch.float32) -> Problem:
    """``n`` problems f_i(θ) = ‖W_i θ − y_i‖² with W_i, y_i standard normal (the paper's)."""
    gen = torch.Generator().manual_seed(seed)
    return {"W": torch.randn(n, dim, dim, generator=gen, dtype=dtype),
            "y": torch.randn(n, dim, generator=gen, dtype=dtype)}


def initial_theta(problem: Problem, seed: int = 0) -> torch.Tensor:
    """θ₀ ~ N(0, I) for every problem: ``[n, d]``."""
    gen = torch.Generator().manual_seed(seed)
    n, d = problem["y"].shape
    return torch.randn(n, d, generator=gen, dtype=problem["y"].dtype)


def quadratic_loss(problem: Problem, theta: torch.Tensor) -> torch.Tensor:
    """f_i(θ_i) = ‖W_i θ_i − y_i‖² for every problem: ``[n]``."""
    if theta.shape != problem["y"].shape:
        raise ValueError(f"theta must be [n, d] = {list(problem['y'].shape)} (one row per "
                         f"problem), got {list(theta.shape)}")
    return ((torch.einsum("nij,nj->ni", problem["W"], theta) - problem["y"]) ** 2).sum(-1)


class CoordinateLSTM(nn.Module):
    """m_φ: two LSTM layers (``hidden`` units) and a linear output, applied to each coordinate
    on its own; ``[m, 2]`` preprocessed gradients → ``[m]`` steps (× ``scale``, the paper's
    0.1).  The state is a dict ``h0, c0, h1, c1`` of ``[m, hidden]`` tensors."""

    def __init__(self, hidden: int = 20, scale: float = 0.1) -> None:
        super().__init__()
        self.hidden, self.scale = hidden, scale
        self.cell0, self.cell1 = nn.LSTMCell(2, hidden), nn.LSTMCell(hidden, hidden)
        self.out = nn.Linear(hidden, 1)

    def init_state(self, m: int, dtype: torch.dtype = torch.float32) -> State:
        zero = torch.zeros(m, self.hidden, dtype=dtype)
        return {"h0": zero, "c0": zero, "h1": zero, "c1": zero}

    def forward(self, features: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        if features.dim() != 2 or features.shape[1] != 2:
            raise ValueError("the optimizer reads one row of 2 features per coordinate "
                             f"([m, 2]: preprocess_gradient(g).reshape(-1, 2)), got "
                             f"{list(features.shape)}")
        h0, c0 = self.cell0(features, (state["h0"], state["c0"]))
        h1, c1 = self.cell1(h0, (state["h1"], state["c1"]))
        return self.scale * self.out(h1).squeeze(-1), {"h0": h0, "c0": c0, "h1": h1, "c1": c1}


def propose(optimizer: nn.Module, phi: Params, features: torch.Tensor,
            state: State) -> tuple[torch.Tensor, State]:
    """m_φ(features, state) with the parameters φ (a dict): ``(steps [m], new state)``."""
    return functional_call(optimizer, phi, (features, state))


def detach_state(state: State) -> State:
    return {k: v.detach() for k, v in state.items()}


UnrolledLoss = Callable[..., tuple[torch.Tensor, torch.Tensor, State]]


def meta_train_optimizer(unrolled_loss: UnrolledLoss, optimizer: CoordinateLSTM, phi: Params,
                         steps: int = 300, horizon: int = 100, truncation: int = 20,
                         problems: int = 32, meta_lr: float = 3e-3, seed: int = 0
                         ) -> list[float]:
    """Meta-train φ in place with Adam (η = ``meta_lr``): each meta-step draws ``problems``
    quadratics and runs a ``horizon``-step trajectory in segments of ``truncation`` steps; each
    segment's ``unrolled_loss`` is one outer step (θ and the state are detached between
    segments).  Returns the mean per-step loss of each segment."""
    if horizon % truncation:
        raise ValueError(f"horizon ({horizon}) must be a multiple of truncation ({truncation})")
    outer = torch.optim.Adam(list(phi.values()), lr=meta_lr)
    history = []
    for step in range(steps):
        problem = sample_quadratics(problems, seed=seed * 100_003 + step)
        theta = initial_theta(problem, seed=seed * 100_003 + step).requires_grad_(True)
        state = optimizer.init_state(theta.numel())
        for _ in range(horizon // truncation):
            loss, theta, state = unrolled_loss(optimizer, phi, problem, theta, state,
                                               truncation)
            outer.zero_grad()
            loss.backward()
            outer.step()
            theta, state = theta.detach().requires_grad_(True), detach_state(state)
            history.append(loss.item() / truncation)
    return history


Step = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
MakeStep = Callable[[Problem, torch.Tensor], Step]


def loss_curves(make_step: MakeStep, problem: Problem, theta: torch.Tensor,
                steps: int) -> torch.Tensor:
    """The mean loss over the problems after each of ``steps`` steps: ``[steps]``.
    ``make_step(problem, θ₀)`` returns ``step(θ, ∇f(θ)) → θ'`` (it may keep state)."""
    step, losses = make_step(problem, theta), []
    for _ in range(steps):
        theta = theta.detach().requires_grad_(True)
        g, = torch.autograd.grad(quadratic_loss(problem, theta).sum(), theta)
        theta = step(theta, g).detach()
        losses.append(quadratic_loss(problem, theta).mean().detach())
    return torch.stack(losses)


def learned(optimizer: CoordinateLSTM, phi: Params, unrolled_loss: UnrolledLoss) -> MakeStep:
    """The learned optimizer as a step: one step of your ``unrolled_loss`` (T = 1), its θ and
    LSTM state carried from step to step."""
    phi = {k: v.detach() for k, v in phi.items()}

    def make(problem: Problem, theta0: torch.Tensor) -> Step:
        state = optimizer.init_state(theta0.numel(), theta0.dtype)

        def step(theta: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
            nonlocal state
            _, theta, state = unrolled_loss(optimizer, phi, problem, theta, state, 1)
            state = detach_state(state)
            return theta
        return step
    return make


def hand_designed(kind: str, lr: float) -> MakeStep:
    """SGD or Adam (``kind``) with learning rate ``lr``, as a step."""
    def make(problem: Problem, theta0: torch.Tensor) -> Step:
        leaf = theta0.detach().clone().requires_grad_(True)
        opt = (torch.optim.SGD if kind == "sgd" else torch.optim.Adam)([leaf], lr=lr)

        def step(theta: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
            leaf.data.copy_(theta)
            leaf.grad = g.clone()
            opt.step()
            return leaf.detach().clone()
        return step
    return make


def tune_learning_rate(kind: str, grid: Sequence[float], horizon: int = 100,
                       problems: int = 128, seed: int = 1) -> float:
    """The ``grid`` value with the lowest mean loss over a ``horizon``-step trajectory on
    training problems (drawn from ``seed``, not the test problems); a diverging rate loses."""
    problem = sample_quadratics(problems, seed=seed)
    theta = initial_theta(problem, seed=seed)
    scores = {lr: loss_curves(hand_designed(kind, lr), problem, theta, horizon).mean().item()
              for lr in grid}
    return min(grid, key=lambda lr: scores[lr] if scores[lr] == scores[lr] else float("inf"))
