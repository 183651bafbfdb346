"""Self-checks of the second assignment (Meta-SGD and prototypical networks): instant, specific
feedback that does not reveal the solution.

As in :mod:`hwlib.selfcheck`, each function runs *your* code on a small example and prints
``✓ ...`` or raises an ``AssertionError`` that says what looks wrong and where to look.  The
checks use properties of the mathematics, never a hidden answer: θ̂ = φ when α = 0; changing
one element of α moves only that element of θ̂; your meta-gradient (w.r.t. φ *and* α) against
finite differences of your own meta-loss on the tiny float64 sine problem; prototypes that do
not depend on the order of the support set; logits that are 0 at a prototype; a loss that
decreases along its own negative gradient.  The graded tests are stricter.

Gradients are taken here only of your own functions' outputs (``.backward()`` on fresh leaves),
to compare them with finite differences.
"""

from __future__ import annotations

from typing import Callable, Mapping

import torch

from .models import Conv4, Params, init_params, split_body_head, task_loss
from .sinusoid import tiny_sine_problem
from .tasks import TaskBatch


def _ok(message: str) -> None:
    print(f"✓ {message}")


def _leaves(params: Mapping[str, torch.Tensor]) -> Params:
    """Fresh leaf copies that require grad (their ``.grad`` starts empty)."""
    return {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}


def _gradient(loss: torch.Tensor, *dicts: Params) -> list[Params]:
    """∂loss/∂ every leaf of ``dicts`` (zeros where the loss does not depend on it)."""
    loss.backward()
    return [{k: torch.zeros_like(v) if v.grad is None else v.grad.detach() for k, v in d.items()}
            for d in dicts]


def _dot(a: Params, b: Params) -> float:
    return sum((a[k] * b[k]).sum().item() for k in a)


def _is_params(out: object, like: Mapping[str, torch.Tensor], what: str) -> None:
    assert isinstance(out, dict), f"{what} must return a dict name -> tensor, got {type(out).__name__}"
    assert set(out) == set(like), f"{what} returned the keys {sorted(out)}, expected {sorted(like)}"
    wrong = [k for k in like if not isinstance(out[k], torch.Tensor) or out[k].shape != like[k].shape]
    assert not wrong, f"{what}: wrong shape (or not a tensor) for {wrong[:3]}: θ̂ has φ's shapes"


def _scalar(loss: object, what: str) -> torch.Tensor:
    assert isinstance(loss, torch.Tensor) and loss.dim() == 0, (
        f"{what} must return a scalar tensor, got {type(loss).__name__} "
        f"{tuple(getattr(loss, 'shape', ()))}")
    assert torch.isfinite(loss), f"{what} returned {loss.item()}"
    assert loss.requires_grad, f"{what}'s loss has no graph back to its parameters (detached?)"
    return loss


def _rates(phi: Params, low: float = 0.02, high: float = 0.1, seed: int = 0) -> Params:
    """A different learning rate for every element of φ, in [low, high]."""
    gen = torch.Generator().manual_seed(seed)
    return {k: (low + (high - low) * torch.rand(v.shape, generator=gen, dtype=v.dtype))
            for k, v in phi.items()}


# ------------------------------------------------------------------------------- Meta-SGD


def check_metasgd_inner_update(metasgd_inner_update: Callable) -> None:
    """Your Meta-SGD step on the tiny sine problem: shapes, α = 0, one α element at a time, the
    sign of the step, and a graph back to φ (through the gradient) and to α."""
    model, phi, batch = tiny_sine_problem(tasks=1, seed=2, hidden=5, q_query=4)
    x, y = batch.x_support[0], batch.y_support[0]
    alphas = _rates(phi)
    out = metasgd_inner_update(model, phi, alphas, x, y)
    _is_params(out, phi, "metasgd_inner_update")

    zero = metasgd_inner_update(model, phi, {k: torch.zeros_like(v) for k, v in alphas.items()}, x, y)
    moved = [k for k in phi if not torch.allclose(zero[k].detach(), phi[k].detach(), atol=1e-12)]
    assert not moved, (f"with α = 0 everywhere θ̂ must equal φ, but {moved[:3]} moved: every "
                       "change of θ̂ must be scaled by its own α")

    step = {k: (phi[k] - out[k]).detach() for k in phi}  # α ⊙ (your step direction)
    name = max(phi, key=lambda k: step[k].abs().max().item() if phi[k].numel() > 1 else -1.0)
    index = int(step[name].abs().argmax())
    bumped = {k: v.clone() for k, v in alphas.items()}
    bumped[name].view(-1)[index] *= 2  # double the rate of one element only
    out2 = metasgd_inner_update(model, phi, bumped, x, y)
    diff = {k: (out2[k] - out[k]).detach() for k in phi}
    others = sum(int((d.abs() > 1e-12).sum()) for d in diff.values()) - int(
        diff[name].view(-1)[index].abs() > 1e-12)
    assert others == 0, (
        f"doubling the learning rate of ONE element of '{name}' changed {others} other entries of "
        "θ̂: α must multiply the gradient element by element (α ⊙ ∇θ l), one rate per parameter "
        "(no sum, mean or norm of α)")
    expected, got = -step[name].view(-1)[index].item(), diff[name].view(-1)[index].item()
    assert abs(got - expected) <= 1e-9 * max(1.0, abs(expected)), (
        f"doubling that element's α should double its step ({-expected:.3g} → {-2 * expected:.3g}), "
        f"but the entry moved by {got:.3g} instead of {expected:.3g}: θ̂ − φ must be proportional to α")

    small = {k: torch.full_like(v, 1e-3) for k, v in phi.items()}
    before = task_loss(model, phi, x, y).item()
    after = task_loss(model, metasgd_inner_update(model, phi, small, x, y), x, y).item()
    assert after < before, (f"a small step (α = 0.001 everywhere) raised the support loss "
                            f"({before:.6f} → {after:.6f}): check the sign of the step")

    # a loss at θ̂ must reach back to α, and to φ through the gradient (create_graph=True)
    leaf_phi, leaf_alpha = _leaves(phi), _leaves(alphas)
    q = lambda p, a: task_loss(model, metasgd_inner_update(model, p, a, x, y),
                               batch.x_query[0], batch.y_query[0])
    grad_phi, grad_alpha = _gradient(q(leaf_phi, leaf_alpha), leaf_phi, leaf_alpha)
    assert any(g.abs().max() > 0 for g in grad_alpha.values()), (
        "θ̂ has no graph back to α: use the alphas you were given as tensors (no .item(), "
        ".detach() or float())")
    torch.manual_seed(0)
    d = {k: torch.randn_like(v) for k, v in phi.items()}
    eps = 1e-6
    numeric = (q(_leaves({k: phi[k] + eps * d[k] for k in phi}), alphas).item()
               - q(_leaves({k: phi[k] - eps * d[k] for k in phi}), alphas).item()) / (2 * eps)
    analytic = _dot(grad_phi, d)
    assert abs(analytic - numeric) <= 1e-5 * max(1.0, abs(numeric)), (
        f"the gradient of a loss at θ̂ w.r.t. φ disagrees with finite differences ({analytic:.6f} vs "
        f"{numeric:.6f}): with create_graph=True (the default) the path through ∇φ l(φ) must be "
        "kept — pass create_graph on to torch.autograd.grad")
    _ok(f"metasgd_inner_update: θ̂ = φ when α = 0, one rate per element ('{name}'), a descent "
        "step, differentiable w.r.t. φ and α")


