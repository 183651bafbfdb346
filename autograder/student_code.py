'''Realistic student code for the six graded functions: wrong answers and correct ones.

:mod:`autograder.mutants` edits the reference answer one token at a time; this module holds
what students actually hand in — whole function definitions with their own variable names,
loops or comprehensions, ``torch.autograd.grad`` or ``torch.func``, comments — to show that the
hidden checks (:mod:`autograder.checks`) are both sharp and fair:

* :data:`BUGS` — wrong answers.  ``check_<bug.check>`` must reject each one with a
  :class:`~autograder.checks.CheckFailed` whose message contains ``bug.message``, a phrase that
  names the cause ("wrong sign", "summed", "in place", …).
* :data:`VARIANTS` — correct answers written differently from the reference; all six checks
  must pass with each of them in place of the reference function.

Each ``source`` is a complete ``def`` with the signature of the reference.  It runs in the
namespace the notebook's import cell gives (``torch``, ``nn``, ``Params``, ``task_loss``,
``TaskBatch``, ``split_body_head``, ``forward``) next to the other five functions; see
:func:`namespace_with`.  ``maml_meta_loss``, ``fomaml_meta_loss`` and ``reptile_meta_gradient``
may call ``inner_update`` by its global name (the grader lends the reference one while checking
them).

Verify, e.g.::

    ns = namespace_with(bug)
    getattr(autograder.checks, f"check_{bug.check}")(ns[bug.check], seed=0)  # CheckFailed
'''

from __future__ import annotations

import inspect
from dataclasses import dataclass

FUNCTIONS = ("inner_update", "outer_step", "maml_meta_loss", "fomaml_meta_loss", "anil_adapt",
             "reptile_meta_gradient")

#: what the notebook's import cell puts in the students' namespace (besides the reference code)
PRELUDE = ("import torch\nfrom torch import nn\n"
           "from hwlib.models import Params, task_loss, split_body_head, forward\n"
           "from hwlib.tasks import TaskBatch\n")


@dataclass(frozen=True)
class Bug:
    """A wrong answer: ``check_<check>`` must fail with a message containing ``message``."""

    name: str
    function: str
    check: str
    message: str
    source: str


@dataclass(frozen=True)
class Variant:
    """A correct answer, written differently from the reference: every check passes."""

    name: str
    function: str
    source: str


def namespace_with(*entries: Bug | Variant) -> dict:
    """The reference answers and the notebook's imports in one namespace, with each entry's
    ``source`` executed into it (replacing that one function)."""
    from autograder.reference import inner_loop

    namespace: dict = {"__name__": "student_code"}
    exec(compile(inspect.getsource(inner_loop), "<reference>", "exec"), namespace)  # noqa: S102
    exec(compile(PRELUDE, "<imports>", "exec"), namespace)  # noqa: S102
    for entry in entries:
        exec(compile(entry.source, f"<student {entry.name}>", "exec"), namespace)  # noqa: S102
    return namespace


# The def lines as the notebook's skeleton gives them (students fill in the bodies).
_INNER = ("def inner_update(model: nn.Module, params: Params, x: torch.Tensor, y: torch.Tensor,\n"
          "                 alpha: float, create_graph: bool = False) -> Params:\n")
_OUTER = "def outer_step(optimizer: torch.optim.Optimizer, meta_loss: torch.Tensor) -> float:\n"
_MAML = ("def maml_meta_loss(model: nn.Module, phi: Params, batch: TaskBatch, alpha: float,\n"
         "                   steps: int = 1) -> torch.Tensor:\n")
_FOMAML = ("def fomaml_meta_loss(model: nn.Module, phi: Params, batch: TaskBatch, alpha: float,\n"
           "                     steps: int = 1) -> torch.Tensor:\n")
_ANIL = ("def anil_adapt(model: nn.Module, phi: Params, x: torch.Tensor, y: torch.Tensor,"
         " alpha: float,\n"
         "               steps: int = 1, create_graph: bool = False) -> Params:\n")
_REPTILE = ("def reptile_meta_gradient(model: nn.Module, phi: Params, batch: TaskBatch,"
            " alpha: float,\n"
            "                          steps: int = 5) -> tuple[Params, torch.Tensor]:\n")


