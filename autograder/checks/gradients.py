"""Hidden checks of the inner step, the outer step, ANIL and Reptile (the MAML meta-losses:
:mod:`.meta_loss`; Reptile: :mod:`.reptile`).

Each ``check_*`` takes the student's function (a :class:`.student.Student` behind a sandboxed
worker, or a plain function run in-process), asks for its outputs on a fresh problem drawn from
``seed`` (α too) and computes the verdict here, in the judge.  A wrong answer is matched
against the answers of common mistakes (:mod:`.diagnose`) to name the cause; when none
matches, the message shows a concrete entry: expected value and the student's.
"""

from __future__ import annotations

from typing import Callable

import torch

from autograder.reference import answers as ref
from hwlib.sinusoid import tiny_sine_problem
from hwlib.models import split_body_head, task_loss

from .common import (CONV_SPEC, MLP_SPEC, check_params_dict, close, combine, fail,
                     grading_alpha, leaf, require_finite, same_number,
                     tiny_classification, true_gradient)
from .diagnose import HARD_CODED, adapt, closest_params, example_params
from .properties import flat
from .step_properties import step_shape, step_violation
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


def _ask(s: Student, fn: str, spec: dict, t, alpha: float, **fixed) -> Callable:
    """``ask(phi=, alpha=, repeat=)``: the student's step on task ``t``'s support set, checked
    as a dict like φ (for :func:`.properties.step_violation`)."""
    def ask(phi: dict, alpha: float = alpha, repeat: bool = False) -> dict:
        c = _called(s, fn, P(phi), t.x_support, t.y_support, alpha, spec=spec,
                    repeat=2 if repeat else 1, **fixed)
        check_params_dict(fn, c.value, phi, c.subclassed)
        return c.value
    return ask


def _gradient(model, t) -> Callable[[dict], dict]:
    """∇l(φ) on task ``t``'s support set (the judge's)."""
    def grad(phi: dict) -> dict:
        at = leaf(phi)
        return dict(zip(at, torch.autograd.grad(task_loss(model, at, t.x_support, t.y_support),
                                                list(at.values()))))
    return grad


def _wrong_step(fn: str, ask: Callable, model, phi, t, alpha: float, family: list, out: dict,
                moving: list | None = None, **tol) -> str | None:
    """Why a step is wrong: the property it breaks (:mod:`.properties`), then the known
    mistake that matches (the finer name)."""
    said = step_violation(lambda **kw: ask(**{"phi": phi, **kw}), fn, phi,
                          _gradient(model, t), alpha, moving)
    cause = closest_params(out, family, **tol)
    if said and cause:
        return f"{fn} is wrong: {said} — precisely, {cause}."
    return f"{fn} is wrong: {said or cause}." if said or cause else None


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
        said = _wrong_step("inner_update", _ask(s, "inner_update", spec, t, alpha), model, phi,
                           t, alpha, _step_family(phi, g, alpha), c.value, **tol)
        if said:
            fail(said)
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
    _called_again(s, "inner_update", model, phi, t, alpha, lambda p: ref.inner_update(
        model, p, t.x_support, t.y_support, alpha))


def _called_again(s: Student, fn: str, model, phi, t, alpha: float, one_step, **fixed) -> None:
    """The step called as the meta-losses call it: twice on the same tensors (the same θ̂:
    nothing kept in ``.grad``), and on its own θ̂ (two steps)."""
    again = _called(s, fn, P(phi), t.x_support, t.y_support, alpha, repeat=2, **fixed).value
    check_params_dict(fn, again, phi)
    if not close(again, one_step(phi)):
        fail(f"calling {fn} twice on the same parameter tensors gives a different θ̂ the second "
             "time: the gradient is accumulated in .grad (loss.backward()) or state is kept "
             "between calls — compute it with torch.autograd.grad, which leaves .grad alone.")
    twice = _called(s, fn, P(phi), t.x_support, t.y_support, alpha, chain=2, **fixed).value
    check_params_dict(fn, twice, phi)
    if not close(twice, one_step(leaf(one_step(phi))), rtol=1e-6, atol=1e-9):
        fail(f"{fn} applied to the θ̂ it returned (a second inner step, as the meta-losses take "
             "it) is not θ̂ − α∇l(θ̂): a step works only on leaf parameters (.grad of a "
             "non-leaf tensor stays None; use torch.autograd.grad).")


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
        said = step_shape("outer_step", flat({k: now[0][k] - phi[k].detach() for k in phi}),
                          flat({k: want[0][k] - phi[k].detach() for k in phi}), rate="lr")
        if said:
            fail(f"outer_step is wrong: {said}.")
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
    if type(value) is float:
        require_finite("the meta-loss outer_step returned", value)
    if type(value) is not float or not same_number("the meta-loss outer_step returned", value,
                                                   values[0], rtol=1e-9):
        fail(f"outer_step should return the meta-loss as a Python float (loss.item()), got "
             f"{value!r} (the meta-loss was {values[0]:.6g}).")
    _with_adam(s, model, phi, data[0], lr, want[0])


def _with_adam(s: Student, model, phi: dict, data: tuple, lr: float, sgd: dict) -> None:
    """The step is the optimizer's, whichever it is: with Adam (the skeleton's), φ after one
    call is φ after one Adam step — not a hand-made SGD step, not a fresh optimizer's."""
    got = s.outer_step(MLP_SPEC, phi, [data], lr, optimizer="adam")
    if got["error"]:
        fail(got["error"])
    now = {k: got["tensors"].get(f"phi0.{k}") for k in phi}
    if any(t is None for t in now.values()):
        fail("outer_step: φ could not be read back after the call.")
    at = leaf(phi)
    adam = torch.optim.Adam(list(at.values()), lr=lr)
    task_loss(model, at, *data).backward()
    adam.step()
    if close(now, {k: v.detach() for k, v in at.items()}):
        return
    if close(now, sgd):
        fail("outer_step updates φ by hand (p -= lr · p.grad) instead of calling "
             "optimizer.step(): right for plain SGD only — the skeleton's optimizer is Adam.")
    fail("outer_step with an Adam optimizer did not take that optimizer's one step (a new "
         "optimizer built inside, or its own update rule?): use the optimizer it is given — "
         "zero_grad(), backward(), step().")


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
        said = _wrong_step("anil_adapt", _ask(s, "anil_adapt", MLP_SPEC, t, alpha, steps=1),
                           model, phi, t, alpha, family, out, moving=keys)
        fail(said or example_params("anil_adapt", out, want,
                                    f"a 1-6-6-1 MLP, 2 head steps, α = {alpha:g}"))
    _on_classification(s, "anil_adapt", lambda m, p, task: ref.anil_adapt(
        m, p, task.x_support, task.y_support, alpha, steps=2), seed, alpha, steps=2)
    _called_again(s, "anil_adapt", model, phi, t, alpha, lambda p: ref.anil_adapt(
        model, p, t.x_support, t.y_support, alpha, steps=1), steps=1)
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
