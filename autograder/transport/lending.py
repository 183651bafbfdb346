"""The judge's side of lent functions: the reference computed here, for one request.

When a function is graded alone (the student's ``maml_meta_loss`` with the reference
``inner_update``), the request names the lent functions and the worker binds each name to a
proxy (:mod:`autograder.worker.lent`).  Calling it sends a ``lend`` frame: the judge computes
the reference itself on leaf copies of the inputs (``requires_grad`` where the worker's input
required grad), keeps the graph, and answers the output values.  A ``lend_vjp`` frame asks for
the vector-Jacobian product of one of those calls, which the judge computes on its graph
(``torch.autograd.grad(outputs, inputs, v, retain_graph=True, allow_unused=True)``): chains of
calls give the exact higher-order derivatives in the worker, and no reference source ever
leaves the judge.

Every frame is hostile data.  What only a tampered worker sends — a name not lent in this
request, a call-back for another request, a malformed argument, more than :data:`MAX_LENDS`
calls or :data:`MAX_VJPS` products or :data:`MAX_ELEMENTS` numbers in one request — raises
:class:`LendViolation` (the request fails, the worker is lost).  What a student's code can cause
through the proxy — a dict whose keys, shapes or dtypes are not φ's, arguments the reference
raises on — is answered with an error, which the proxy raises in the student's code.  The
graphs are freed when the request ends (:meth:`Lending.close`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import torch

MAX_LENDS = 512          # calls of lent functions in one request
MAX_VJPS = 4 * MAX_LENDS  # vector-Jacobian products in one request
MAX_ELEMENTS = 1 << 24   # numbers the worker may send to lent functions in one request
MAX_ARGS = 16
LEND_OPS = ("lend", "lend_vjp")


class LendViolation(RuntimeError):
    """The worker sent a call-back that is not allowed: the request fails."""


class _BadInput(ValueError):
    """The student's arguments to a lent function are not usable: said to the student."""


@dataclass
class _Record:
    inputs: list       # the leaves that require grad, in the worker's order
    outputs: list      # the reference's outputs (with their graph)


