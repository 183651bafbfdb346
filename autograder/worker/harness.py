"""The worker: runs a student's cells, then calls the student's functions for the judge.

Started by the judge inside the sandbox (``python -m hw_worker``, which first checks the imports:
:mod:`.hello`) with two pipe file descriptors (``HW_REQUEST_FD``, ``HW_REPLY_FD``).  Requests
(:mod:`.channel` frames):

* ``hello`` (first, before any student code): the interpreter and the packages' versions and
  files, which the judge compares with its own;
* ``run_cells``: run the cells, in order, in one IPython namespace (a cell that raises or runs
  past its time fails alone, as in a notebook); reply with each cell's outcome;
* ``values``: the plain values (str, int, float, bool) of some names, e.g. quiz answers;
* ``call``: build the arguments the judge describes (a model, φ, tensors, a task batch), call
  one student function, reply with what it returned and the *probes* the judge asked for
  (gradients of the result, vector-Jacobian products, the inputs after the call).  A call
  that ``lend``s names (a function graded alone) binds each to a proxy for that call
  (:mod:`.lent`): the judge computes the lent function, answering call-backs sent on the
  reply channel until the reply;
* ``outer_step``: call the student's ``outer_step(optimizer, meta_loss)`` on losses built here
  and reply with φ, ``.grad`` and the returned value after each call.

Every reply echoes its request's ``id``.  Nothing here is trusted by the judge: it checks
every reply (types, shapes, values).  No answer and no check lives here, nor ever comes here.
"""

from __future__ import annotations

import signal
import sys
import traceback

import torch

from .lent import Lending, no_judge
from .models import build_model
from .process import sweep

MAX_REQUEST = 1 << 30


class CellTimeout(Exception):
    """A cell ran past its time limit."""


def _alarm(signum, frame):
    raise CellTimeout("the cell ran past its time limit")


def describe(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}"[:800]


