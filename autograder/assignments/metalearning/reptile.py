"""Hidden check of Reptile's meta-gradient: the direction (1/B) Σ_i (φ − θ̂_i), θ̂_i from
``steps`` SGD steps on task i's support ∪ query (sine tasks, and classification tasks with
shuffled labels).  A wrong direction is named by the property it breaks
(:mod:`.properties`), then by the known mistake it matches (:mod:`.diagnose`).
"""

from __future__ import annotations

from typing import Callable

import torch

from autograder.assignments.metalearning import answers as ref
from hwlib.sinusoid import tiny_sine_problem
from hwlib.tasks import TaskBatch

from hwlib.models import task_loss

from autograder.checks.common import (check_params_dict, close, fail, grading_alpha, leaf, require_finite,
                     scaled)
from autograder.checks.diagnose import adapt, closest_params, example_params, sets
from autograder.assignments.metalearning.inner_step import INPUTS, _called, _on_classification
from autograder.checks.properties import objective_violation
from autograder.checks.student import P, Student


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


def _reptile_asker(s: Student, phi, batch, alpha: float) -> Callable:
    """``ask(**changes)``: the student's Reptile direction with some inputs changed."""
    def ask(**changes) -> dict:
        args = {"phi": phi, "batch": batch, "alpha": alpha, "steps": 3, **changes}
        c = _called(s, "reptile_meta_gradient", P(args["phi"]), args["batch"], args["alpha"],
                    steps=args["steps"], lend={"inner_update": ref.inner_update})
        out = c.value[0] if isinstance(c.value, tuple) and c.value else c.value
        check_params_dict("reptile_meta_gradient's direction", out, phi, c.subclassed)
        return out
    return ask


def _task_losses(model, phi, batch: TaskBatch, alpha: float, steps: int) -> float:
    """(1/B) Σ_i l(θ_i^(steps); support_i ∪ query_i): the mean task loss after ``steps``."""
    losses = []
    for task in batch:
        x, y = torch.cat([task.x_support, task.x_query]), torch.cat([task.y_support,
                                                                     task.y_query])
        theta = adapt(model, leaf(phi), x, y, alpha, steps, create_graph=False) if steps else phi
        losses.append(task_loss(model, theta, x, y).detach())
    return torch.stack(losses).mean().item()


def _check_loss(loss, model, phi, batch: TaskBatch, alpha: float, steps: int) -> None:
    """The returned loss: the mean task loss at θ̂ (the last inner step's, at θ^(steps−1), is
    accepted too — it is what a loop that logs its losses holds)."""
    value = loss.item() if isinstance(loss, torch.Tensor) and loss.dim() == 0 else loss
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        fail(f"reptile_meta_gradient's second value must be the mean task loss (a number or a "
             f"0-d tensor), got {type(loss).__name__}.")
    require_finite("the loss reptile_meta_gradient returned", float(value))
    at_theta, last = (_task_losses(model, phi, batch, alpha, n) for n in (steps, steps - 1))
    if any(abs(value - w) <= 1e-6 * max(1.0, abs(w)) for w in (at_theta, last)):
        return
    at_phi = _task_losses(model, phi, batch, alpha, 0)
    why = (" — it is the loss at φ, before adaptation" if abs(value - at_phi) <= 1e-6 * max(
        1.0, abs(at_phi)) else "")
    fail(f"reptile_meta_gradient's returned loss is {value:.6g}, not the mean task loss at θ̂ "
         f"({at_theta:.6g}; on support ∪ query, averaged over the tasks){why}.")


def check_reptile_meta_gradient(reptile_meta_gradient, seed: int = 0) -> None:
    """Direction (1/B) Σ (φ − θ̂_i) with θ̂_i from ``steps`` SGD steps on support ∪ query."""
    s = Student.of(reptile_meta_gradient, "reptile_meta_gradient")
    alpha = grading_alpha(seed)
    model, phi, batch = tiny_sine_problem(seed=seed)
    c = _called(s, "reptile_meta_gradient", P(phi), batch, alpha, steps=3, probes=[INPUTS],
                lend={"inner_update": ref.inner_update})
    out = c.value
    if not isinstance(out, tuple) or len(out) != 2:
        fail("reptile_meta_gradient must return (direction dict, mean loss).")
    direction = out[0]
    check_params_dict("reptile_meta_gradient's direction", direction, phi, c.subclassed)
    want = _reptile_direction(model, phi, batch, alpha, 3)
    if close(direction, want):
        _check_loss(out[1], model, phi, batch, alpha, 3)
        _on_classification(s, "reptile_meta_gradient", lambda m, p, b: _reptile_direction(
            m, p, b, alpha, 3), seed, alpha, steps=3, lend={"inner_update": ref.inner_update})
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
    said = objective_violation(_reptile_asker(s, phi, batch, alpha), "reptile_meta_gradient",
                               phi, batch, alpha, 3, kind="direction")
    cause = closest_params(direction, family)
    if said:
        fail(f"reptile_meta_gradient is wrong: {said}" + (f" — precisely, {cause}." if cause
                                                          else "."))
    fail(f"reptile_meta_gradient is wrong: {cause}." if cause else example_params(
        "reptile_meta_gradient", direction, want,
        f"3 sine tasks, 3 SGD steps on support ∪ query, α = {alpha:g}; (1/B) Σ_i (φ − θ̂_i)"))
