"""Bugs in the prototypes, the ProtoNet logits and the ProtoNet meta-loss, written as students
write them."""

from __future__ import annotations

from autograder.student_code.entries import Bug
from .entries import _LOGITS, _PLOSS, _PROTOS

BUGS: list[Bug] = [
    # ----- prototypes ----------------------------------------------------------------------
    Bug("proto-summed", "prototypes", "prototypes", "summed instead of averaged", _PROTOS + '''\
    protos = []
    for k in range(n_way):
        protos.append(embeddings[labels == k].sum(dim=0))
    return torch.stack(protos)
'''),
    Bug("proto-labels-in-order", "prototypes", "prototypes", "labels are in order", _PROTOS + '''\
    # the support set holds k_shot examples of class 0, then of class 1, ...
    return embeddings.view(n_way, -1, embeddings.shape[-1]).mean(dim=1)
'''),
    Bug("proto-mean-wrong-dim", "prototypes", "prototypes", "wrong dimension", _PROTOS + '''\
    return torch.stack([embeddings[labels == c].mean(dim=1) for c in range(n_way)])
'''),
    Bug("proto-first-appearance-order", "prototypes", "prototypes", "not in label order",
        _PROTOS + '''\
    classes = []
    for label in labels.tolist():
        if label not in classes:
            classes.append(label)
    return torch.stack([embeddings[labels == c].mean(0) for c in classes])
'''),
    Bug("proto-divided-by-all", "prototypes", "prototypes", "number of all the examples",
        _PROTOS + '''\
    sums = torch.zeros(n_way, embeddings.shape[1], dtype=embeddings.dtype)
    sums = sums.index_add(0, labels, embeddings)
    return sums / len(labels)
'''),

    # ----- protonet_logits -----------------------------------------------------------------
    Bug("logits-wrong-sign", "protonet_logits", "protonet_logits", "wrong sign", _LOGITS + '''\
    return torch.cdist(query_embeddings, prototypes) ** 2
'''),
    Bug("logits-not-squared", "protonet_logits", "protonet_logits", "not squared", _LOGITS + '''\
    distances = torch.cdist(query_embeddings, prototypes)   # Euclidean distance
    return -distances
'''),
    Bug("logits-norm-not-squared", "protonet_logits", "protonet_logits", "not squared",
        _LOGITS + '''\
    diff = query_embeddings.unsqueeze(1) - prototypes.unsqueeze(0)
    return -torch.linalg.norm(diff, dim=-1)
'''),
    Bug("logits-dot-product", "protonet_logits", "protonet_logits", "dot product", _LOGITS + '''\
    return query_embeddings @ prototypes.T   # similarity of each query to each prototype
'''),
    Bug("logits-cosine", "protonet_logits", "protonet_logits", "cosine", _LOGITS + '''\
    return F.cosine_similarity(query_embeddings.unsqueeze(1), prototypes.unsqueeze(0), dim=2)
'''),
    Bug("logits-transposed", "protonet_logits", "protonet_logits", "transposed", _LOGITS + '''\
    diff = prototypes[:, None, :] - query_embeddings[None, :, :]
    return -torch.einsum("kqd,kqd->kq", diff, diff)
'''),

    # ----- protonet_loss -------------------------------------------------------------------
    Bug("ploss-summed", "protonet_loss", "protonet_loss", "summed", _PLOSS + '''\
    total = 0
    for task in batch:
        n_way = int(task.y_support.max()) + 1
        c = prototypes(embed(model, phi, task.x_support), task.y_support, n_way)
        logits = protonet_logits(embed(model, phi, task.x_query), c)
        total = total + F.cross_entropy(logits, task.y_query)
    return total
'''),
    Bug("ploss-swapped", "protonet_loss", "protonet_loss", "swapped", _PLOSS + '''\
    losses = []
    for t in batch:
        n_way = len(torch.unique(t.y_query))
        protos = prototypes(embed(model, phi, t.x_query), t.y_query, n_way)
        logits = protonet_logits(embed(model, phi, t.x_support), protos)
        losses.append(F.cross_entropy(logits, t.y_support))
    return torch.stack(losses).mean()
'''),
    Bug("ploss-prototypes-no-grad", "protonet_loss", "protonet_loss", "prototypes are detached",
        _PLOSS + '''\
    losses = []
    for task in batch:
        n_way = int(task.y_support.max()) + 1
        with torch.no_grad():   # the prototypes are a fixed lookup table
            c = prototypes(embed(model, phi, task.x_support), task.y_support, n_way)
        logits = protonet_logits(embed(model, phi, task.x_query), c)
        losses.append(F.cross_entropy(logits, task.y_query))
    return torch.stack(losses).mean()
'''),
    Bug("ploss-softmax-twice", "protonet_loss", "protonet_loss", "probabilities", _PLOSS + '''\
    losses = []
    for task in batch:
        n_way = int(task.y_support.max()) + 1
        c = prototypes(embed(model, phi, task.x_support), task.y_support, n_way)
        probs = F.softmax(protonet_logits(embed(model, phi, task.x_query), c), dim=1)
        losses.append(F.cross_entropy(probs, task.y_query))
    return torch.stack(losses).mean()
'''),
    Bug("ploss-nll-of-logits", "protonet_loss", "protonet_loss", "nll_loss", _PLOSS + '''\
    losses = []
    for task in batch:
        n_way = int(task.y_support.max()) + 1
        c = prototypes(embed(model, phi, task.x_support), task.y_support, n_way)
        logits = protonet_logits(embed(model, phi, task.x_query), c)
        losses.append(F.nll_loss(logits, task.y_query))
    return torch.stack(losses).mean()
'''),
    Bug("ploss-query-labels-in-order", "protonet_loss", "protonet_loss", "in order", _PLOSS + '''\
    losses = []
    for task in batch:
        n_way = int(task.y_support.max()) + 1
        c = prototypes(embed(model, phi, task.x_support), task.y_support, n_way)
        logits = protonet_logits(embed(model, phi, task.x_query), c)
        targets = torch.arange(n_way).repeat_interleave(len(task.y_query) // n_way)
        losses.append(F.cross_entropy(logits, targets))
    return torch.stack(losses).mean()
'''),
    Bug("ploss-embedded-together", "protonet_loss", "protonet_loss", "one batch", _PLOSS + '''\
    losses = []
    for task in batch:
        n_support = len(task.x_support)
        z = embed(model, phi, torch.cat([task.x_support, task.x_query]))   # one forward pass
        c = prototypes(z[:n_support], task.y_support, int(task.y_support.max()) + 1)
        losses.append(F.cross_entropy(protonet_logits(z[n_support:], c), task.y_query))
    return torch.stack(losses).mean()
'''),
]
