"""Hidden checks of the MAML and first-order MAML meta-losses (value and meta-gradient).

On fresh sine tasks (support and query of different sizes, α drawn per grading) and on
classification tasks with shuffled labels: the value (1/B) Σ_i l_query_i(θ̂_i) for 1, 2 and 3
inner steps, and the meta-gradient against the reference's exact float64 derivative, confirmed by
central finite differences of the true meta-loss at one step (MAML: second order at every step
count) or against the first-order gradient (FOMAML).  A
wrong value is matched against the family of common mistakes (:mod:`.diagnose`); φ changed in
place is caught from the inputs after the call.  Graded alone: the worker lends the reference
``inner_update`` while these run.
"""

from __future__ import annotations

import torch

from autograder.assignments.metalearning import answers as ref
from hwlib.sinusoid import tiny_sine_problem

from autograder.checks.common import (CONV_SPEC, MLP_SPEC, close, fail, grading_alpha, leaf, true_gradient,
                     max_diff, returned_loss, same_number, tiny_classification)
from autograder.checks.diagnose import closest, describe_batch, example_value, meta_loss_family
from autograder.checks.properties import mean_query_loss, objective_violation
from autograder.checks.student import MODEL, P, Student

GRAD = {"name": "grad", "kind": "grad"}
INPUTS = {"name": "inputs", "kind": "inputs_after"}
FORMULA = "(1/B) Σ_i l_query_i(θ̂_i)"


def _loss_and_grad(s: Student, name: str, spec: dict, phi, batch, alpha: float, steps: int):
    call = s.call(name, spec, MODEL, P(phi), batch, alpha, steps=steps, probes=[GRAD, INPUTS],
                  lend={"inner_update": ref.inner_update})
    if call.error:
        fail(call.error)
    if call.probes.get("inputs", {}).get("changed"):
        fail(f"{name} changed φ in place (e.g. `p -= α·g`, `p.data = …` or an optimizer step "
             "on φ): the inner loop must build new tensors θ̂ and leave φ as it was.")
    label = f"{name}(steps={steps})" if steps != 1 else name
    return returned_loss(label, call.value, call.probes.get("grad", {}), phi)


def _check_value(name: str, v: float, model, phi, batch, alpha: float, steps: int,
                 where: str, s: Student, spec: dict = MLP_SPEC) -> None:
    want = ref.maml_meta_loss(model, leaf(phi), batch, alpha, steps=steps).item()
    label = f"{name}(steps={steps})" if steps != 1 else name
    if same_number(f"the value of {label}", v, want):
        return
    said = objective_violation(_asker(s, name, spec, phi, batch, alpha, steps), name, phi,
                               batch, alpha, steps, mean_query_loss(model, phi))
    cause = closest(v, meta_loss_family(model, phi, batch, alpha, steps))
    if said or cause:
        fail(f"{label}'s value is wrong: " + (f"{said} — precisely, {cause}." if said and cause
                                             else f"{said or cause}."))
    fail(example_value(label, v, want, FORMULA, where))


def _asker(s: Student, name: str, spec: dict, phi, batch, alpha: float, steps: int):
    """``ask(**changes)``: the student's meta-loss value with some inputs changed (the
    reference ``inner_update`` lent), for :func:`.properties.objective_violation`."""
    def ask(**changes) -> float:
        args = {"phi": phi, "batch": batch, "alpha": alpha, "steps": steps, **changes}
        c = s.call(name, spec, MODEL, P(args["phi"]), args["batch"], args["alpha"],
                   steps=args["steps"], lend={"inner_update": ref.inner_update})
        if c.error:
            fail(c.error)
        return returned_loss(name, c.value, {"grads": {}}, args["phi"])[0]
    return ask


def _check_meta_gradient(name: str, grads: dict, model, phi, batch, alpha: float, steps: int,
                         second_order: bool) -> None:
    # the reference's exact float64 meta-gradient, confirmed by finite differences at one step
    fd = true_gradient(lambda p: ref.maml_meta_loss(model, p, batch, alpha, steps), phi,
                       confirm=steps == 1)
    at = leaf(phi)
    first = dict(zip(phi, torch.autograd.grad(ref.fomaml_meta_loss(model, at, batch, alpha, steps),
                                              list(at.values()))))
    want, other = (fd, first) if second_order else (first, fd)
    if close(grads, want, rtol=1e-4, atol=1e-7):
        return
    label = f" with steps={steps}" if steps > 1 else ""
    if second_order and close(grads, first, rtol=1e-4, atol=1e-7):
        fail(f"{name}'s meta-gradient{label} equals the first-order approximation, not the "
             "true meta-gradient (checked by finite differences): the graph through the inner "
             "loop is missing — call inner_update with create_graph=True inside the meta-loss"
             + (" at every inner step" if steps > 1 else "") + ".")
    if not second_order and close(grads, other, rtol=1e-4, atol=1e-7):
        fail(f"{name} gives the full second-order MAML gradient: first-order MAML treats "
             "∂θ̂/∂φ ≈ I, so compute the inner gradients with create_graph=False.")
    if max(g.abs().max().item() for g in grads.values()) == 0:
        fail(f"{name}'s meta-gradient{label} is zero: θ̂ was detached from φ.")
    if second_order and steps > 1:
        fail(f"{name}'s meta-gradient{label} is neither the true meta-gradient nor the "
             "first-order one: the graph is kept through some inner steps but not all — use "
             "create_graph=True in every inner step.")
    kind = "true (finite-difference)" if second_order else "first-order"
    fail(f"{name}'s meta-gradient{label} differs from the {kind} meta-gradient by up to "
         f"{max_diff(grads, want):.3g} on {describe_batch(batch, alpha, steps)}.")


def _check(fn, name: str, seed: int, second_order: bool) -> None:
    s = Student.of(fn, name)
    alpha = grading_alpha(seed)
    model, phi, batch = tiny_sine_problem(seed=seed)
    for steps in (1, 2, 3):
        v, grads = _loss_and_grad(s, name, MLP_SPEC, phi, batch, alpha, steps)
        _check_value(name, v, model, phi, batch, alpha, steps, describe_batch(batch, alpha, steps),
                     s)
        _check_meta_gradient(name, grads, model, phi, batch, alpha, steps, second_order)
    model, phi, batch = tiny_classification(seed=seed)
    v, _ = _loss_and_grad(s, name, CONV_SPEC, phi, batch, alpha, 1)
    _check_value(name, v, model, phi, batch, alpha, 1,
                 f"3-way classification tasks whose labels are not in order (α = {alpha:g})",
                 s, CONV_SPEC)


def check_maml_meta_loss(maml_meta_loss, seed: int = 0) -> None:
    """Value and the exact second-order meta-gradient, for 1, 2 and 3 inner steps."""
    _check(maml_meta_loss, "maml_meta_loss", seed, second_order=True)


def check_fomaml_meta_loss(fomaml_meta_loss, seed: int = 0) -> None:
    """Same value as MAML; gradient = the query gradient at θ̂ (∂θ̂/∂φ ≈ I)."""
    _check(fomaml_meta_loss, "fomaml_meta_loss", seed, second_order=False)
