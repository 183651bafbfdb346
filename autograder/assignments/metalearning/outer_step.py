"""Hidden check of the outer step: after ``outer_step(optimizer, meta_loss)`` φ has taken one
step of the optimizer it was given on the gradient of that meta-loss — with SGD and with Adam,
on small and on large gradients (clipping shows), nothing accumulated across calls — and the
meta-loss comes back as a Python float.
"""

from __future__ import annotations

import torch

from hwlib.models import task_loss
from hwlib.sinusoid import tiny_sine_problem

from autograder.checks.common import MLP_SPEC, close, combine, fail, leaf, require_finite, same_number
from autograder.checks.diagnose import example_params
from autograder.checks.properties import flat
from autograder.checks.step_properties import step_shape
from autograder.checks.student import Student


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
    _not_the_optimizers(steps[0])
    _large_gradient(s, model, phi, data[0], lr)
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


def _not_the_optimizers(step) -> None:
    """φ moved, so a step was taken: by the optimizer passed in, or by something else."""
    if isinstance(step, dict) and step.get("optimizer_steps") == 0:
        fail("outer_step moved φ, but the optimizer passed in never took a step "
             "(optimizer.step() was called 0 times on it): φ was moved some other way — a new "
             "optimizer built inside outer_step, or a hand-made update. Use the optimizer "
             "passed in: zero_grad(), backward(), step().")


def _phi_after_one_call(s: Student, phi: dict, data: tuple, lr: float,
                        optimizer: str = "sgd") -> dict:
    """φ after one call of the student's ``outer_step`` with a fresh ``optimizer`` on φ."""
    got = s.outer_step(MLP_SPEC, phi, [data], lr, optimizer=optimizer)
    if got["error"]:
        fail(got["error"])
    now = {k: got["tensors"].get(f"phi0.{k}") for k in phi}
    if any(t is None for t in now.values()):
        fail("outer_step: φ could not be read back after the call.")
    return now


def _large_gradient(s: Student, model, phi: dict, data: tuple, lr: float) -> None:
    """The step is −lr·∇ whatever the size of the gradient: on a meta-loss with a large
    gradient (targets ×100), clipping or normalising shows."""
    x, y = data[0], data[1] * 100
    now = _phi_after_one_call(s, phi, (x, y), lr)
    at = leaf(phi)
    g = dict(zip(at, torch.autograd.grad(task_loss(model, at, x, y), list(at.values()))))
    want = combine({k: v.detach() for k, v in phi.items()}, g, -lr)
    if close(now, want):
        return
    said = step_shape("outer_step", flat({k: now[k] - phi[k].detach() for k in phi}),
                      flat({k: want[k] - phi[k].detach() for k in phi}), rate="lr")
    size = flat(g)
    fail(f"outer_step is wrong on a meta-loss with a large gradient (‖∇‖ = {size.norm():.3g}, "
         f"largest entry {size.abs().max():.3g}): "
         + (said if said else "φ after the step is not φ − lr·∇") +
         " — the gradient is clipped or normalised (clip_grad_norm_, clamp, ∇/‖∇‖)? The outer "
         "step uses the meta-gradient as it is.")


def _with_adam(s: Student, model, phi: dict, data: tuple, lr: float, sgd: dict) -> None:
    """The step is the optimizer's, whichever it is: with Adam (the skeleton's), φ after one
    call is φ after one Adam step — not a hand-made SGD step, not a fresh optimizer's."""
    now = _phi_after_one_call(s, phi, data, lr, optimizer="adam")
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
