"""Bugs found while writing the others: label order, and five whose causes the diagnosis
first did not name (it names them now)."""

from __future__ import annotations

from autograder.student_code.entries import Bug

from .entries import _MAML, _OUTER, _REPTILE

LATER: list[Bug] = []


#: Assumes the episode's labels come in order (0, 0, 1, 1, …): caught on tasks whose labels
#: are shuffled.
LATER += [
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
LATER += [
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
BUGS = LATER
