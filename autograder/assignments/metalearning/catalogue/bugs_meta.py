"""Bugs in the MAML and first-order MAML meta-losses, written as students write them."""

from __future__ import annotations

from autograder.student_code.entries import Bug

from .entries import _FOMAML, _MAML

BUGS: list[Bug] = [
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

]