class Lending:
    """The functions lent for one request, and the graphs of their calls."""

    def __init__(self, functions: Mapping[str, Callable], head: dict, tensors: dict) -> None:
        self.functions = dict(functions)
        self.spec, self.device = head.get("model"), head.get("device", "cpu")
        self.like = _params_of(head, tensors)
        self.calls: list[_Record] = []
        self.vjps = self.elements = 0
        self._model = None

    def answer(self, request_id: int, head: dict, tensors: dict) -> tuple[dict, dict]:
        """The answer frame to one call-back; raises :class:`LendViolation`."""
        if type(head.get("id")) is not int or head["id"] != request_id:
            raise LendViolation(f"a call-back for request {str(head.get('id'))[:20]}, not "
                                f"{request_id}")
        self.elements += sum(t.numel() for t in tensors.values())
        if self.elements > MAX_ELEMENTS:
            raise LendViolation(f"more than {MAX_ELEMENTS} numbers sent to lent functions")
        try:
            reply, out = (self._lend if head.get("op") == "lend" else self._vjp)(head, tensors)
        except LendViolation:
            raise
        except Exception as e:  # noqa: BLE001 - malformed data the checks above let through
            raise LendViolation(f"a malformed call-back ({type(e).__name__})") from None
        return {"id": request_id, **reply}, out

    def close(self) -> None:
        """Free the graphs (the request is over)."""
        self.calls.clear()

    # ----- one call -----------------------------------------------------------------------
    def _lend(self, head: dict, tensors: dict) -> tuple[dict, dict]:
        name, args, kwargs = head.get("fn"), head.get("args"), head.get("kwargs")
        if not isinstance(name, str) or name not in self.functions:
            raise LendViolation(f"a call of {str(name)[:80]!r}, which is not lent in this request")
        if len(self.calls) >= MAX_LENDS:
            raise LendViolation(f"more than {MAX_LENDS} calls of lent functions in one request")
        if not (isinstance(args, list) and isinstance(kwargs, dict)
                and len(args) + len(kwargs) <= MAX_ARGS):
            raise LendViolation("a call-back whose arguments are malformed")
        inputs: list = []
        try:
            a = [self._argument(s, tensors, inputs) for s in args]
            k = {str(key): self._argument(s, tensors, inputs) for key, s in kwargs.items()}
        except _BadInput as e:
            return {"error": f"{name}: {e}"}, {}
        try:
            with torch.enable_grad():
                result = self.functions[name](*a, **k)
        except Exception as e:  # noqa: BLE001 - the student's arguments: said to the student
            return {"error": f"{type(e).__name__}: {e}"[:500]}, {}
        outputs, shape = _outputs(result)
        if outputs is None:
            return {"error": f"{name} returned {type(result).__name__}"}, {}
        self.calls.append(_Record(inputs if any(o.requires_grad for o in outputs) else [],
                                  outputs))
        return ({"call": len(self.calls) - 1, **shape},
                {f"o{j}": o.detach() for j, o in enumerate(outputs)})

    def _argument(self, spec, tensors: dict, inputs: list):
        if not isinstance(spec, dict) or len(spec) > 4:
            raise LendViolation("a call-back argument that is not a description")
        if spec.get("model") is True:
            return self.model()
        if "tensor" in spec:
            return self._leaf(tensors, spec["tensor"], spec.get("grad"), inputs)
        if "params" in spec:
            return self._params(spec, tensors, inputs)
        value = spec.get("json", ...)
        if value is None or type(value) in (bool, int, float) or \
                (type(value) is str and len(value) <= 100):
            return value
        raise LendViolation("a call-back argument that is not plain data")

    def _params(self, spec: dict, tensors: dict, inputs: list) -> dict:
        order, grad, key = spec.get("order"), spec.get("grad"), spec.get("params")
        if not (isinstance(order, list) and isinstance(grad, list) and isinstance(key, str)
                and all(type(n) is str for n in order) and len(set(order)) == len(order)
                and set(grad) <= set(order)):
            raise LendViolation("a call-back dict argument that is malformed")
        out = {}
        for n in order:
            if n not in self.like:
                raise _BadInput(f"the dict passed holds {n[:80]!r}, which φ does not have")
            t = self._leaf(tensors, f"{key}.{n}", n in grad, inputs)
            want = self.like[n]
            if t.shape != want.shape or t.dtype != want.dtype:
                raise _BadInput(f"the dict passed holds {n!r} of shape {list(t.shape)} and "
                                f"{t.dtype}, φ's is {list(want.shape)} and {want.dtype}")
            out[n] = t
        return out

    def _leaf(self, tensors: dict, key, grad, inputs: list) -> torch.Tensor:
        t = tensors.get(key) if isinstance(key, str) else None
        if t is None or type(grad) is not bool or (grad and not t.is_floating_point()):
            raise LendViolation("a call-back tensor argument that is malformed")
        leaf = t.detach().to(self.device).requires_grad_(grad)
        if grad:
            inputs.append(leaf)
        return leaf

    def model(self) -> torch.nn.Module:
        """The judge's own model of the request's spec (the worker's is only a marker)."""
        if self._model is None:
            from autograder.worker.harness import Harness

            self._model = Harness().model(self.spec)
        return self._model

    # ----- one vector-Jacobian product ----------------------------------------------------
    def _vjp(self, head: dict, tensors: dict) -> tuple[dict, dict]:
        if head.get("op") != "lend_vjp":
            raise LendViolation(f"a frame of kind {str(head.get('op'))[:40]!r} during a call")
        self.vjps += 1
        k = head.get("call")
        if self.vjps > MAX_VJPS:
            raise LendViolation(f"more than {MAX_VJPS} derivatives of lent functions asked")
        if type(k) is not int or not 0 <= k < len(self.calls):
            raise LendViolation(f"the derivative of a call {str(k)[:20]} that was not made")
        record = self.calls[k]
        if set(tensors) - {f"v{j}" for j in range(len(record.outputs))}:
            raise LendViolation("a derivative request with tensors that are not its outputs'")
        pairs = []
        for j, o in enumerate(record.outputs):
            v = tensors.get(f"v{j}")
            if v is not None and (v.shape != o.shape or v.dtype != o.dtype):
                raise LendViolation("a derivative request whose gradients have other shapes")
            if v is not None and o.requires_grad:
                pairs.append((o, v.to(o.device)))
        grads = [None] * len(record.inputs)
        if pairs and record.inputs:
            grads = torch.autograd.grad([o for o, _ in pairs], record.inputs,
                                        [v for _, v in pairs], retain_graph=True,
                                        allow_unused=True)
        return ({"call": k, "grads": len(grads)},
                {f"g{i}": g.detach() for i, g in enumerate(grads) if g is not None})


def _params_of(head: dict, tensors: dict) -> dict:
    """name → tensor of every dict (φ, α) the request sends: what lent dicts must look like."""
    like: dict = {}
    specs = list(head.get("args") or []) + list((head.get("kwargs") or {}).values())
    for spec in specs:
        if isinstance(spec, dict) and "params" in spec:
            n = len(spec["params"]) + 1
            for key, t in tensors.items():
                if key.startswith(spec["params"] + "."):
                    like.setdefault(key[n:], t)
    return like


def _outputs(result) -> tuple[list | None, dict]:
    """The outputs of a reference function as a list, and how to rebuild them."""
    if isinstance(result, torch.Tensor):
        return [result], {"tensor": True}
    if isinstance(result, dict) and all(isinstance(v, torch.Tensor) for v in result.values()):
        return list(result.values()), {"dict": [str(k) for k in result]}
    return None, {}
