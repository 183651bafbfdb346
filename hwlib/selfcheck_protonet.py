"""Self-checks of prototypical networks (learning to compare): instant, specific feedback that
does not reveal the solution (as :mod:`hwlib.selfcheck`: ``✓ ...`` or an ``AssertionError``
saying what looks wrong).  Properties of the mathematics, never a hidden answer: prototypes
that do not depend on the order of the support set; logits that are 0 at a prototype; a loss
that decreases along its own negative gradient.  The graded tests are stricter."""


from __future__ import annotations

from typing import Callable

import torch

from .models import Conv4, init_params, split_body_head
from .tasks import TaskBatch
from .selfcheck import _ok, _leaves, _gradient, _dot, _scalar


def check_prototypes(prototypes: Callable) -> None:
    """Your prototypes on random embeddings: shape, order of the support set, names of the
    classes, K = 1, and that c_k depends linearly on class k's embeddings only."""
    gen = torch.Generator().manual_seed(0)
    n, k, d = 4, 3, 6
    z = torch.randn(n * k, d, generator=gen, dtype=torch.float64)
    y = torch.arange(n).repeat(k)[torch.randperm(n * k, generator=gen)]
    c = prototypes(z, y, n)
    assert isinstance(c, torch.Tensor), f"prototypes must return a tensor, got {type(c).__name__}"
    assert tuple(c.shape) == (n, d), (f"prototypes of {n} classes of {d}-dimensional embeddings "
                                      f"must be [{n}, {d}], got {list(c.shape)}")
    perm = torch.randperm(n * k, generator=gen)
    assert torch.allclose(prototypes(z[perm], y[perm], n), c), (
        "shuffling the support examples (embeddings and labels together) changed the prototypes: "
        "select class k's embeddings by their labels (y == k), not by their position")
    pi = torch.randperm(n, generator=gen)
    assert torch.allclose(prototypes(z, pi[y], n)[pi], c), (
        "renaming the classes (label j → π(j)) must only reorder the rows: row k is the prototype "
        "of the class whose label is k")
    z1, y1 = torch.randn(n, d, generator=gen, dtype=torch.float64), torch.randperm(n, generator=gen)
    c1 = prototypes(z1, y1, n)
    assert torch.allclose(c1[y1], z1), "with one example per class (K = 1) the prototype of a class is its example"
    w = torch.randn(n * k, d, generator=gen, dtype=torch.float64)
    assert torch.allclose(prototypes(z + w, y, n), c + prototypes(w, y, n)) and \
        torch.allclose(prototypes(3 * z, y, n), 3 * c), (
        "the prototypes must be linear in the embeddings (c(z + w) = c(z) + c(w), c(3z) = 3c(z)): "
        "a mean, not a max, a norm or a normalised vector")
    shift = torch.randn(d, generator=gen, dtype=torch.float64)
    assert torch.allclose(prototypes(z + shift, y, n), c + shift), (
        "moving every embedding by the same vector v must move every prototype by v: divide the "
        "sum of class k's embeddings by their number |S_k|")
    other = z.clone()
    other[y == 0] += 1.0
    changed = (prototypes(other, y, n) - c).abs().amax(1) > 1e-12
    assert changed.tolist() == [True] + [False] * (n - 1), (
        "changing the embeddings of class 0 must change the prototype of class 0 only")
    leaf = z.clone().requires_grad_(True)
    assert prototypes(leaf, y, n).requires_grad, "the prototypes must keep the graph to the embeddings (no .detach())"
    _ok(f"prototypes: [{n}, {d}], independent of the support order, one row per label, linear, "
        "class by class")


def check_protonet_logits(protonet_logits: Callable) -> None:
    """Your logits: a hand-computed example, shape [n_query, n_way], ≤ 0 and 0 at a prototype,
    squared distances."""
    q = torch.tensor([[0.0, 0.0, 0.0]], dtype=torch.float64)
    c = torch.tensor([[3.0, 0.0, 0.0], [0.0, 4.0, 0.0], [1.0, 1.0, 1.0]], dtype=torch.float64)
    out = protonet_logits(q, c)
    assert isinstance(out, torch.Tensor), f"protonet_logits must return a tensor, got {type(out).__name__}"
    assert tuple(out.shape) == (1, 3), (f"1 query and 3 prototypes must give logits [1, 3] "
                                        f"(queries × classes), got {list(out.shape)}")
    expected = [-9.0, -16.0, -3.0]
    assert torch.allclose(out[0], torch.tensor(expected, dtype=torch.float64)), (
        f"for the query x = 0 and the prototypes (3,0,0), (0,4,0), (1,1,1) the logits should be "
        f"{expected} (minus the SQUARED Euclidean distances, summed over the features); yours are "
        f"{[round(v, 4) for v in out[0].tolist()]}")
    gen = torch.Generator().manual_seed(0)
    zq = torch.randn(7, 5, generator=gen, dtype=torch.float64)
    cs = torch.randn(4, 5, generator=gen, dtype=torch.float64)
    zq[2] = cs[1]
    out = protonet_logits(zq, cs)
    assert tuple(out.shape) == (7, 4), f"7 queries and 4 prototypes must give [7, 4], got {list(out.shape)}"
    assert (out <= 1e-12).all(), "logits are minus distances: they can never be positive"
    assert abs(out[2, 1].item()) < 1e-12 and (out[2, [0, 2, 3]] < 0).all(), (
        "a query that IS prototype 1 must get logit 0 for class 1 and negative logits elsewhere")
    shift = torch.randn(5, generator=gen, dtype=torch.float64)
    assert torch.allclose(protonet_logits(zq + shift, cs + shift), out), (
        "moving queries and prototypes together must not change the logits (they depend on "
        "differences only)")
    leaf = zq.clone().requires_grad_(True)
    assert protonet_logits(leaf, cs).requires_grad, "the logits must keep the graph to the embeddings"
    _ok("protonet_logits: [queries, classes], ≤ 0, 0 at a prototype, −(squared distance)")


