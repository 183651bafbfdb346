"""Shared pieces of the hidden checks: the tiny classification problem (the sine one is
:func:`hwlib.sinusoid.tiny_sine_problem`), comparisons, plain-data checks.

Everything here runs in the judge on data the worker sent back (see :mod:`.student`).
"""

from __future__ import annotations

import math
from typing import Callable, Mapping

import torch

from hwlib.models import init_params
from hwlib.tasks import TaskBatch

from .student import CheckFailed, JudgeError, Opaque, fail

MLP_SPEC = {"kind": "mlp", "hidden": 6, "dtype": "float64"}

__all__ = ["MLP_SPEC", "CONV_SPEC", "grading_alpha", "tiny_classification", "CheckFailed", "fail", "check_params_dict",
           "check_answer", "close", "same_number", "require_finite", "max_diff", "scaled", "combine", "finite_difference", "true_gradient",
           "leaf", "returned_loss"]


CONV_SPEC = {"kind": "conv4", "n_way": 3, "hidden": 2, "image_size": 16, "dtype": "float64"}


def grading_alpha(seed: int) -> float:
    """α of one grading: drawn from the seed, never a value students hard-code."""
    return round(0.03 + 0.04 * ((seed * 7919) % 1000) / 1000, 4) + 0.0003


def tiny_classification(tasks: int = 3, seed: int = 0):
    """A float64 3-way Conv4 (2 channels, 16×16 images) and tasks whose labels are shuffled
    (not 0, 0, 1, 1, …): catches code that assumes the order of the labels."""
    from hwlib.models import Conv4

    model = Conv4(3, hidden=2, image_size=16).double()
    phi = {k: v.double().detach().requires_grad_(True) for k, v in init_params(model, seed).items()}
    gen = torch.Generator().manual_seed(seed + 11)
    parts = []
    for n in (6, 9):  # 2 support and 3 query drawings of each of the 3 classes
        y = torch.stack([torch.arange(n) % 3 for _ in range(tasks)])
        y = torch.stack([row[torch.randperm(n, generator=gen)] for row in y])
        parts += [torch.randn(tasks, n, 1, 16, 16, generator=gen, dtype=torch.float64), y]
    return model, phi, TaskBatch(*parts)


def check_answer(name: str, value: object, expected: object, hint: str) -> None:
    """A quiz answer or a value the student computed: exactly ``expected``, of its plain type."""
    if type(value) is not type(expected):
        got = value.type_name if isinstance(value, Opaque) else type(value).__name__
        fail(f"{name} must be a plain {type(expected).__name__}, got {got}.")
    if value != expected:
        fail(hint)


def check_params_dict(name: str, out: object, like: Mapping[str, torch.Tensor],
                      subclassed: list | None = None) -> None:
    """``out`` must be a dict with the keys, shapes and dtypes of ``like``, finite, plain."""
    if type(out) is not dict:
        got = out.type_name if isinstance(out, Opaque) else type(out).__name__
        fail(f"{name} must return a dict name -> tensor like φ, got {got}.")
    missing, extra = set(like) - set(out), set(out) - set(like)
    if missing or extra:
        fail(f"{name} returned keys that differ from φ: missing {sorted(missing)[:3]}, "
             f"unexpected {sorted(extra)[:3]}.")
    if subclassed:
        fail(f"{name}: {subclassed[0]} is a tensor subclass; return plain torch tensors.")
    for k, v in like.items():
        if not isinstance(out[k], torch.Tensor) or out[k].shape != v.shape:
            got = out[k].type_name if isinstance(out[k], Opaque) else getattr(
                out[k], "shape", type(out[k]).__name__)
            fail(f"{name}: '{k}' should be a tensor of shape {tuple(v.shape)}, got {got}.")
        if out[k].dtype != v.dtype:
            fail(f"{name}: '{k}' has dtype {out[k].dtype}, but φ has {v.dtype}; keep the dtype.")
    require_finite(name, out)


