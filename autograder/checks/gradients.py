"""Hidden gradient-correctness checks: float64, a tiny MLP, finite differences, diagnoses.

Each ``check_*`` takes the student's function, passes silently when it is right, and raises
:class:`CheckFailed` with the cause in words when not.  A wrong answer is compared with the
answers that known mistakes would give (wrong sign, α applied twice, no ``create_graph``,
support and query swapped, summed over tasks, ...) so the message can name the mistake.
"""

from __future__ import annotations

from typing import Callable

import torch

from autograder.reference import inner_loop as ref
from hwlib.models import split_body_head, task_loss
from hwlib.tasks import TaskBatch

from .common import (ALPHA, call_student, check_params_dict, close, combine, fail,
                     finite_difference, gradient, graded_alone, leaf, max_diff, scaled,
                     tiny_problem)


def _swap(batch: TaskBatch) -> TaskBatch:
    return TaskBatch(batch.x_query, batch.y_query, batch.x_support, batch.y_support)


def check_inner_update(inner_update: Callable) -> None:
    """θ̂ = θ − α∇θ l(θ); differentiable w.r.t. θ; second order only with create_graph=True."""
    model, phi, batch = tiny_problem()
    t = batch[0]
    out = call_student("inner_update", inner_update, model, phi, t.x_support, t.y_support, ALPHA)
    check_params_dict("inner_update", out, phi)
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
        fail(f"inner_update differs from θ − α∇θ l(θ) by up to {max_diff(out, combine(phi, g, -ALPHA)):.3g} "
             "on a small MLP: compute l on (x, y) with the given params, its gradient w.r.t. "
             "every parameter, and take one step of size α.")
    if not all(v.requires_grad for v in out.values()):
        fail("inner_update returned parameters cut from φ (detached): θ̂ must stay a "
             "differentiable function of θ, even without create_graph.")
    second = call_student("inner_update", inner_update, model, phi, t.x_support, t.y_support,
                          ALPHA, create_graph=True)
    (cross,) = torch.autograd.grad(second["body.2.weight"].sum(), phi["head.weight"],
                                   allow_unused=True)
    if cross is None or cross.abs().sum() == 0:
        fail("inner_update(create_graph=True) does not keep the graph of the inner gradient: "
             "pass create_graph=create_graph to torch.autograd.grad, otherwise MAML's "
             "second-order term is lost.")
    (cross,) = torch.autograd.grad(out["body.2.weight"].sum(), phi["head.weight"],
                                   allow_unused=True)
    if cross is not None and cross.abs().sum() > 0:
        fail("inner_update(create_graph=False) still builds the graph of the inner gradient "
             "(slow, and wrong for first-order MAML): use create_graph=create_graph.")


def check_outer_step(outer_step: Callable) -> None:
    """zero_grad → backward → step, and the returned loss value."""
    model, phi, batch = tiny_problem()
    opt = torch.optim.SGD(list(phi.values()), lr=0.0)  # lr 0: φ keeps its value
    grads, values = [], []
    for i in range(2):  # each loss is built after the previous step (in-place updates)
        loss = ref.maml_meta_loss(model, phi, batch[i:i + 1], ALPHA)
        grads.append(dict(zip(phi, torch.autograd.grad(loss, list(phi.values()),
                                                        retain_graph=True))))
        values.append((call_student("outer_step", outer_step, opt, loss), loss.item()))
    value = values[0][0]
    now = {k: (v.grad if v.grad is not None else torch.zeros_like(v)) for k, v in phi.items()}
    if close(now, {k: grads[0][k] + grads[1][k] for k in phi}):
        fail("outer_step lets meta-gradients accumulate across steps: the second step used the "
             "sum of both steps' gradients. Call optimizer.zero_grad() before backward().")
    if not close(now, grads[1]):
        fail("outer_step did not leave ∇φ of the given meta-loss in the .grad of φ: "
             "back-propagate the meta-loss it receives (meta_loss.backward()).")
    if not isinstance(value, float) or abs(value - values[0][1]) > 1e-9:
        fail(f"outer_step should return the meta-loss as a Python float (loss.item()), got {value!r}.")
    model, phi, batch = tiny_problem()
    before = {k: v.detach().clone() for k, v in phi.items()}
    opt = torch.optim.SGD(list(phi.values()), lr=0.1)
    loss = ref.maml_meta_loss(model, phi, batch, ALPHA)
    g = dict(zip(phi, torch.autograd.grad(loss, list(phi.values()), retain_graph=True)))
    call_student("outer_step", outer_step, opt, loss)
    if close(phi, before):
        fail("outer_step did not change φ: call optimizer.step() after backward().")
    if not close(phi, combine(before, g, -0.1)):
        fail("outer_step changed φ by something other than one optimizer step on the meta-loss.")


