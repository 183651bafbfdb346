"""The reference answers, with the students' signatures (the solution notebook's answer cells
hold the same code)."""

from __future__ import annotations

import torch


def scale(x: torch.Tensor, a: float) -> torch.Tensor:
    """a·x, entry by entry."""
    return a * x
