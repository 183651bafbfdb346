"""Hidden checks of the inner step, the outer step, ANIL and Reptile (the MAML meta-losses:
:mod:`.meta_loss`).

Each ``check_*`` takes the student's function (a :class:`.student.Student` behind a sandboxed
worker, or a plain function run in-process), asks for its outputs on a fresh problem drawn from
``seed`` (α too) and computes the verdict here, in the judge.  A wrong answer is matched
against the answers of common mistakes (:mod:`.diagnose`) to name the cause; when none
matches, the message shows a concrete entry: expected value and the student's.
"""

from __future__ import annotations

import torch

from autograder.reference import answers as ref
from hwlib.sinusoid import tiny_sine_problem
from hwlib.models import split_body_head, task_loss
from hwlib.tasks import TaskBatch

from .common import (CONV_SPEC, MLP_SPEC, check_params_dict, close, combine, fail,
                     grading_alpha, leaf, scaled, tiny_classification, true_gradient)
from .diagnose import HARD_CODED, adapt, closest_params, example_params, sets
from .student import MODEL, P, Student

INPUTS = {"name": "inputs", "kind": "inputs_after"}


def _called(student: Student, fn: str, *args, spec: dict = MLP_SPEC, **kwargs):
    call = student.call(fn, spec, MODEL, *args, **kwargs)
    if call.error:
        fail(call.error)
    if call.probes.get("inputs", {}).get("changed"):
        fail(f"{fn} changed φ in place (e.g. `p -= α·g`, `p.data = …` or an optimizer step on "
             "φ): build new tensors for the result and leave the parameters you were given as "
             "they were.")
    return call


def _random_like(phi: dict, seed: int) -> dict:
    gen = torch.Generator().manual_seed(seed + 7)
    return {k: torch.randn(v.shape, generator=gen, dtype=v.dtype) for k, v in phi.items()}


def _step_family(phi, g, alpha: float) -> list:
    family = [("θ̂ = θ + α∇l: the step has the wrong sign (gradient descent subtracts "
               "α∇θ l(θ))", lambda: combine(phi, g, alpha)),
              ("the step is α²∇l: the inner learning rate α is applied twice",
               lambda: combine(phi, g, -alpha ** 2)),
              ("the step is 2α∇l: the update is applied twice", lambda: combine(phi, g, -2 * alpha)),
              ("the step is ∇l: the inner learning rate α is missing", lambda: combine(phi, g, -1.0)),
              ("θ̂ equals θ: the parameters were not updated", lambda: phi)]
    return family + [(f"α is hard-coded to {a:g} instead of the alpha argument",
                      lambda a=a: combine(phi, g, -a)) for a in HARD_CODED]


def _inner_value(s: Student, seed: int, dtype) -> tuple:
    alpha = grading_alpha(seed)
    model, phi, batch = tiny_sine_problem(seed=seed, dtype=dtype)
    t = batch[0]
    spec = {**MLP_SPEC, "dtype": str(dtype).split(".")[-1]}
    c = _called(s, "inner_update", P(phi), t.x_support, t.y_support, alpha, spec=spec,
                probes=[INPUTS])
    check_params_dict("inner_update", c.value, phi, c.subclassed)
    g = dict(zip(phi, torch.autograd.grad(task_loss(model, phi, t.x_support, t.y_support),
                                          list(phi.values()))))
    want = combine(phi, g, -alpha)
    tol = {"rtol": 1e-5, "atol": 1e-8} if dtype == torch.float64 else {"rtol": 1e-4, "atol": 1e-6}
    if not close(c.value, want, **tol):
        cause = closest_params(c.value, _step_family(phi, g, alpha), **tol)
        if cause:
            fail(f"inner_update is wrong: {cause}.")
        fail(example_params("inner_update", c.value, want,
                            f"a 1-6-6-1 MLP ({dtype}, 4 points, α = {alpha:g}); θ − α∇θ l(θ)"))
    return model, phi, t, alpha


SHUFFLED = "a 3-way classification task whose labels are not in order"


