"""Sinusoid regression tasks, the toy problem of the MAML paper (Finn et al., 2017, §5.1).

Each task is a sine y = A·sin(x − b) with amplitude A ~ U[0.1, 5.0] and phase b ~ U[0, π];
inputs x ~ U[−5, 5].  The support set has K points, the query set Q other points of the same
sine, and the loss is the mean squared error.  A good initialisation φ is one from which one
or a few gradient steps on K points recover the whole curve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .models import MLP, init_params
from .tasks import TaskBatch

AMPLITUDE = (0.1, 5.0)
PHASE = (0.0, math.pi)
X_RANGE = (-5.0, 5.0)


@dataclass(frozen=True)
class SineTasks:
    """Amplitudes and phases ``[B]`` of B sine tasks; call :meth:`at` to evaluate them."""

    amplitude: torch.Tensor
    phase: torch.Tensor

    def at(self, x: torch.Tensor) -> torch.Tensor:
        """y = A·sin(x − b) for ``x [B, n, 1]`` → ``[B, n, 1]``."""
        return self.amplitude.view(-1, 1, 1) * torch.sin(x - self.phase.view(-1, 1, 1))


class SinusoidSampler:
    """Seeded sampler of sinusoid tasks as :class:`~hwlib.tasks.TaskBatch` (x, y: ``[B, K, 1]``)."""

    def __init__(self, k_shot: int = 10, q_query: int = 10,
                 device: torch.device | str = "cpu", seed: int = 0) -> None:
        for name, v in (("k_shot", k_shot), ("q_query", q_query)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        self.k_shot, self.q_query = k_shot, q_query
        self.device = torch.device(device)
        self.generator = torch.Generator(device=self.device).manual_seed(seed)

    def _uniform(self, shape: tuple[int, ...], low: float, high: float) -> torch.Tensor:
        u = torch.rand(shape, generator=self.generator, device=self.device)
        return low + (high - low) * u

    def sample_sines(self, batch_size: int) -> SineTasks:
        """Only the task parameters (A, b) of ``batch_size`` new tasks."""
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        return SineTasks(self._uniform((batch_size,), *AMPLITUDE),
                         self._uniform((batch_size,), *PHASE))

    def sample_points(self, sines: SineTasks, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` points x ~ U[−5, 5] of each task and their targets, both ``[B, n, 1]``."""
        x = self._uniform((len(sines.amplitude), n, 1), *X_RANGE)
        return x, sines.at(x)

    def sample(self, batch_size: int, with_sines: bool = False):
        """A meta-batch of tasks; with ``with_sines=True`` also the :class:`SineTasks`."""
        sines = self.sample_sines(batch_size)
        xs, ys = self.sample_points(sines, self.k_shot)
        xq, yq = self.sample_points(sines, self.q_query)
        batch = TaskBatch(xs, ys, xq, yq)
        return (batch, sines) if with_sines else batch


def tiny_sine_problem(tasks: int = 3, seed: int = 0, hidden: int = 6, k_shot: int = 4,
                      q_query: int = 7, dtype: torch.dtype = torch.float64):
    """The tiny problem every gradient check uses: a 1-h-h-1 :class:`~hwlib.models.MLP`, its
    φ and a meta-batch of ``tasks`` sine tasks (K support, Q query points), all in ``dtype``.

    Small enough for finite differences; float64 so that they agree with autograd to ~1e-8.
    ``seed`` picks φ and the tasks.  Returns ``(model, φ, batch)``; φ's tensors are leaves
    with ``requires_grad``.  (The notebook's self-checks, the hidden checks and the tests all
    use this one problem.)
    """
    model = MLP(hidden=hidden).to(dtype)
    phi = {k: v.to(dtype).detach().requires_grad_(True)
           for k, v in init_params(model, seed).items()}
    b = SinusoidSampler(k_shot=k_shot, q_query=q_query, seed=seed).sample(tasks)
    return model, phi, TaskBatch(*(t.to(dtype) for t in (b.x_support, b.y_support, b.x_query,
                                                          b.y_query)))
