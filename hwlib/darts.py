"""A searched architecture: DARTS (Liu et al., 2019) — the skeleton around the student's
``mixed_op`` and ``architecture_gradient``.

**Search space.**  A small network of ``edges`` edges in sequence (stem conv → edge → pool →
edge → pool → … → global average → linear head).  Each edge is one of :data:`OPS`.

**Continuous relaxation.**  Edge e computes the *mixed operation*
ō_e(h) = Σ_o softmax(α_e)_o · o(h): the architecture φ = α (``[edges, len(OPS)]``) becomes
continuous, so it has a gradient.

**Bilevel problem.**  min_α L_val(w*(α), α) subject to w*(α) = argmin_w L_train(w, α).
DARTS alternates one step on α with the *architecture gradient* (first order: ∇_α L_val(w, α);
second order: through one virtual step w' = w − ξ∇_w L_train(w, α)) and one SGD step on w.
After the search each edge keeps its strongest operation (:func:`derive`), and the derived
network is trained from scratch.

What lives here: the network (:class:`SearchNet`, which runs the mixed operations with the
student's ``mixed_op``, or one chosen operation per edge), its loss (:func:`search_loss`), the
alternating search (:func:`search`), the training of one derived architecture
(:func:`train_architecture`) and random search at a time budget (:func:`random_search`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from .models import Params

#: the candidate operations of an edge, in the order of α's columns
OPS = ("conv 3×3", "dilated conv 3×3", "max pool 3×3", "skip")

MixFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
ArchGradFn = Callable[..., torch.Tensor]


def _conv(conv: nn.Conv2d, h: torch.Tensor) -> torch.Tensor:
    """conv → batch normalisation (the batch's statistics, no parameters, as DARTS's operations
    use) → ReLU."""
    return F.relu(F.batch_norm(conv(h), None, None, training=True))


class SearchNet(nn.Module):
    """``[n, 1, H, W]`` images → ``[n, n_way]`` logits through ``edges`` searched edges of
    ``channels`` channels.  ``forward(x, alpha, mix)`` runs every edge as the mixed operation
    ``mix(candidates [len(OPS), n, C, h, w], alpha[e])``; ``forward(x, arch=[o_1, …])`` runs the
    chosen operation of each edge only (a derived, discrete network)."""

    def __init__(self, n_way: int = 20, channels: int = 16, edges: int = 3,
                 image_size: int = 28, in_channels: int = 1) -> None:
        super().__init__()
        if n_way < 2 or channels < 1 or edges < 1 or image_size < 2 ** edges:
            raise ValueError(f"need n_way >= 2, channels >= 1, edges >= 1 and image_size >= "
                             f"2**edges, got {n_way}, {channels}, {edges}, {image_size}")
        self.stem = nn.Conv2d(in_channels, channels, 3, padding=1)
        self.cells = nn.ModuleList(
            nn.ModuleDict({"conv": nn.Conv2d(channels, channels, 3, padding=1),
                           "dilated": nn.Conv2d(channels, channels, 3, padding=2, dilation=2)})
            for _ in range(edges))
        self.head = nn.Linear(channels, n_way)
        self.edges = edges

    def candidates(self, e: int, h: torch.Tensor, only: Optional[int] = None) -> list:
        """The outputs of edge e's operations on h (only operation ``only`` when given)."""
        cell = self.cells[e]
        make = (lambda: _conv(cell["conv"], h), lambda: _conv(cell["dilated"], h),
                lambda: F.max_pool2d(h, 3, stride=1, padding=1), lambda: h)
        return [make[only]()] if only is not None else [m() for m in make]

    def forward(self, x: torch.Tensor, alpha: Optional[torch.Tensor] = None,
                mix: Optional[MixFn] = None, arch: Optional[Sequence[int]] = None) -> torch.Tensor:
        if (arch is None) == (alpha is None or mix is None):
            raise ValueError("SearchNet: pass alpha and mix (the mixed network) or arch (one "
                             "operation per edge), not both")
        if alpha is not None and tuple(alpha.shape) != (self.edges, len(OPS)):
            raise ValueError(f"alpha must be [edges, len(OPS)] = [{self.edges}, {len(OPS)}], "
                             f"got {list(alpha.shape)}")
        h = F.max_pool2d(_conv(self.stem, x), 2)
        for e in range(self.edges):
            if arch is not None:
                h = self.candidates(e, h, int(arch[e]))[0]
            else:
                h = mix(torch.stack(self.candidates(e, h)), alpha[e])
            if e < self.edges - 1:
                h = F.max_pool2d(h, 2)
        return self.head(h.mean(dim=(2, 3)))


