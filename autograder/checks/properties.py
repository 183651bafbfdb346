"""Diagnosis by properties: relations that hold for *every* correct answer, each of which
isolates one class of mistakes.

A value that differs from the reference says *that* a function is wrong; a property says *what
kind* of wrong, whatever the student wrote: the judge calls the student's function again on
inputs it crafts and compares the answers with each other (and with a few identities), never
with a list of known bugs.  The first property that fails names its class of cause with the
concrete inputs; the known-bug families (:mod:`.diagnose`) come after, for a finer name.

Three shapes of graded function:

* an **inner step** θ̂ = step(φ, x, y, α): :mod:`.step_properties`;
* a **meta-batch objective** L(φ, batch, α, steps) (the meta-losses, Reptile's direction,
  ProtoNet's loss): it depends on φ, on the query and on the support set; with α = 0 it is the
  mean query loss of φ itself; it is the *mean over independent tasks* — L([A, A]) = L([A]),
  L([A, B]) = (L([A]) + L([B])) / 2, L([A, B]) = L([B, A]); it depends on ``steps``; a second
  call gives the same value;
* a tensor function (ProtoNet's prototypes and logits): the result carries the gradient of its
  inputs, with the reference's derivative (:func:`.protonet._graph_flows`).

Each property is a function ``(ask, ...) -> str | None``: None when it holds, else the cause
in words with the evidence.  ``ask(**changes)`` calls the student's function with some inputs
changed and returns its (decoded, checked) output.
"""

from __future__ import annotations

from typing import Callable, Mapping

import torch

from hwlib.models import task_loss
from hwlib.tasks import TaskBatch

Ask = Callable[..., object]
SAME = 1e-9  # relative: two answers of one correct function on the same numbers agree to this


def _number(x) -> float:
    return float(x[1] if isinstance(x, tuple) else x) if not isinstance(x, dict) else float("nan")


def flat(out) -> torch.Tensor:
    """A function's answer as one vector (a dict of tensors, a tensor, a number, or the first
    element of a tuple such as Reptile's (direction, loss))."""
    if isinstance(out, tuple):
        out = out[0]
    if isinstance(out, Mapping):
        return torch.cat([out[k].detach().flatten().double() for k in sorted(out)])
    if isinstance(out, torch.Tensor):
        return out.detach().flatten().double()
    return torch.tensor([float(out)], dtype=torch.float64)


def agree(a, b, rtol: float = 1e-7) -> bool:
    """Two answers of the student's function agree (relative to their size)."""
    x, y = flat(a), flat(b)
    if x.shape != y.shape or not (torch.isfinite(x).all() and torch.isfinite(y).all()):
        return False
    return bool((x - y).abs().max() <= rtol * max(1.0, y.abs().max().item()))


def _show(out) -> str:
    v = flat(out)
    return f"{v.item():.6g}" if v.numel() == 1 else f"‖·‖ = {v.norm().item():.6g}"


def perturbed(phi: Mapping[str, torch.Tensor], scale: float = 0.3, seed: int = 0) -> dict:
    gen = torch.Generator().manual_seed(seed + 101)
    return {k: (v.detach() + scale * torch.randn(v.shape, generator=gen, dtype=v.dtype))
            for k, v in phi.items()}


def tasks(batch: TaskBatch, *index: int) -> TaskBatch:
    """The meta-batch of the tasks ``index`` of ``batch`` (repeats allowed)."""
    i = torch.tensor(index)
    return TaskBatch(batch.x_support[i], batch.y_support[i], batch.x_query[i], batch.y_query[i])


def with_set(batch: TaskBatch, which: str, shift: float = 1.0) -> TaskBatch:
    """``batch`` with the targets (regression) or inputs of its support or query set moved."""
    xs, ys, xq, yq = batch.x_support, batch.y_support, batch.x_query, batch.y_query
    if which == "support":
        ys = ys + shift if ys.is_floating_point() else ys
        xs = xs if ys.is_floating_point() else xs + shift
    else:
        yq = yq + shift if yq.is_floating_point() else yq
        xq = xq if yq.is_floating_point() else xq + shift
    return TaskBatch(xs, ys, xq, yq)


# ---- a meta-batch objective L(φ, batch, α, steps) ---------------------------------------------

