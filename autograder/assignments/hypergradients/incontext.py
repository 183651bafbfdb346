"""Hidden checks of Part 4, a learner that is a network: ``query_mask`` and
``incontext_logits``.

``query_mask`` for several sizes: a bool ``[L, L]`` (True = may not attend), named by the
block that is wrong (support → support, support → query, query → support, query → itself,
query → another query) and by the known mistakes (the convention inverted, a causal mask).

``incontext_logits`` in float64 on a tiny two-layer in-context learner (3-way 2-shot, 16×16
drawings), the reference ``query_mask`` lent (graded alone): the logits (up to a constant per
row: log-softmax is accepted) and their vector-Jacobian product w.r.t. φ against the judge's.
A wrong answer is named by the properties every correct one has — a query's logits do not
change when the other queries change or are removed, follow a reordering of the queries,
depend on the query's own drawing, do not change when the support set is reordered, depend on
the support labels and drawings — before the known mistakes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from autograder.assignments.hypergradients import answers as ref
from autograder.checks.common import fail
from autograder.checks.student import MODEL, P, Student
from autograder.worker.models import build_model
from hwlib.incontext import apply
from hwlib.models import init_params

SPEC = {"kind": "hwlib.incontext.InContextLearner",
        "kwargs": {"n_way": 3, "hidden": 2, "image_size": 16, "d_model": 8, "heads": 2,
                   "layers": 2, "ff": 16}, "dtype": "float64"}
MASK = ("True where token i may NOT attend to token j; supports first: the supports attend to "
        "the supports, each query to the supports and itself")
SIZES = ((6, 4), (1, 1), (5, 1), (2, 6))

# ---- query_mask ------------------------------------------------------------------------------


def _ask_mask(s: Student, n_s: int, n_q: int) -> torch.Tensor:
    call = s.call("query_mask", SPEC, n_s, n_q)
    if call.error:
        fail(call.error)
    m, L = call.value, n_s + n_q
    if not isinstance(m, torch.Tensor) or tuple(m.shape) != (L, L):
        got = list(m.shape) if isinstance(m, torch.Tensor) else type(m).__name__
        fail(f"query_mask({n_s}, {n_q}) must be a tensor [L, L] with L = n_support + n_query "
             f"= {L} (one row per token: whom it may not attend to), got {got}.")
    if m.dtype != torch.bool:
        fail(f"query_mask({n_s}, {n_q}) must be a bool tensor (True = may not attend), got "
             f"{m.dtype}: nn.TransformerEncoder *adds* a float mask to the attention scores.")
    return m


def _mask_block(m: torch.Tensor, want: torch.Tensor, n_s: int) -> str | None:
    """The first block of the mask that is wrong, in words."""
    blocks = (((slice(0, n_s), slice(0, n_s)), "a support must attend to every support"),
              ((slice(0, n_s), slice(n_s, None)), "a support must not attend to any query (with "
               "two layers a query would see the others through the supports)"),
              ((slice(n_s, None), slice(0, n_s)), "a query must attend to every support"))
    for (rows, cols), said in blocks:
        if not torch.equal(m[rows, cols], want[rows, cols]):
            return said
    qq, wq = m[n_s:, n_s:], want[n_s:, n_s:]
    if not torch.equal(qq.diagonal(), wq.diagonal()):
        return "a query must attend to itself (the diagonal of the query block is False)"
    return "a query must never attend to another query (True off the diagonal of the query block)"


def _mask_cause(m: torch.Tensor, want: torch.Tensor) -> str | None:
    L = len(m)
    causes = {"the convention is inverted: PyTorch's bool mask is True where attention is "
              "NOT allowed": ~want,
              "it is a causal mask (each token sees those before it): here no query may see "
              "another, earlier or later": torch.ones(L, L, dtype=torch.bool).triu(1),
              "nothing is blocked": torch.zeros(L, L, dtype=torch.bool)}
    return next((c for c, w in causes.items() if torch.equal(m, w)), None)


def check_query_mask(query_mask, seed: int = 0) -> None:
    """The mask for several sizes, named by the block that is wrong."""
    s = Student.of(query_mask, "query_mask")
    for n_s, n_q in SIZES[:1] + ((2 + seed % 4, 3 + seed % 2),) + SIZES[1:]:
        m, want = _ask_mask(s, n_s, n_q), ref.query_mask(n_s, n_q)
        if torch.equal(m, want):
            continue
        cause = _mask_cause(m, want)
        fail(f"query_mask({n_s}, {n_q}) is wrong ({MASK}): {_mask_block(m, want, n_s)}"
             + (f" — precisely, {cause}" if cause else "") + ".")


# ---- incontext_logits --------------------------------------------------------------------


def task_of(seed: int):
    """The judge's tiny float64 learner, φ, and a 3-way 2-shot task (shuffled labels) with
    4 queries."""
    model = build_model(SPEC)
    phi = {k: v.detach().requires_grad_(True) for k, v in init_params(model, seed).items()}
    gen = torch.Generator().manual_seed(seed + 5)
    xs = torch.rand(6, 1, 16, 16, generator=gen, dtype=torch.float64)
    ys = (torch.arange(6) % 3)[torch.randperm(6, generator=gen)]
    xq = torch.rand(4, 1, 16, 16, generator=gen, dtype=torch.float64)
    return model, phi, xs, ys, xq


def _ask(s: Student, phi, xs, ys, xq, probes=()) -> tuple[torch.Tensor, dict]:
    call = s.call("incontext_logits", SPEC, MODEL, P(phi), xs, ys, xq, 3, probes=list(probes),
                  lend={"query_mask": ref.query_mask})
    if call.error:
        fail(_error_cause(call.error))
    out = call.value
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (len(xq), 3):
        got = list(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        fail(f"incontext_logits must return one row of n_way logits per query, [n_query, n_way] "
             f"= {[len(xq), 3]}, got {got} (the head reads the query tokens' outputs only).")
    if not torch.isfinite(out).all():
        fail("incontext_logits returned NaN or ∞ (a query row of the mask that blocks every "
             "token? a float mask of −∞ everywhere?).")
    return out.double(), call.probes


def _error_cause(error: str) -> str:
    if "cannot be multiplied" in error:
        return ("the token layer takes [embedding ⊕ one-hot label ⊕ query flag], d_embed + "
                f"n_way + 1 features per token: {error}")
    if "attn_mask" in error:
        return ("the encoder reads a batch of sequences [1, L, d_model] (batch_first) with an "
                f"[L, L] mask: {error}")
    return error


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal up to a constant per row (logits and their log-softmax are the same classifier)."""
    return torch.allclose(a.log_softmax(-1), b.log_softmax(-1), rtol=1e-7, atol=1e-10)