class Harness:
    """The request handler (also used in-process by the judge's trusted ``local`` mode)."""

    def __init__(self, namespace: dict | None = None) -> None:
        self.namespace = namespace if namespace is not None else {}
        self.models: dict = {}
        self.shell = None
        self.link = no_judge  # ``ask(head, tensors) -> (head, tensors)``: a call-back

    # ----- cells ------------------------------------------------------------------------
    def run_cells(self, head: dict, tensors: dict) -> tuple[dict, dict]:
        from IPython.core.interactiveshell import InteractiveShell

        self.shell = InteractiveShell.instance(user_ns=self.namespace, colors="NoColor")
        self.shell.enable_gui = lambda gui=None: None  # `%matplotlib inline`: no GUI here
        limit = int(head.get("cell_seconds", 0))
        signal.signal(signal.SIGALRM, _alarm)
        outcomes = []
        for cell in head["cells"]:
            signal.setitimer(signal.ITIMER_REAL, limit) if limit else None
            try:
                result = self.shell.run_cell(cell["source"], store_history=False, silent=False)
                error = result.error_before_exec or result.error_in_exec
            except BaseException as e:  # noqa: BLE001 - e.g. the alarm between statements
                error = e
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            sweep()
            outcomes.append({"id": cell.get("id"), "error": describe(error) if error else None})
            sys.stdout.flush()
        return {"cells": outcomes}, {}

    def values(self, head: dict, tensors: dict) -> tuple[dict, dict]:
        out = {}
        for name in head["names"]:
            if name not in self.namespace:
                out[name] = {"type": None}
                continue
            v = self.namespace[name]
            plain = type(v) in (str, int, float, bool)
            out[name] = {"type": type(v).__name__, **({"value": v} if plain else {})}
        return {"values": out}, {}

    # ----- calls ------------------------------------------------------------------------
    def model(self, spec: dict) -> torch.nn.Module:
        key = repr(sorted(spec.items()))
        if key not in self.models:
            self.models[key] = build_model(spec)
        return self.models[key]

    def argument(self, spec: dict, head: dict, tensors: dict, made: dict):
        if "model" in spec:
            return self.model(head["model"])
        if "params" in spec:
            return made.setdefault(spec["params"], self.params(
                spec["params"], tensors, spec.get("grad", True), head.get("device", "cpu"),
                spec.get("order")))
        if "tensor" in spec:
            t = tensors[spec["tensor"]].to(head.get("device", "cpu"))
            if spec.get("grad") and t.is_floating_point():  # a differentiable input
                t = t.detach().clone().requires_grad_(True)
                made[spec["tensor"]] = {"input": t}
            return t
        if "batch" in spec:
            from hwlib.tasks import TaskBatch

            p, dev = spec["batch"], head.get("device", "cpu")
            return TaskBatch(*(tensors[f"{p}.{k}"].to(dev) for k in ("xs", "ys", "xq", "yq")))
        return spec["json"]

    @staticmethod
    def params(prefix: str, tensors: dict, grad: bool, device: str = "cpu",
               order: list | None = None) -> dict:
        """The dict sent under ``prefix``, in the sender's key ``order`` (a frame stores its
        tensors in an order of its own; a student's code may rely on φ's)."""
        n = len(prefix) + 1
        names = [k[n:] for k in tensors if k.startswith(prefix + ".")]
        if isinstance(order, list):
            names = [k for k in order if isinstance(k, str) and k in names] + \
                [k for k in names if k not in order]
        return {k: tensors[f"{prefix}.{k}"].detach().to(device).clone().requires_grad_(grad)
                for k in names}

    def call(self, head: dict, tensors: dict) -> tuple[dict, dict]:
        fn = self.namespace.get(head["fn"])
        if not callable(fn):
            return {"error": f"{head['fn']} is not defined (run its cell)", "kind": "missing"}, {}
        lending = Lending(self.link, head.get("id"), self.model(head["model"])) \
            if head.get("lend") else None
        try:
            return self._call(fn, head, tensors, lending)
        finally:
            if lending is not None:  # the judge frees the graphs: no call-back after this
                lending.close()

    def _call(self, fn, head: dict, tensors: dict, lending: Lending | None) -> tuple[dict, dict]:
        made: dict = {}
        args = [self.argument(s, head, tensors, made) for s in head.get("args", [])]
        kwargs = {k: self.argument(s, head, tensors, made) for k, s in head.get("kwargs", {}).items()}
        watch = any(p.get("kind") == "inputs_after" for p in head.get("probes", []))
        before = {k: {n: v.detach().clone() for n, v in p.items()} for k, p in made.items()} \
            if watch else {}
        restore = self.lend(fn, lending, head.get("lend") or [])
        try:
            result = called(fn, args, kwargs, head)
        except NotImplementedError:
            return {"error": "raises NotImplementedError", "kind": "not_implemented"}, {}
        except BaseException as e:  # noqa: BLE001 - the student's code failed: say how
            return {"error": describe(e), "kind": "raised",
                    "where": _student_line(e)}, {}
        finally:
            sweep()
            restore()
        out: dict = {}
        reply = {"result": self.encode(result, "r", out), "probes": {}}
        for probe in head.get("probes", []):
            try:
                reply["probes"][probe["name"]] = self.probe(probe, result, made, before, head,
                                                            tensors, out)
            except BaseException as e:  # noqa: BLE001
                reply["probes"][probe["name"]] = {"error": describe(e)}
        return reply, out

    @staticmethod
    def lend(fn, lending: Lending | None, names: list):
        """Bind a proxy of the judge's function for each of ``names`` in the function's
        globals for one call (a function graded alone); returns the undo."""
        space = getattr(fn, "__globals__", None)
        names = [n for n in names if isinstance(n, str)]
        if lending is None or not names or not isinstance(space, dict):
            return lambda: None
        saved = {k: space[k] for k in names if k in space}
        space.update({k: lending.proxy(k) for k in names})

        def undo():
            for k in names:
                space.pop(k, None)
            space.update(saved)
        return undo

    def probe(self, probe: dict, result, made: dict, before: dict, head: dict, tensors: dict,
              out: dict) -> dict:
        kind = probe["kind"]
        wrt = made.get(probe.get("wrt", "")) or next(iter(made.values()), {})  # default: φ
        if kind == "inputs_after":
            return {"changed": sorted(k for k, p in made.items() for n, v in p.items()
                                      if not torch.equal(v.detach(), before[k][n]))}
        if kind == "grad":      # ∇ of a scalar result
            target = result[0] if isinstance(result, tuple) else result
        elif kind == "vjp" and probe["v"] in tensors:  # ∇ <v, result> of a tensor result
            target = (result * tensors[probe["v"]].to(result.device)).sum()
        elif kind == "vjp":     # ∇ Σ_k <v_k, result_k>
            target = sum((result[k] * tensors[f"{probe['v']}.{k}"].to(result[k].device)).sum()
                         for k in tensors_with(tensors, probe["v"]))
        elif kind == "ce":      # ∇ of the cross-entropy of returned logits against y
            target = torch.nn.functional.cross_entropy(result, tensors[probe["y"]])
        else:                   # "loss": ∇ of the task loss of the returned params on (x, y)
            from hwlib.models import task_loss

            target = task_loss(self.model(head["model"]), result, tensors[probe["x"]],
                               tensors[probe["y"]])
        if not isinstance(target, torch.Tensor) or not target.requires_grad:
            return {"no_graph": True}
        names = list(wrt)
        grads = torch.autograd.grad(target, [wrt[n] for n in names], allow_unused=True)
        key = f"p.{probe['name']}"
        for n, g in zip(names, grads):
            if g is not None:
                out[f"{key}.{n}"] = g
        return {"grads": key, "none": [n for n, g in zip(names, grads) if g is None]}

    def encode(self, obj, key: str, out: dict, depth: int = 0):
        """A returned value as JSON (tensors go to ``out``); other objects by type name only."""
        if depth > 3:
            return {"type": type(obj).__name__}
        if isinstance(obj, torch.Tensor):
            out[key] = obj.detach()
            return {"tensor": key, "cls": type(obj).__name__, "requires_grad": obj.requires_grad}
        if type(obj) in (str, int, float, bool) or obj is None:
            return {"value": obj}
        if type(obj) is dict and all(type(k) is str for k in obj):
            return {"dict": {k: self.encode(v, f"{key}.{k}", out, depth + 1)
                             for k, v in obj.items()}}
        if type(obj) in (tuple, list):
            return {"seq": [self.encode(v, f"{key}.{i}", out, depth + 1)
                            for i, v in enumerate(obj)], "cls": type(obj).__name__}
        return {"type": type(obj).__name__}

    # ----- outer step -------------------------------------------------------------------
    def outer_step(self, head: dict, tensors: dict) -> tuple[dict, dict]:
        from hwlib.models import task_loss

        fn = self.namespace.get("outer_step")
        if not callable(fn):
            return {"error": "outer_step is not defined (run its cell)", "kind": "missing"}, {}
        model, phi = self.model(head["model"]), self.params("phi", tensors, True,
                                                            order=head.get("order"))
        opt = (torch.optim.Adam if head.get("optimizer") == "adam" else torch.optim.SGD)(
            list(phi.values()), lr=head["lr"])
        steps, out, taken = [], {}, [0]
        opt.register_step_pre_hook(lambda *_: taken.__setitem__(0, taken[0] + 1))
        for i in range(head["calls"]):
            taken[0] = 0
            loss = task_loss(model, phi, tensors[f"x{i}"], tensors[f"y{i}"])
            try:
                value = fn(opt, loss)
            except NotImplementedError:
                return {"error": "raises NotImplementedError", "kind": "not_implemented"}, {}
            except BaseException as e:  # noqa: BLE001
                return {"error": describe(e), "kind": "raised"}, {}
            finally:
                sweep()
            for n, p in phi.items():
                out[f"phi{i}.{n}"] = p.detach().clone()
                if isinstance(p.grad, torch.Tensor):
                    out[f"grad{i}.{n}"] = p.grad.detach().clone()
            steps.append({"returned": self.encode(value, f"ret{i}", out), "optimizer_steps":
                          taken[0], "grad_none": [n for n, p in phi.items() if p.grad is None]})
        return {"steps": steps}, out


