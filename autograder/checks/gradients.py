"""Hidden gradient-correctness checks: float64, a tiny MLP, finite differences, diagnoses.

Each ``check_*`` takes the student's function (a :class:`.student.Student` behind a sandboxed
worker, or a plain function run in-process), asks for its outputs on a fresh problem drawn from
``seed`` and computes the verdict here, in the judge: it passes silently when the answer is
right and raises :class:`CheckFailed` with the cause in words when not.  A wrong answer is
compared with the answers known mistakes give (wrong sign, α applied twice, no
``create_graph``, support and query swapped, summed over tasks, ...) to name the mistake.
"""

from __future__ import annotations

import torch

from autograder.reference import inner_loop as ref
from hwlib.models import split_body_head, task_loss
from hwlib.tasks import TaskBatch

from .common import (ALPHA, MLP_SPEC, check_params_dict, close, combine, fail, finite_difference,
                     leaf, max_diff, returned_loss, scaled, tiny_problem)
from .student import MODEL, P, Student

GRAD = {"name": "grad", "kind": "grad"}


def _swap(batch: TaskBatch) -> TaskBatch:
    return TaskBatch(batch.x_query, batch.y_query, batch.x_support, batch.y_support)


def _called(student: Student, fn: str, *args, **kwargs):
    call = student.call(fn, MLP_SPEC, *args, **kwargs)
    if call.error:
        fail(call.error)
    return call


def _random_like(phi: dict, seed: int) -> dict:
    gen = torch.Generator().manual_seed(seed + 7)
    return {k: torch.randn(v.shape, generator=gen, dtype=v.dtype) for k, v in phi.items()}


def check_inner_update(inner_update, seed: int = 0) -> None:
    """θ̂ = θ − α∇θ l(θ); differentiable w.r.t. θ; second order only with create_graph=True."""
    s = Student.of(inner_update, "inner_update")
    model, phi, batch = tiny_problem(seed=seed)
    t, v = batch[0], _random_like(phi, seed)
    vjp = {"name": "vjp", "kind": "vjp", "v": v}
    c = _called(s, "inner_update", MODEL, P(phi), t.x_support, t.y_support, ALPHA, probes=[vjp])
    out = c.value
    check_params_dict("inner_update", out, phi, c.subclassed)
    g = dict(zip(phi, torch.autograd.grad(task_loss(model, phi, t.x_support, t.y_support),
                                          list(phi.values()))))
    if not close(out, combine(phi, g, -ALPHA)):
        for guess, why in [
            (combine(phi, g, ALPHA), "θ̂ = θ + α∇l: the step has the wrong sign (gradient "
                                     "descent subtracts α∇θ l(θ))"),
            (combine(phi, g, -ALPHA ** 2), "the step is α²∇l: the inner learning rate α is "
                                           "applied twice"),
            (combine(phi, g, -2 * ALPHA), "the step is 2α∇l: the update is applied twice"),
            (combine(phi, g, -1.0), "the step is ∇l: the inner learning rate α is missing"),
            (phi, "θ̂ equals θ: the parameters were not updated"),
        ]:
            if close(out, guess):
                fail(f"inner_update is wrong: {why}.")
        fail(f"inner_update differs from θ − α∇θ l(θ) by up to "
             f"{max_diff(out, combine(phi, g, -ALPHA)):.3g} on a small MLP: compute l on (x, y) "
             "with the given params, its gradient w.r.t. every parameter, and take one step "
             "of size α.")
    first = c.probes.get("vjp", {})
    if first.get("no_graph") or "grads" not in first or set(first["none"]) == set(phi):
        fail("inner_update returned parameters cut from φ (detached): θ̂ must stay a "
             "differentiable function of θ, even without create_graph.")
    c2 = _called(s, "inner_update", MODEL, P(phi), t.x_support, t.y_support, ALPHA,
                 create_graph=True, probes=[vjp])
    second = c2.probes.get("vjp", {}).get("grads", {})
    at = leaf(phi)
    theta = ref.inner_update(model, at, t.x_support, t.y_support, ALPHA, create_graph=True)
    want = dict(zip(at, torch.autograd.grad(sum((theta[k] * v[k]).sum() for k in v),
                                            list(at.values()))))
    if close(second, v) or not second:
        fail("inner_update(create_graph=True) does not keep the graph of the inner gradient: "
             "pass create_graph=create_graph to torch.autograd.grad, otherwise MAML's "
             "second-order term is lost.")
    if not close(first["grads"], v):
        fail("inner_update(create_graph=False) still builds the graph of the inner gradient "
             "(slow, and wrong for first-order MAML): use create_graph=create_graph.")
    if not close(second, want, rtol=1e-4, atol=1e-7):
        fail("inner_update(create_graph=True): the derivative of θ̂ w.r.t. θ differs from "
             "I − α∇²l(θ) (checked with a vector-Jacobian product).")


