"""Hidden checks of the inner step and ANIL's (the outer step: :mod:`.outer_step`; the MAML
meta-losses: :mod:`.meta_loss`; Reptile: :mod:`.reptile`).

Each ``check_*`` takes the student's function (a :class:`.student.Student` behind a sandboxed
worker, or a plain function run in-process), asks for its outputs on a fresh problem drawn from
``seed`` (α too) and computes the verdict here, in the judge.  A wrong answer is matched
against the answers of common mistakes (:mod:`.diagnose`) to name the cause; when none
matches, the message shows a concrete entry: expected value and the student's.
"""

from __future__ import annotations

from typing import Callable

import torch

from autograder.assignments.metalearning import answers as ref
from hwlib.sinusoid import tiny_sine_problem
from hwlib.models import split_body_head, task_loss

from autograder.checks.common import (CONV_SPEC, MLP_SPEC, check_params_dict, close, combine, fail,
                     grading_alpha, leaf, tiny_classification, true_gradient)
from autograder.checks.diagnose import HARD_CODED, adapt, closest_params, example_params
from autograder.checks.step_properties import step_violation
from autograder.checks.student import MODEL, P, Student

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
    def ask(phi: dict, alpha: float = alpha, repeat: bool = False, scale: float = 1.0) -> dict:
        c = _called(s, fn, P(phi), t.x_support, t.y_support * scale, alpha, spec=spec,
                    repeat=2 if repeat else 1, **fixed)
        check_params_dict(fn, c.value, phi, c.subclassed)
        return c.value
    return ask


def _gradient(model, t) -> Callable[[dict], dict]:
    """∇l(φ) on task ``t``'s support set, its targets times ``scale`` (the judge's)."""
    def grad(phi: dict, scale: float = 1.0) -> dict:
        at = leaf(phi)
        loss = task_loss(model, at, t.x_support, t.y_support * scale)
        return dict(zip(at, torch.autograd.grad(loss, list(at.values()))))
    return grad


def _wrong_step(fn: str, ask: Callable, model, phi, t, alpha: float, family: list, out: dict,
                moving: list | None = None, right: bool = False, **tol) -> str | None:
    """Why a step is wrong: the property it breaks (:mod:`.properties`), then the known
    mistake that matches (the finer name; ``right``: the value itself was right)."""
    said = step_violation(lambda **kw: ask(**{"phi": phi, **kw}), fn, phi,
                          _gradient(model, t), alpha, moving)
    cause = None if right else closest_params(out, family, **tol)
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
    right = close(c.value, want, **tol)
    if dtype == torch.float64 or not right:  # the properties first, on float64
        said = _wrong_step("inner_update", _ask(s, "inner_update", spec, t, alpha), model, phi,
                           t, alpha, _step_family(phi, g, alpha), c.value, right=right, **tol)
        if said:
            fail(said)
    if not right:
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
    ``create_graph=True`` its derivative is I − α∇²l(θ), with ``create_graph=False`` it is I
    (first order: the argument is honoured, with torch.func too)."""
    s = Student.of(inner_update, "inner_update")
    model, phi, t, alpha = _inner_value(s, seed, torch.float64)
    _inner_value(s, seed, torch.float32)
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
    first_order(first, v, want, "inner_update")
    _called_again(s, "inner_update", model, phi, t, alpha, lambda p: ref.inner_update(
        model, p, t.x_support, t.y_support, alpha))


def first_order(vjp: dict, v: dict, second: dict, fn: str) -> None:
    """With ``create_graph=False`` the step is first order: ∂θ̂/∂θ = I, so the vector-Jacobian
    product with v is v itself (first-order MAML relies on it)."""
    got = {k: vjp.get("grads", {}).get(k, torch.zeros_like(x)) for k, x in v.items()}
    if close(got, v, rtol=1e-6, atol=1e-9):
        return
    if close(got, second, rtol=1e-4, atol=1e-7):
        fail(f"{fn}(create_graph=False) still differentiates through the inner gradient "
             "(∂θ̂/∂θ = I − α∇²l instead of I): it ignores the create_graph argument — pass "
             "create_graph=create_graph (a first-order method calls it with False to drop the "
             "second-order term).")
    fail(f"{fn}(create_graph=False): the derivative of θ̂ w.r.t. θ is not the identity (θ̂ = "
         "θ − α·g with the gradient g treated as a constant; checked with a vector-Jacobian "
         "product).")


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


def _anil_family(model, phi, x, y, alpha: float, keys: list) -> list:
    """ANIL's known mistakes for 2 head steps (the finer name after the properties)."""
    return [("anil_adapt ignores `steps`: it took one inner step when asked for two",
             lambda: adapt(model, phi, x, y, alpha, 1, keys=keys)),
            ("anil_adapt takes three inner steps when asked for two",
             lambda: adapt(model, phi, x, y, alpha, 3, keys=keys)),
            ("the head's step has the wrong sign",
             lambda: adapt(model, phi, x, y, -alpha, 2, keys=keys)),
            ("the inner learning rate α is applied twice (α²)",
             lambda: adapt(model, phi, x, y, alpha ** 2, 2, keys=keys)),
            ("the head's gradient is computed once at φ and reused for every step",
             lambda: adapt(model, phi, x, y, alpha, 2, grad_once=True, keys=keys))]


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
    x, y, keys = t.x_support, t.y_support, list(head)
    family = _anil_family(model, phi, x, y, alpha, keys)
    said = _wrong_step("anil_adapt", _ask(s, "anil_adapt", MLP_SPEC, t, alpha, steps=1), model,
                       phi, t, alpha, family, out, moving=keys, right=close(out, want))
    if said:  # the properties of one step first
        fail(said)
    if not close(out, want):
        fail(example_params("anil_adapt", out, want,
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
    grads = {k: got.get("grads", {}).get(k, torch.zeros_like(v)) for k, v in phi.items()}
    cut = [k for k in body if grads[k].abs().max() == 0 and fd[k].abs().max() > 1e-8]
    if cut:
        fail(f"anil_adapt's θ̂ is cut from φ's body: the query loss has no gradient w.r.t. "
             f"{', '.join(cut[:3])} — the body is returned detached (.detach(), .data, a copy), "
             "so the outer loop can never learn it. Return the body tensors of φ themselves.")
    if "grads" not in got or not close(grads, fd, rtol=1e-4, atol=1e-7):
        fail("anil_adapt(create_graph=True) does not give the true meta-gradient of the query "
             "loss (finite differences): keep the graph of the head's inner gradient.")