def search_loss(model: SearchNet, w: Params, alpha: torch.Tensor, x: torch.Tensor,
                y: torch.Tensor, mix: MixFn) -> torch.Tensor:
    """L(w, α) on (x, y): the mean cross-entropy of the mixed network with weights w."""
    return F.cross_entropy(functional_call(model, w, (x, alpha, mix)), y)


def derive(alpha: torch.Tensor) -> list[int]:
    """The discrete architecture: the strongest operation of each edge (arg-max of α_e)."""
    return alpha.argmax(dim=-1).tolist()


def describe(arch: Sequence[int]) -> str:
    return " → ".join(OPS[o] for o in arch)


@dataclass
class SearchRun:
    """α after the search, softmax(α) after every step, and the search's wall time."""

    alpha: torch.Tensor
    weights: list = field(default_factory=list)
    seconds: float = 0.0


def _batch(x: torch.Tensor, y: torch.Tensor, size: int, gen: torch.Generator):
    idx = torch.randint(0, len(y), (min(size, len(y)),), generator=gen)
    return x[idx], y[idx]


def search(model: SearchNet, w: Params, data, mix: MixFn, architecture_gradient: ArchGradFn,
           steps: int = 300, second_order: bool = False, lr: float = 0.05,
           alpha_lr: float = 0.03, batch_size: int = 64, seed: int = 0) -> SearchRun:
    """DARTS: ``steps`` alternations of one Adam step on α with ``architecture_gradient``
    (ξ = lr, the weights' learning rate, as in the paper) on a training and a validation
    batch, then one SGD step on w (momentum 0.9) with α fixed.  ``data`` has the search's
    training split (x, y) and its validation split (x_val, y_val)."""
    w = {k: v.detach().clone().requires_grad_(True) for k, v in w.items()}
    alpha = torch.zeros(model.edges, len(OPS), dtype=data.x.dtype, requires_grad=True)
    opt_w = torch.optim.SGD(list(w.values()), lr=lr, momentum=0.9)
    opt_a = torch.optim.Adam([alpha], lr=alpha_lr, betas=(0.5, 0.999))
    gen, run, start = torch.Generator().manual_seed(seed), SearchRun(alpha), time.perf_counter()
    for _ in range(steps):
        xb, yb = _batch(data.x, data.y, batch_size, gen)
        xv, yv = _batch(data.x_val, data.y_val, batch_size, gen)
        g = architecture_gradient(model, w, alpha.detach(), xb, yb, xv, yv, lr, second_order)
        opt_a.zero_grad()
        alpha.grad = g.detach().to(alpha.dtype)
        opt_a.step()
        opt_w.zero_grad()
        search_loss(model, w, alpha.detach(), xb, yb, mix).backward()
        opt_w.step()
        run.weights.append(torch.softmax(alpha.detach(), dim=-1).clone())
    run.seconds = time.perf_counter() - start
    run.alpha = alpha.detach()
    return run


def train_architecture(model: SearchNet, w: Params, arch: Sequence[int], data, steps: int = 300,
                       lr: float = 0.05, batch_size: int = 64,
                       seed: int = 0) -> tuple[float, float]:
    """Train the derived network ``arch`` from w (SGD, momentum 0.9) on the training split;
    returns its (validation, test) accuracy."""
    w = {k: v.detach().clone().requires_grad_(True) for k, v in w.items()}
    opt = torch.optim.SGD(list(w.values()), lr=lr, momentum=0.9)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        xb, yb = _batch(data.x, data.y, batch_size, gen)
        loss = F.cross_entropy(functional_call(model, w, (xb,), {"arch": arch}), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return tuple((functional_call(model, w, (x,), {"arch": arch}).argmax(-1) == y)
                     .float().mean().item()
                     for x, y in ((data.x_val, data.y_val), (data.x_test, data.y_test)))


def random_search(model: SearchNet, w: Params, data, seconds: float, steps: int = 100,
                  seed: int = 0) -> tuple[list[int], int]:
    """Random search at a time budget: sample architectures uniformly, train each for
    ``steps`` steps, score it on the validation split; the best after ``seconds`` (at least
    one).  Returns (the best architecture, how many were tried)."""
    gen = torch.Generator().manual_seed(10_000 + seed)
    best, best_acc, tried, start = None, -1.0, 0, time.perf_counter()
    while best is None or time.perf_counter() - start < seconds:
        arch = torch.randint(0, len(OPS), (model.edges,), generator=gen).tolist()
        acc, _ = train_architecture(model, w, arch, data, steps, seed=seed)
        tried += 1
        if acc > best_acc:
            best, best_acc = arch, acc
    return best, tried