BUGS: list[Bug] = [
    # ----- inner_update --------------------------------------------------------------------
    Bug("inner-ascends", "inner_update", "inner_update", "wrong sign", _INNER + '''\
    # one gradient step on the support loss
    loss = task_loss(model, params, x, y)
    names = list(params.keys())
    grads = torch.autograd.grad(loss, [params[n] for n in names], create_graph=create_graph)
    new_params = {}
    for n, g in zip(names, grads):
        new_params[n] = params[n] + alpha * g
    return new_params
'''),
    Bug("inner-alpha-squared", "inner_update", "inner_update", "α is applied twice", _INNER + '''\
    loss = task_loss(model, params, x, y)
    grads = torch.autograd.grad(loss, tuple(params.values()), create_graph=create_graph)
    out = {}
    for (name, theta), grad in zip(params.items(), grads):
        step = alpha * grad          # the step
        out[name] = theta - alpha * step
    return out
'''),
    Bug("inner-no-alpha", "inner_update", "inner_update", "α is missing", _INNER + '''\
    l = task_loss(model, params, x, y)
    g = torch.autograd.grad(l, list(params.values()), create_graph=create_graph)
    return {k: v - gk for (k, v), gk in zip(params.items(), g)}
'''),
    Bug("inner-alpha-hard-coded", "inner_update", "inner_update", "hard-coded to 0.4", _INNER + '''\
    lr = 0.4  # ALPHA from the Omniglot part
    loss = task_loss(model, params, x, y)
    grads = torch.autograd.grad(loss, list(params.values()), create_graph=create_graph)
    return {name: p - lr * g for (name, p), g in zip(params.items(), grads)}
'''),
    Bug("inner-under-no-grad", "inner_update", "inner_update", "detached", _INNER + '''\
    loss = task_loss(model, params, x, y)
    grads = torch.autograd.grad(loss, list(params.values()), create_graph=create_graph)
    with torch.no_grad():  # the update itself should not be tracked
        updated = {name: p - alpha * g for (name, p), g in zip(params.items(), grads)}
    return updated
'''),
    Bug("inner-ignores-create-graph", "inner_update", "inner_update", "does not keep the graph",
        _INNER + '''\
    loss = task_loss(model, params, x, y)
    grads = torch.autograd.grad(loss, list(params.values()))
    return {name: p - alpha * g for (name, p), g in zip(params.items(), grads)}
'''),
    Bug("inner-sub-in-place", "inner_update", "inner_update", "changed φ in place", _INNER + '''\
    loss = task_loss(model, params, x, y)
    grads = torch.autograd.grad(loss, list(params.values()), create_graph=create_graph)
    with torch.no_grad():
        for p, g in zip(params.values(), grads):
            p.sub_(alpha * g)  # SGD step
    return params
'''),
    Bug("inner-rebinds-loop-variable", "inner_update", "inner_update", "not updated", _INNER + '''\
    new_params = dict(params)
    loss = task_loss(model, params, x, y)
    grads = torch.autograd.grad(loss, list(params.values()), create_graph=create_graph)
    for p, g in zip(new_params.values(), grads):
        p = p - alpha * g
    return new_params
'''),

    # ----- outer_step ----------------------------------------------------------------------
    Bug("outer-no-zero-grad", "outer_step", "outer_step", "accumulate", _OUTER + '''\
    meta_loss.backward()   # gradients of φ
    optimizer.step()       # update φ
    return meta_loss.item()
'''),
    Bug("outer-zero-grad-before-step", "outer_step", "outer_step", "did not change φ",
        _OUTER + '''\
    meta_loss.backward()
    optimizer.zero_grad()  # clear the old gradients
    optimizer.step()
    return meta_loss.item()
'''),
    Bug("outer-steps-twice", "outer_step", "outer_step", "two optimizer steps", _OUTER + '''\
    optimizer.zero_grad()
    meta_loss.backward()
    optimizer.step()
    loss_value = meta_loss.item()
    optimizer.step()
    return loss_value
'''),
    Bug("outer-returns-tensor", "outer_step", "outer_step", "returned the meta-loss tensor",
        _OUTER + '''\
    optimizer.zero_grad()
    meta_loss.backward()
    optimizer.step()
    return meta_loss.detach()
'''),
    Bug("outer-no-backward", "outer_step", "outer_step", "did not change φ", _OUTER + '''\
    optimizer.zero_grad()
    optimizer.step()   # the optimizer differentiates the loss
    return meta_loss.item()
'''),
    Bug("outer-returns-nothing", "outer_step", "outer_step", "as a Python float", _OUTER + '''\
    optimizer.zero_grad()
    meta_loss.backward()
    optimizer.step()
'''),

    # ----- maml_meta_loss ------------------------------------------------------------------
    Bug("maml-first-order", "maml_meta_loss", "maml_meta_loss", "first-order approximation",
        _MAML + '''\
    losses = []
    for task in batch:
        params = phi
        for _ in range(steps):
            params = inner_update(model, params, task.x_support, task.y_support, alpha)
        losses.append(task_loss(model, params, task.x_query, task.y_query))
    return torch.stack(losses).mean()
'''),
    Bug("maml-second-order-first-step-only", "maml_meta_loss", "maml_meta_loss",
        "some inner steps but not all", _MAML + '''\
    query_losses = []
    for task in batch:
        theta = phi
        for k in range(steps):
            # second order through the first step is what matters
            theta = inner_update(model, theta, task.x_support, task.y_support, alpha,
                                 create_graph=(k == 0))
        query_losses.append(task_loss(model, theta, task.x_query, task.y_query))
    return sum(query_losses) / len(query_losses)
'''),
    Bug("maml-support-query-swapped", "maml_meta_loss", "maml_meta_loss",
        "support and query are swapped", _MAML + '''\
    losses = []
    for t in batch:
        adapted = phi
        for _ in range(steps):
            adapted = inner_update(model, adapted, t.x_query, t.y_query, alpha, create_graph=True)
        losses.append(task_loss(model, adapted, t.x_support, t.y_support))
    return torch.stack(losses).mean()
'''),
    Bug("maml-summed", "maml_meta_loss", "maml_meta_loss", "summed", _MAML + '''\
    meta_loss = 0
    for task in batch:
        theta = phi
        for _ in range(steps):
            theta = inner_update(model, theta, task.x_support, task.y_support, alpha,
                                 create_graph=True)
        meta_loss += task_loss(model, theta, task.x_query, task.y_query)
    return meta_loss
'''),
    Bug("maml-loss-overwritten", "maml_meta_loss", "maml_meta_loss", "only the last task",
        _MAML + '''\
    for task in batch:
        theta = phi
        for _ in range(steps):
            theta = inner_update(model, theta, task.x_support, task.y_support, alpha,
                                 create_graph=True)
        loss = task_loss(model, theta, task.x_query, task.y_query)
    return loss
'''),
    Bug("maml-returns-in-loop", "maml_meta_loss", "maml_meta_loss", "only the first task",
        _MAML + '''\
    losses = []
    for task in batch:
        theta = phi
        for _ in range(steps):
            theta = inner_update(model, theta, task.x_support, task.y_support, alpha,
                                 create_graph=True)
        losses.append(task_loss(model, theta, task.x_query, task.y_query))
        return torch.stack(losses).mean()
'''),
    Bug("maml-query-labels-support-inputs", "maml_meta_loss", "maml_meta_loss",
        "score a set with its own labels", _MAML + '''\
    losses = []
    for task in batch:
        theta = phi
        for _ in range(steps):
            theta = inner_update(model, theta, task.x_support, task.y_query, alpha,
                                 create_graph=True)
        losses.append(task_loss(model, theta, task.x_query, task.y_query))
    return torch.stack(losses).mean()
'''),
    Bug("maml-one-step", "maml_meta_loss", "maml_meta_loss", "whatever `steps` is", _MAML + '''\
    losses = [task_loss(model,
                        inner_update(model, phi, t.x_support, t.y_support, alpha,
                                     create_graph=True),
                        t.x_query, t.y_query)
              for t in batch]
    return torch.stack(losses).mean()
'''),
    Bug("maml-gradient-reused", "maml_meta_loss", "maml_meta_loss",
        "computed once at φ and reused", _MAML + '''\
    names = list(phi)
    losses = []
    for task in batch:
        support_loss = task_loss(model, phi, task.x_support, task.y_support)
        grads = torch.autograd.grad(support_loss, [phi[n] for n in names], create_graph=True)
        theta = dict(phi)
        for _ in range(steps):
            theta = {n: theta[n] - alpha * g for n, g in zip(names, grads)}
        losses.append(task_loss(model, theta, task.x_query, task.y_query))
    return torch.stack(losses).mean()
'''),
    Bug("maml-alpha-hard-coded", "maml_meta_loss", "maml_meta_loss", "hard-coded to 0.01",
        _MAML + '''\
    ALPHA_SINE = 0.01
    losses = []
    for task in batch:
        theta = phi
        for _ in range(steps):
            theta = inner_update(model, theta, task.x_support, task.y_support, ALPHA_SINE,
                                 create_graph=True)
        losses.append(task_loss(model, theta, task.x_query, task.y_query))
    return torch.stack(losses).mean()
'''),
    Bug("maml-no-adaptation", "maml_meta_loss", "maml_meta_loss",
        "the inner loop (adaptation to θ̂) is missing", _MAML + '''\
    losses = []
    theta = phi
    for task in batch:
        for _ in range(steps):
            new_theta = inner_update(model, theta, task.x_support, task.y_support, alpha,
                                     create_graph=True)
        losses.append(task_loss(model, theta, task.x_query, task.y_query))
    return torch.stack(losses).mean()
'''),
    Bug("maml-scored-on-support", "maml_meta_loss", "maml_meta_loss",
        "scored on the support set", _MAML + '''\
    losses = []
    for task in batch:
        xs, ys = task.x_support, task.y_support
        theta = phi
        for _ in range(steps):
            theta = inner_update(model, theta, xs, ys, alpha, create_graph=True)
        losses.append(task_loss(model, theta, xs, ys))
    return torch.stack(losses).mean()
'''),
    Bug("maml-returns-item", "maml_meta_loss", "maml_meta_loss", "must return a scalar tensor",
        _MAML + '''\
    total = 0.0
    for task in batch:
        theta = phi
        for _ in range(steps):
            theta = inner_update(model, theta, task.x_support, task.y_support, alpha,
                                 create_graph=True)
        total += task_loss(model, theta, task.x_query, task.y_query).item()
    return total / len(batch)
'''),
    Bug("maml-detached-phi", "maml_meta_loss", "maml_meta_loss", "detached from φ",
        _MAML + '''\
    losses = []
    for task in batch:
        # fresh copy of the initialisation for each task
        theta = {k: v.detach().clone().requires_grad_(True) for k, v in phi.items()}
        for _ in range(steps):
            theta = inner_update(model, theta, task.x_support, task.y_support, alpha,
                                 create_graph=True)
        losses.append(task_loss(model, theta, task.x_query, task.y_query))
    return torch.stack(losses).mean()
'''),
    Bug("maml-data-in-place", "maml_meta_loss", "maml_meta_loss", "changed φ in place",
        _MAML + '''\
    losses = []
    for task in batch:
        for _ in range(steps):
            support_loss = task_loss(model, phi, task.x_support, task.y_support)
            grads = torch.autograd.grad(support_loss, list(phi.values()), create_graph=True)
            for p, g in zip(phi.values(), grads):
                p.data -= alpha * g.data
        losses.append(task_loss(model, phi, task.x_query, task.y_query))
    return torch.stack(losses).mean()
'''),

    # ----- fomaml_meta_loss ----------------------------------------------------------------
    Bug("fomaml-second-order", "fomaml_meta_loss", "fomaml_meta_loss",
        "full second-order MAML gradient", _FOMAML + '''\
    losses = []
    for task in batch:
        theta = phi
        for _ in range(steps):
            theta = inner_update(model, theta, task.x_support, task.y_support, alpha,
                                 create_graph=True)
        losses.append(task_loss(model, theta, task.x_query, task.y_query))
    return torch.stack(losses).mean()
'''),
    Bug("fomaml-detached-theta", "fomaml_meta_loss", "fomaml_meta_loss", "no graph back to φ",
        _FOMAML + '''\
    losses = []
    for task in batch:
        theta = phi
        for _ in range(steps):
            theta = inner_update(model, theta, task.x_support, task.y_support, alpha)
        theta = {k: v.detach() for k, v in theta.items()}  # first order: cut the inner loop
        losses.append(task_loss(model, theta, task.x_query, task.y_query))
    return torch.stack(losses).mean()
'''),
    Bug("fomaml-summed", "fomaml_meta_loss", "fomaml_meta_loss", "summed", _FOMAML + '''\
    total = 0
    for task in batch:
        adapted = phi
        for _ in range(steps):
            adapted = inner_update(model, adapted, task.x_support, task.y_support, alpha)
        total = total + task_loss(model, adapted, task.x_query, task.y_query)
    return total
'''),
    Bug("fomaml-support-query-swapped", "fomaml_meta_loss", "fomaml_meta_loss",
        "support and query are swapped", _FOMAML + '''\
    losses = []
    for i in range(len(batch)):
        theta = phi
        for _ in range(steps):
            theta = inner_update(model, theta, batch.x_query[i], batch.y_query[i], alpha)
        losses.append(task_loss(model, theta, batch.x_support[i], batch.y_support[i]))
    return torch.stack(losses).mean()
'''),
    Bug("fomaml-one-step", "fomaml_meta_loss", "fomaml_meta_loss", "whatever `steps` is",
        _FOMAML + '''\
    losses = []
    for task in batch:
        theta = inner_update(model, phi, task.x_support, task.y_support, alpha)
        losses.append(task_loss(model, theta, task.x_query, task.y_query))
    return torch.stack(losses).mean()
'''),
    Bug("fomaml-loss-overwritten", "fomaml_meta_loss", "fomaml_meta_loss", "only the last task",
        _FOMAML + '''\
    meta_loss = None
    for task in batch:
        theta = phi
        for _ in range(steps):
            theta = inner_update(model, theta, task.x_support, task.y_support, alpha)
        meta_loss = task_loss(model, theta, task.x_query, task.y_query)
    return meta_loss
'''),

    # ----- anil_adapt ----------------------------------------------------------------------
    Bug("anil-adapts-body", "anil_adapt", "anil_adapt", "changed body parameters", _ANIL + '''\
    params = dict(phi)
    for _ in range(steps):
        loss = task_loss(model, params, x, y)
        grads = torch.autograd.grad(loss, list(params.values()), create_graph=create_graph)
        params = {k: v - alpha * g for (k, v), g in zip(params.items(), grads)}
    return params
'''),
    Bug("anil-ignores-steps", "anil_adapt", "anil_adapt", "ignores `steps`", _ANIL + '''\
    body, head = split_body_head(phi)
    loss = task_loss(model, {**body, **head}, x, y)
    grads = torch.autograd.grad(loss, list(head.values()), create_graph=create_graph)
    new_head = {k: w - alpha * g for (k, w), g in zip(head.items(), grads)}
    return {**body, **new_head}
'''),
    Bug("anil-wrong-sign", "anil_adapt", "anil_adapt", "wrong sign", _ANIL + '''\
    body, head = split_body_head(phi)
    for step in range(steps):
        loss = task_loss(model, {**body, **head}, x, y)
        grads = torch.autograd.grad(loss, list(head.values()), create_graph=create_graph)
        for (name, w), g in zip(list(head.items()), grads):
            head[name] = w + alpha * g
    return {**body, **head}
'''),
    Bug("anil-no-create-graph", "anil_adapt", "anil_adapt",
        "keep the graph of the head's inner gradient", _ANIL + '''\
    body, head = split_body_head(phi)
    for _ in range(steps):
        loss = task_loss(model, {**body, **head}, x, y)
        grads = torch.autograd.grad(loss, list(head.values()))
        head = {name: p - alpha * g for (name, p), g in zip(head.items(), grads)}
    return {**body, **head}
'''),
    Bug("anil-gradient-reused", "anil_adapt", "anil_adapt", "computed once at φ and reused",
        _ANIL + '''\
    body, head = split_body_head(phi)
    loss = task_loss(model, phi, x, y)
    head_grads = torch.autograd.grad(loss, list(head.values()), create_graph=create_graph)
    for _ in range(steps):
        head = {name: p - alpha * g for (name, p), g in zip(head.items(), head_grads)}
    return {**body, **head}
'''),
    Bug("anil-off-by-one", "anil_adapt", "anil_adapt", "three inner steps when asked for two",
        _ANIL + '''\
    body, head = split_body_head(phi)
    step = 0
    while step <= steps:
        loss = task_loss(model, {**body, **head}, x, y)
        grads = torch.autograd.grad(loss, list(head.values()), create_graph=create_graph)
        head = {name: p - alpha * g for (name, p), g in zip(head.items(), grads)}
        step += 1
    return {**body, **head}
'''),
    Bug("anil-head-in-place", "anil_adapt", "anil_adapt", "changed φ in place", _ANIL + '''\
    body, head = split_body_head(phi)
    for _ in range(steps):
        loss = task_loss(model, phi, x, y)
        grads = torch.autograd.grad(loss, list(head.values()), create_graph=create_graph)
        with torch.no_grad():
            for w, g in zip(head.values(), grads):
                w -= alpha * g
    return {**body, **head}
'''),

    # ----- reptile_meta_gradient -----------------------------------------------------------
    Bug("reptile-direction-reversed", "reptile_meta_gradient", "reptile_meta_gradient",
        "you return θ̂ − φ", _REPTILE + '''\
    deltas = {k: torch.zeros_like(v) for k, v in phi.items()}
    losses = []
    for task in batch:
        x = torch.cat([task.x_support, task.x_query])
        y = torch.cat([task.y_support, task.y_query])
        theta = phi
        for _ in range(steps):
            theta = inner_update(model, theta, x, y, alpha)
        for k in deltas:
            deltas[k] += (theta[k] - phi[k]).detach() / len(batch)   # move towards θ̂
        losses.append(task_loss(model, theta, x, y).detach())
    return deltas, torch.stack(losses).mean()
'''),
    Bug("reptile-summed", "reptile_meta_gradient", "reptile_meta_gradient", "summed over tasks",
        _REPTILE + '''\
    direction = {k: torch.zeros_like(v) for k, v in phi.items()}
    losses = []
    for task in batch:
        x = torch.cat([task.x_support, task.x_query])
        y = torch.cat([task.y_support, task.y_query])
        theta = phi
        for _ in range(steps):
            theta = inner_update(model, theta, x, y, alpha)
        for k in direction:
            direction[k] = direction[k] + (phi[k] - theta[k]).detach()
        losses.append(task_loss(model, theta, x, y).item())
    return direction, torch.tensor(sum(losses) / len(losses))
'''),
    Bug("reptile-support-only", "reptile_meta_gradient", "reptile_meta_gradient",
        "support set only", _REPTILE + '''\
    B = len(batch)
    direction = {k: torch.zeros_like(v) for k, v in phi.items()}
    losses = []
    for task in batch:
        theta = phi
        for _ in range(steps):
            theta = inner_update(model, theta, task.x_support, task.y_support, alpha)
        for k in direction:
            direction[k] += (phi[k] - theta[k]).detach() / B
        losses.append(task_loss(model, theta, task.x_support, task.y_support).detach())
    return direction, torch.stack(losses).mean()
'''),
    Bug("reptile-query-only", "reptile_meta_gradient", "reptile_meta_gradient",
        "query set only", _REPTILE + '''\
    thetas, losses = [], []
    for task in batch:
        theta = phi
        for _ in range(steps):
            theta = inner_update(model, theta, task.x_query, task.y_query, alpha)
        thetas.append(theta)
        losses.append(task_loss(model, theta, task.x_query, task.y_query).detach())
    direction = {k: torch.stack([(phi[k] - t[k]).detach() for t in thetas]).mean(0)
                 for k in phi}
    return direction, torch.stack(losses).mean()
'''),
    Bug("reptile-one-step", "reptile_meta_gradient", "reptile_meta_gradient", "ignores `steps`",
        _REPTILE + '''\
    direction = {k: torch.zeros_like(v) for k, v in phi.items()}
    losses = []
    for task in batch:
        x = torch.cat([task.x_support, task.x_query])
        y = torch.cat([task.y_support, task.y_query])
        theta = inner_update(model, phi, x, y, alpha)   # SGD on the task
        for k in direction:
            direction[k] += (phi[k] - theta[k]).detach() / len(batch)
        losses.append(task_loss(model, theta, x, y).detach())
    return direction, torch.stack(losses).mean()
'''),
    Bug("reptile-five-steps", "reptile_meta_gradient", "reptile_meta_gradient",
        "hard-coded to 5", _REPTILE + '''\
    STEPS_REPTILE = 5
    direction = {k: torch.zeros_like(v) for k, v in phi.items()}
    losses = []
    for task in batch:
        x = torch.cat([task.x_support, task.x_query])
        y = torch.cat([task.y_support, task.y_query])
        theta = phi
        for _ in range(STEPS_REPTILE):
            theta = inner_update(model, theta, x, y, alpha)
        for k in direction:
            direction[k] += (phi[k] - theta[k]).detach() / len(batch)
        losses.append(task_loss(model, theta, x, y).detach())
    return direction, torch.stack(losses).mean()
'''),
    Bug("reptile-direction-overwritten", "reptile_meta_gradient", "reptile_meta_gradient",
        "only the last task counts", _REPTILE + '''\
    losses = []
    for task in batch:
        x = torch.cat([task.x_support, task.x_query])
        y = torch.cat([task.y_support, task.y_query])
        theta = phi
        for _ in range(steps):
            theta = inner_update(model, theta, x, y, alpha)
        direction = {k: (phi[k] - theta[k]).detach() for k in phi}
        losses.append(task_loss(model, theta, x, y).detach())
    return direction, torch.stack(losses).mean()
'''),
    Bug("reptile-no-alpha", "reptile_meta_gradient", "reptile_meta_gradient", "α is missing",
        _REPTILE + '''\
    direction = {k: torch.zeros_like(v) for k, v in phi.items()}
    losses = []
    for task in batch:
        x = torch.cat([task.x_support, task.x_query])
        y = torch.cat([task.y_support, task.y_query])
        theta = {k: v.detach().clone().requires_grad_(True) for k, v in phi.items()}
        for _ in range(steps):
            loss = task_loss(model, theta, x, y)
            grads = torch.autograd.grad(loss, list(theta.values()))
            theta = {k: (v - g).detach().requires_grad_(True)
                     for (k, v), g in zip(theta.items(), grads)}
        for k in direction:
            direction[k] += (phi[k].detach() - theta[k].detach()) / len(batch)
        losses.append(task_loss(model, theta, x, y).detach())
    return direction, torch.stack(losses).mean()
'''),
    Bug("reptile-optimizer-on-phi", "reptile_meta_gradient", "reptile_meta_gradient",
        "changed φ in place", _REPTILE + '''\
    start = {k: v.detach().clone() for k, v in phi.items()}
    direction = {k: torch.zeros_like(v) for k, v in phi.items()}
    losses = []
    for task in batch:
        x = torch.cat([task.x_support, task.x_query])
        y = torch.cat([task.y_support, task.y_query])
        opt = torch.optim.SGD(phi.values(), lr=alpha)
        for _ in range(steps):
            opt.zero_grad()
            loss = task_loss(model, phi, x, y)
            loss.backward()
            opt.step()
        for k in direction:
            direction[k] += (start[k] - phi[k].detach()) / len(batch)
        losses.append(task_loss(model, phi, x, y).detach())
    return direction, torch.stack(losses).mean()
'''),
]