def check_outer_step(outer_step, seed: int = 0) -> None:
    """The contract: after ``outer_step(optimizer, meta_loss)`` returns, φ has taken exactly one
    optimizer step on *this* meta-loss (gradients of earlier calls do not leak in), and the
    meta-loss is returned as a Python float.  How (zero_grad before or after, p.grad = None)
    is the student's choice."""
    s = Student.of(outer_step, "outer_step")
    model, phi, batch = tiny_problem(seed=seed)
    data = [(batch.x_support[0], batch.y_support[0]), (batch.x_query[1], batch.y_query[1])]
    lr = 0.1
    got = s.outer_step(MLP_SPEC, phi, data, lr)
    if got["error"]:
        fail(got["error"])
    steps, tensors = got["steps"], got["tensors"]
    if not isinstance(steps, list) or len(steps) != len(data):
        fail("outer_step: no answer for each call.")
    at, now, want, accumulated, values = leaf(phi), [], [], [], []
    previous = None
    for i, (x, y) in enumerate(data):
        loss = task_loss(model, at, x, y)
        values.append(loss.item())
        g = dict(zip(at, torch.autograd.grad(loss, list(at.values()))))
        start = {k: v.detach().clone() for k, v in at.items()}
        want.append(combine(start, g, -lr))
        accumulated.append(combine(start, g if previous is None else
                                   {k: g[k] + previous[k] for k in g}, -lr))
        previous = g
        at = leaf(want[-1])
        now.append({k: tensors.get(f"phi{i}.{k}") for k in phi})
    if any(t is None for t in now[0].values()):
        fail("outer_step: φ could not be read back after the call.")
    if close(now[0], phi):
        fail("outer_step did not change φ: the order must be optimizer.zero_grad() → "
             "meta_loss.backward() → optimizer.step() (clearing the gradients between "
             "backward() and step(), or never calling backward() or step(), leaves φ as it was).")
    if not close(now[0], want[0]):
        fail("outer_step changed φ by something other than one optimizer step on the meta-loss.")
    if close(now[1], accumulated[1]) and not close(now[1], want[1]):
        fail("outer_step lets meta-gradients accumulate across steps: the second step used the "
             "sum of both steps' gradients. Clear them each step (optimizer.zero_grad() before "
             "backward()).")
    if not close(now[1], want[1]):
        fail("outer_step's second call did not take one optimizer step on its own meta-loss.")
    value = steps[0].get("returned", {}).get("value") if isinstance(steps[0], dict) else None
    if type(value) is not float or abs(value - values[0]) > 1e-9 * max(1.0, abs(values[0])):
        fail(f"outer_step should return the meta-loss as a Python float (loss.item()), got "
             f"{value!r}.")


