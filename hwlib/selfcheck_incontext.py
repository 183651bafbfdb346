"""Self-checks of Part 4 of the third assignment (a learner that is a network): instant,
specific feedback that does not reveal the solution (``✓ ...`` or an ``AssertionError`` saying
what looks wrong).  Properties, never a hidden answer: the mask is tried in PyTorch's own
attention (who may read whom), and the logits of a tiny in-context learner must not change
when the other queries change, must follow the queries when reordered, must not change when
the support set is reordered, must depend on the support labels, and must reach every part of
φ.  The graded tests are stricter."""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .incontext import InContextLearner, apply
from .models import init_params
from .selfcheck import _ok


def _who_reads_whom(mask: torch.Tensor, L: int) -> torch.Tensor:
    """``[L, L]`` bool: True where token i's output in PyTorch's attention changes when token
    j's key and value change (i attends to j)."""
    gen = torch.Generator().manual_seed(0)
    attn = nn.MultiheadAttention(4, 1, batch_first=True).double()
    t = torch.randn(1, L, 4, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        base = attn(t, t, t, attn_mask=mask)[0][0]
        reads = torch.zeros(L, L, dtype=torch.bool)
        for j in range(L):
            kv = t.clone()
            kv[0, j] += torch.randn(4, generator=gen, dtype=torch.float64)
            reads[:, j] = (attn(t, kv, kv, attn_mask=mask)[0][0] - base).abs().amax(-1) > 1e-9
    return reads


def check_query_mask(query_mask: Callable) -> None:
    """Shape and dtype; then the mask in PyTorch's attention: who reads whom."""
    n_s, n_q = 4, 3
    L = n_s + n_q
    m = query_mask(n_s, n_q)
    assert isinstance(m, torch.Tensor) and tuple(m.shape) == (L, L), (
        f"query_mask({n_s}, {n_q}) must be a tensor [L, L], L = n_support + n_query = {L}; got "
        f"{getattr(m, 'shape', type(m).__name__)}")
    assert m.dtype == torch.bool, (f"the mask must be bool (True = may NOT attend), got {m.dtype}:"
                                   " PyTorch adds a float mask to the attention scores")
    reads = _who_reads_whom(m, L)
    s, q = slice(0, n_s), slice(n_s, L)
    assert reads[q, s].all(), "in PyTorch's attention, a query does not read every support " \
        "(True means 'may NOT attend': is the mask the wrong way round?)"
    off = reads[q, q] & ~torch.eye(n_q, dtype=torch.bool)
    assert not off.any(), "in PyTorch's attention, a query reads another query: the queries " \
        "must be classified independently of each other"
    assert reads[q, q].diagonal().all(), "a query does not read its own token"
    assert reads[s, s].all(), "a support does not read every support"
    assert not reads[s, q].any(), ("a support reads a query: in the next layer every query "
                                   "would see the others through that support")
    _ok(f"query_mask({n_s}, {n_q}): [{L}, {L}] bool; in PyTorch's attention each query reads "
        "the supports and itself only, the supports read the supports")


def _tiny_task(seed: int = 0):
    model = InContextLearner(3, hidden=2, image_size=16, d_model=8, heads=2, layers=2,
                             ff=16).double()
    phi = {k: v.double().requires_grad_(True) for k, v in init_params(model, seed).items()}
    gen = torch.Generator().manual_seed(seed + 1)
    xs = torch.rand(6, 1, 16, 16, generator=gen, dtype=torch.float64)
    ys = torch.tensor([2, 0, 1, 1, 0, 2])
    xq = torch.rand(4, 1, 16, 16, generator=gen, dtype=torch.float64)
    return model, phi, xs, ys, xq


def _check_tokens(model, phi, xs, ys, xq, incontext_logits: Callable) -> None:
    """The token layer's input, caught by a hook: [embedding ⊕ one-hot ⊕ flag], supports
    first."""
    seen = []
    hook = model.token.register_forward_hook(lambda m, args, out: seen.append(args[0].detach()))
    try:
        incontext_logits(model, phi, xs, ys, xq, 3)
    finally:
        hook.remove()
    d = model.d_embed
    assert len(seen) == 1, (f"the token layer was applied {len(seen)} times: apply it once, "
                            "to all the tokens")
    t = seen[0].reshape(-1, seen[0].shape[-1])
    assert tuple(t.shape) == (10, d + 4), (
        f"the token layer must read the 6 + 4 tokens of [embedding ({d}) ⊕ one-hot label (3) ⊕ "
        f"query flag (1)], got {list(seen[0].shape)}")
    with torch.no_grad():
        z = apply(model, phi, "body", torch.cat([xs, xq]))
    assert torch.allclose(t[:, :d], z), ("the first features of the tokens must be the body's "
                                         "embeddings, supports first, then the queries")
    assert torch.equal(t[:6, d:d + 3], F.one_hot(ys, 3).to(t.dtype)), \
        "the supports' label features must be the one-hot labels"
    assert not t[6:, d:d + 3].any(), "the queries' label features must be zeros (unknown)"
    assert torch.equal(t[:, -1], torch.tensor([0.0] * 6 + [1.0] * 4, dtype=t.dtype)), \
        "the last feature is the query flag: 0 for the supports, 1 for the queries"


def check_incontext_logits(incontext_logits: Callable) -> None:
    """Shape; independence of the queries; reorderings; the labels; gradients to every part."""
    model, phi, xs, ys, xq = _tiny_task()

    def run(xs_=xs, ys_=ys, xq_=xq):
        return incontext_logits(model, phi, xs_, ys_, xq_, 3)

    out = run()
    assert isinstance(out, torch.Tensor) and tuple(out.shape) == (4, 3), (
        f"incontext_logits must return [n_query, n_way] = [4, 3], got "
        f"{getattr(out, 'shape', type(out).__name__)}")
    assert torch.isfinite(out).all(), "NaN or ∞ in the logits"
    assert not torch.allclose(out.sum(-1), torch.ones(4, dtype=out.dtype)), (
        "every row sums to 1: return the logits, not the softmax (the loss applies it)")
    _check_tokens(model, phi, xs, ys, xq, incontext_logits)
    same = lambda a, b: torch.allclose(a, b, rtol=1e-8, atol=1e-10)  # noqa: E731
    changed = xq.clone()
    changed[1:] = xq[1:].flip(-1)
    assert same(run(xq_=xq[:1])[0], out[0]) and same(run(xq_=changed)[0], out[0]), (
        "query 0's logits changed when the other queries were removed or changed: a query must "
        "not see the other queries")
    perm = torch.tensor([3, 1, 0, 2])
    assert same(run(xq_=xq[perm]), out[perm]), "reordering the queries must reorder the logits"
    sperm = torch.tensor([5, 2, 4, 0, 3, 1])
    assert same(run(xs[sperm], ys[sperm]), out), (
        "reordering the support set (drawings with their labels) changed the logits: the support "
        "set is a set (no positions), and each label must stay with its drawing")
    assert not same(run(ys_=ys[torch.tensor([1, 0, 2, 3, 4, 5])]), out), (
        "the logits do not depend on the support labels: the support tokens carry the one-hot "
        "labels")
    moved = xq.clone()
    moved[0] = xq[0].flip(-2)
    assert not same(run(xq_=moved)[0], out[0]), (
        "query 0's logits do not depend on its own drawing: read the logits from the query "
        "tokens' outputs")
    grads = torch.autograd.grad(out.sum() + (out ** 2).sum(), list(phi.values()),
                                allow_unused=True)
    dead = sorted({k.split(".")[0] for k, g in zip(phi, grads)
                   if g is None or g.abs().max() == 0})
    assert not dead, (f"the logits have no gradient w.r.t. φ's {dead} parameters: every part must "
                      "stay in the graph (no .detach(), .item() or torch.no_grad)")
    _ok("incontext_logits: [4, 3] logits; tokens [embedding, one-hot, flag]; queries "
        "independent of each other; follows reorderings; gradients reach every part of φ")
