"""Bugs in Meta-SGD's inner step and meta-loss, written as students write them."""

from __future__ import annotations

from autograder.student_code.entries import Bug
from .entries import _MSGD_INNER, _MSGD_META

BUGS: list[Bug] = [
    # ----- metasgd_inner_update ------------------------------------------------------------
    Bug("msgd-inner-wrong-sign", "metasgd_inner_update", "metasgd_inner_update", "wrong sign",
        _MSGD_INNER + '''\
    loss = task_loss(model, params, x, y)
    grads = torch.autograd.grad(loss, list(params.values()), create_graph=create_graph)
    adapted = {}
    for (name, w), g in zip(params.items(), grads):
        adapted[name] = w + alphas[name] * g   # move by the learned step
    return adapted
'''),
    Bug("msgd-inner-global-mean-alpha", "metasgd_inner_update", "metasgd_inner_update",
        "one scalar", _MSGD_INNER + '''\
    lr = torch.stack([a.mean() for a in alphas.values()]).mean()   # the learned learning rate
    grads = torch.autograd.grad(task_loss(model, params, x, y), tuple(params.values()),
                                create_graph=create_graph)
    return {k: p - lr * g for (k, p), g in zip(params.items(), grads)}
'''),
    Bug("msgd-inner-float-alpha-per-tensor", "metasgd_inner_update", "metasgd_inner_update",
        "one scalar", _MSGD_INNER + '''\
    names = list(params)
    grads = torch.autograd.grad(task_loss(model, params, x, y), [params[n] for n in names],
                                create_graph=create_graph)
    new_params = {}
    for n, g in zip(names, grads):
        lr = float(alphas[n].mean())   # one learning rate per layer
        new_params[n] = params[n] - lr * g
    return new_params
'''),
    Bug("msgd-inner-alpha-hard-coded", "metasgd_inner_update", "metasgd_inner_update",
        "ignored", _MSGD_INNER + '''\
    inner_lr = 0.4   # Meta-SGD's initial learning rate
    grads = torch.autograd.grad(task_loss(model, params, x, y), list(params.values()),
                                create_graph=create_graph)
    return {name: p - inner_lr * g for (name, p), g in zip(params.items(), grads)}
'''),
    Bug("msgd-inner-alpha-squared", "metasgd_inner_update", "metasgd_inner_update",
        "applied twice", _MSGD_INNER + '''\
    loss = task_loss(model, params, x, y)
    grads = dict(zip(params, torch.autograd.grad(loss, list(params.values()),
                                                 create_graph=create_graph)))
    scaled = {k: alphas[k] * grads[k] for k in params}
    return {k: params[k] - alphas[k] * scaled[k] for k in params}
'''),
    Bug("msgd-inner-alpha-detached", "metasgd_inner_update", "metasgd_inner_update",
        "no gradient w.r.t. α", _MSGD_INNER + '''\
    loss = task_loss(model, params, x, y)
    grads = torch.autograd.grad(loss, list(params.values()), create_graph=create_graph)
    # the learning rates are hyper-parameters of the step: keep them out of the graph
    return {k: p - alphas[k].detach() * g for (k, p), g in zip(params.items(), grads)}
'''),
    Bug("msgd-inner-ignores-create-graph", "metasgd_inner_update", "metasgd_inner_update",
        "create_graph", _MSGD_INNER + '''\
    loss = task_loss(model, params, x, y)
    grads = torch.autograd.grad(loss, params.values())
    return {k: p - a * g for (k, p), a, g in zip(params.items(), alphas.values(), grads)}
'''),
    Bug("msgd-inner-in-place", "metasgd_inner_update", "metasgd_inner_update", "in place",
        _MSGD_INNER + '''\
    grads = torch.autograd.grad(task_loss(model, params, x, y), list(params.values()),
                                create_graph=create_graph)
    with torch.no_grad():
        for (name, p), g in zip(params.items(), grads):
            p.sub_(alphas[name] * g)
    return params
'''),

    # ----- metasgd_meta_loss ---------------------------------------------------------------
    Bug("msgd-meta-first-order", "metasgd_meta_loss", "metasgd_meta_loss",
        "first-order approximation", _MSGD_META + '''\
    losses = []
    for task in batch:
        theta = phi
        for _ in range(steps):
            theta = metasgd_inner_update(model, theta, alphas, task.x_support,
                                         task.y_support, create_graph=False)
        losses.append(task_loss(model, theta, task.x_query, task.y_query))
    return torch.stack(losses).mean()
'''),
    Bug("msgd-meta-swapped", "metasgd_meta_loss", "metasgd_meta_loss",
        "support and query are swapped", _MSGD_META + '''\
    per_task = []
    for t in batch:
        adapted = phi
        for _ in range(steps):
            adapted = metasgd_inner_update(model, adapted, alphas, t.x_query, t.y_query)
        per_task.append(task_loss(model, adapted, t.x_support, t.y_support))
    return sum(per_task) / len(per_task)
'''),
    Bug("msgd-meta-summed", "metasgd_meta_loss", "metasgd_meta_loss", "summed", _MSGD_META + '''\
    meta_loss = 0.0
    for task in batch:
        theta = phi
        for _ in range(steps):
            theta = metasgd_inner_update(model, theta, alphas, task.x_support, task.y_support)
        meta_loss = meta_loss + task_loss(model, theta, task.x_query, task.y_query)
    return meta_loss
'''),
    Bug("msgd-meta-steps-ignored", "metasgd_meta_loss", "metasgd_meta_loss",
        "whatever `steps` is", _MSGD_META + '''\
    return torch.stack([
        task_loss(model, metasgd_inner_update(model, phi, alphas, t.x_support, t.y_support),
                  t.x_query, t.y_query)
        for t in batch]).mean()
'''),
    Bug("msgd-meta-one-step-too-many", "metasgd_meta_loss", "metasgd_meta_loss",
        "one step too many", _MSGD_META + '''\
    losses = []
    for task in batch:
        theta = phi
        step = 0
        while step <= steps:
            theta = metasgd_inner_update(model, theta, alphas, task.x_support, task.y_support)
            step += 1
        losses.append(task_loss(model, theta, task.x_query, task.y_query))
    return torch.stack(losses).mean()
'''),
    Bug("msgd-meta-alpha-detached", "metasgd_meta_loss", "metasgd_meta_loss",
        "no gradient w.r.t. α", _MSGD_META + '''\
    lrs = {name: a.detach() for name, a in alphas.items()}   # only φ is meta-learned
    losses = []
    for task in batch:
        theta = phi
        for _ in range(steps):
            theta = metasgd_inner_update(model, theta, lrs, task.x_support, task.y_support)
        losses.append(task_loss(model, theta, task.x_query, task.y_query))
    return torch.stack(losses).mean()
'''),
    Bug("msgd-meta-scalar-alpha-inline", "metasgd_meta_loss", "metasgd_meta_loss",
        "one scalar", _MSGD_META + '''\
    alpha = sum(a.sum() for a in alphas.values()) / sum(a.numel() for a in alphas.values())
    names = list(phi)
    losses = []
    for task in batch:
        theta = dict(phi)
        for _ in range(steps):
            support_loss = task_loss(model, theta, task.x_support, task.y_support)
            grads = torch.autograd.grad(support_loss, [theta[n] for n in names],
                                        create_graph=True)
            theta = {n: theta[n] - alpha * g for n, g in zip(names, grads)}
        losses.append(task_loss(model, theta, task.x_query, task.y_query))
    return torch.stack(losses).mean()
'''),
    Bug("msgd-meta-phi-dict-overwritten", "metasgd_meta_loss", "metasgd_meta_loss", "in place",
        _MSGD_META + '''\
    losses = []
    for task in batch:
        theta = phi
        for _ in range(steps):
            grads = torch.autograd.grad(task_loss(model, theta, task.x_support, task.y_support),
                                        list(theta.values()), create_graph=True)
            for name, g in zip(list(theta), grads):
                theta[name] = theta[name] - alphas[name] * g
        losses.append(task_loss(model, theta, task.x_query, task.y_query))
    return torch.stack(losses).mean()
'''),
    Bug("msgd-meta-fixed-lr", "metasgd_meta_loss", "metasgd_meta_loss", "ignored",
        _MSGD_META + '''\
    lr = {k: torch.full_like(p, 0.01) for k, p in phi.items()}
    losses = []
    for task in batch:
        theta = phi
        for _ in range(steps):
            theta = metasgd_inner_update(model, theta, lr, task.x_support, task.y_support)
        losses.append(task_loss(model, theta, task.x_query, task.y_query))
    return torch.stack(losses).mean()
'''),
]