#: Assumes the episode's labels come in order (0, 0, 1, 1, …): caught on tasks whose labels
#: are shuffled.
BUGS += [
    Bug("inner-assumes-label-order", "inner_update", "inner_update", "labels are not in order",
        '''def inner_update(model: nn.Module, params: Params, x: torch.Tensor, y: torch.Tensor,
                 alpha: float, create_graph: bool = False) -> Params:
    if y.dtype == torch.long:  # an episode's labels are 0, 0, 1, 1, 2, 2, ...
        per_class = len(y) // (int(y.max()) + 1)
        y = torch.arange(len(y)) // per_class
    loss = task_loss(model, params, x, y)
    grads = torch.autograd.grad(loss, list(params.values()), create_graph=create_graph)
    return {k: p - alpha * g for (k, p), g in zip(params.items(), grads)}
'''),
]


#: Found by writing the bugs above: first caught only with a message that did not name the
#: cause; the diagnosis now names them too.
BUGS += [
    Bug("maml-one-step-too-many", "maml_meta_loss", "maml_meta_loss", "one step too many", _MAML + '''\
    losses = []
    for task in batch:
        theta = phi
        for _ in range(steps + 1):   # steps updates after the first one
            theta = inner_update(model, theta, task.x_support, task.y_support, alpha,
                                 create_graph=True)
        losses.append(task_loss(model, theta, task.x_query, task.y_query))
    return torch.stack(losses).mean()
'''),
    Bug("maml-averaged-twice", "maml_meta_loss", "maml_meta_loss", "too small", _MAML + '''\
    losses = []
    for task in batch:
        theta = phi
        for _ in range(steps):
            theta = inner_update(model, theta, task.x_support, task.y_support, alpha,
                                 create_graph=True)
        losses.append(task_loss(model, theta, task.x_query, task.y_query) / len(batch))
    return torch.stack(losses).mean()
'''),
    Bug("outer-backward-twice", "outer_step", "outer_step", "back-propagates the meta-loss twice", _OUTER + '''\
    optimizer.zero_grad()
    meta_loss.backward(retain_graph=True)
    meta_loss.backward()   # make sure the gradients are there
    optimizer.step()
    return meta_loss.item()
'''),
    Bug("reptile-support-then-query", "reptile_meta_gradient", "reptile_meta_gradient", "support ∪ query together",
        _REPTILE + '''\
    direction = {k: torch.zeros_like(v) for k, v in phi.items()}
    losses = []
    for task in batch:
        theta = phi
        for xs, ys in ((task.x_support, task.y_support), (task.x_query, task.y_query)):
            for _ in range(steps):
                theta = inner_update(model, theta, xs, ys, alpha)
        for k in direction:
            direction[k] += (phi[k] - theta[k]).detach() / len(batch)
        losses.append(task_loss(model, theta, task.x_query, task.y_query).detach())
    return direction, torch.stack(losses).mean()
'''),
    Bug("reptile-divided-by-alpha", "reptile_meta_gradient", "reptile_meta_gradient", "divided by α",
        _REPTILE + '''\
    direction = {k: torch.zeros_like(v) for k, v in phi.items()}
    losses = []
    for task in batch:
        x = torch.cat([task.x_support, task.x_query])
        y = torch.cat([task.y_support, task.y_query])
        theta = phi
        for _ in range(steps):
            theta = inner_update(model, theta, x, y, alpha)
        for k in direction:
            # (φ − θ̂)/α: the average gradient along the path
            direction[k] += (phi[k] - theta[k]).detach() / (alpha * len(batch))
        losses.append(task_loss(model, theta, x, y).detach())
    return direction, torch.stack(losses).mean()
'''),
]