def _diagnose_meta_loss(s: Student, name: str, model, phi, batch, second_order: bool) -> None:
    c = _called(s, name, MODEL, P(phi), batch, ALPHA, probes=[GRAD],
                substitute={"inner_update": ref.inner_update})
    v, grads = returned_loss(name, c.value, c.probes.get("grad", {}), phi)
    expected = ref.maml_meta_loss(model, leaf(phi), batch, ALPHA).item()
    if abs(v - expected) > 1e-7 * max(1.0, abs(expected)):
        B = len(batch)
        for guess, why in [
            (expected * B, f"it is {B}× too large: the task losses are summed over the "
                           "meta-batch instead of averaged"),
            (ref.maml_meta_loss(model, leaf(phi), _swap(batch), ALPHA).item(),
             "support and query are swapped: adapt on the support set, score θ̂ on the query set"),
            (ref.maml_meta_loss(model, leaf(phi), TaskBatch(batch.x_query, batch.y_query,
                                                            batch.x_query, batch.y_query),
                                ALPHA).item(),
             "θ̂ is adapted and scored on the query set: adapt on the support set only"),
            (ref.maml_meta_loss(model, leaf(phi), batch, -ALPHA).item(),
             "the inner step has the wrong sign"),
            (torch.stack([task_loss(model, phi, t.x_query, t.y_query) for t in batch]).mean().item(),
             "it is the loss of φ itself: the inner loop (adaptation to θ̂) is missing"),
        ]:
            if abs(v - guess) < 1e-7 * max(1.0, abs(guess)):
                fail(f"{name}'s value is wrong: {why}.")
        fail(f"{name} = {v:.6g} on a small example, but (1/B) Σ_i l_query_i(θ̂_i) = {expected:.6g}.")
    _check_meta_gradient(name, grads, model, phi, batch, second_order, steps=1)


def _check_meta_gradient(name: str, grads: dict, model, phi, batch, second_order: bool,
                         steps: int) -> None:
    fd = finite_difference(lambda p: ref.maml_meta_loss(model, leaf(p), batch, ALPHA, steps),
                           phi)
    at = leaf(phi)
    first = dict(zip(phi, torch.autograd.grad(ref.fomaml_meta_loss(model, at, batch, ALPHA, steps),
                                              list(at.values()))))
    want, other = (fd, first) if second_order else (first, fd)
    if close(grads, want, rtol=1e-4, atol=1e-7):
        return
    with_steps = f" with steps={steps}" if steps > 1 else ""
    if second_order and close(grads, first, rtol=1e-4, atol=1e-7):
        fail(f"{name}'s meta-gradient{with_steps} equals the first-order approximation, not the "
             "true meta-gradient (checked by finite differences): the graph through the inner "
             "loop is missing — call inner_update with create_graph=True inside the meta-loss.")
    if not second_order and close(grads, other, rtol=1e-4, atol=1e-7):
        fail(f"{name} gives the full second-order MAML gradient: first-order MAML treats "
             "∂θ̂/∂φ ≈ I, so compute the inner gradients with create_graph=False.")
    if max(g.abs().max().item() for g in grads.values()) == 0:
        fail(f"{name}'s meta-gradient is zero: θ̂ was detached from φ.")
    kind = "true (finite-difference)" if second_order else "first-order"
    fail(f"{name}'s meta-gradient{with_steps} differs from the {kind} meta-gradient by up to "
         f"{max_diff(grads, want):.3g}.")


def _check_steps(s: Student, name: str, model, phi, batch, second_order: bool) -> None:
    """``steps=2``: the value, and the meta-gradient (second order at every step count)."""
    c = _called(s, name, MODEL, P(phi), batch, ALPHA, steps=2, probes=[GRAD],
                substitute={"inner_update": ref.inner_update})
    v, grads = returned_loss(f"{name}(steps=2)", c.value, c.probes.get("grad", {}), phi)
    want = ref.maml_meta_loss(model, leaf(phi), batch, ALPHA, steps=2).item()
    if abs(v - want) > 1e-7 * max(1.0, abs(want)):
        fail(f"{name}(steps=2) is wrong: take `steps` inner updates on the support set.")
    _check_meta_gradient(name, grads, model, phi, batch, second_order, steps=2)


def check_maml_meta_loss(maml_meta_loss, seed: int = 0) -> None:
    """Value (1/B) Σ l_query(θ̂) and the exact second-order meta-gradient, for 1 and 2 steps.

    Graded alone: the student's ``inner_update`` is replaced by the reference during the check.
    """
    s = Student.of(maml_meta_loss, "maml_meta_loss")
    model, phi, batch = tiny_problem(seed=seed)
    _diagnose_meta_loss(s, "maml_meta_loss", model, phi, batch, second_order=True)
    _check_steps(s, "maml_meta_loss", model, phi, batch, second_order=True)


def check_fomaml_meta_loss(fomaml_meta_loss, seed: int = 0) -> None:
    """Same value as MAML; gradient = the query gradient at θ̂ (∂θ̂/∂φ ≈ I); graded alone."""
    s = Student.of(fomaml_meta_loss, "fomaml_meta_loss")
    model, phi, batch = tiny_problem(seed=seed)
    _diagnose_meta_loss(s, "fomaml_meta_loss", model, phi, batch, second_order=False)


