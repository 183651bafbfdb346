"""Functions the judge lends for one call (a function graded alone), as call-backs.

While the judge grades, say, the student's ``maml_meta_loss`` alone, the student's own
``inner_update`` must not decide the verdict, so the judge lends its reference ``inner_update``
for that one request.  The reference never comes here: each lent name is bound to a small
proxy that sends its arguments to the judge (a ``lend`` frame on the reply channel), waits for
the judge's outputs and wraps them in an autograd node whose backward asks the judge for the
vector-Jacobian product (``lend_vjp``).  The judge keeps the graph of each call, so chains of
calls (``inner_update`` applied ``steps`` times with ``create_graph=True``) give the exact
second-order meta-gradient here.  Outputs are differentiable once in the worker (a second
backward through a lent function raises): no graded check needs more.

Arguments that cross: tensors, dicts name → tensor, the model the harness built for this
request (as a marker: the judge builds its own from the request's spec), and plain numbers,
strings, booleans and ``None``.  Anything else raises ``TypeError`` in the student's code.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch.autograd.function import once_differentiable

from .channel import DTYPES, encode, receive, write_all

#: ``ask(head, tensors) -> (head, tensors)``: one frame to the judge and its answer
Ask = Callable[[dict, dict], "tuple[dict, dict]"]


def no_judge(head: dict, tensors: dict) -> tuple[dict, dict]:
    """The link of a harness with no judge behind it."""
    raise RuntimeError("no grader to call back: nothing is lent here")


def call_back(request_fd: int, reply_fd: int, max_request: int) -> Ask:
    """The worker's link to the judge during a request: a frame out on the reply channel, the
    judge's answer (echoing the request's id) back on the request channel."""
    def ask(head: dict, tensors: dict) -> tuple[dict, dict]:
        write_all(reply_fd, encode(head, tensors))
        got, out = receive(request_fd, max_request)
        if got.get("id") != head.get("id"):
            raise RuntimeError("the grader's answer belongs to another request")
        return got, out
    return ask


class Lending:
    """The worker's side of the functions lent for one request (closed when it is answered)."""

    def __init__(self, ask: Ask, request_id, model: object) -> None:
        self.ask, self.request_id, self.model = ask, request_id, model
        self.open = True

    def proxy(self, name: str) -> Callable:
        """A stand-in for the judge's ``name``: same call, computed by the judge."""
        def lent(*args, **kwargs):
            return self.call(name, args, kwargs)
        lent.__name__ = lent.__qualname__ = name
        lent.__doc__ = f"{name}, lent by the grader for this call (computed by the grader)."
        return lent

    def close(self) -> None:
        self.open = False

    def call(self, name: str, args: tuple, kwargs: dict):
        """Send the arguments, receive the outputs, attach them to the inputs' graph."""
        if not self.open:
            raise RuntimeError(f"{name} was lent by the grader for one call only")
        tensors: dict = {}
        inputs: list[torch.Tensor] = []
        head = {"op": "lend", "id": self.request_id, "fn": name,
                "args": [self._spec(name, a, f"a{i}", tensors, inputs) for i, a in enumerate(args)],
                "kwargs": {str(k): self._spec(name, v, f"k_{k}", tensors, inputs)
                           for k, v in kwargs.items()}}
        got, out = self._ask(name, head, tensors)
        keys = got.get("dict")
        n = len(keys) if isinstance(keys, list) else 1
        outputs = [out.get(f"o{j}") for j in range(n)]
        if any(not isinstance(o, torch.Tensor) for o in outputs):
            raise RuntimeError(f"{name}: the grader's answer is incomplete")
        device = next(iter(tensors.values())).device if tensors else None  # the arguments'
        values = _LentCall.apply(self, name, got.get("call"), outputs, device, *inputs)
        return dict(zip(keys, values)) if isinstance(keys, list) else values[0]

    def vjp(self, name: str, call, grads: tuple, n_inputs: int) -> list:
        """The judge's vector-Jacobian product of call ``call`` for these output gradients."""
        if not self.open:
            raise RuntimeError(f"{name} was lent by the grader for one call only: its graph is "
                               "gone (differentiate within the call)")
        tensors = {f"v{j}": g for j, g in enumerate(grads) if g is not None}
        got, out = self._ask(name, {"op": "lend_vjp", "id": self.request_id, "call": call},
                             tensors)
        return [out.get(f"g{i}") for i in range(n_inputs)]

    def _ask(self, name: str, head: dict, tensors: dict) -> tuple[dict, dict]:
        got, out = self.ask(head, tensors)
        if got.get("error") is not None:
            raise RuntimeError(f"{name} (lent by the grader) failed on these arguments: "
                               f"{str(got['error'])[:500]}")
        return got, out

    def _spec(self, name: str, value, key: str, tensors: dict, inputs: list) -> dict:
        """One argument as JSON (its tensors go to ``tensors``; those that require grad are
        also the autograd inputs, in order)."""
        if value is self.model:
            return {"model": True}
        if isinstance(value, torch.Tensor):
            return {"tensor": key, "grad": _put(name, value, key, tensors, inputs)}
        if isinstance(value, dict) and all(isinstance(k, str) for k in value) \
                and all(isinstance(v, torch.Tensor) for v in value.values()):
            grad = [k for k, v in value.items() if _put(name, v, f"{key}.{k}", tensors, inputs)]
            return {"params": key, "order": list(value), "grad": grad}
        if isinstance(value, bool) or value is None:
            return {"json": value}
        for plain in (float, int, str):  # subclasses (numpy.float64) as the plain type
            if isinstance(value, plain):
                return {"json": plain(value)}
        if isinstance(value, torch.nn.Module):
            raise TypeError(f"{name} (lent by the grader) takes the model you were given, "
                            "not another one")
        raise TypeError(f"{name} (lent by the grader) takes tensors, dicts of tensors, the "
                        f"model and plain numbers, not {type(value).__name__}")


def _put(name: str, t: torch.Tensor, key: str, tensors: dict, inputs: list) -> bool:
    """Add ``t`` to the frame; True (and an autograd input) when it requires grad."""
    if t.dtype not in DTYPES:
        raise TypeError(f"{name} (lent by the grader): a tensor of dtype {t.dtype} cannot be "
                        f"sent; use one of {', '.join(str(d) for d in DTYPES)}")
    tensors[key] = t.detach()
    grad = bool(t.requires_grad and t.is_floating_point())
    if grad:
        inputs.append(t)
    return grad


class _LentCall(torch.autograd.Function):
    """The judge's outputs as a node of the worker's graph; backward asks the judge."""

    @staticmethod
    def forward(ctx, lending: Lending, name: str, call, outputs: list, device, *inputs):
        ctx.lending, ctx.name, ctx.call, ctx.n_inputs = lending, name, call, len(inputs)
        ctx.devices = [t.device for t in inputs]
        outs = tuple((o.to(device) if device is not None else o).clone() for o in outputs)
        ctx.mark_non_differentiable(*[o for o in outs if not o.is_floating_point()])
        return outs

    @staticmethod
    @once_differentiable
    def backward(ctx, *grads):
        got = ctx.lending.vjp(ctx.name, ctx.call, grads, ctx.n_inputs)
        return (None,) * 5 + tuple(g.to(d) if isinstance(g, torch.Tensor) else None
                                   for g, d in zip(got, ctx.devices))
