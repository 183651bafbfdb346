"""Correct answers written differently from the reference: each must get full marks."""

from __future__ import annotations

from autograder.student_code.entries import Variant

from .entries import _ANIL, _FOMAML, _INNER, _MAML, _OUTER, _REPTILE

VARIANTS: list[Variant] = [
    # ----- inner_update --------------------------------------------------------------------
    Variant("inner-torch-func", "inner_update", _INNER + '''\
    from torch.func import functional_call, grad
    import torch.nn.functional as F

    def loss_of(p):
        out = functional_call(model, p, (x,))
        return F.cross_entropy(out, y) if y.dtype == torch.long else F.mse_loss(out, y)

    g = grad(loss_of)(dict(params))   # a dict name -> gradient, differentiable
    if not create_graph:              # first order: the gradient is a constant
        g = {k: v.detach() for k, v in g.items()}
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