def objective_violation(ask: Ask, name: str, phi: dict, batch: TaskBatch, alpha: float,
                        steps: int, phi_loss: Callable[[TaskBatch], float] | None = None,
                        kind: str = "query loss") -> str | None:
    """The first property of a meta-batch objective that fails (see the module), or None.
    ``phi_loss(batch)``: the mean query loss of φ itself (α = 0), when α applies.  ``kind``:
    ``"query loss"`` (θ̂ adapted on the support set, scored on the query set) or
    ``"direction"`` (Reptile's φ − θ̂, trained on support ∪ query: the sets are not told apart,
    and the direction is linear in a small α and in the number of steps)."""
    base = ask()
    for prop in _PROPERTIES[kind]:
        said = prop(ask, base, name, phi, batch, alpha, steps, phi_loss)
        if said:
            return said
    return None


def _repeatable(ask, base, name, phi, batch, alpha, steps, phi_loss):
    again = ask()
    if not agree(again, base, SAME):
        return (f"two calls of {name} with the same inputs gave {_show(base)} and {_show(again)}:"
                " state is kept between calls (a global, a cache, gradients left in .grad)")


def _uses_phi(ask, base, name, phi, batch, alpha, steps, phi_loss):
    if agree(ask(phi=perturbed(phi)), base, SAME):
        return (f"{name} does not change when φ changes: it is not computed from the φ you "
                "were given (the model's own weights — model(x), model.parameters() — instead "
                "of functional calls on φ?)")


def _uses_query(ask, base, name, phi, batch, alpha, steps, phi_loss):
    if agree(ask(batch=with_set(batch, "query")), base, SAME):
        return (f"{name} does not change when the query set changes: θ̂ is never scored on the "
                "query set")


def _uses_support(ask, base, name, phi, batch, alpha, steps, phi_loss):
    if steps not in (None, 1) and agree(ask(batch=with_set(batch, "support"), steps=1),
                                        ask(steps=1), SAME):
        return (f"with steps=1 {name} ignores the support set (it does with steps={steps}): "
                "the loop over steps runs one time too few — an off-by-one such as "
                "range(1, steps), so steps=1 takes no step at all")
    if agree(ask(batch=with_set(batch, "support")), base, SAME):
        if steps is not None and not agree(ask(batch=with_set(batch, "support"), steps=steps + 1),
                                           ask(steps=steps + 1), SAME):
            return (f"{name} ignores the support set with steps={steps} but uses it with "
                    f"steps={steps + 1}: the inner loop takes one step too few (an off-by-one "
                    "in the loop over steps, e.g. range(1, steps))")
        return (f"{name} does not change when the support set changes: the support set is never "
                "used (θ̂ is not adapted on it, the prototypes are not built from it, or what "
                "is built from it is not what is scored)")


def _alpha_zero(ask, base, name, phi, batch, alpha, steps, phi_loss):
    if phi_loss is None:
        return None
    got, want = _number(ask(alpha=0.0)), phi_loss(batch)
    if abs(got - want) > 1e-7 * max(1.0, abs(want)):
        finer = ""
        if abs(got - phi_loss(batch, "support")) <= 1e-7 * max(1.0, abs(got)):
            finer = ": it scores the support set"
        elif abs(got - len(batch) * want) <= 1e-7 * max(1.0, abs(got)):
            finer = f": it is {len(batch)}× too large, the task losses are summed"
        return (f"with α = 0 (no adaptation, θ̂ = φ) {name} must be the mean query loss of φ "
                f"itself, {want:.6g}; yours is {got:.6g}{finer}")


def _tasks(ask, base, name, phi, batch, alpha, steps, phi_loss):
    """L is the mean over independent tasks: asked on [A], [B], [A, A], [A, B] and [B, A],
    every correct answer gives L([A, A]) = L([A]), L([A, B]) = L([B, A]) = (L([A]) + L([B]))/2.
    Which relation breaks, and how, names the class of mistake."""
    a, b = flat(ask(batch=tasks(batch, 0))), flat(ask(batch=tasks(batch, 1)))
    aa, ab, ba = (flat(ask(batch=tasks(batch, *i))) for i in ((0, 0), (0, 1), (1, 0)))
    if agree(ab, (a + b) / 2) and agree(aa, a) and agree(ba, ab):
        return None
    seen = (f"[A] gave {_show(a)}, [B] {_show(b)}, [A, B] {_show(ab)}, [B, A] {_show(ba)}, "
            f"[A, A] {_show(aa)}")
    for which, one, other in (("last", b, a), ("first", a, b)):
        for factor, scale in ((1, ""), (0.5, ", divided by the number of tasks")):
            if agree(ab, one * factor) and not agree(ab, other * factor):
                where = ("the result is overwritten in the loop over tasks instead of "
                         "accumulated" if which == "last" else
                         "the loop over tasks stops after the first one — a `return` or `break` "
                         "inside the loop?")
                return (f"only the {which} task of a meta-batch counts in {name}{scale}: {seen} "
                        f"— {where}")
    for factor, why in ((2, "summed over the tasks instead of averaged"),
                        (0.5, "divided by the number of tasks once too often")):
        if agree(aa, a * factor) and agree(ab, (a + b) / 2 * factor):
            return f"{name} is not the mean over the meta-batch's tasks: {seen} — it is {why}"
    if not agree(ab, ba):
        return (f"the tasks of a meta-batch are not independent in {name}: it depends on their "
                f"order ({seen}) — each task must start again from φ (θ̂ of one task leaks into "
                "the next, or state is kept across tasks)")
    return (f"the tasks of a meta-batch are not independent in {name}: {seen}; a correct one "
            "gives the mean of [A] and [B] for [A, B] and the value of [A] for [A, A] — each "
            "task must start again from φ, and every task counts once")