def returned_loss(name: str, value: object, probe: dict, phi: Mapping[str, torch.Tensor]
                  ) -> tuple[float, dict[str, torch.Tensor]]:
    """A scalar loss returned by the student and its gradient w.r.t. φ (computed in the
    worker by the ``grad`` probe), with a clear failure for anything else."""
    if not isinstance(value, torch.Tensor) or value.dim() != 0:
        got = value.type_name if isinstance(value, Opaque) else type(value).__name__
        fail(f"{name} must return a scalar tensor (0-d), got {got} "
             f"{tuple(getattr(value, 'shape', ()))}.")
    require_finite(f"the loss {name} returned", value)
    return value.item(), probed_gradient(name, "a loss", f"the loss {name} returned", probe,
                                         phi)


def probed_gradient(name: str, returned: str, of: str, probe: dict,
                    phi: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The gradient w.r.t. φ that a worker's probe computed from what the student's function
    ``returned`` ("a loss", "logits"), of ``of`` ("the returned loss", "the cross-entropy of the
    returned logits"), checked as hostile data: every entry of φ's shape and dtype, finite (an
    entry φ does not reach is zero)."""
    if probe.get("no_graph"):
        fail(f"{name} returned {returned} with no graph back to φ: do not detach, use .item(), "
             "or compute it under torch.no_grad().")
    if "grads" not in probe:
        fail(f"{name}: the gradient of {of} could not be computed "
             f"({probe.get('error', 'no answer')}).")
    grads = {k: probe["grads"].get(k, torch.zeros_like(v)) for k, v in phi.items()}
    for k, g in grads.items():
        if g.shape != phi[k].shape or g.dtype != phi[k].dtype:
            fail(f"{name}: the gradient of {of} w.r.t. '{k}' has shape "
                 f"{tuple(g.shape)} and dtype {g.dtype}, φ's has {tuple(phi[k].shape)}, "
                 f"{phi[k].dtype}.")
    require_finite(f"the gradient of {of} w.r.t. φ", grads)
    return grads


#: the expected values of every verdict, when a test records them (``tests/test_no_secrets.py``
#: checks that none of them was ever sent to a worker); None: not recorded
EXPECTED: list | None = None


def require_finite(label: str, value: object) -> None:
    """Fail, by name, when ``value`` (a number, a tensor, or a dict/sequence of them) holds
    NaN or ±inf.  Every numeric verdict calls this before comparing anything: ``abs(nan − x)
    > tol`` is False, so a comparison alone would let NaN pass."""
    for where, x in _numbers(value):
        finite = torch.isfinite(x).all().item() if isinstance(x, torch.Tensor) else \
            math.isfinite(x)
        if not finite:
            what = "NaN" if (x.isnan().any().item() if isinstance(x, torch.Tensor)
                             else math.isnan(x)) else "inf"
            inside = f" (in {where})" if where else ""
            fail(f"{label} is {what}{inside}, not a finite number, on a small, well-behaved "
                 "example: no comparison can accept it.")


def _numbers(value: object, where: str = ""):
    if isinstance(value, torch.Tensor):
        if value.is_floating_point() or value.is_complex():
            yield where, value.detach()
    elif isinstance(value, bool):
        return
    elif isinstance(value, (int, float)):
        yield where, float(value)
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _numbers(v, f"{where}['{k}']")
    elif isinstance(value, (tuple, list)):
        for i, v in enumerate(value):
            yield from _numbers(v, f"{where}[{i}]")


def _expected(want: object) -> None:
    if EXPECTED is not None:
        EXPECTED.append(want)


def close(a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor], rtol: float = 1e-5,
          atol: float = 1e-8, label: str = "the returned value") -> bool:
    """``a`` (the student's) equals ``b`` (the expected) entry by entry; NaN/inf in ``a``
    fails by name first (:func:`require_finite`)."""
    require_finite(label, {k: a[k] for k in b if k in a and isinstance(a[k], torch.Tensor)})
    _expected(b)
    return all(k in a and a[k].shape == b[k].shape and
               torch.allclose(a[k].detach().to(b[k].dtype), b[k].detach(), rtol=rtol, atol=atol)
               for k in b)


def same_number(label: str, got: object, want: float, rtol: float = 1e-7) -> bool:
    """A scalar verdict: ``got`` is a finite number within ``rtol``·max(1, |want|) of ``want``
    (NaN and inf fail by name first)."""
    require_finite(label, got)
    _expected(want)
    return abs(float(got) - want) <= rtol * max(1.0, abs(want))


def max_diff(a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor]) -> float:
    return max((a[k].detach() - b[k].detach()).abs().max().item() for k in b)


def scaled(d: Mapping[str, torch.Tensor], s: float) -> dict[str, torch.Tensor]:
    return {k: v * s for k, v in d.items()}


def combine(a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor], s: float):
    """a + s·b."""
    return {k: a[k].detach() + s * b[k].detach() for k in a}


def true_gradient(f: Callable[[dict], torch.Tensor],
                  phi: Mapping[str, torch.Tensor], eps: float = 1e-6,
                  confirm: bool = True) -> dict[str, torch.Tensor]:
    """∇φ f: the exact derivative at φ (autograd of the reference in float64), confirmed by
    central finite differences.  The student's gradient is compared with the exact one, never
    with the differences themselves: their error (~1e-6 relative) would otherwise decide a
    correct submission's verdict on some seeds (measured: 2 of 60 seeds failed the reference).

    A ReLU network's meta-loss is only piecewise smooth: where a hidden unit switches within
    ε of φ the differences measure the jump, so the exact derivative is confirmed when the
    differences at ε or at ε/10 agree with it.  When neither does while the two agree with
    each other (a slope, not a jump), the reference itself is wrong: :class:`JudgeError`, a
    grader problem and never a grade.  ``confirm=False`` skips the differences (where the same
    reference was confirmed on a cheaper case: more inner steps of a meta-loss confirmed at
    one).  ``f`` must be differentiable w.r.t. the dict it gets."""
    at = leaf(phi)
    exact = dict(zip(phi, torch.autograd.grad(f(at), list(at.values()))))
    if not confirm:
        return exact
    tol = dict(rtol=1e-4, atol=1e-7)
    coarse = finite_difference(lambda p: f(leaf(p)), phi, eps)
    if close(coarse, exact, **tol):
        return exact
    fine = finite_difference(lambda p: f(leaf(p)), phi, eps / 10)
    if close(fine, exact, **tol) or not close(fine, coarse, rtol=1e-3, atol=1e-6):
        return exact  # confirmed nearer φ, or a kink within ε: the differences see a jump
    raise JudgeError(f"the reference's derivative differs from finite differences by up to "
                     f"{max_diff(exact, coarse):.3g} where they measure a slope")


def finite_difference(f: Callable[[dict], torch.Tensor], phi: Mapping[str, torch.Tensor],
                      eps: float = 1e-6) -> dict[str, torch.Tensor]:
    """Central finite differences (f(φ + εe_i) − f(φ − εe_i)) / 2ε of a scalar function of φ."""
    base = {k: v.detach().clone() for k, v in phi.items()}
    grads = {}
    for k, v in base.items():
        g = torch.zeros_like(v)
        for i in range(v.numel()):
            step = torch.zeros(v.numel(), dtype=v.dtype)
            step[i] = eps
            up = {**base, k: v + step.view_as(v)}
            down = {**base, k: v - step.view_as(v)}
            g.view(-1)[i] = (f(up) - f(down)).item() / (2 * eps)
        grads[k] = g
    return grads


def leaf(phi: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone().requires_grad_(True) for k, v in phi.items()}