def _diagnose_meta_loss(name: str, fn: Callable, model, phi, batch, second_order: bool) -> None:
    value = call_student(name, fn, model, phi, batch, ALPHA)
    grads = gradient(name, value, phi)
    expected = ref.maml_meta_loss(model, leaf(phi), batch, ALPHA).item()
    v = value.item()
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
    fd = finite_difference(lambda p: ref.maml_meta_loss(model, leaf(p), batch, ALPHA), phi)
    at = leaf(phi)
    first = dict(zip(phi, torch.autograd.grad(ref.fomaml_meta_loss(model, at, batch, ALPHA),
                                              list(at.values()))))
    want, other = (fd, first) if second_order else (first, fd)
    if close(grads, want, rtol=1e-4, atol=1e-7):
        return
    if second_order and close(grads, first, rtol=1e-4, atol=1e-7):
        fail(f"{name}'s meta-gradient equals the first-order approximation, not the true "
             "meta-gradient (checked by finite differences): the graph through the inner loop "
             "is missing — call inner_update with create_graph=True inside the meta-loss.")
    if not second_order and close(grads, other, rtol=1e-4, atol=1e-7):
        fail(f"{name} gives the full second-order MAML gradient: first-order MAML treats "
             "∂θ̂/∂φ ≈ I, so compute the inner gradients with create_graph=False.")
    if max(g.abs().max().item() for g in grads.values()) == 0:
        fail(f"{name}'s meta-gradient is zero: θ̂ was detached from φ.")
    fail(f"{name}'s meta-gradient differs from the {'true (finite-difference)' if second_order else 'first-order'} "
         f"meta-gradient by up to {max_diff(grads, want):.3g}.")


def check_maml_meta_loss(maml_meta_loss: Callable) -> None:
    """Value (1/B) Σ l_query(θ̂) and the exact second-order meta-gradient; ``steps`` honoured.

    Graded alone: the student's ``inner_update`` is replaced by the reference during the check.
    """
    with graded_alone(maml_meta_loss, inner_update=ref.inner_update):
        _check_maml_meta_loss(maml_meta_loss)


def _check_maml_meta_loss(maml_meta_loss: Callable) -> None:
    model, phi, batch = tiny_problem()
    _diagnose_meta_loss("maml_meta_loss", maml_meta_loss, model, phi, batch, second_order=True)
    two = call_student("maml_meta_loss", maml_meta_loss, model, phi, batch, ALPHA, steps=2)
    if abs(two.item() - ref.maml_meta_loss(model, leaf(phi), batch, ALPHA, steps=2).item()) > 1e-7:
        fail("maml_meta_loss(steps=2) is wrong: take `steps` inner updates on the support set.")


def check_fomaml_meta_loss(fomaml_meta_loss: Callable) -> None:
    """Same value as MAML; gradient = the query gradient at θ̂ (∂θ̂/∂φ ≈ I); graded alone."""
    model, phi, batch = tiny_problem()
    with graded_alone(fomaml_meta_loss, inner_update=ref.inner_update):
        _diagnose_meta_loss("fomaml_meta_loss", fomaml_meta_loss, model, phi, batch,
                            second_order=False)


def check_anil_adapt(anil_adapt: Callable) -> None:
    """Only head parameters move; they move as in MAML's inner loop; second order when asked."""
    model, phi, batch = tiny_problem()
    t = batch[0]
    out = call_student("anil_adapt", anil_adapt, model, phi, t.x_support, t.y_support, ALPHA,
                       steps=2)
    check_params_dict("anil_adapt", out, phi)
    body, _ = split_body_head(phi)
    changed = [k for k in body if not torch.equal(out[k].detach(), body[k].detach())]
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
    out = call_student("anil_adapt", anil_adapt, model, phi, t.x_support, t.y_support, ALPHA,
                       steps=1, create_graph=True)
    loss = task_loss(model, out, t.x_query, t.y_query)
    fd = finite_difference(lambda p: task_loss(model, ref.anil_adapt(model, leaf(p), t.x_support,
                                                                     t.y_support, ALPHA),
                                               t.x_query, t.y_query), phi)
    if not close(gradient("anil query loss", loss, phi), fd, rtol=1e-4, atol=1e-7):
        fail("anil_adapt(create_graph=True) does not give the true meta-gradient of the query "
             "loss (finite differences): keep the graph of the head's inner gradient.")


def check_reptile_meta_gradient(reptile_meta_gradient: Callable) -> None:
    """Direction (1/B) Σ (φ − θ̂_i) with θ̂_i from SGD on support ∪ query."""
    model, phi, batch = tiny_problem()
    with graded_alone(reptile_meta_gradient, inner_update=ref.inner_update):
        out = call_student("reptile_meta_gradient", reptile_meta_gradient, model, phi, batch,
                           ALPHA, steps=3)
    if not isinstance(out, tuple) or len(out) != 2:
        fail("reptile_meta_gradient must return (direction dict, mean loss).")
    direction, _ = out
    check_params_dict("reptile_meta_gradient's direction", direction, phi)
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