def _query_mean(ask, base, name, phi, batch, alpha, steps, phi_loss):
    doubled = TaskBatch(batch.x_support, batch.y_support, torch.cat([batch.x_query] * 2, 1),
                        torch.cat([batch.y_query] * 2, 1))
    twice = ask(batch=doubled)
    if not agree(twice, base):
        ratio = _number(twice) / _number(base) if _number(base) else float("nan")
        finer = " — the query losses are summed instead of averaged" if abs(ratio - 2) < 1e-6 \
            else ""
        return (f"{name} changes when every query example is given twice ({_show(base)} → "
                f"{_show(twice)}): a task's loss must be the mean over its query examples"
                f"{finer}")


def _linear_in_alpha(ask, base, name, phi, batch, alpha, steps, phi_loss):
    """Reptile: for a small α, φ − θ̂ ≈ α·Σ∇l — doubling α doubles the direction."""
    small = 1e-4
    a, b = flat(ask(alpha=small)), flat(ask(alpha=2 * small))
    ratio = (b.norm() / a.norm()).item() if a.norm() > 0 else float("nan")
    if abs(ratio - 2) > 0.05:
        return (f"for a small α, φ − θ̂ ≈ α·Σ∇l, so doubling α must double the direction; "
                f"{name}'s grew {ratio:.3g}× (α = {small:g} → {2 * small:g}): the direction is "
                "divided by α, or α is not the inner learning rate")


def _step_count(ask, base, name, phi, batch, alpha, steps, phi_loss):
    """Reptile: for a small α each step moves θ by about α∇l, so steps=2 moves twice as far
    as steps=1 (a loop that runs once too often gives 3/2, once too few 1/0)."""
    small = 1e-4
    one, two = flat(ask(alpha=small, steps=1)), flat(ask(alpha=small, steps=2))
    ratio = (two.norm() / one.norm()).item() if one.norm() > 0 else float("inf")
    if abs(ratio - 2) > 0.05:
        extra = round(1 / (ratio - 1)) if 1 < ratio < 2 else None
        finer = (f": it takes {extra + 1} steps when asked for {extra} — the loop runs one step "
                 "too many (an off-by-one such as range(steps + 1))" if extra else
                 ": the loop over steps does not take exactly `steps` steps (an off-by-one?)")
        return (f"for a small α, θ̂ moves by about α∇l per inner step, so steps=2 must move twice "
                f"as far as steps=1; {name}'s moved {ratio:.3g}× as far{finer}")


def _uses_steps(ask, base, name, phi, batch, alpha, steps, phi_loss):
    if steps is None:  # no inner loop (ProtoNet)
        return None
    other = 2 if steps == 1 else 1
    if agree(ask(steps=other), base, SAME):
        return (f"{name} gives the same result with steps={steps} and steps={other}: it "
                "ignores `steps` (the inner loop must take exactly `steps` steps)")


_PROPERTIES = {
    "query loss": (_repeatable, _uses_phi, _uses_query, _uses_support, _tasks, _query_mean,
                   _alpha_zero, _uses_steps),
    "direction": (_repeatable, _uses_phi, _uses_support, _tasks, _alpha_zero, _linear_in_alpha,
                  _step_count, _uses_steps),
}


def mean_query_loss(model, phi: Mapping[str, torch.Tensor]) -> Callable[..., float]:
    """``phi_loss(batch, which="query")``: (1/B) Σ_i l(φ; set_i) — the meta-loss at α = 0."""
    def loss(batch: TaskBatch, which: str = "query") -> float:
        with torch.no_grad():
            values = [task_loss(model, phi, t.x_query if which == "query" else t.x_support,
                                t.y_query if which == "query" else t.y_support) for t in batch]
        return torch.stack(values).mean().item()
    return loss