def _property(s: Student, got: torch.Tensor, phi, xs, ys, xq) -> str | None:
    """The first property of a correct answer that the student's logits break."""
    other = xq.clone()
    other[2:] = xq[2:].flip(-1)
    if not _same(_ask(s, phi, xs, ys, xq[:2])[0], got[:2]) or \
            not _same(_ask(s, phi, xs, ys, other)[0][:2], got[:2]):
        return ("a query's logits changed when the other queries were removed or changed: the "
                "queries see each other — each query may attend to the supports and to itself "
                "only (query_mask(n_support, n_query), True = blocked)")
    moved = xq.clone()
    moved[0] = xq[0].flip(-2)
    if _same(_ask(s, phi, xs, ys, moved)[0][:1], got[:1]):
        return ("a query's logits do not change with its own drawing: apply the head to the "
                "query tokens' outputs (the last n_query), not to the supports'")
    perm = torch.tensor([2, 0, 3, 1])
    if not _same(_ask(s, phi, xs, ys, xq[perm])[0], got[perm]):
        return "reordering the queries must reorder their logits the same way"
    sperm = torch.tensor([3, 5, 0, 1, 4, 2])
    if not _same(_ask(s, phi, xs[sperm], ys[sperm], xq)[0], got):
        return ("reordering the support set (drawings with their labels) changed the logits: the "
                "support set is a set — no positional encoding, and each one-hot label stays "
                "with its drawing")
    relabel = ys.clone()
    i, j = 0, int((ys != ys[0]).nonzero()[0])
    relabel[i], relabel[j] = ys[j], ys[i]
    if _same(_ask(s, phi, xs, relabel, xq)[0], got):
        return ("the logits do not depend on the support labels: each support token carries "
                "its drawing's one-hot label")
    if _same(_ask(s, phi, xs.flip(-1), ys, xq)[0], got):
        return "the logits do not depend on the support drawings: embed them with the body"
    if (got >= 0).all() and torch.allclose(got.sum(-1), torch.ones(len(got), dtype=got.dtype)):
        return "every row sums to 1: these are probabilities, the softmax of the logits"
    return None


