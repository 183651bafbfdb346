"""The models of :mod:`hwlib.models` run on a whole meta-batch of tasks at once.

The per-task loop ``for task in batch: forward(model, θ_i, x_i)`` runs B small networks one
after the other.  Here task i's parameters are the i-th slice of tensors with a leading task
dimension — ``params[name]`` is ``[B, *shape]`` (θ_1..θ_B) or ``shape`` (one φ shared by every
task) — and one call computes all B forward passes:

* activations keep the tasks in the channel dimension, ``[n, B·C, H, W]``, so a convolution
  with per-task kernels is one grouped convolution (``groups=B``);
* BatchNorm normalises each channel of each task over that task's own images — exactly what
  ``F.batch_norm`` does on the ``B·C`` channels of that layout (batch statistics per task, as
  in the per-task loop);
* a linear layer is one batched matrix product over tasks.

The result equals the per-task loop to floating-point rounding (``tests/test_fast_path.py``),
for the function and for its first and second derivatives.  Supported layers: ``Conv2d``,
``BatchNorm2d`` (``track_running_stats=False``), ``ReLU``, ``MaxPool2d``, ``Flatten``,
``Linear`` in a module whose submodules run in registration order (:class:`Conv4`, :class:`MLP`).
"""

from __future__ import annotations

from typing import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from hwlib.models import Params

from .batchnorm import batch_norm

_LEAVES = (nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.MaxPool2d, nn.Flatten, nn.Linear)


def per_task(params: Mapping[str, torch.Tensor], num_tasks: int) -> Params:
    """θ_i = φ for i = 1..B: every tensor expanded (a view, no copy) to ``[B, *shape]``.

    Gradients w.r.t. the expanded tensors are per task; back-propagated to φ they are summed.
    """
    return {k: v.unsqueeze(0).expand(num_tasks, *v.shape) for k, v in params.items()}


def _task_param(params: Mapping[str, torch.Tensor], name: str, like: torch.Tensor,
                num_tasks: int) -> torch.Tensor:
    p = params[name]
    if p.shape == like.shape:  # shared by every task
        return p.unsqueeze(0).expand(num_tasks, *p.shape)
    if p.shape != (num_tasks, *like.shape):
        raise ValueError(f"params[{name!r}] has shape {tuple(p.shape)}; expected "
                         f"{tuple(like.shape)} (shared) or {(num_tasks, *like.shape)} (per task)")
    return p


def _layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    leaves = [(n, m) for n, m in model.named_modules() if not list(m.children())]
    bad = [type(m).__name__ for _, m in leaves if not isinstance(m, _LEAVES)]
    if bad:
        raise TypeError(f"forward_tasks supports Conv2d, BatchNorm2d, ReLU, MaxPool2d, Flatten "
                        f"and Linear layers; {type(model).__name__} has {sorted(set(bad))}")
    return _pool_before_relu(leaves)


def _pool_before_relu(leaves: list[tuple[str, nn.Module]]) -> list[tuple[str, nn.Module]]:
    """ReLU then max-pool → max-pool then ReLU: the same function, value and derivatives of
    every order (max commutes with the non-decreasing ReLU, and the gradient reaches the same
    element of each window), with the ReLU and its derivatives on a quarter of the data."""
    out = list(leaves)
    for i in range(len(out) - 1):
        if isinstance(out[i][1], nn.ReLU) and isinstance(out[i + 1][1], nn.MaxPool2d):
            out[i], out[i + 1] = out[i + 1], out[i]
    return out


def _layer(name: str, m: nn.Module, h: torch.Tensor, params: Mapping[str, torch.Tensor],
           b: int) -> torch.Tensor:
    """One layer on activations ``[n, B·C, H, W]`` (conv part) or ``[n, B, F]`` (dense part)."""
    w = lambda attr: _task_param(params, f"{name}.{attr}", getattr(m, attr), b)
    if isinstance(m, nn.Conv2d):
        weight, bias = w("weight"), w("bias") if m.bias is not None else None
        return F.conv2d(h, weight.reshape(-1, *weight.shape[2:]),
                        None if bias is None else bias.reshape(-1), m.stride, m.padding,
                        m.dilation, groups=b * m.groups)
    if isinstance(m, nn.BatchNorm2d):
        if m.track_running_stats:
            raise TypeError("forward_tasks needs BatchNorm2d(track_running_stats=False): each "
                            "task is normalised with its own batch statistics")
        return batch_norm(h, w("weight").reshape(-1), w("bias").reshape(-1), m.eps)
    if isinstance(m, nn.ReLU):
        return F.relu(h)
    if isinstance(m, nn.MaxPool2d):
        return F.max_pool2d(h, m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode)
    if isinstance(m, nn.Flatten):
        return h.reshape(h.shape[0], b, -1)
    out = torch.einsum("nbf,bof->nbo", h, w("weight"))
    return out + w("bias").unsqueeze(0) if m.bias is not None else out


def forward_tasks(model: nn.Module, params: Mapping[str, torch.Tensor],
                  x: torch.Tensor) -> torch.Tensor:
    """All B tasks' outputs: ``x [B, n, *input]`` → ``[B, n, *output]``.

    ``params`` maps every parameter name of ``model`` to a per-task ``[B, *shape]`` tensor or
    a shared ``shape`` tensor (mix freely: ANIL adapts ``head.*`` per task on a shared body).
    """
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a dict name -> tensor, got {type(params).__name__}")
    layers = _layers(model)
    want = 5 if any(isinstance(m, nn.Conv2d) for _, m in layers) else 3
    if x.dim() != want:
        raise ValueError(f"x must be [B, n, ...] (tasks, examples, {'C, H, W' if want == 5 else 'F'}"
                         f"), got {tuple(x.shape)}")
    b, n = x.shape[:2]
    h = x.transpose(0, 1)
    h = h.reshape(n, b * x.shape[2], *x.shape[3:]) if x.dim() == 5 else h  # [n, B·C, H, W]
    for name, m in layers:
        h = _layer(name, m, h, params, b)
    return h.transpose(0, 1)


def _losses(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if y.dtype == torch.long:
        per_example = F.cross_entropy(out.flatten(0, 1), y.flatten(), reduction="none")
        return per_example.view(y.shape).mean(1)
    return F.mse_loss(out, y, reduction="none").flatten(1).mean(1)


def task_losses(model: nn.Module, params: Mapping[str, torch.Tensor], x: torch.Tensor,
                y: torch.Tensor) -> torch.Tensor:
    """``[B]``: l_i(θ_i) on each task's set — cross-entropy (long ``y [B, n]``) or mean squared
    error (float ``y [B, n, 1]``), each averaged over that task's examples, like
    :func:`hwlib.models.task_loss`."""
    return _losses(forward_tasks(model, params, x), y)


def task_losses_and_accuracies(model: nn.Module, params: Mapping[str, torch.Tensor],
                               x: torch.Tensor, y: torch.Tensor
                               ) -> tuple[torch.Tensor, torch.Tensor]:
    """``([B], [B])``: :func:`task_losses` and each task's accuracy from the same forward pass
    (classification only)."""
    out = forward_tasks(model, params, x)
    return _losses(out, y), (out.detach().argmax(-1) == y).float().mean(1)


def task_accuracies(model: nn.Module, params: Mapping[str, torch.Tensor], x: torch.Tensor,
                    y: torch.Tensor) -> torch.Tensor:
    """``[B]``: each task's fraction of correctly classified examples."""
    with torch.no_grad():
        return (forward_tasks(model, params, x).argmax(-1) == y).float().mean(1)
