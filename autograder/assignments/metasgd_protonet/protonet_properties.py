"""Properties of ProtoNet's three graded functions that hold for every correct answer (see
:mod:`.properties`), probed before their values are compared, each naming a class of cause:

* ``prototypes(z, y, N)``: a class mean is *affine-equivariant* — prototypes(a·z + b) =
  a·prototypes(z) + b — and does not depend on the order of the examples;
* ``protonet_logits(q, c)``: a query on a prototype has logit 0 for it, every logit is ≤ 0
  (a negative squared distance), moving every point by b changes nothing and scaling them by a
  scales the logits by a²;
* ``protonet_loss(φ, batch)``: the same for every K (K = 1 and K = 2 support examples per
  class), for every naming of the classes (labels permuted in support and query), for every
  order of the query examples (each with its own label), and finite in float32 when the
  distances are large.

Each ``*_violation`` returns None when every property holds, else the cause in words.
"""

from __future__ import annotations

from typing import Callable

import torch

from hwlib.tasks import TaskBatch

Ask = Callable[..., object]


def _tensor(x) -> torch.Tensor | None:
    return x.detach().double() if isinstance(x, torch.Tensor) else None


def _same(a, b, rtol: float = 1e-7) -> bool:
    a, b = _tensor(a), _tensor(b)
    if a is None or b is None or a.shape != b.shape or not torch.isfinite(a).all():
        return False
    return bool((a - b).abs().max() <= rtol * max(1.0, b.abs().max().item()))


def prototype_violation(ask: Ask, z: torch.Tensor, labels: torch.Tensor, n_way: int
                        ) -> str | None:
    """``ask(z, labels)``: the student's prototypes (a tensor, or anything on failure)."""
    base = ask(z, labels)
    if _tensor(base) is None:
        return None  # the value check reports what came back
    scaled, shifted = ask(3.0 * z, labels), ask(z + 2.0, labels)
    if not _same(scaled, 3.0 * base):
        return ("scaling every embedding by 3 did not scale the prototypes by 3: a prototype is "
                "the plain mean of its class's embeddings, c_k = (1/K) Σ z — not normalised "
                "(L2 / unit length), squared or otherwise transformed")
    if not _same(shifted, base + 2.0):
        return ("moving every embedding by +2 did not move the prototypes by +2: a prototype is "
                "the plain mean of its class's embeddings (a sum, a median or a division by the "
                "wrong count breaks this)")
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(5))
    if not _same(ask(z[order], labels[order]), base):
        return ("the prototypes change when the support examples are given in another order "
                "(each with its own label): the class of an example must come from its label, "
                "not from its position (a reshape into [N, K, d] assumes an order)")
    return None


def logit_violation(ask: Ask, q: torch.Tensor, c: torch.Tensor) -> str | None:
    """``ask(q, c)``: the student's logits [n_query, n_way]."""
    base = ask(q, c)
    b = _tensor(base)
    if b is None or b.shape != (len(q), len(c)):
        return None
    if bool((b >= 0).all()) and torch.allclose(b.sum(1), torch.ones(len(q), dtype=b.dtype)):
        return ("every row of the logits sums to 1 and is ≥ 0: these are softmax probabilities, "
                "not logits — return −‖z − c_k‖² itself (the cross-entropy applies the softmax)")
    if torch.allclose(torch.logsumexp(b, 1), torch.zeros(len(q), dtype=b.dtype)):
        return ("every row of the logits is a log-softmax (log-probabilities): return "
                "−‖z − c_k‖² itself (the cross-entropy applies the softmax)")
    on = _tensor(ask(c[:1].clone(), c))
    if on is not None and on.shape == (1, len(c)) and abs(on[0, 0].item()) > 1e-9 * max(
            1.0, on.abs().max().item()):
        return (f"a query placed exactly on prototype 0 has logit {on[0, 0].item():.6g} for it, "
                "not 0: the logit is minus the squared distance −‖z − c_k‖² (a distance to "
                "itself is 0 — not a dot product, not a cosine, no added term)")
    if bool((b > 1e-9).any()):
        return ("some logits are positive: a logit is minus a squared distance, −‖z − c_k‖² ≤ 0 "
                "(the sign is flipped, or a similarity is returned)")
    if not _same(ask(q + 1.5, c + 1.5), base, 1e-6):
        return ("moving every query and prototype by the same vector changed the logits: they "
                "must depend on the differences z − c_k only (−‖z − c_k‖²)")
    if not _same(ask(2.0 * q, 2.0 * c), 4.0 * base, 1e-6):
        return ("scaling every query and prototype by 2 did not scale the logits by 4: the "
                "logit is the *squared* distance −‖z − c_k‖² (not the distance, not its cube)")
    return None


def one_shot(batch: TaskBatch) -> TaskBatch:
    """``batch`` with one support example per class (the first of each label)."""
    keep = [torch.stack([torch.nonzero(row == k)[0, 0] for k in range(int(row.max()) + 1)])
            for row in batch.y_support]
    i = torch.stack(keep)
    take = lambda t: torch.stack([t[b][i[b]] for b in range(len(i))])  # noqa: E731
    return TaskBatch(take(batch.x_support), take(batch.y_support), batch.x_query,
                     batch.y_query)


def _query_like_support(batch: TaskBatch) -> TaskBatch:
    """``batch`` with as many query as support examples (a scorer that uses the wrong labels
    then runs instead of failing on the sizes)."""
    n = batch.y_support.shape[1]
    return TaskBatch(batch.x_support, batch.y_support, batch.x_query[:, :n],
                     batch.y_query[:, :n])


def loss_violation(ask: Ask, batch: TaskBatch, large: Callable[[], object]) -> str | None:
    """``ask(batch)``: the student's loss value (a float; NaN or an error string when it
    fails); ``large()``: the same in float32 on a batch whose distances are large."""
    base, one = ask(batch), ask(one_shot(batch))
    finite = lambda v: isinstance(v, float) and v == v and abs(v) != float("inf")  # noqa: E731
    if not finite(base) and finite(one):
        return (f"protonet_loss works with 1 support example per class but not with 2 ({base}): "
                "N and K are mixed up — the number of classes N is the number of distinct "
                "labels (int(y_support.max()) + 1), not len(y_support) = N·K")
    equal = _query_like_support(batch)
    at = ask(equal)
    order = torch.randperm(equal.y_query.shape[1], generator=torch.Generator().manual_seed(3))
    reordered = TaskBatch(equal.x_support, equal.y_support, equal.x_query[:, order],
                          equal.y_query[:, order])
    if finite(at) and not _close(ask(reordered), at):
        return ("the loss changes when the query examples are reordered, each with its own "
                "label: every query's logits must be scored against its own label y_query "
                "(the support labels, or labels assumed in order, used instead?)")
    if not finite(base):
        return None
    perm = torch.tensor([2, 0, 1])
    renamed = TaskBatch(batch.x_support, perm[batch.y_support], batch.x_query,
                        perm[batch.y_query])
    if not _close(ask(renamed), base):
        return ("the loss changes when the classes are renamed (labels 0, 1, 2 → 2, 0, 1 in "
                "both sets): prototype k must be the mean of the support examples labelled k, "
                "whatever order they come in (a reshape into [N, K, d] assumes one)")
    big = large()
    if not finite(big):
        return (f"on float32 embeddings far apart (logits of order −10⁵) the loss is {big}: "
                "compute it with F.cross_entropy on the logits (a log-softmax that is stable), "
                "not with exp/softmax then log by hand")
    return None


def _close(a, b) -> bool:
    return isinstance(a, float) and abs(a - b) <= 1e-7 * max(1.0, abs(b))