def check_metasgd_meta_loss(metasgd_meta_loss: Callable) -> None:
    """Your Meta-SGD meta-loss on the tiny float64 sine problem: its value when α = 0, `steps`,
    and its gradient w.r.t. φ AND α against finite differences of your own meta-loss."""
    model, phi, batch = tiny_sine_problem(tasks=2, seed=1, hidden=5, q_query=4)
    alphas = _rates(phi, seed=1)
    loss = _scalar(metasgd_meta_loss(model, phi, alphas, batch), "metasgd_meta_loss")

    zero = metasgd_meta_loss(model, phi, {k: torch.zeros_like(v) for k, v in alphas.items()}, batch)
    at_phi = sum(task_loss(model, phi, t.x_query, t.y_query).item() for t in batch) / len(batch)
    assert abs(zero.item() - at_phi) <= 1e-9 * max(1.0, at_phi), (
        f"with α = 0 nothing adapts (θ̂ = φ), so the meta-loss should be the query loss at φ averaged "
        f"over the tasks ({at_phi:.6f}); yours is {zero.item():.6f}. Score θ̂ on each task's QUERY "
        "set, and average (not sum) over the tasks")
    two = metasgd_meta_loss(model, phi, alphas, batch, 2)
    assert abs(two.item() - loss.item()) > 1e-9, (
        "steps=2 gives the same meta-loss as steps=1: take `steps` inner updates from φ")

    leaf_phi, leaf_alpha = _leaves(phi), _leaves(alphas)
    grad_phi, grad_alpha = _gradient(metasgd_meta_loss(model, leaf_phi, leaf_alpha, batch),
                                     leaf_phi, leaf_alpha)
    assert any(g.abs().max() > 0 for g in grad_alpha.values()), (
        "your meta-loss has no gradient w.r.t. α: θ̂ must be built from the alphas you were given "
        "(not a constant, not detached), so that the outer loop can learn them")
    torch.manual_seed(0)
    d_phi = {k: torch.randn_like(v) for k, v in phi.items()}
    d_alpha = {k: 0.01 * torch.randn_like(v) for k, v in alphas.items()}
    eps = 1e-6

    def along(dp: Params | None, da: Params | None) -> float:
        def at(s: float) -> float:
            p = _leaves({k: phi[k] + (0 if dp is None else s * eps * dp[k]) for k in phi})
            a = {k: alphas[k] + (0 if da is None else s * eps * da[k]) for k in alphas}
            return metasgd_meta_loss(model, p, a, batch).item()
        return (at(1.0) - at(-1.0)) / (2 * eps)

    for what, analytic, numeric, hint in [
            ("φ", _dot(grad_phi, d_phi), along(d_phi, None),
             "did you build the graph through the inner loop (create_graph=True), so that "
             "∂θ̂/∂φ = I − diag(α) ∇²l^s(φ) is part of it?"),
            ("α", _dot(grad_alpha, d_alpha), along(None, d_alpha),
             "θ̂ must depend on α only through α ⊙ ∇l^s, so that ∂θ̂/∂α = −∇l^s element by element")]:
        assert abs(analytic - numeric) <= 1e-4 * max(1e-3, abs(numeric)), (
            f"your meta-gradient w.r.t. {what} disagrees with a finite-difference estimate of your "
            f"own meta-loss (directional derivative {analytic:.6g} vs {numeric:.6g}) — {hint}")
    _ok("metasgd_meta_loss: the query loss at φ when α = 0, uses `steps`, and its gradients "
        "w.r.t. φ and α match finite differences of your meta-loss")


# ---------------------------------------------------------------------- prototypical networks


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
