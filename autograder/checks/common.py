"""Shared pieces of the hidden checks: the tiny float64 problem, comparisons, failures."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator, Mapping

import torch

from hwlib.models import MLP, init_params
from hwlib.sinusoid import SinusoidSampler
from hwlib.tasks import TaskBatch

ALPHA = 0.05
#: what a student's function may return as a tensor: no subclasses (a ``__torch_function__``
#: override could make every comparison of the checks pass)
PLAIN_TENSORS = (torch.Tensor, torch.nn.Parameter)


class CheckFailed(AssertionError):
    """A graded check failed; the message names the cause in words."""


def fail(message: str) -> None:
    raise CheckFailed(message)


def tiny_problem(tasks: int = 3, seed: int = 0, hidden: int = 6):
    """A float64 1-6-6-1 MLP and a meta-batch of sine tasks: small enough for finite differences."""
    model = MLP(hidden=hidden).double()
    phi = {k: v.double().detach().requires_grad_(True) for k, v in init_params(model, seed).items()}
    b = SinusoidSampler(k_shot=5, q_query=5, seed=seed).sample(tasks)
    return model, phi, TaskBatch(*(t.double() for t in (b.x_support, b.y_support, b.x_query,
                                                         b.y_query)))


def call_student(name: str, fn: Callable, *args, **kwargs):
    """Call the student's ``fn``; turn 'not implemented' and crashes into clear failures.

    Right after it returns, the grading sandbox verifies that the student's code changed none
    of the trusted code the check goes on to use (:mod:`autograder.tamper`): setting a local
    function's ``__code__`` raises an audit event no student code can intercept or skip (a call
    to a helper could be swapped, so the two lines are written out here and in :func:`guarded`).
    """
    try:
        result = fn(*args, **kwargs)
    except NotImplementedError:
        fail(f"{name} is not implemented yet (it raises NotImplementedError).")
    except CheckFailed:
        raise
    except Exception as e:  # the student's code crashed: say where, in words
        fail(f"{name} raised {type(e).__name__}: {e}")

    def _hw_probe(): pass
    _hw_probe.__code__ = _hw_probe.__code__  # the sandbox verifies the environment here
    return result


def guarded(fn: Callable) -> Callable:
    """``fn`` (student code run many times, e.g. in meta-training), followed by the sandbox's
    verification after every call, like :func:`call_student` (exceptions pass through)."""
    def call(*args, **kwargs):
        result = fn(*args, **kwargs)

        def _hw_probe(): pass
        _hw_probe.__code__ = _hw_probe.__code__
        return result

    return call


def check_answer(name: str, value: object, expected: object, hint: str) -> None:
    """A quiz answer or a value the student computed: exactly ``expected``, of its plain type
    (a ``str`` subclass whose ``==`` is always true, or a shadowed ``type``, gains nothing)."""
    if type(value) is not type(expected):
        fail(f"{name} must be a plain {type(expected).__name__}, got {type(value).__name__}.")
    if value != expected:
        fail(hint)


@contextmanager
def graded_alone(fn: Callable, **reference: Callable) -> Iterator[None]:
    """Grade ``fn`` on its own: while the block runs, the helpers it calls by global name
    (e.g. the student's ``inner_update``) are the reference ones, so a bug in one function
    costs the points of its own test, not of every test that calls it.  Restored afterwards."""
    namespace = getattr(fn, "__globals__", None)
    if namespace is None:
        yield
        return
    saved = {k: namespace[k] for k in reference if k in namespace}
    namespace.update(reference)
    try:
        yield
    finally:
        for k in reference:
            if k in saved:
                namespace[k] = saved[k]
            else:
                namespace.pop(k, None)


def check_params_dict(name: str, out: object, like: Mapping[str, torch.Tensor]) -> None:
    """``out`` must be a dict with the keys, shapes and dtypes of ``like``."""
    if type(out) is not dict:  # exactly dict: a subclass could run code while being read
        fail(f"{name} must return a dict name -> tensor like φ, got {type(out).__name__}.")
    missing, extra = set(like) - set(out), set(out) - set(like)
    if missing or extra:
        fail(f"{name} returned keys that differ from φ: missing {sorted(missing)[:3]}, "
             f"unexpected {sorted(extra)[:3]}.")
    for k, v in like.items():
        if not isinstance(out[k], torch.Tensor) or out[k].shape != v.shape:
            fail(f"{name}: '{k}' should be a tensor of shape {tuple(v.shape)}, got "
                 f"{getattr(out[k], 'shape', type(out[k]).__name__)}.")
        if type(out[k]) not in PLAIN_TENSORS:
            fail(f"{name}: '{k}' is a {type(out[k]).__name__}; return plain torch tensors.")
        if out[k].dtype != v.dtype:
            fail(f"{name}: '{k}' has dtype {out[k].dtype}, but φ has {v.dtype}; keep the dtype.")
        if not torch.isfinite(out[k]).all():
            fail(f"{name}: '{k}' contains NaN or inf on a small, well-behaved example.")


def close(a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor], rtol: float = 1e-5,
          atol: float = 1e-8) -> bool:
    return all(torch.allclose(a[k].detach(), b[k].detach(), rtol=rtol, atol=atol) for k in b)


def max_diff(a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor]) -> float:
    return max((a[k].detach() - b[k].detach()).abs().max().item() for k in b)


def scaled(d: Mapping[str, torch.Tensor], s: float) -> dict[str, torch.Tensor]:
    return {k: v * s for k, v in d.items()}


def combine(a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor], s: float):
    """a + s·b."""
    return {k: a[k].detach() + s * b[k].detach() for k in a}


def gradient(name: str, loss: object, phi: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """∇φ loss, with a clear failure when the loss is not a differentiable scalar of φ."""
    if type(loss) not in PLAIN_TENSORS or loss.dim() != 0:
        fail(f"{name} must return a scalar tensor (0-d), got "
             f"{type(loss).__name__} {tuple(getattr(loss, 'shape', ()))}.")
    if not torch.isfinite(loss):
        fail(f"{name} returned {loss.item()} (not finite) on a small, well-behaved example.")
    if not loss.requires_grad:
        fail(f"{name} returned a loss with no graph back to φ: do not detach, use .item(), or "
             "compute it under torch.no_grad().")
    grads = torch.autograd.grad(loss, list(phi.values()), allow_unused=True)
    return {k: torch.zeros_like(v) if g is None else g for (k, v), g in zip(phi.items(), grads)}


def finite_difference(f: Callable[[dict], torch.Tensor], phi: Mapping[str, torch.Tensor],
                      eps: float = 1e-6) -> dict[str, torch.Tensor]:
    """Central finite differences (f(φ + εe_i) − f(φ − εe_i)) / 2ε of a scalar function of φ."""
    base = {k: v.detach().clone() for k, v in phi.items()}
    grads = {}
    for k, v in base.items():
        g = torch.zeros_like(v)
        for i in range(v.numel()):
            up = {**base, k: v.flatten().index_add(0, torch.tensor([i]),
                                                   torch.tensor([eps], dtype=v.dtype)).view_as(v)}
            down = {**base, k: v.flatten().index_add(0, torch.tensor([i]),
                                                     torch.tensor([-eps], dtype=v.dtype)).view_as(v)}
            g.view(-1)[i] = (f(up) - f(down)).item() / (2 * eps)
        grads[k] = g
    return grads


def leaf(phi: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone().requires_grad_(True) for k, v in phi.items()}
