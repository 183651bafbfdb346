"""The two networks of the homework, used *functionally*: parameters live in a dict.

Meta-learning manipulates parameters as values — φ (the initialisation), θ̂ = φ − α∇φ l(φ)
(the adapted parameters) — so the networks are called with an explicit parameter dict through
``torch.func.functional_call``: ``forward(model, params, x)``.  The module only provides the
architecture and a default initialisation.

* :class:`Conv4` — 4 × [conv 3×3 (64 channels, padding 1) → BatchNorm → ReLU → max-pool 2]
  → Linear(64, N).  BatchNorm always normalises with the statistics of the current batch
  (``track_running_stats=False``), as in MAML: no running averages leak across tasks.
* :class:`MLP` — 1 → 40 → 40 → 1 with ReLU, for the sinusoid.

Parameter names start with ``body.`` (the feature extractor) or ``head.`` (the last linear
layer), so ANIL can adapt the head only: ``body, head = split_body_head(params)``.
"""

from __future__ import annotations

from typing import Mapping

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

Params = dict[str, torch.Tensor]


def conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """conv 3×3 → BatchNorm (batch statistics only) → ReLU → max-pool 2."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
        nn.BatchNorm2d(out_channels, track_running_stats=False),
        nn.ReLU(),
        nn.MaxPool2d(2),
    )


class Conv4(nn.Module):
    """The standard few-shot backbone; ``[n, C, H, W]`` images → ``[n, n_way]`` logits."""

    def __init__(self, n_way: int, in_channels: int = 1, hidden: int = 64,
                 image_size: int = 28) -> None:
        super().__init__()
        if n_way < 1 or image_size < 16:
            raise ValueError(f"need n_way >= 1 and image_size >= 16, got {n_way}, {image_size}")
        self.body = nn.Sequential(conv_block(in_channels, hidden),
                                  *[conv_block(hidden, hidden) for _ in range(3)],
                                  nn.Flatten())
        side = image_size // 16
        self.input_shape = (in_channels, image_size, image_size)
        self.head = nn.Linear(hidden * side * side, n_way)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or tuple(x.shape[1:]) != self.input_shape:
            hint = (" — that is a whole meta-batch: pass one task's images, e.g. batch[i].x_support"
                    if x.dim() == 5 else " — add the channel dimension: x.unsqueeze(1)"
                    if x.dim() == 3 else "")
            raise ValueError(f"Conv4 expects images [n, {', '.join(map(str, self.input_shape))}], "
                             f"got {list(x.shape)}{hint}")
        return self.head(self.body(x))


class MLP(nn.Module):
    """1 → 40 → 40 → 1 with ReLU: ``[n, 1]`` inputs → ``[n, 1]`` predictions."""

    def __init__(self, hidden: int = 40) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(1, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                                  nn.ReLU())
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != 1:
            hint = " — one task at a time: batch[i].x_support" if x.dim() == 3 else ""
            raise ValueError(f"MLP expects inputs [n, 1], got {list(x.shape)}{hint}")
        return self.head(self.body(x))


def init_params(model: nn.Module, seed: int | None = None) -> Params:
    """A fresh φ: the model's parameters re-initialised from ``seed``, as leaf tensors with grad."""
    if seed is not None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for m in model.modules():
                if hasattr(m, "reset_parameters") and m is not model:
                    m.reset_parameters()
    return {k: v.detach().clone().requires_grad_(True) for k, v in model.named_parameters()}


def forward(model: nn.Module, params: Mapping[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Run ``model`` with the parameters ``params`` (a dict name → tensor) on ``x``."""
    if not isinstance(params, Mapping):
        hint = (": rebuild the dict, e.g. dict(zip(phi.keys(), new_values))"
                if isinstance(params, (list, tuple)) or hasattr(params, "__next__") else "")
        raise TypeError(f"params must be a dict name -> tensor (as from init_params), got "
                        f"{type(params).__name__}{hint}")
    missing = [k for k, _ in model.named_parameters() if k not in params]
    if missing:
        raise KeyError(f"params is missing {missing[:3]}{'...' if len(missing) > 3 else ''}; "
                       "pass the full dict (body and head), e.g. {**phi, **new_head}")
    return functional_call(model, dict(params), (x,))


def split_body_head(params: Mapping[str, torch.Tensor]) -> tuple[Params, Params]:
    """``(body, head)``: the feature-extractor parameters and the last layer's."""
    body = {k: v for k, v in params.items() if k.startswith("body.")}
    head = {k: v for k, v in params.items() if k.startswith("head.")}
    return body, head


def detach_params(params: Mapping[str, torch.Tensor], requires_grad: bool = False) -> Params:
    """``params`` cut from any autograd graph (no copy of the data).  With ``requires_grad``
    the floating-point tensors are new leaves that require grad: a fresh start for an inner
    loop that must not reach back into φ's graph (test-time fine-tuning, evaluation)."""
    return {k: v.detach().requires_grad_(requires_grad and v.is_floating_point())
            for k, v in params.items()}


def task_loss(model: nn.Module, params: Mapping[str, torch.Tensor], x: torch.Tensor,
              y: torch.Tensor) -> torch.Tensor:
    """l(θ) on one set: cross-entropy for class labels (long ``y``), mean squared error for
    regression (float ``y``)."""
    out = forward(model, params, x)
    if len(y) != len(out):
        raise ValueError(f"{len(x)} inputs {list(x.shape)} but labels/targets {list(y.shape)}: "
                         "score a set with its own labels (x_support with y_support, x_query "
                         "with y_query)")
    if y.dtype != torch.long and y.shape != out.shape:
        raise ValueError(f"targets {list(y.shape)} must have the predictions' shape "
                         f"{list(out.shape)} (MSE would broadcast them to a wrong loss)")
    return F.cross_entropy(out, y) if y.dtype == torch.long else F.mse_loss(out, y)
