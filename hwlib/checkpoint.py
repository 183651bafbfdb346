"""Saving and resuming meta-training: φ, the meta-optimizer, the task sampler's random state,
the history and the step counter, written atomically (never a half-written checkpoint)."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from .cache import atomic_save


def save_checkpoint(path: str | os.PathLike, phi: dict[str, torch.Tensor], **state) -> Path:
    """Write ``phi`` and any extra ``state`` (optimizer, history, step, ...) to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_save({"phi": {k: v.detach().cpu() for k, v in phi.items()}, **state}, path)
    return path


def load_checkpoint(path: str | os.PathLike, device: torch.device | str = "cpu") -> dict:
    """Read a checkpoint; ``result["phi"]`` is a dict of leaf tensors with ``requires_grad``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    blob = torch.load(path, map_location=device, weights_only=False)
    blob["phi"] = {k: v.to(device).requires_grad_(True) for k, v in blob["phi"].items()}
    return blob
