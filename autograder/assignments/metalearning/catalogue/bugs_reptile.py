"""Bugs in Reptile's meta-gradient, written as students write them."""

from __future__ import annotations

from autograder.student_code.entries import Bug

from .entries import _REPTILE

BUGS: list[Bug] = [
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