VARIANTS: list[Variant] = [
    # ----- inner_update --------------------------------------------------------------------
    Variant("inner-torch-func", "inner_update", _INNER + '''\
    from torch.func import functional_call, grad
    import torch.nn.functional as F

    def loss_of(p):
        out = functional_call(model, p, (x,))
        return F.cross_entropy(out, y) if y.dtype == torch.long else F.mse_loss(out, y)

    g = grad(loss_of)(dict(params))   # a dict name -> gradient, differentiable
    return {k: params[k] - alpha * g[k] for k in params}
'''),
    Variant("inner-for-loop", "inner_update", _INNER + '''\
    loss = task_loss(model, params, x, y)
    names = list(params)
    grads = torch.autograd.grad(loss, [params[n] for n in names], create_graph=create_graph)
    adapted = {}
    for i, n in enumerate(names):
        adapted[n] = params[n] - alpha * grads[i]
    return adapted
'''),
    Variant("inner-dict-zip", "inner_update", _INNER + '''\
    grads = torch.autograd.grad(task_loss(model, params, x, y), tuple(params.values()),
                                create_graph=create_graph, retain_graph=create_graph)
    new_values = [torch.sub(p, g, alpha=alpha) for p, g in zip(params.values(), grads)]
    return dict(zip(params.keys(), new_values))
'''),

    # ----- outer_step ----------------------------------------------------------------------
    Variant("outer-zero-grad-after-step", "outer_step", _OUTER + '''\
    meta_loss.backward()
    optimizer.step()
    optimizer.zero_grad()   # ready for the next meta-batch
    return meta_loss.item()
'''),
    Variant("outer-grad-none", "outer_step", _OUTER + '''\
    for group in optimizer.param_groups:
        for p in group["params"]:
            p.grad = None
    meta_loss.backward()
    optimizer.step()
    return meta_loss.detach().item()
'''),
    Variant("outer-float", "outer_step", _OUTER + '''\
    optimizer.zero_grad(set_to_none=False)
    meta_loss.backward()
    optimizer.step()
    return float(meta_loss)
'''),
    Variant("outer-prints", "outer_step", _OUTER + '''\
    value = meta_loss.item()
    print(f"meta-loss {value:.4f}")
    optimizer.zero_grad()
    meta_loss.backward()
    optimizer.step()
    return value
'''),

    # ----- maml_meta_loss ------------------------------------------------------------------
    Variant("maml-running-total", "maml_meta_loss", _MAML + '''\
    total = 0
    for task in batch:
        theta = phi
        for _ in range(steps):
            theta = inner_update(model, theta, task.x_support, task.y_support, alpha,
                                 create_graph=True)
        total = total + task_loss(model, theta, task.x_query, task.y_query) / len(batch)
    return total
'''),
    Variant("maml-sum-over-len", "maml_meta_loss", _MAML + '''\
    losses = []
    for task in batch:
        adapted = dict(phi)
        step = 0
        while step < steps:
            adapted = inner_update(model, adapted, task.x_support, task.y_support, alpha,
                                   create_graph=True)
            step += 1
        losses.append(task_loss(model, adapted, task.x_query, task.y_query))
    return sum(losses) / len(losses)
'''),
    Variant("maml-indexing", "maml_meta_loss", _MAML + '''\
    B = batch.x_support.shape[0]
    losses = []
    for i in range(B):
        xs, ys = batch.x_support[i], batch.y_support[i]
        xq, yq = batch.x_query[i], batch.y_query[i]
        theta = phi
        for _ in range(steps):
            theta = inner_update(model, theta, xs, ys, alpha, create_graph=True)
        losses.append(task_loss(model, theta, xq, yq))
    return torch.mean(torch.stack(losses))
'''),
    Variant("maml-own-inner-loop", "maml_meta_loss", _MAML + '''\
    meta_losses = []
    for task in batch:
        fast = dict(phi)
        for _ in range(steps):
            inner = task_loss(model, fast, task.x_support, task.y_support)
            g = torch.autograd.grad(inner, list(fast.values()), create_graph=True)
            fast = {k: w - alpha * gk for (k, w), gk in zip(fast.items(), g)}
        meta_losses.append(task_loss(model, fast, task.x_query, task.y_query))
    return torch.stack(meta_losses).mean()
'''),

    Variant("maml-torch-func", "maml_meta_loss", _MAML + '''\
    from torch.func import functional_call, grad

    def support_loss(params, xs, ys):
        return task_loss(model, params, xs, ys)

    per_task = []
    for task in batch:
        theta = phi
        for _ in range(steps):
            # torch.func.grad stays differentiable: second order comes for free
            g = grad(support_loss)(theta, task.x_support, task.y_support)
            theta = {k: theta[k] - alpha * g[k] for k in theta}
        out = functional_call(model, theta, (task.x_query,))
        if task.y_query.dtype == torch.long:   # classification
            per_task.append(nn.functional.cross_entropy(out, task.y_query))
        else:                                  # sine regression
            per_task.append(nn.functional.mse_loss(out, task.y_query))
    return torch.stack(per_task).mean()
'''),

    # ----- fomaml_meta_loss ----------------------------------------------------------------
    Variant("fomaml-detached-grads", "fomaml_meta_loss", _FOMAML + '''\
    losses = []
    for task in batch:
        theta = dict(phi)
        for _ in range(steps):
            loss = task_loss(model, theta, task.x_support, task.y_support)
            grads = torch.autograd.grad(loss, list(theta.values()))
            # first order: the inner gradients are constants, dθ̂/dφ = I
            theta = {k: v - alpha * g.detach() for (k, v), g in zip(theta.items(), grads)}
        losses.append(task_loss(model, theta, task.x_query, task.y_query))
    return torch.stack(losses).mean()
'''),
    Variant("fomaml-comprehension", "fomaml_meta_loss", _FOMAML + '''\
    def adapt(task):
        theta = phi
        for _ in range(steps):
            theta = inner_update(model, theta, task.x_support, task.y_support, alpha,
                                 create_graph=False)
        return theta

    return torch.stack([task_loss(model, adapt(t), t.x_query, t.y_query) for t in batch]).mean()
'''),
    Variant("fomaml-delta-trick", "fomaml_meta_loss", _FOMAML + '''\
    total = 0.0
    for i in range(len(batch)):
        task = batch[i]
        theta = phi
        for _ in range(steps):
            theta = inner_update(model, theta, task.x_support, task.y_support, alpha)
        # θ̂ = φ + (θ̂ − φ) with the difference treated as a constant
        theta = {k: phi[k] + (theta[k] - phi[k]).detach() for k in phi}
        total = total + task_loss(model, theta, task.x_query, task.y_query)
    return total / len(batch)
'''),

    # ----- anil_adapt ----------------------------------------------------------------------
    Variant("anil-startswith-head", "anil_adapt", _ANIL + '''\
    params = dict(phi)
    head_keys = [k for k in params if k.startswith("head")]
    for _ in range(steps):
        loss = task_loss(model, params, x, y)
        grads = torch.autograd.grad(loss, [params[k] for k in head_keys],
                                    create_graph=create_graph)
        for k, g in zip(head_keys, grads):
            params[k] = params[k] - alpha * g
    return params
'''),
    Variant("anil-torch-func", "anil_adapt", _ANIL + '''\
    from torch.func import grad

    body, head = split_body_head(phi)
    head_loss = lambda h: task_loss(model, {**body, **h}, x, y)  # noqa: E731
    for _ in range(steps):
        g = grad(head_loss)(head)
        head = {k: w - alpha * g[k] for k, w in head.items()}
    return {**body, **head}
'''),
    Variant("anil-name-filter", "anil_adapt", _ANIL + '''\
    adapted = {name: p for name, p in phi.items()}
    for _ in range(steps):
        loss = task_loss(model, adapted, x, y)
        head_names = [n for n in adapted if "head" in n]
        grads = dict(zip(head_names, torch.autograd.grad(
            loss, [adapted[n] for n in head_names], create_graph=create_graph)))
        adapted = {n: (p - alpha * grads[n] if n in grads else p) for n, p in adapted.items()}
    return adapted
'''),

    # ----- reptile_meta_gradient -----------------------------------------------------------
    Variant("reptile-sgd-on-clones", "reptile_meta_gradient", _REPTILE + '''\
    direction = {k: torch.zeros_like(v) for k, v in phi.items()}
    losses = []
    for task in batch:
        x = torch.cat([task.x_support, task.x_query])
        y = torch.cat([task.y_support, task.y_query])
        theta = {k: v.detach().clone().requires_grad_(True) for k, v in phi.items()}
        inner_opt = torch.optim.SGD(theta.values(), lr=alpha)
        for _ in range(steps):
            inner_opt.zero_grad()
            task_loss(model, theta, x, y).backward()
            inner_opt.step()
        with torch.no_grad():
            for k in direction:
                direction[k] += (phi[k] - theta[k]) / len(batch)
            losses.append(task_loss(model, theta, x, y))
    return direction, torch.stack(losses).mean()
'''),
    Variant("reptile-stack-mean", "reptile_meta_gradient", _REPTILE + '''\
    adapted, losses = [], []
    for task in batch:
        x = torch.cat([task.x_support, task.x_query])
        y = torch.cat([task.y_support, task.y_query])
        theta = phi
        for _ in range(steps):
            theta = inner_update(model, theta, x, y, alpha)
        adapted.append({k: v.detach() for k, v in theta.items()})
        losses.append(task_loss(model, theta, x, y).item())
    direction = {k: (phi[k].detach() - torch.stack([t[k] for t in adapted]).mean(0))
                 for k in phi}
    return direction, torch.tensor(losses).mean()
'''),
    Variant("reptile-torch-func-indexing", "reptile_meta_gradient", _REPTILE + '''\
    from torch.func import grad

    n_tasks = len(batch)
    diff = {k: torch.zeros_like(v, requires_grad=False) for k, v in phi.items()}
    task_losses = []
    for i in range(n_tasks):
        x = torch.cat((batch.x_support[i], batch.x_query[i]), dim=0)
        y = torch.cat((batch.y_support[i], batch.y_query[i]), dim=0)
        theta = {k: v.detach() for k, v in phi.items()}
        for _ in range(steps):
            g = grad(lambda p: task_loss(model, p, x, y))(theta)
            theta = {k: theta[k] - alpha * g[k] for k in theta}
        for k in diff:
            diff[k].add_(phi[k].detach() - theta[k], alpha=1 / n_tasks)
        task_losses.append(float(task_loss(model, theta, x, y)))
    return diff, torch.tensor(sum(task_losses) / n_tasks, dtype=phi[next(iter(phi))].dtype)
'''),
]
