"""Wrong answers of the third assignment, written as students write them: each must lose its
test with a message naming the cause."""

from __future__ import annotations

from autograder.student_code.entries import Bug

from .entries import ARCH, MIX, PRE, UNROLLED, WEIGHTS
from .incontext import BUGS as INCONTEXT_BUGS

BUGS: list[Bug] = [
    # ----- preprocess_gradient -------------------------------------------------------------
    Bug("pre-log10", "preprocess_gradient", "preprocess_gradient", "log₁₀", PRE + '''\
    out = torch.empty(*g.shape, 2, dtype=g.dtype)
    big = g.abs() >= math.exp(-p)
    out[..., 0] = -1.0
    out[..., 1] = math.exp(p) * g
    out[..., 0][big] = torch.log10(g.abs()[big]) / p
    out[..., 1][big] = torch.sign(g[big])
    return out
'''),
    Bug("pre-threshold-inverted", "preprocess_gradient", "preprocess_gradient", "wrong way round",
        PRE + '''\
    small = g.abs() >= math.exp(-p)          # the "small" branch, by mistake the large entries
    first = torch.where(small, -torch.ones_like(g), torch.log(g.abs() + 1e-30) / p)
    second = torch.where(small, math.exp(p) * g, torch.sign(g))
    return torch.stack((first, second), dim=-1)
'''),
    Bug("pre-no-abs", "preprocess_gradient", "preprocess_gradient", "NaN", PRE + '''\
    big = g.abs() >= math.exp(-p)
    first = torch.where(big, torch.log(g) / p, torch.full_like(g, -1.0))
    second = torch.where(big, torch.sign(g), g * math.exp(p))
    return torch.stack([first, second], -1)
'''),
    Bug("pre-log-everywhere", "preprocess_gradient", "preprocess_gradient", "must be −1",
        PRE + '''\
    logs = torch.log(g.abs() + 1e-12) / p       # "safe" log instead of the two cases
    return torch.stack([logs, torch.sign(g)], dim=-1)
'''),
    # ----- unrolled_loss -------------------------------------------------------------------
    Bug("unrolled-loss-before-step", "unrolled_loss", "unrolled_loss", "before", UNROLLED + '''\
    losses = []
    for t in range(T):
        f = quadratic_loss(problem, theta)
        losses.append(f.mean())
        g = torch.autograd.grad(f.sum(), theta, create_graph=True)[0]
        update, state = propose(optimizer, phi, preprocess_gradient(g).reshape(-1, 2), state)
        theta = theta + update.view_as(theta)
    return torch.stack(losses).sum(), theta, state
'''),
    Bug("unrolled-state-reset", "unrolled_loss", "unrolled_loss", "state", UNROLLED + '''\
    total = 0.0
    for t in range(T):
        g, = torch.autograd.grad(quadratic_loss(problem, theta).sum(), theta, create_graph=True)
        update, new_state = propose(optimizer, phi, preprocess_gradient(g).reshape(-1, 2), state)
        theta = theta + update.reshape(theta.shape)
        total = total + quadratic_loss(problem, theta).mean()
    return total, theta, new_state
'''),
    Bug("unrolled-raw-gradient", "unrolled_loss", "unrolled_loss", "raw gradient", UNROLLED + '''\
    total = theta.new_zeros(())
    for _ in range(T):
        g, = torch.autograd.grad(quadratic_loss(problem, theta).sum(), theta, create_graph=True)
        features = torch.stack([g, g], dim=-1).reshape(-1, 2)
        update, state = propose(optimizer, phi, features, state)
        theta = theta + update.reshape(theta.shape)
        total = total + quadratic_loss(problem, theta).mean()
    return total, theta, state
'''),
    Bug("unrolled-detached-gradient", "unrolled_loss", "unrolled_loss", "second-order term",
        UNROLLED + '''\
    total = theta.new_zeros(())
    for _ in range(T):
        loss = quadratic_loss(problem, theta).sum()
        g = torch.autograd.grad(loss, theta, create_graph=True)[0].detach()   # as in the paper
        update, state = propose(optimizer, phi, preprocess_gradient(g).reshape(-1, 2), state)
        theta = theta + update.reshape(theta.shape)
        total = total + quadratic_loss(problem, theta).mean()
    return total, theta, state
'''),
    Bug("unrolled-mean-over-steps", "unrolled_loss", "unrolled_loss", "divided by T",
        UNROLLED + '''\
    losses = []
    for _ in range(T):
        g, = torch.autograd.grad(quadratic_loss(problem, theta).sum(), theta, create_graph=True)
        update, state = propose(optimizer, phi, preprocess_gradient(g).reshape(-1, 2), state)
        theta = theta + update.reshape(theta.shape)
        losses.append(quadratic_loss(problem, theta).mean())
    return torch.stack(losses).mean(), theta, state
'''),
    Bug("unrolled-while-off-by-one", "unrolled_loss", "unrolled_loss", "exactly T steps",
        UNROLLED + '''\
    t, total = 0, 0
    while t <= T:
        g = torch.autograd.grad(quadratic_loss(problem, theta).sum(), theta, create_graph=True)[0]
        update, state = propose(optimizer, phi, preprocess_gradient(g).reshape(-1, 2), state)
        theta = theta + update.reshape(theta.shape)
        total = total + quadratic_loss(problem, theta).mean()
        t += 1
    return total, theta, state
'''),
    # ----- example_weights -----------------------------------------------------------------
    Bug("weights-mean-reduction", "example_weights", "example_weights", "same weight",
        WEIGHTS + '''\
    eps = torch.zeros(len(y), requires_grad=True, dtype=x.dtype)
    loss = F.cross_entropy(forward(model, params, x), y)
    grads = torch.autograd.grad((eps * loss).sum(), list(params.values()), create_graph=True)
    new = {k: v - lr * g for (k, v), g in zip(params.items(), grads)}
    g_eps = torch.autograd.grad(F.cross_entropy(forward(model, new, x_val), y_val), eps)[0]
    w = torch.relu(-g_eps)
    return w / w.sum() if w.sum() > 0 else w
'''),
    Bug("weights-no-clamp", "example_weights", "example_weights", "negative", WEIGHTS + '''\
    eps = torch.zeros(len(y), requires_grad=True, dtype=x.dtype)
    losses = F.cross_entropy(forward(model, params, x), y, reduction="none")
    grads = torch.autograd.grad(torch.dot(eps, losses), list(params.values()), create_graph=True)
    new = {k: v - lr * g for (k, v), g in zip(params.items(), grads)}
    g_eps = torch.autograd.grad(F.cross_entropy(forward(model, new, x_val), y_val), eps)[0]
    return -g_eps / (-g_eps).abs().sum()
'''),
    Bug("weights-eps-ones", "example_weights", "example_weights", "ε starts at 1", WEIGHTS + '''\
    eps = torch.ones(len(y), requires_grad=True, dtype=x.dtype)
    losses = F.cross_entropy(forward(model, params, x), y, reduction="none")
    grads = torch.autograd.grad((eps * losses).sum(), list(params.values()), create_graph=True)
    new = {k: v - lr * g for (k, v), g in zip(params.items(), grads)}
    g_eps = torch.autograd.grad(F.cross_entropy(forward(model, new, x_val), y_val), eps)[0]
    w = (-g_eps).clamp(min=0)
    return w / w.sum() if w.sum() > 0 else w
'''),
    Bug("weights-divided-by-n", "example_weights", "example_weights", "sum 1", WEIGHTS + '''\
    eps = torch.zeros(len(y), requires_grad=True, dtype=x.dtype)
    losses = F.cross_entropy(forward(model, params, x), y, reduction="none")
    grads = torch.autograd.grad((eps * losses).sum(), list(params.values()), create_graph=True)
    new = {k: v - lr * g for (k, v), g in zip(params.items(), grads)}
    g_eps = torch.autograd.grad(F.cross_entropy(forward(model, new, x_val), y_val), eps)[0]
    return (-g_eps).clamp(min=0) / len(y)
'''),
    Bug("weights-on-training-loss", "example_weights", "example_weights",
        "validation set changes", WEIGHTS + '''\
    eps = torch.zeros(len(y), requires_grad=True, dtype=x.dtype)
    losses = F.cross_entropy(forward(model, params, x), y, reduction="none")
    grads = torch.autograd.grad((eps * losses).sum(), list(params.values()), create_graph=True)
    new = {k: v - lr * g for (k, v), g in zip(params.items(), grads)}
    meta = F.cross_entropy(forward(model, new, x), y)      # the batch's own loss after the step
    w = torch.clamp(-torch.autograd.grad(meta, eps)[0], min=0)
    return w / w.sum() if w.sum() > 0 else w
'''),
    Bug("weights-positive-gradient", "example_weights", "example_weights", "sign is flipped",
        WEIGHTS + '''\
    eps = torch.zeros(len(y), requires_grad=True, dtype=x.dtype)
    losses = F.cross_entropy(forward(model, params, x), y, reduction="none")
    grads = torch.autograd.grad((eps * losses).sum(), list(params.values()), create_graph=True)
    new = {k: v - lr * g for (k, v), g in zip(params.items(), grads)}
    g_eps, = torch.autograd.grad(F.cross_entropy(forward(model, new, x_val), y_val), eps)
    w = F.relu(g_eps)                        # examples that help the validation loss
    return w / w.sum() if w.sum() > 0 else w
'''),
    # ----- mixed_op ------------------------------------------------------------------------
    Bug("mix-no-softmax", "mixed_op", "mixed_op", "softmax(α)", MIX + '''\
    return (alpha.view(-1, *[1] * (candidates.dim() - 1)) * candidates).sum(0)
'''),
    Bug("mix-softmax-over-candidates", "mixed_op", "mixed_op", "softmax(α)", MIX + '''\
    w = alpha.view(-1, *[1] * (candidates.dim() - 1))
    return (torch.softmax(w * candidates, dim=0) * candidates).sum(0)
'''),
    Bug("mix-mean", "mixed_op", "mixed_op", "does not depend on α", MIX + '''\
    weights = torch.softmax(alpha, 0).detach()
    return candidates.mean(0)
'''),
    Bug("mix-sigmoid", "mixed_op", "mixed_op", "softmax(α)", MIX + '''\
    gate = torch.sigmoid(alpha)
    return torch.einsum("o,o...->...", gate, candidates)
'''),
    Bug("mix-argmax", "mixed_op", "mixed_op", "mixed_op is wrong", MIX + '''\
    return candidates[alpha.argmax()]       # the discrete choice, already during the search
'''),
    # ----- architecture_gradient -----------------------------------------------------------
    Bug("arch-no-second-order-term", "architecture_gradient", "architecture_gradient",
        "also depends on α", ARCH + '''\
    alpha = alpha.clone().requires_grad_(True)
    if second_order:
        g = torch.autograd.grad(search_loss(model, w, alpha, x, y, mixed_op), list(w.values()))
        w = {k: v - xi * d for (k, v), d in zip(w.items(), g)}
        w = {k: v.detach() for k, v in w.items()}
    w = {k: v.detach() for k, v in w.items()}
    return torch.autograd.grad(search_loss(model, w, alpha, x_val, y_val, mixed_op), alpha)[0]
'''),
    Bug("arch-train-loss", "architecture_gradient", "architecture_gradient",
        "training loss", ARCH + '''\
    alpha = alpha.clone().requires_grad_(True)
    w = {k: v.detach().requires_grad_(True) for k, v in w.items()}
    if second_order:
        g = torch.autograd.grad(search_loss(model, w, alpha, x, y, mixed_op), list(w.values()),
                                create_graph=True)
        w = {k: v - xi * d for (k, v), d in zip(w.items(), g)}
    return torch.autograd.grad(search_loss(model, w, alpha, x, y, mixed_op), alpha)[0]
'''),
    Bug("arch-uphill", "architecture_gradient", "architecture_gradient", "uphill", ARCH + '''\
    alpha = alpha.clone().requires_grad_(True)
    w = {k: v.detach().requires_grad_(True) for k, v in w.items()}
    if second_order:
        g = torch.autograd.grad(search_loss(model, w, alpha, x, y, mixed_op), list(w.values()),
                                create_graph=True)
        w = {k: v + xi * d for (k, v), d in zip(w.items(), g)}
    return torch.autograd.grad(search_loss(model, w, alpha, x_val, y_val, mixed_op), alpha)[0]
'''),
    Bug("arch-virtual-on-val", "architecture_gradient", "architecture_gradient",
        "validation batch: it is a training step", ARCH + '''\
    alpha = alpha.clone().requires_grad_(True)
    w = {k: v.detach().requires_grad_(True) for k, v in w.items()}
    if second_order:
        g = torch.autograd.grad(search_loss(model, w, alpha, x_val, y_val, mixed_op),
                                list(w.values()), create_graph=True)
        w = {k: v - xi * d for (k, v), d in zip(w.items(), g)}
    return torch.autograd.grad(search_loss(model, w, alpha, x_val, y_val, mixed_op), alpha)[0]
'''),
    Bug("arch-softmax-outside", "architecture_gradient", "architecture_gradient",
        "does not sum to 0", ARCH + '''\
    # the gradient w.r.t. the operation weights p = softmax(α), not w.r.t. α
    p = torch.softmax(alpha, dim=-1).detach().requires_grad_(True)
    w = {k: v.detach().requires_grad_(True) for k, v in w.items()}
    mix = lambda c, q: torch.tensordot(q, c, dims=1)
    if second_order:
        g = torch.autograd.grad(search_loss(model, w, p, x, y, mix), list(w.values()),
                                create_graph=True)
        w = {k: v - xi * d for (k, v), d in zip(w.items(), g)}
    return torch.autograd.grad(search_loss(model, w, p, x_val, y_val, mix), p)[0]
'''),
] + INCONTEXT_BUGS