def _on_classification(s: Student, fn: str, want_of, seed: int, *args, **kwargs) -> None:
    """``fn`` on classification tasks with shuffled labels equals ``want_of(model, phi,
    batch)`` (code that assumes the labels 0, 0, 1, 1, … fails here)."""
    model, phi, batch = tiny_classification(seed=seed)
    task = batch if fn == "reptile_meta_gradient" else batch[0]
    data = (task,) if fn == "reptile_meta_gradient" else (task.x_support, task.y_support)
    c = _called(s, fn, P(phi), *data, *args, spec=CONV_SPEC, **kwargs)
    out = c.value[0] if isinstance(c.value, tuple) and c.value else c.value
    check_params_dict(fn, out, phi, c.subclassed)
    want = want_of(model, phi, task)
    if not close(out, want):
        fail(example_params(fn, out, want, SHUFFLED))


def check_inner_update(inner_update, seed: int = 0) -> None:
    """θ̂ = θ − α∇θ l(θ) (float64 and float32); θ̂ differentiable w.r.t. θ; with
    ``create_graph=True`` its derivative is I − α∇²l(θ).  (Keeping the graph when not asked,
    e.g. with torch.func, is allowed.)"""
    s = Student.of(inner_update, "inner_update")
    _inner_value(s, seed, torch.float32)
    model, phi, t, alpha = _inner_value(s, seed, torch.float64)
    _on_classification(s, "inner_update", lambda m, p, task: ref.inner_update(
        m, p, task.x_support, task.y_support, alpha), seed, alpha)
    v = _random_like(phi, seed)
    vjp = {"name": "vjp", "kind": "vjp", "v": v}
    first = _called(s, "inner_update", P(phi), t.x_support, t.y_support, alpha,
                    probes=[vjp]).probes.get("vjp", {})
    if first.get("no_graph") or "grads" not in first or set(first["none"]) == set(phi):
        fail("inner_update returned parameters cut from φ (detached): θ̂ must stay a "
             "differentiable function of θ, even without create_graph.")
    c2 = _called(s, "inner_update", P(phi), t.x_support, t.y_support, alpha, create_graph=True,
                 probes=[vjp])
    second = c2.probes.get("vjp", {}).get("grads", {})
    at = leaf(phi)
    theta = ref.inner_update(model, at, t.x_support, t.y_support, alpha, create_graph=True)
    want = dict(zip(at, torch.autograd.grad(sum((theta[k] * v[k]).sum() for k in v),
                                            list(at.values()))))
    if not second or close(second, v):
        fail("inner_update(create_graph=True) does not keep the graph of the inner gradient: "
             "pass create_graph=create_graph to torch.autograd.grad, otherwise MAML's "
             "second-order term is lost.")
    if not close(second, want, rtol=1e-4, atol=1e-7):
        fail("inner_update(create_graph=True): the derivative of θ̂ w.r.t. θ differs from "
             "I − α∇²l(θ) (checked with a vector-Jacobian product).")


