"""The student's functions as the judge sees them: questions to a worker, plain data back.

``Student.call("inner_update", MODEL, P(phi), x, y, ALPHA, create_graph=True, probes=[…])``
sends φ, tensors and task batches to the worker (:mod:`autograder.worker.harness`), which
calls the student's function there; the answer comes back decoded from safetensors/JSON into
a :class:`Call`: the returned value (tensors, dicts, tuples, plain values; any other object
only by its type name) and the probes (gradients computed in the worker from the returned
value).  ``lend={"inner_update": ref.inner_update}`` grades a function alone: in the worker
the name stands for a proxy whose calls (and derivatives) the judge computes with the given
function (:mod:`autograder.transport.lending`); nothing of the function but its name is sent.  A
function given directly (the instructor's notebook, unit tests) runs in-process through the
same harness (:class:`autograder.transport.local.LocalClient`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from hwlib.tasks import TaskBatch

PLAIN = ("Tensor", "Parameter")


class CheckFailed(AssertionError):
    """A graded check failed; the message names the cause in words."""


class JudgeError(RuntimeError):
    """The judge's own reference failed a self-check (e.g. its derivative disagrees with finite
    differences): no verdict can be given; the pipeline reports a grader error, never a grade."""


def fail(message: str) -> None:
    raise CheckFailed(message)


@dataclass(frozen=True)
class P:
    """Parameters φ sent as a dict of leaf tensors (``grad``: requires_grad in the worker)."""

    params: dict
    grad: bool = True


@dataclass(frozen=True)
class Opaque:
    """A returned object that is not plain data: only its type name crosses the boundary."""

    type_name: str


@dataclass(frozen=True)
class G:
    """A tensor argument sent as a leaf that requires grad: a probe can differentiate the
    result w.r.t. it (``"wrt": "a<i>"``, the argument's position)."""

    tensor: torch.Tensor


MODEL = object()  # placeholder for the model argument


@dataclass
class Call:
    name: str
    value: Any = None
    probes: dict = field(default_factory=dict)
    subclassed: list = field(default_factory=list)
    error: str | None = None


class Student:
    """A submission's functions behind a client (a sandboxed worker, or in-process)."""

    def __init__(self, client) -> None:
        self.client = client

    @classmethod
    def of(cls, fn: Callable | "Student", name: str) -> "Student":
        if isinstance(fn, Student):
            return fn
        from autograder.transport.local import LocalClient

        return cls(LocalClient({name: fn}))

    def values(self, names: list[str]) -> dict:
        return self.client.request({"op": "values", "names": names}).head.get("values", {})

    def call(self, fn: str, model: dict, *args, probes: list | None = None,
             lend: dict[str, Callable] | None = None, seconds: float | None = None,
             device: str = "cpu", repeat: int = 1, chain: int = 1, **kwargs) -> Call:
        """Call ``fn`` in the worker (with the functions ``lend`` lends it: graded alone;
        ``repeat`` times on the same tensors, or ``chain`` times on its own returned
        parameters: :func:`autograder.worker.harness.called`); failures of the student's code
        come back as text."""
        tensors: dict[str, torch.Tensor] = {}
        head = {"op": "call", "fn": fn, "model": model, "device": device,
                "args": [_spec(a, f"a{i}", tensors) for i, a in enumerate(args)],
                "kwargs": {k: _spec(v, f"k_{k}", tensors) for k, v in kwargs.items()},
                "probes": [_probe(p, tensors) for p in probes or []],
                "lend": sorted(lend or {}), "repeat": repeat, "chain": chain}
        reply = self.client.request(head, tensors, seconds, **({"lend": lend} if lend else {}))
        call = Call(fn, error=_error(fn, reply.head))
        if call.error is None:
            call.value = _decode(reply.head.get("result"), reply.tensors, call.subclassed, "")
            call.probes = {k: _decode_probe(v, reply.tensors)
                           for k, v in (reply.head.get("probes") or {}).items()
                           if isinstance(v, dict)}
        return call

    def outer_step(self, model: dict, phi: dict, data: list[tuple], lr: float,
                   optimizer: str = "sgd") -> dict:
        tensors = {f"phi.{k}": v for k, v in phi.items()}
        for i, (x, y) in enumerate(data):
            tensors[f"x{i}"], tensors[f"y{i}"] = x, y
        reply = self.client.request({"op": "outer_step", "model": model, "lr": lr,
                                     "calls": len(data), "order": list(phi),
                                     "optimizer": optimizer}, tensors)
        return {"error": _error("outer_step", reply.head), "steps": reply.head.get("steps"),
                "tensors": reply.tensors}


def _spec(value, key: str, tensors: dict) -> dict:
    if value is MODEL:
        return {"model": True}
    if isinstance(value, P):
        tensors.update({f"{key}.{k}": v.detach() for k, v in value.params.items()})
        # the frame stores tensors in its own order: the worker rebuilds the dict in φ's
        return {"params": key, "grad": value.grad, "order": list(value.params)}
    if isinstance(value, TaskBatch):
        for k, t in zip(("xs", "ys", "xq", "yq"), (value.x_support, value.y_support,
                                                   value.x_query, value.y_query)):
            tensors[f"{key}.{k}"] = t
        return {"batch": key}
    if isinstance(value, G):
        tensors[key] = value.tensor.detach()
        return {"tensor": key, "grad": True}
    if isinstance(value, torch.Tensor):
        tensors[key] = value
        return {"tensor": key}
    return {"json": value}


def _probe(probe: dict, tensors: dict) -> dict:
    out = dict(probe)
    if isinstance(probe.get("v"), torch.Tensor):  # the v of a tensor result
        tensors[f"v.{probe['name']}"] = probe["v"]
        out["v"] = f"v.{probe['name']}"
    for field_ in ("v",):
        if isinstance(probe.get(field_), dict):
            tensors.update({f"v.{probe['name']}.{k}": t for k, t in probe[field_].items()})
            out[field_] = f"v.{probe['name']}"
    for field_ in ("x", "y"):
        if isinstance(probe.get(field_), torch.Tensor):
            tensors[f"{field_}.{probe['name']}"] = probe[field_]
            out[field_] = f"{field_}.{probe['name']}"
    return out


def _error(fn: str, head: dict) -> str | None:
    error = head.get("error")
    if error is None:
        return None
    kind = head.get("kind")
    if kind == "not_implemented":
        return f"{fn} is not implemented yet (it raises NotImplementedError)."
    if kind == "missing":
        return f"{fn} is not defined: its cell did not run to the end (see the cell's error)."
    where = f" (at: {head['where'].strip()})" if head.get("where") else ""
    return f"{fn} raised {error}{where}"


def _decode(spec, tensors: dict, subclassed: list, path: str, depth: int = 0):
    if not isinstance(spec, dict) or depth > 4:
        return Opaque("malformed")
    if "tensor" in spec:
        t = tensors.get(spec["tensor"])
        if t is None:
            return Opaque("missing tensor")
        if spec.get("cls") not in PLAIN:
            subclassed.append(f"{path or 'result'}: {spec.get('cls')}")
        return t
    if "value" in spec:
        v = spec["value"]
        return v if type(v) in (str, int, float, bool) or v is None else Opaque("malformed")
    if "dict" in spec and isinstance(spec["dict"], dict):
        return {str(k): _decode(v, tensors, subclassed, f"{path}[{k!r}]", depth + 1)
                for k, v in spec["dict"].items()}
    if "seq" in spec and isinstance(spec["seq"], list):
        items = [_decode(v, tensors, subclassed, f"{path}[{i}]", depth + 1)
                 for i, v in enumerate(spec["seq"])]
        return tuple(items) if spec.get("cls") == "tuple" else items
    return Opaque(str(spec.get("type"))[:80])


def _decode_probe(spec: dict, tensors: dict) -> dict:
    if "grads" in spec:
        n = len(str(spec["grads"])) + 1
        none = spec.get("none")
        return {"grads": {k[n:]: v for k, v in tensors.items()
                          if k.startswith(str(spec["grads"]) + ".")},
                "none": [x for x in none if isinstance(x, str)] if isinstance(none, list) else []}
    return dict(spec)