def _tiny_episodes(n_way: int = 3, k_shot: int = 2, q_query: int = 2, tasks: int = 2,
                   size: int = 16, seed: int = 0) -> TaskBatch:
    """Random 16×16 'images' in float64: ``tasks`` N-way K-shot episodes, labels shuffled."""
    gen = torch.Generator().manual_seed(seed)

    def labels(per_class: int) -> torch.Tensor:
        return torch.stack([torch.arange(n_way).repeat(per_class)[torch.randperm(
            n_way * per_class, generator=gen)] for _ in range(tasks)])
    ys, yq = labels(k_shot), labels(q_query)
    image = lambda m: torch.rand(tasks, m, 1, size, size, generator=gen, dtype=torch.float64)
    return TaskBatch(image(n_way * k_shot), ys, image(n_way * q_query), yq)


def check_protonet_loss(protonet_loss: Callable) -> None:
    """Your ProtoNet loss on a small Conv4 embedding and random episodes: a positive scalar, the
    mean over tasks, independent of the order of the query set and of the class names, and a
    small step along its negative gradient lowers it."""
    model = Conv4(n_way=3, hidden=8, image_size=16).double()
    phi = {k: v.detach().requires_grad_(True)
           for k, v in split_body_head(init_params(model, 0))[0].items()}
    batch = _tiny_episodes()
    try:
        loss = protonet_loss(model, phi, batch)
    except KeyError as e:
        raise AssertionError(f"protonet_loss raised KeyError {e}: φ holds the embedding's (body) "
                             "parameters only — embed images with embed(model, phi, x), not "
                             "forward(model, phi, x)") from e
    loss = _scalar(loss, "protonet_loss")
    assert loss.item() > 0, f"a cross-entropy is positive, got {loss.item():.6f}"
    each = [protonet_loss(model, phi, batch[i:i + 1]).item() for i in range(len(batch))]
    assert abs(loss.item() - sum(each) / len(each)) < 1e-9 * max(1.0, loss.item()), (
        f"the loss of a meta-batch ({loss.item():.6f}) should be the mean of its tasks' losses "
        f"({[round(v, 6) for v in each]}): average over the tasks")
    perm = torch.randperm(batch.x_query.shape[1], generator=torch.Generator().manual_seed(1))
    shuffled = TaskBatch(batch.x_support, batch.y_support, batch.x_query[:, perm], batch.y_query[:, perm])
    assert abs(protonet_loss(model, phi, shuffled).item() - loss.item()) < 1e-9 * max(1.0, loss.item()), (
        "shuffling the query set (images and labels together) changed the loss: score each "
        "query image with its own label")
    pi = torch.tensor([2, 0, 1])
    renamed = TaskBatch(batch.x_support, pi[batch.y_support], batch.x_query, pi[batch.y_query])
    assert abs(protonet_loss(model, phi, renamed).item() - loss.item()) < 1e-9 * max(1.0, loss.item()), (
        "renaming the classes (the same permutation of labels in support and query) changed the "
        "loss: the prototype of label k must be scored against the queries labelled k")
    one = _tiny_episodes(k_shot=1, seed=3)
    same = torch.randperm(one.x_support.shape[1], generator=torch.Generator().manual_seed(2))
    copies = TaskBatch(one.x_support, one.y_support, one.x_support[:, same],
                       one.y_support[:, same])  # 1-shot, and each query IS its class's support image
    chance = torch.log(torch.tensor(3.0)).item()
    easy = protonet_loss(model, phi, copies).item()
    assert easy < chance, (
        f"in 1-shot episodes whose queries are copies of the support images every query sits ON "
        f"its own prototype, yet your loss {easy:.4f} is not below chance (log N = {chance:.4f}): "
        "the logits must be MINUS the distances, so that the nearest prototype gets the highest "
        "logit")
    leaf = _leaves(phi)
    (grad,) = _gradient(protonet_loss(model, leaf, batch), leaf)
    norm2 = _dot(grad, grad)
    assert norm2 > 0, "the loss has a zero gradient w.r.t. φ: compute it from the φ you were given"
    lr = 1e-2 / max(1.0, norm2 ** 0.5)
    lower = protonet_loss(model, {k: phi[k].detach() - lr * grad[k] for k in phi}, batch).item()
    assert lower < loss.item(), (
        f"a small step along −∇φ raised the loss ({loss.item():.6f} → {lower:.6f}): is the loss "
        "you return the one whose graph reaches φ (no .detach(), no in-place changes)?")
    _ok(f"protonet_loss: {loss.item():.4f} = mean over the tasks, independent of query order and "
        f"class names, lowered by a step along −∇φ ({loss.item():.4f} → {lower:.4f})")
