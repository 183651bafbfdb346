"""Differential diagnosis for prototypical networks: the answers of their common mistakes.

Prototypes summed, or computed as if the labels came in order, or in the wrong row order;
logits with the wrong sign, an unsquared distance, a dot product or a cosine; a loss summed
over tasks, with support and query swapped, with probabilities given to the cross-entropy, …
Each is computed here from the same inputs as the graded call.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from autograder.assignments.metasgd_protonet import answers as ref
from hwlib.protonet import embed
from hwlib.tasks import TaskBatch

from autograder.checks.common import leaf
from autograder.checks.diagnose import reduction_causes

IN_ORDER = ("it assumes the labels are in order ({}): select each class's embeddings with "
            "labels == k, the labels of an episode are shuffled")


def draw_embeddings(seed: int) -> tuple[torch.Tensor, torch.Tensor, int, int]:
    """``(embeddings [N·K, d], shuffled labels, N, K)`` drawn from the grading's seed: N, K and
    d vary, d differs from N, K and N·K (a mean over the wrong dimension shows in the shape),
    and the labels are shuffled (see :func:`_ordered`)."""
    gen = torch.Generator().manual_seed(seed + 31)
    n_way = 3 + int(torch.randint(3, (1,), generator=gen))
    k = 2 + int(torch.randint(2, (1,), generator=gen))
    d = (7, 11, 13)[int(torch.randint(3, (1,), generator=gen))]
    in_order = torch.arange(n_way).repeat_interleave(k)
    labels = in_order
    while _ordered(labels, n_way, k):
        labels = in_order[torch.randperm(n_way * k, generator=gen)]
    return torch.randn(n_way * k, d, generator=gen, dtype=torch.float64), labels, n_way, k


def _ordered(labels: torch.Tensor, n_way: int, k: int) -> bool:
    """Labels in blocks (1, 1, 0, 0, 2, 2, …), cyclic (2, 0, 1, 2, 0, 1, …) or first seen in
    the order 0, 1, 2, …: code that assumes the order, or keeps rows in the order of first
    appearance, would give the right prototypes (maybe permuted) on such labels."""
    blocks = (labels.view(n_way, k) == labels.view(n_way, k)[:, :1]).all()
    cyclic = (labels.view(k, n_way) == labels.view(k, n_way)[:1]).all()
    return bool(blocks or cyclic) or list(dict.fromkeys(labels.tolist())) == list(range(n_way))


def prototype_family(z: torch.Tensor, labels: torch.Tensor, n_way: int, k: int
                     ) -> list[tuple[str, Callable[[], torch.Tensor]]]:
    d = z.shape[1]
    return [
        ("the prototypes are summed instead of averaged: c_k is the mean of class k's "
         "embeddings", lambda: torch.stack([z[labels == c].sum(0) for c in range(n_way)])),
        (IN_ORDER.format("0, 0, 1, 1, …, e.g. reshape(n_way, k, d).mean(1)"),
         lambda: z.reshape(n_way, k, d).mean(1)),
        (IN_ORDER.format("0, 1, 2, 0, 1, 2, …"), lambda: z.reshape(k, n_way, d).mean(0)),
        ("every row is the mean of all the embeddings: average over the examples of class k "
         "only (labels == k)", lambda: z.mean(0).expand(n_way, d)),
        ("each class's sum is divided by the number of all the examples instead of the "
         "class's own", lambda: torch.stack([z[labels == c].sum(0) for c in range(n_way)])
         / len(z)),
    ]


def row_permutation(got: torch.Tensor, want: torch.Tensor) -> bool:
    """Are the rows of ``got`` those of ``want`` in another order?"""
    match = [[torch.allclose(g, w, rtol=1e-6, atol=1e-9) for w in want] for g in got]
    order = [row.index(True) if any(row) else -1 for row in match]
    return -1 not in order and sorted(order) == list(range(len(want))) and \
        order != list(range(len(want)))


def squared_distances(q: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    return ((q[:, None, :] - c[None, :, :]) ** 2).sum(-1)


def logit_family(q: torch.Tensor, c: torch.Tensor
                 ) -> list[tuple[str, Callable[[], torch.Tensor]]]:
    d2 = squared_distances(q, c)
    not_squared = ("the Euclidean distance is not squared (a square root, or torch.cdist "
                   "without **2)")
    return [
        ("the logits have the wrong sign: they are +‖z − c_k‖², so the farthest prototype "
         "wins; use −‖z − c_k‖²", lambda: d2),
        (f"{not_squared}: the logits are −‖z − c_k‖²", lambda: -d2.sqrt()),
        (f"the logits have the wrong sign and {not_squared}", lambda: d2.sqrt()),
        ("the logits are the dot product zᵀc_k instead of the negative squared distance "
         "−‖z − c_k‖²", lambda: q @ c.T),
        ("the logits are the cosine similarity instead of the negative squared distance "
         "−‖z − c_k‖²", lambda: F.cosine_similarity(q[:, None, :], c[None, :, :], dim=-1)),
        ("the squared differences are averaged over the features instead of summed: "
         "−‖z − c_k‖² is a sum over the d dimensions", lambda: -d2 / q.shape[1]),
        ("the logits are −½‖z − c_k‖²: drop the ½", lambda: -d2 / 2),
    ]


def protonet_variant(model, phi, batch: TaskBatch, protos_from: str = "support",
                     scored: str = "query", reduce: str = "mean", head: str = "ce",
                     labels: str = "given", logits: str = "sq", together: bool = False,
                     detach: str = "") -> torch.Tensor:
    """The ProtoNet meta-loss, or one of its common wrong versions."""
    losses = []
    for task in batch:
        sets = {"support": (task.x_support, task.y_support), "query": (task.x_query, task.y_query)}
        (xp, yp), (xs, ys) = sets[protos_from], sets[scored]
        n_way = int(task.y_support.max()) + 1
        if together:
            z = embed(model, phi, torch.cat([xp, xs]))
            zp, zs = z[:len(xp)], z[len(xp):]
        else:
            zp, zs = embed(model, phi, xp), embed(model, phi, xs)
        c = ref.prototypes(zp, yp, n_way)
        c = c.detach() if detach == "prototypes" else c
        zs = zs.detach() if detach == "query" else zs
        out = {"sq": lambda: -squared_distances(zs, c), "+sq": lambda: squared_distances(zs, c),
               "dist": lambda: -squared_distances(zs, c).sqrt()}[logits]()
        per = len(ys) // n_way
        y = {"given": ys, "sorted": torch.arange(n_way).repeat_interleave(per),
             "cyclic": torch.arange(n_way).repeat(per)}[labels]
        losses.append({"ce": lambda: F.cross_entropy(out, y),
                       "softmax twice": lambda: F.cross_entropy(out.softmax(-1), y),
                       "nll of probabilities": lambda: F.nll_loss(out.softmax(-1), y),
                       "nll of logits": lambda: F.nll_loss(out, y)}[head]())
    stacked = torch.stack(losses)
    return {"mean": stacked.mean(), "sum": stacked.sum(), "first": stacked[0],
            "last": stacked[-1], "mean/B": stacked.mean() / len(losses)}[reduce]


def loss_family(model, phi, batch: TaskBatch) -> list[tuple[str, Callable[[], float]]]:
    B = len(batch)
    v = lambda **kw: (lambda: protonet_variant(model, leaf(phi), batch, **kw).item())  # noqa: E731
    ordered = ("the query labels are assumed in order ({}): use task.y_query, the labels of an "
               "episode are shuffled")
    return [
        *reduction_causes(B, v),
        ("support and query are swapped: the prototypes come from the query set; compute "
         "them from the support set and classify the query set",
         v(protos_from="query", scored="support")),
        ("the support set is classified instead of the query set: score the query set "
         "against the support set's prototypes", v(scored="support")),
        ("softmax is applied twice: F.cross_entropy takes the logits, not probabilities "
         "(cross-entropy on probabilities)", v(head="softmax twice")),
        ("F.nll_loss is given probabilities: use F.cross_entropy on the logits (nll_loss "
         "expects log-probabilities)", v(head="nll of probabilities")),
        ("F.nll_loss is given the logits: it expects log-probabilities — use F.cross_entropy "
         "on the logits", v(head="nll of logits")),
        ("the logits have the wrong sign (+‖z − c_k‖²)", v(logits="+sq")),
        ("the Euclidean distance is not squared in the logits", v(logits="dist")),
        (ordered.format("0, 0, 1, 1, …"), v(labels="sorted")),
        (ordered.format("0, 1, 2, 0, 1, 2, …"), v(labels="cyclic")),
        ("support and query are embedded in one batch: BatchNorm then normalises them "
         "together; embed the support set and the query set in separate calls",
         v(together=True)),
    ]


def gradient_family(model, phi, batch: TaskBatch) -> list[tuple[str, Callable[[], dict]]]:
    def grad(**kw):
        at = leaf(phi)
        return dict(zip(at, torch.autograd.grad(protonet_variant(model, at, batch, **kw),
                                                list(at.values()))))
    return [
        ("the prototypes are detached: no gradient flows through the support embeddings, "
         "so the embedding only learns from the query side — do not detach c (or build it "
         "with torch.tensor / .item())", lambda: grad(detach="prototypes")),
        ("the query embeddings are detached: the gradient must flow through f_φ(x_query) "
         "too", lambda: grad(detach="query")),
    ]