def check_anil_adapt(anil_adapt, seed: int = 0) -> None:
    """Only head parameters move; they move as in MAML's inner loop; second order when asked."""
    s = Student.of(anil_adapt, "anil_adapt")
    model, phi, batch = tiny_problem(seed=seed)
    t = batch[0]
    c = _called(s, "anil_adapt", MODEL, P(phi), t.x_support, t.y_support, ALPHA, steps=2)
    out = c.value
    check_params_dict("anil_adapt", out, phi, c.subclassed)
    body, _ = split_body_head(phi)
    changed = [k for k in body if not torch.equal(out[k], body[k].detach())]
    if changed:
        fail(f"your ANIL inner loop changed body parameters ({', '.join(changed[:3])}): ANIL "
             "adapts only the head; the body is learned in the outer loop only.")
    want = ref.anil_adapt(model, phi, t.x_support, t.y_support, ALPHA, steps=2)
    if not close(out, want):
        one = ref.anil_adapt(model, phi, t.x_support, t.y_support, ALPHA, steps=1)
        if close(out, one):
            fail("anil_adapt ignores `steps`: it took one inner step when asked for two.")
        fail(f"anil_adapt's head differs from `steps` gradient steps on the head by up to "
             f"{max_diff(out, want):.3g}.")
    loss = {"name": "loss", "kind": "loss", "x": t.x_query, "y": t.y_query}
    c = _called(s, "anil_adapt", MODEL, P(phi), t.x_support, t.y_support, ALPHA, steps=1,
                create_graph=True, probes=[loss])
    got = c.probes.get("loss", {})
    fd = finite_difference(lambda p: task_loss(model, ref.anil_adapt(model, leaf(p), t.x_support,
                                                                     t.y_support, ALPHA),
                                               t.x_query, t.y_query), phi)
    if "grads" not in got or not close({k: got["grads"].get(k, torch.zeros_like(v))
                                        for k, v in phi.items()}, fd, rtol=1e-4, atol=1e-7):
        fail("anil_adapt(create_graph=True) does not give the true meta-gradient of the query "
             "loss (finite differences): keep the graph of the head's inner gradient.")


def check_reptile_meta_gradient(reptile_meta_gradient, seed: int = 0) -> None:
    """Direction (1/B) Σ (φ − θ̂_i) with θ̂_i from SGD on support ∪ query; graded alone."""
    s = Student.of(reptile_meta_gradient, "reptile_meta_gradient")
    model, phi, batch = tiny_problem(seed=seed)
    c = _called(s, "reptile_meta_gradient", MODEL, P(phi), batch, ALPHA, steps=3,
                substitute={"inner_update": ref.inner_update})
    out = c.value
    if not isinstance(out, tuple) or len(out) != 2:
        fail("reptile_meta_gradient must return (direction dict, mean loss).")
    direction = out[0]
    check_params_dict("reptile_meta_gradient's direction", direction, phi, c.subclassed)
    want, _ = ref.reptile_meta_gradient(model, phi, batch, ALPHA, steps=3)
    if close(direction, want):
        return
    support_only = TaskBatch(batch.x_support, batch.y_support, batch.x_support[:, :0],
                             batch.y_support[:, :0])
    for guess, why in [
        (scaled(want, -1), "you return θ̂ − φ. The skeleton *descends* along the returned "
                           "direction (φ ← φ − ε·d), so φ would move away from θ̂; return "
                           "φ − θ̂ so that φ ← φ + ε(θ̂ − φ)"),
        (scaled(want, len(batch)), "it is summed over tasks instead of averaged"),
        (ref.reptile_meta_gradient(model, phi, support_only, ALPHA, steps=3)[0],
         "θ̂ was trained on the support set only; Reptile uses all of the task's data "
         "(support ∪ query)"),
    ]:
        if close(direction, guess):
            fail(f"reptile_meta_gradient is wrong: {why}.")
    fail(f"reptile_meta_gradient differs from mean(φ − θ̂) by up to {max_diff(direction, want):.3g}.")