def called(fn, args: list, kwargs: dict, head: dict):
    """The student's function called as the request asks: once, or ``repeat`` times on the very
    same argument tensors (the last result: state kept in ``.grad`` shows), or ``chain`` times,
    each call on the parameters the previous one returned (a step applied to its own θ̂)."""
    result = fn(*args, **kwargs)
    for _ in range(min(int(head.get("repeat", 1)), 3) - 1):
        result = fn(*args, **kwargs)
    at = next((i for i, s in enumerate(head.get("args", [])) if "params" in s), None)
    for _ in range(min(int(head.get("chain", 1)), 4) - 1):
        if at is None or not isinstance(result, dict):
            raise TypeError(f"it returned {type(result).__name__}, not a dict of parameters")
        args = [*args[:at], result, *args[at + 1:]]
        result = fn(*args, **kwargs)
    return result


def tensors_with(tensors: dict, prefix: str) -> list[str]:
    n = len(prefix) + 1
    return [k[n:] for k in tensors if k.startswith(prefix + ".")]


def _student_line(e: BaseException) -> str:
    """The last line of the student's own code in the traceback (cell code, not libraries)."""
    frames = [f for f in traceback.extract_tb(e.__traceback__) if "ipython-input" in f.filename
              or "/ipykernel_" in f.filename or f.filename.startswith("<")]
    return (frames[-1].line or "")[:200] if frames else ""