def check_outer_step(outer_step, seed: int = 0) -> None:
    """The contract: after ``outer_step(optimizer, meta_loss)`` returns, φ has taken exactly one
    optimizer step on the gradient of *this* meta-loss (gradients of earlier calls do not leak
    in), and the meta-loss is returned as a Python float.  How — zero_grad before backward or
    after step, ``p.grad = None``, ``.item()`` or ``float()`` — is the student's choice."""
    s = Student.of(outer_step, "outer_step")
    model, phi, batch = tiny_sine_problem(seed=seed)
    data = [(batch.x_support[0], batch.y_support[0]), (batch.x_query[1], batch.y_query[1])]
    lr = 0.1
    got = s.outer_step(MLP_SPEC, phi, data, lr)
    if got["error"]:
        fail(got["error"])
    steps, tensors = got["steps"], got["tensors"]
    if not isinstance(steps, list) or len(steps) != len(data):
        fail("outer_step: no answer for each call.")
    at, now, want, accumulated, twice, values, previous = leaf(phi), [], [], [], [], [], None
    for i, (x, y) in enumerate(data):
        loss = task_loss(model, at, x, y)
        values.append(loss.item())
        g = dict(zip(at, torch.autograd.grad(loss, list(at.values()))))
        start = {k: v.detach().clone() for k, v in at.items()}
        want.append(combine(start, g, -lr))
        twice.append(combine(start, g, -2 * lr))
        accumulated.append(combine(start, g if previous is None else
                                   {k: g[k] + previous[k] for k in g}, -lr))
        previous, at = g, leaf(want[-1])
        now.append({k: tensors.get(f"phi{i}.{k}") for k in phi})
    if any(t is None for step in now for t in step.values()):
        fail("outer_step: φ could not be read back after the call.")
    if close(now[0], phi):
        fail("outer_step did not change φ: the order must be optimizer.zero_grad() → "
             "meta_loss.backward() → optimizer.step() (clearing the gradients between "
             "backward() and step(), or never calling backward() or step(), leaves φ as it was).")
    if close(now[0], twice[0]):
        grad = {k: tensors.get(f"grad0.{k}") for k in phi}
        doubled = all(t is not None for t in grad.values()) and close(
            grad, {k: (phi[k].detach() - want[0][k]) * 2 / lr for k in phi})
        fail("outer_step back-propagates the meta-loss twice (the gradient in .grad is doubled): "
             "call meta_loss.backward() once." if doubled else
             "outer_step moved φ by two optimizer steps: call optimizer.step() once.")
    if not close(now[0], want[0]):
        fail(example_params("outer_step", now[0], want[0],
                            f"one SGD step (lr {lr}) on a given meta-loss; φ after the step"))
    if close(now[1], accumulated[1]) and not close(now[1], want[1]):
        fail("outer_step lets meta-gradients accumulate across steps: the second step used the "
             "sum of both steps' gradients. Clear them each step (optimizer.zero_grad() before "
             "backward(), or after step()).")
    if not close(now[1], want[1]):
        fail("outer_step's second call did not take one optimizer step on its own meta-loss.")
    returned = steps[0].get("returned", {}) if isinstance(steps[0], dict) else {}
    value = returned.get("value")
    if "tensor" in returned:
        fail("outer_step returned the meta-loss tensor: return it as a Python float "
             "(meta_loss.item() or float(meta_loss)).")
    if type(value) is not float or abs(value - values[0]) > 1e-9 * max(1.0, abs(values[0])):
        fail(f"outer_step should return the meta-loss as a Python float (loss.item()), got "
             f"{value!r} (the meta-loss was {values[0]:.6g}).")


def check_anil_adapt(anil_adapt, seed: int = 0) -> None:
    """Only head parameters move; they move as in MAML's inner loop; second order when asked."""
    s = Student.of(anil_adapt, "anil_adapt")
    alpha = grading_alpha(seed)
    model, phi, batch = tiny_sine_problem(seed=seed)
    t = batch[0]
    c = _called(s, "anil_adapt", P(phi), t.x_support, t.y_support, alpha, steps=2, probes=[INPUTS])
    out = c.value
    check_params_dict("anil_adapt", out, phi, c.subclassed)
    body, head = split_body_head(phi)
    changed = [k for k in body if not torch.equal(out[k], body[k].detach())]
    if changed:
        fail(f"your ANIL inner loop changed body parameters ({', '.join(changed[:3])}): ANIL "
             "adapts only the head; the body is learned in the outer loop only.")
    want = ref.anil_adapt(model, phi, t.x_support, t.y_support, alpha, steps=2)
    if not close(out, want):
        x, y, keys = t.x_support, t.y_support, list(head)
        family = [("anil_adapt ignores `steps`: it took one inner step when asked for two",
                   lambda: adapt(model, phi, x, y, alpha, 1, keys=keys)),
                  ("anil_adapt takes three inner steps when asked for two",
                   lambda: adapt(model, phi, x, y, alpha, 3, keys=keys)),
                  ("the head's step has the wrong sign", lambda: adapt(model, phi, x, y, -alpha, 2, keys=keys)),
                  ("the inner learning rate α is applied twice (α²)",
                   lambda: adapt(model, phi, x, y, alpha ** 2, 2, keys=keys)),
                  ("the head's gradient is computed once at φ and reused for every step",
                   lambda: adapt(model, phi, x, y, alpha, 2, grad_once=True, keys=keys))]
        cause = closest_params(out, family)
        fail(f"anil_adapt is wrong: {cause}." if cause else example_params(
            "anil_adapt", out, want, f"a 1-6-6-1 MLP, 2 head steps, α = {alpha:g}"))
    _on_classification(s, "anil_adapt", lambda m, p, task: ref.anil_adapt(
        m, p, task.x_support, task.y_support, alpha, steps=2), seed, alpha, steps=2)
    loss = {"name": "loss", "kind": "loss", "x": t.x_query, "y": t.y_query}
    c = _called(s, "anil_adapt", P(phi), t.x_support, t.y_support, alpha, steps=1,
                create_graph=True, probes=[loss])
    got = c.probes.get("loss", {})
    fd = true_gradient(lambda p: task_loss(model, ref.anil_adapt(
        model, p, t.x_support, t.y_support, alpha, create_graph=True), t.x_query, t.y_query), phi)
    if "grads" not in got or not close({k: got["grads"].get(k, torch.zeros_like(v))
                                        for k, v in phi.items()}, fd, rtol=1e-4, atol=1e-7):
        fail("anil_adapt(create_graph=True) does not give the true meta-gradient of the query "
             "loss (finite differences): keep the graph of the head's inner gradient.")


