"""Correct answers of the second assignment written differently from the reference: each must
get full marks."""

from __future__ import annotations

from autograder.student_code.entries import Variant
from .entries import _LOGITS, _MSGD_INNER, _MSGD_META, _PLOSS, _PROTOS

VARIANTS: list[Variant] = [
    # ----- metasgd_inner_update ------------------------------------------------------------
    Variant("msgd-inner-torch-func", "metasgd_inner_update", _MSGD_INNER + '''\
    from torch.func import functional_call, grad

    def loss_of(p):
        out = functional_call(model, p, (x,))
        return F.cross_entropy(out, y) if y.dtype == torch.long else F.mse_loss(out, y)

    g = grad(loss_of)(dict(params))   # differentiable: second order for free
    if not create_graph:              # first order: the gradient is a constant
        g = {k: v.detach() for k, v in g.items()}
    return {k: params[k] - alphas[k] * g[k] for k in params}
'''),
    Variant("msgd-inner-addcmul", "metasgd_inner_update", _MSGD_INNER + '''\
    names = list(params.keys())
    grads = torch.autograd.grad(task_loss(model, params, x, y), [params[n] for n in names],
                                create_graph=create_graph)
    adapted = {}
    for n, g in zip(names, grads):
        adapted[n] = torch.addcmul(params[n], alphas[n], g, value=-1.0)
    return adapted
'''),

    # ----- metasgd_meta_loss ---------------------------------------------------------------
    Variant("msgd-meta-torch-func", "metasgd_meta_loss", _MSGD_META + '''\
    from torch.func import functional_call, grad

    def loss_on(params, x, y):
        out = functional_call(model, params, (x,))
        return F.cross_entropy(out, y) if y.dtype == torch.long else F.mse_loss(out, y)

    per_task = []
    for task in batch:
        theta = dict(phi)
        for _ in range(steps):
            g = grad(loss_on)(theta, task.x_support, task.y_support)
            theta = {k: theta[k] - alphas[k] * g[k] for k in theta}
        per_task.append(loss_on(theta, task.x_query, task.y_query))
    return torch.stack(per_task).mean()
'''),
    Variant("msgd-meta-running-total", "metasgd_meta_loss", _MSGD_META + '''\
    total = 0
    for i in range(len(batch)):
        task = batch[i]
        adapted = phi
        for _ in range(steps):
            adapted = metasgd_inner_update(model, adapted, alphas, task.x_support,
                                           task.y_support, create_graph=True)
        total = total + task_loss(model, adapted, task.x_query, task.y_query) / len(batch)
    return total
'''),
    Variant("msgd-meta-helper", "metasgd_meta_loss", _MSGD_META + '''\
    def adapt(task):
        theta = phi
        for _ in range(steps):
            theta = metasgd_inner_update(model, theta, alphas, task.x_support, task.y_support)
        return theta

    query_losses = [task_loss(model, adapt(t), t.x_query, t.y_query) for t in batch]
    return sum(query_losses) / len(query_losses)
'''),

    # ----- prototypes ----------------------------------------------------------------------
    Variant("proto-one-hot-matmul", "prototypes", _PROTOS + '''\
    one_hot = F.one_hot(labels, n_way).to(embeddings.dtype)        # [n, N]
    counts = one_hot.sum(dim=0)                                    # [N]
    return (one_hot.T @ embeddings) / counts.unsqueeze(1)
'''),
    Variant("proto-index-add", "prototypes", _PROTOS + '''\
    d = embeddings.shape[1]
    sums = torch.zeros(n_way, d, dtype=embeddings.dtype, device=embeddings.device)
    sums = sums.index_add(0, labels, embeddings)
    counts = torch.bincount(labels, minlength=n_way).to(embeddings.dtype)
    return sums / counts[:, None]
'''),
    Variant("proto-argsort-reshape", "prototypes", _PROTOS + '''\
    order = torch.argsort(labels, stable=True)      # class 0 first, then class 1, ...
    grouped = embeddings[order].reshape(n_way, -1, embeddings.shape[-1])
    return grouped.mean(dim=1)
'''),
    Variant("proto-scatter-add", "prototypes", _PROTOS + '''\
    index = labels.unsqueeze(1).expand_as(embeddings)
    sums = torch.zeros(n_way, embeddings.size(1), dtype=embeddings.dtype).scatter_add(
        0, index, embeddings)
    counts = torch.zeros(n_way, dtype=embeddings.dtype).scatter_add(
        0, labels, torch.ones_like(labels, dtype=embeddings.dtype))
    return sums / counts.view(-1, 1)
'''),

    # ----- protonet_logits -----------------------------------------------------------------
    Variant("logits-cdist-squared", "protonet_logits", _LOGITS + '''\
    return -torch.cdist(query_embeddings, prototypes).pow(2)
'''),
    Variant("logits-expanded-form", "protonet_logits", _LOGITS + '''\
    q, c = query_embeddings, prototypes
    # ‖q − c‖² = ‖q‖² − 2 qᵀc + ‖c‖²
    return -(q ** 2).sum(1, keepdim=True) + 2 * q @ c.T - (c ** 2).sum(1).unsqueeze(0)
'''),
    Variant("logits-einsum", "protonet_logits", _LOGITS + '''\
    diff = query_embeddings.unsqueeze(1) - prototypes.unsqueeze(0)   # [Q, N, d]
    return -torch.einsum("qnd,qnd->qn", diff, diff)
'''),

    # ----- protonet_loss -------------------------------------------------------------------
    Variant("ploss-log-softmax-nll", "protonet_loss", _PLOSS + '''\
    losses = []
    for task in batch:
        n_way = task.y_support.unique().numel()
        support = embed(model, phi, task.x_support)
        query = embed(model, phi, task.x_query)
        log_p = F.log_softmax(protonet_logits(query, prototypes(support, task.y_support, n_way)),
                              dim=-1)
        losses.append(F.nll_loss(log_p, task.y_query))
    return sum(losses) / len(losses)
'''),
    Variant("ploss-inline", "protonet_loss", _PLOSS + '''\
    total = 0.0
    for i in range(len(batch)):
        xs, ys, xq, yq = batch.x_support[i], batch.y_support[i], batch.x_query[i], batch.y_query[i]
        n_way = int(ys.max().item()) + 1
        zs, zq = embed(model, phi, xs), embed(model, phi, xq)
        one_hot = F.one_hot(ys, n_way).to(zs.dtype)
        protos = one_hot.T @ zs / one_hot.sum(0)[:, None]
        logits = -torch.cdist(zq, protos) ** 2
        total = total + F.cross_entropy(logits, yq)
    return total / len(batch)
'''),
]
