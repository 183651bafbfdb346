"""FLOPs and the roofline: what a meta-training step computes, and what the machine can.

* :func:`count_flops` — the floating-point operations of one call, counted by torch's
  ``FlopCounterMode`` (matrix products and convolutions: 2 per multiply-add), with the
  convolution's backward counted correctly for **grouped** convolutions.  torch's own formula
  computes the weight gradient as a convolution of the input with the output gradient and
  ignores ``groups``: for the fast path's grouped convolutions (one group per task) it counts
  the weight gradient ``groups`` times too much.  Here each of the backward's two products (the
  input gradient and the weight gradient) costs exactly the forward's multiply-adds:
  2 · N · (output positions) · C_out · (C_in / groups) · (kernel size).
* :func:`matmul_gflops` — the roofline: a float32 square matmul measured on this device and
  these threads, in the same run as the benchmark it is compared with;
  :func:`bandwidth_gbs` — the memory's roof: a float32 copy, bytes read + written per second.
"""

from __future__ import annotations

import math
import statistics
import time
from typing import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

aten = torch.ops.aten


def conv_flops(x_shape, w_shape, out_shape, transposed: bool = False) -> int:
    """2 · N · positions · prod(w_shape): ``w_shape`` is [C_out, C_in / groups, k…] (the
    groups are already in it); the positions are the output's (the input's when transposed)."""
    positions = math.prod((x_shape if transposed else out_shape)[2:])
    return 2 * x_shape[0] * positions * math.prod(w_shape)


def conv_backward_flops(grad_out_shape, x_shape, w_shape, _bias, _stride, _padding, _dilation,
                        transposed, _output_padding, _groups, output_mask, out_shape=None,
                        **kwargs) -> int:
    """The input gradient and the weight gradient, each as many multiply-adds as the forward
    (whichever ``output_mask`` asks for)."""
    forward = conv_flops(x_shape, w_shape, grad_out_shape, transposed)
    return forward * (int(bool(output_mask[0])) + int(bool(output_mask[1])))


#: torch's formulas, with the convolution's backward replaced
CORRECTIONS = {aten.convolution_backward: conv_backward_flops}


def count_flops(fn: Callable[[], object]) -> int:
    """The FLOPs of ``fn()`` (run once), grouped convolutions counted correctly."""
    with FlopCounterMode(display=False, custom_mapping=CORRECTIONS) as counter:
        fn()
    return counter.get_total_flops()


def synchronizer(device: torch.device) -> Callable[[], None]:
    """What waits for ``device``'s queued work before a clock is read (nothing on CPU)."""
    return torch.cuda.synchronize if device.type == "cuda" else (lambda: None)


def median_seconds(fn: Callable[[], object], device: torch.device, repeats: int) -> float:
    """The median wall time of ``repeats`` calls of ``fn`` after one warm-up call."""
    sync, times = synchronizer(device), []
    fn()
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def matmul_gflops(device: torch.device | str = "cpu", n: int = 2048, repeats: int = 7) -> float:
    """The median GFLOP/s of an n×n float32 matmul (2n³ FLOPs) on ``device``, after a warm-up:
    the roofline the benchmark's GFLOP/s are a fraction of."""
    device = torch.device(device)
    a, b = (torch.randn(n, n, device=device) for _ in range(2))
    return 2 * n ** 3 / median_seconds(lambda: a @ b, device, repeats) / 1e9


def bandwidth_gbs(device: torch.device | str, shape: tuple, repeats: int = 9) -> float:
    """GB/s of ``dst.copy_(src)`` on a float32 tensor of ``shape`` (bytes read + written)."""
    device = torch.device(device)
    src = torch.randn(*shape, device=device)
    dst = torch.empty_like(src)
    seconds = median_seconds(lambda: dst.copy_(src), device, repeats)
    return 2 * src.numel() * src.element_size() / seconds / 1e9
