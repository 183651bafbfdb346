"""Choosing where tensors live: CUDA when present, else Apple's MPS, else the CPU."""

from __future__ import annotations

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
