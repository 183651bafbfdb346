"""Correct answers of the third assignment written differently from the reference: each must
get full marks."""

from __future__ import annotations

from autograder.student_code.entries import Variant

from .entries import ARCH, MIX, PRE, UNROLLED, WEIGHTS
from .incontext import VARIANTS as INCONTEXT_VARIANTS

VARIANTS: list[Variant] = [
    Variant("pre-masked-assign", "preprocess_gradient", PRE + '''\
    out = torch.stack([-torch.ones_like(g), math.exp(p) * g], dim=-1)
    big = g.abs() >= math.exp(-p)
    out[big] = torch.stack([g[big].abs().log() / p, g[big].sign()], dim=-1)
    return out
'''),
    Variant("unrolled-list-of-losses", "unrolled_loss", UNROLLED + '''\
    losses = []
    for t in range(T):
        (grad,) = torch.autograd.grad(quadratic_loss(problem, theta).sum(), [theta],
                                      create_graph=True)
        features = preprocess_gradient(grad.flatten())       # [n·d, 2]
        step, state = propose(optimizer, phi, features, state)
        theta = theta + step.view(theta.shape)
        losses.append(quadratic_loss(problem, theta).mean())
    return sum(losses), theta, state
'''),
    Variant("weights-torch-func", "example_weights", WEIGHTS + '''\
    names = list(params)
    losses = F.cross_entropy(forward(model, params, x), y, reduction="none")
    eps = torch.zeros_like(losses, requires_grad=True)
    # the step is linear in ε: θ̂(ε) = θ − lr Σ_i ε_i ∇l_i, built from per-example gradients
    per = [torch.autograd.grad(losses[i], [params[k] for k in names], retain_graph=True)
           for i in range(len(y))]
    step = {k: sum(eps[i] * per[i][j] for i in range(len(y))) for j, k in enumerate(names)}
    theta = {k: params[k] - lr * step[k] for k in names}
    hyper = torch.autograd.grad(F.cross_entropy(forward(model, theta, x_val), y_val), eps)[0]
    w = (-hyper).clamp_min(0)
    return w / w.sum() if w.sum() > 0 else torch.zeros_like(w)
'''),
    Variant("pre-cat-unsqueeze", "preprocess_gradient", PRE + '''\
    threshold = math.exp(-p)
    keep = (g.abs() >= threshold).to(g.dtype)
    log_part = keep * torch.log(torch.clamp(g.abs(), min=threshold)) / p - (1 - keep)
    sign_part = keep * torch.sign(g) + (1 - keep) * g * math.exp(p)
    return torch.cat([log_part.unsqueeze(-1), sign_part.unsqueeze(-1)], dim=-1)
'''),
    Variant("pre-per-entry-loop", "preprocess_gradient", PRE + '''\
    flat = g.reshape(-1)
    rows = []
    for v in flat:
        if abs(v.item()) >= math.exp(-p):
            rows.append(torch.stack([torch.log(v.abs()) / p, torch.sign(v)]))
        else:
            rows.append(torch.stack([-torch.ones_like(v), math.exp(p) * v]))
    return torch.stack(rows).reshape(*g.shape, 2)
'''),
    Variant("unrolled-einsum-loss", "unrolled_loss", UNROLLED + '''\
    W, y = problem["W"], problem["y"]
    meta = 0.0
    for step in range(T):
        f = ((torch.einsum("nij,nj->ni", W, theta) - y) ** 2).sum(dim=1)
        g = torch.autograd.grad(f.sum(), theta, create_graph=True)[0]
        move, state = propose(optimizer, phi, preprocess_gradient(g).reshape(-1, 2), state)
        theta = theta + move.reshape_as(theta)
        meta = meta + ((torch.einsum("nij,nj->ni", W, theta) - y) ** 2).sum(dim=1).mean()
    return meta, theta, state
'''),
    Variant("unrolled-stack-sum", "unrolled_loss", UNROLLED + '''\
    per_step = []
    for _ in range(T):
        loss_now = quadratic_loss(problem, theta)
        grad = torch.autograd.grad(loss_now, theta, torch.ones_like(loss_now),
                                   create_graph=True)[0]
        proposal, state = propose(optimizer, phi, preprocess_gradient(grad).view(-1, 2), state)
        theta = theta + proposal.view(*theta.shape)
        per_step.append(quadratic_loss(problem, theta).mean())
    return (torch.stack(per_step).sum() if per_step else theta.sum() * 0), theta, state
'''),
    Variant("weights-dot-relu", "example_weights", WEIGHTS + '''\
    eps = torch.zeros(y.shape[0], dtype=x.dtype, requires_grad=True)
    losses = F.cross_entropy(forward(model, params, x), y, reduction="none")
    keys = list(params)
    grads = torch.autograd.grad(torch.dot(eps, losses), [params[k] for k in keys],
                                create_graph=True)
    virtual = dict(params)
    for k, g in zip(keys, grads):
        virtual[k] = params[k] - lr * g
    val_loss = F.cross_entropy(forward(model, virtual, x_val), y_val, reduction="sum")
    w = F.relu(-torch.autograd.grad(val_loss, eps)[0])
    s = w.sum()
    return w / s if s.item() > 0 else w
'''),
    Variant("mix-einsum", "mixed_op", MIX + '''\
    p = torch.exp(alpha - alpha.max())
    p = p / p.sum()
    return torch.einsum("o,o...->...", p, candidates)
'''),
    Variant("arch-eq7-hessian-vector-product", "architecture_gradient", ARCH + '''\
    # DARTS's eq. (7): ∇_α L_val(w', α) − ξ ∇²_{α,w} L_train(w, α) ∇_{w'} L_val(w', α), the
    # Hessian-vector product by double back-propagation
    a = alpha.detach().requires_grad_(True)
    w0 = {k: v.detach().requires_grad_(True) for k, v in w.items()}
    if not second_order:
        return torch.autograd.grad(search_loss(model, w0, a, x_val, y_val, mixed_op), a)[0]
    g = torch.autograd.grad(search_loss(model, w0, a, x, y, mixed_op), list(w0.values()),
                            create_graph=True)
    w1 = {k: (v - xi * d).detach().requires_grad_(True) for (k, v), d in zip(w0.items(), g)}
    *v, direct = torch.autograd.grad(search_loss(model, w1, a, x_val, y_val, mixed_op),
                                     list(w1.values()) + [a])
    hvp = torch.autograd.grad(sum((gi * vi).sum() for gi, vi in zip(g, v)), a)[0]
    return direct - xi * hvp
'''),
    Variant("arch-torch-func", "architecture_gradient", ARCH + '''\
    from torch.func import grad
    def val_after_step(a):
        inner = {k: v.detach() for k, v in w.items()}
        if second_order:
            g = grad(lambda p: search_loss(model, p, a, x, y, mixed_op))(inner)
            inner = {k: inner[k] - xi * g[k] for k in inner}
        return search_loss(model, inner, a, x_val, y_val, mixed_op)
    return grad(val_after_step)(alpha.detach())
'''),
] + INCONTEXT_VARIANTS
