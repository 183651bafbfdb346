"""What the judge runs for this assignment: ``ORDER`` (every check the notebook's hidden test
cells may name, in the order the judge runs them), ``TIERS`` (none here: accuracy tiers are
:class:`autograder.assignments.Tier` records) and the checks themselves."""

from __future__ import annotations

import torch

from autograder.checks import Student
from autograder.checks.common import MLP_SPEC, check_answer, close, fail

ORDER = ("check_answer", "check_scale")
TIERS: dict = {}


def check_scale(scale, seed: int = 0) -> None:
    """``scale(x, a)`` = a·x on inputs drawn from the grading's seed (``scale`` is the student's
    function behind a sandboxed worker, or a plain function in-process)."""
    s = Student.of(scale, "scale")
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(5, generator=gen, dtype=torch.float64)
    a = 0.5 + torch.rand(1, generator=gen, dtype=torch.float64).item()
    call = s.call("scale", MLP_SPEC, x, a)
    if call.error:
        fail(call.error)
    if not isinstance(call.value, torch.Tensor) or call.value.shape != x.shape:
        fail("scale must return a tensor of the shape of x.")
    if not close({"y": call.value}, {"y": a * x}):
        adds = close({"y": call.value}, {"y": x + a})
        said = " — it adds a instead of multiplying" if adds else ""
        fail(f"scale(x, a) is not a·x{said}.")


__all__ = ["ORDER", "TIERS", "check_answer", "check_scale"]