def variant_logits(model, phi, xs, ys, xq, n_way: int = 3, mask="right", label_first=False,
                   flag=(0.0, 1.0), query_labels=0.0, softmax=False) -> torch.Tensor:
    """The reference with one known mistake (:data:`KNOWN`), or with a given ``mask`` tensor
    (a student's own ``query_mask``)."""
    n_s, n_q = len(xs), len(xq)
    z = apply(model, phi, "body", torch.cat([xs, xq]))
    labels = torch.cat([F.one_hot(ys, n_way).to(z.dtype),
                        torch.full((n_q, n_way), 1 / n_way if query_labels == "uniform"
                                   else query_labels, dtype=z.dtype)])
    flags = torch.cat([torch.full((n_s, 1), flag[0]), torch.full((n_q, 1), flag[1])]).to(z.dtype)
    parts = [labels, z, flags] if label_first else [z, labels, flags]
    tokens = apply(model, phi, "token", torch.cat(parts, 1)).unsqueeze(0)
    m = ref.query_mask(n_s, n_q)
    m = mask.to(z.device) if isinstance(mask, torch.Tensor) else \
        {"right": m, "inverted": ~m, "float": m.to(z.dtype), "none": None}[mask]
    out = apply(model, phi, "encoder", tokens, mask=m)[0, n_s:]
    logits = apply(model, phi, "head", out)
    return logits.softmax(-1) if softmax else logits


#: the known mistakes, each an honest objective (the tiers train with the one a student's matches)
KNOWN = {
    "the mask is not passed to the encoder: every token sees every other": dict(mask="none"),
    "the mask's convention is inverted (True must mean 'may NOT attend')":
        dict(mask="inverted"),
    "the bool mask was turned into numbers: a float mask is *added* to the attention scores "
    "(1.0 does not block anything)": dict(mask="float"),
    "the token's parts are in the wrong order: [embedding ⊕ one-hot label ⊕ query flag]":
        dict(label_first=True),
    "the query flag is the wrong way round: 0 for the supports, 1 for the queries":
        dict(flag=(1.0, 0.0)),
    "there is no query flag (the flag feature is 0 for every token)": dict(flag=(0.0, 0.0)),
    "the queries' label slots must be zeros (the query's label is what is asked)":
        dict(query_labels="uniform"),
    "the softmax is returned: return the logits (the loss applies the softmax)":
        dict(softmax=True)}


def _known(got: torch.Tensor, model, phi, xs, ys, xq) -> str | None:
    with torch.no_grad():
        for cause, kw in KNOWN.items():
            if _same(got, variant_logits(model, phi, xs, ys, xq, **kw).double()):
                return cause
    return None


def check_incontext_logits(incontext_logits, seed: int = 0) -> None:
    """The logits and their vector-Jacobian product w.r.t. φ against the judge's, then the
    properties."""
    s = Student.of(incontext_logits, "incontext_logits")
    model, phi, xs, ys, xq = task_of(seed)
    gen = torch.Generator().manual_seed(seed + 9)
    v = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    v = v - v.mean(-1, keepdim=True)  # blind to a constant per row (log-softmax accepted)
    got, probes = _ask(s, phi, xs, ys, xq, probes=[{"name": "vjp", "kind": "vjp", "v": v}])
    want = ref.incontext_logits(model, phi, xs, ys, xq, 3)
    if not _same(got, want.detach()):
        said = _property(s, got, phi, xs, ys, xq)
        cause = _known(got, model, phi, xs, ys, xq)
        fail("incontext_logits is wrong: " + (said or "") + (" — precisely, " if said and cause
             else "") + (cause or "") + ("" if said or cause else
             f"got {got.numpy().round(4).tolist()}, not {want.detach().numpy().round(4).tolist()}"
             " on a 3-way 2-shot task") + ".")
    grads = probes.get("vjp", {}).get("grads", {})
    want_g = dict(zip(phi, torch.autograd.grad((want * v).sum(), list(phi.values()),
                                               allow_unused=True)))
    for name, w in want_g.items():
        g = grads.get(name)
        if w is not None and w.abs().max() > 0 and (g is None or not torch.allclose(
                g.double(), w, rtol=1e-6, atol=1e-10)):
            part = name.split(".")[0]
            fail(f"incontext_logits has the right values but not the right gradient w.r.t. φ's "
                 f"'{part}' parameters ({name}): φ is meta-trained through the logits, so keep "
                 "every part in the graph (no .detach(), .item(), torch.no_grad()).")
