"""Bugs in the inner step, the outer step and ANIL, written as students write them."""

from __future__ import annotations

from autograder.student_code.entries import Bug

from .entries import _ANIL, _INNER, _OUTER

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

]