def _reptile_direction(model, phi, batch: TaskBatch, alpha: float, steps: int,
                       on: str = "both", reduce: str = "mean") -> dict:
    out = {k: torch.zeros_like(v) for k, v in phi.items()}
    tasks = list(batch) if reduce != "last" else [batch[len(batch) - 1]]
    for task in tasks:
        if on == "support, then query":
            theta = adapt(model, leaf(phi), *sets(task, "support"), alpha, steps,
                          create_graph=False)
            theta = adapt(model, leaf(theta), *sets(task, "query"), alpha, steps,
                          create_graph=False)
        else:
            theta = adapt(model, leaf(phi), *sets(task, on), alpha, steps, create_graph=False)
        for k in out:
            out[k] += (phi[k] - theta[k]).detach() / (1 if reduce == "sum" else len(tasks))
    return out


def check_reptile_meta_gradient(reptile_meta_gradient, seed: int = 0) -> None:
    """Direction (1/B) Σ (φ − θ̂_i) with θ̂_i from ``steps`` SGD steps on support ∪ query."""
    s = Student.of(reptile_meta_gradient, "reptile_meta_gradient")
    alpha = grading_alpha(seed)
    model, phi, batch = tiny_sine_problem(seed=seed)
    c = _called(s, "reptile_meta_gradient", P(phi), batch, alpha, steps=3, probes=[INPUTS],
                substitute={"inner_update": ref.inner_update})
    out = c.value
    if not isinstance(out, tuple) or len(out) != 2:
        fail("reptile_meta_gradient must return (direction dict, mean loss).")
    direction = out[0]
    check_params_dict("reptile_meta_gradient's direction", direction, phi, c.subclassed)
    want = _reptile_direction(model, phi, batch, alpha, 3)
    if close(direction, want):
        _on_classification(s, "reptile_meta_gradient", lambda m, p, b: _reptile_direction(
            m, p, b, alpha, 3), seed, alpha, steps=3, substitute={"inner_update": ref.inner_update})
        return
    d = lambda **kw: (lambda: _reptile_direction(model, phi, batch, **{  # noqa: E731
        "alpha": alpha, "steps": 3, **kw}))
    family = [("you return θ̂ − φ. The skeleton *descends* along the returned direction "
               "(φ ← φ − ε·d), so φ would move away from θ̂; return φ − θ̂ so that "
               "φ ← φ + ε(θ̂ − φ)", lambda: scaled(want, -1)),
              ("it is summed over tasks instead of averaged", d(reduce="sum")),
              ("θ̂ was trained on the support set only; Reptile uses all of the task's data "
               "(support ∪ query)", d(on="support")),
              ("θ̂ was trained on the query set only; Reptile uses all of the task's data "
               "(support ∪ query)", d(on="query")),
              ("it ignores `steps`: one SGD step per task when asked for three", d(steps=1)),
              ("`steps` is hard-coded to 5 (the default) instead of the argument", d(steps=5)),
              ("only the last task counts: the direction is overwritten in the loop over tasks",
               d(reduce="last")),
              ("the inner learning rate α is missing", d(alpha=1.0)),
              ("θ̂ takes `steps` steps on the support set and then `steps` more on the query "
               "set: take them on support ∪ query together", d(on="support, then query")),
              ("the direction is divided by α: return φ − θ̂ itself (the outer step size ε "
               "scales it)", lambda: scaled(want, 1 / alpha))]
    cause = closest_params(direction, family)
    fail(f"reptile_meta_gradient is wrong: {cause}." if cause else example_params(
        "reptile_meta_gradient", direction, want,
        f"3 sine tasks, 3 SGD steps on support ∪ query, α = {alpha:g}; (1/B) Σ_i (φ − θ̂_i)"))
