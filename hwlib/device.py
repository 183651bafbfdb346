"""Choosing where tensors live (CUDA when present, else Apple's MPS, else the CPU), and
making the CPU allocator fit meta-learning's large, short-lived tensors."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

import torch


def default_device(prefer: str | torch.device | None = None) -> torch.device:
    """``prefer`` if given (``"auto"`` means choose), else the best available device."""
    if prefer is not None and str(prefer) != "auto":
        device = torch.device(prefer)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("device='cuda' was asked for but torch.cuda.is_available() is False; "
                             "use device='cpu' or install a CUDA build of torch (see README)")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def keep_cpu_memory_mapped() -> bool:
    """Stop glibc from returning large tensors' memory to the OS after every step.

    glibc serves allocations above ``M_MMAP_THRESHOLD`` (≤ 32 MB) with a fresh ``mmap`` and
    unmaps them on free, so every meta-step page-faults its large activations in again (costly
    on virtual machines).  Raising the threshold and the trim threshold keeps that memory in
    the heap for reuse: the batched reference path is measurably faster on CPU
    (docs/benchmarks.md).  Process-wide; a no-op (returns False) outside Linux/glibc.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        return bool(libc.mallopt(m_mmap_threshold, 1 << 30)
                    and libc.mallopt(m_trim_threshold, 2 ** 31 - 1))
    except (OSError, AttributeError):
        return False
