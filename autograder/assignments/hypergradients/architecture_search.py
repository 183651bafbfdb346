"""Hidden checks of Part 3, a searched architecture (DARTS): ``mixed_op`` and
``architecture_gradient``.

``mixed_op`` on random candidates and α (float64): the value Σ_o softmax(α)_o c_o, diagnosed by
the properties every correct answer has (a constant added to α changes nothing, equal
candidates give that candidate back, a dominant α_o selects c_o, the output follows α).

``architecture_gradient`` in float64 on a tiny :class:`~hwlib.darts.SearchNet` (2 edges, 2
channels, 8×8 images): first order against ∇_α L_val(w, α), second order against **central
finite differences** of the true bilevel objective α ↦ L_val(w − ξ∇_w L_train(w, α), α) — so
the second-order term is detected.  The answer must be exact (autograd through the virtual step,
or eq. 7's Hessian-vector product by autograd): the paper's finite-difference approximation of
that product (its eq. 8, ε = 0.01/‖v‖) was measured off by 11–360% of the gradient on 6 of 8 of
these small ReLU/max-pool networks, as much as the second-order term itself.  A wrong answer is named by properties (each edge's row sums
to 0, both orders agree at ξ = 0, the result changes with the validation set) before the known
mistakes.  The student's function runs their own ``mixed_op`` (inside the network's forward),
so ``mixed_op`` must be right first: the check says so instead of grading it with a wrong one.
"""

from __future__ import annotations

import torch

from autograder.assignments.hypergradients import answers as ref
from autograder.checks.common import fail
from autograder.checks.student import MODEL, P, Student
from hwlib.darts import OPS, SearchNet, search_loss
from hwlib.models import init_params

NET = {"n_way": 3, "channels": 2, "edges": 2, "image_size": 8}
SPEC = {"kind": "hwlib.darts.SearchNet", "kwargs": NET, "dtype": "float64"}
MIX = "Σ_o softmax(α)_o · candidates[o]"


def _mix_inputs(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(len(OPS), 3, 2, 5, generator=gen, dtype=torch.float64),
            torch.randn(len(OPS), generator=gen, dtype=torch.float64))


def _ask_mix(s: Student, c: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    call = s.call("mixed_op", {}, c, a)
    if call.error:
        fail(call.error)
    out = call.value
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != tuple(c.shape[1:]):
        got = list(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        fail(f"mixed_op must return one operation's output shape {list(c.shape[1:])} (the "
             f"candidates without their first dimension), got {got}.")
    return out.double()


def _mix_property(s: Student, out, c, a) -> str | None:
    if torch.allclose(_ask_mix(s, c, a * 0 + a[0]), c.mean(0), atol=1e-9) and \
            torch.allclose(out, c.mean(0), atol=1e-9):
        return "the output does not depend on α: weight each candidate by softmax(α)_o"
    if not torch.allclose(_ask_mix(s, c, a + 3.0), out, atol=1e-9):
        return ("adding the same constant to every α_o changes the output: the weights are "
                "softmax(α), which a shift leaves unchanged")
    same = c[:1].expand_as(c).clone()
    if not torch.allclose(_ask_mix(s, same, a), same[0], atol=1e-9):
        return ("when every candidate is the same tensor c the output must be c: the weights "
                "are a distribution over the operations (non-negative, summing to 1)")
    big = torch.zeros_like(a)
    big[2] = 40.0
    if not torch.allclose(_ask_mix(s, c, big), c[2], atol=1e-6):
        return ("with α_2 far above the others the output must be candidates[2]: weight o "
                "belongs to operation o (softmax over α's one dimension)")
    return None


def check_mixed_op(mixed_op, seed: int = 0) -> None:
    """The mixture against the reference, then the properties."""
    s = Student.of(mixed_op, "mixed_op")
    c, a = _mix_inputs(seed)
    out = _ask_mix(s, c, a)
    want = ref.mixed_op(c, a)
    if torch.allclose(out, want, rtol=1e-7, atol=1e-10):
        return
    said = _mix_property(s, out, c, a)
    fail(f"mixed_op is wrong ({MIX}): " + (said or f"off by up to "
         f"{(out - want).abs().max().item():.3g} on random candidates") + ".")


def problem_of(seed: int):
    """The tiny network, w, α, a training and a validation batch (6 images each), and ξ."""
    gen = torch.Generator().manual_seed(seed)
    model = SearchNet(**NET).double()
    w = init_params(model, seed)
    w = {k: v.double() for k, v in w.items()}
    alpha = 0.5 * torch.randn(NET["edges"], len(OPS), generator=gen, dtype=torch.float64)
    x, x_val = (torch.rand(6, 1, 8, 8, generator=gen, dtype=torch.float64) for _ in range(2))
    y, y_val = (torch.randint(0, 3, (6,), generator=gen) for _ in range(2))
    return model, w, alpha, x, y, x_val, y_val, 0.3 + 0.1 * (seed % 3)


def objective(model, w, alpha, x, y, x_val, y_val, xi: float, sign: float = 1.0,
              virtual_on: str = "train") -> torch.Tensor:
    """L_val(w − ξ∇_w L_train(w, α), α) — the bilevel objective DARTS's α descends."""
    w = {k: v.detach().requires_grad_(True) for k, v in w.items()}
    xs, ys = (x, y) if virtual_on == "train" else (x_val, y_val)
    g = torch.autograd.grad(search_loss(model, w, alpha, xs, ys, ref.mixed_op), list(w.values()))
    moved = {k: v - sign * xi * d for (k, v), d in zip(w.items(), g)}
    return search_loss(model, moved, alpha, x_val, y_val, ref.mixed_op)


def smooth_problem(seed: int):
    """:func:`problem_of` for the first draw whose objective is smooth around α (ReLU and max
    pooling have kinks: central differences with h and h/10 must agree), with the true second
    order gradient by finite differences — the draws are fixed by ``seed``."""
    for draw in range(seed, seed + 1000 * 8, 1000):
        model, w, alpha, x, y, x_val, y_val, xi = problem_of(draw)
        f = lambda a: objective(model, w, a, x, y, x_val, y_val, xi)  # noqa: E731
        exact, finer = finite_difference(f, alpha, 1e-5), finite_difference(f, alpha, 1e-6)
        if (exact - finer).abs().max() <= 1e-8 + 1e-6 * exact.abs().max():
            return model, w, alpha, x, y, x_val, y_val, xi, exact
    raise RuntimeError("no smooth problem found")  # never seen: each draw is smooth w.p. ~7/8


def finite_difference(f, alpha: torch.Tensor, h: float = 1e-5) -> torch.Tensor:
    out = torch.zeros_like(alpha)
    for i in range(alpha.numel()):
        e = torch.zeros_like(alpha).view(-1)
        e[i] = h
        e = e.view_as(alpha)
        out.view(-1)[i] = (f(alpha + e) - f(alpha - e)).item() / (2 * h)
    return out


def _partial(model, w, alpha, x, y, x_val, y_val, xi: float, train_loss: bool = False):
    """∂/∂α of L(w', α) with w' held fixed (L_val, or L_train with ``train_loss``)."""
    a = alpha.detach().requires_grad_(True)
    w0 = {k: v.detach().requires_grad_(True) for k, v in w.items()}
    if xi:
        g = torch.autograd.grad(search_loss(model, w0, alpha, x, y, ref.mixed_op), list(w0.values()))
        w0 = {k: (v - xi * d).detach() for (k, v), d in zip(w0.items(), g)}
    xs, ys = (x, y) if train_loss else (x_val, y_val)
    g, = torch.autograd.grad(search_loss(model, w0, a, xs, ys, ref.mixed_op), a)
    return g


def _call(s: Student, w, alpha, x, y, x_val, y_val, xi: float, second: bool):
    return s.call("architecture_gradient", SPEC, MODEL, P(w), alpha.clone(), x, y, x_val, y_val,
                  xi, second)


def _returned(call, alpha: torch.Tensor) -> torch.Tensor:
    """The call's gradient, or a failure saying what is wrong with what came back."""
    if call.error:
        fail(call.error)
    g = call.value
    if not isinstance(g, torch.Tensor) or tuple(g.shape) != tuple(alpha.shape):
        got = list(g.shape) if isinstance(g, torch.Tensor) else type(g).__name__
        fail(f"architecture_gradient must return a gradient shaped like α, "
             f"{list(alpha.shape)}, got {got}.")
    if not torch.isfinite(g).all():
        fail("architecture_gradient returned NaN or ∞.")
    return g.detach().double()


def _ask(s: Student, w, alpha, x, y, x_val, y_val, xi: float, second: bool) -> torch.Tensor:
    return _returned(_call(s, w, alpha, x, y, x_val, y_val, xi, second), alpha)


def _mixed_op_first(s: Student, seed: int) -> None:
    """The network runs the student's own ``mixed_op``: it must be right first."""
    c, a = _mix_inputs(seed + 1)
    call = s.call("mixed_op", {}, c, a)
    if call.error is None and isinstance(call.value, torch.Tensor) and \
            call.value.shape == c.shape[1:] and \
            torch.allclose(call.value.double(), ref.mixed_op(c, a), rtol=1e-7, atol=1e-10):
        return
    fail("architecture_gradient runs your mixed_op inside the network, and mixed_op is wrong "
         "(see its test): fix mixed_op first, then this check grades architecture_gradient.")


def _property(s: Student, g, second: bool, model, w, alpha, x, y, x_val, y_val, xi) -> str | None:
    rows = g.sum(dim=1).abs().max().item()
    if rows > 1e-6 * max(1.0, g.abs().max().item()):
        return ("a row of the gradient does not sum to 0: the loss depends on α only through "
                "softmax(α_e) (mixed_op), which a constant added to α_e leaves unchanged — "
                "differentiate the loss of the network run with mixed_op, w.r.t. α")
    if second and not torch.allclose(
            _ask(s, w, alpha, x, y, x_val, y_val, 0.0, True),
            _ask(s, w, alpha, x, y, x_val, y_val, 0.0, False), rtol=1e-6, atol=1e-9):
        return ("with ξ = 0 the virtual step does not move w, so the second-order gradient must "
                "equal the first-order one")
    if torch.allclose(_ask(s, w, alpha, x, y, x_val.flip(-1), y_val.roll(1), xi, second), g,
                      atol=1e-9):
        return ("the result does not change with the validation batch: α descends the "
                "validation loss L_val")
    return None


def _known(g, second: bool, model, w, alpha, x, y, x_val, y_val, xi) -> str | None:
    args = (model, w, alpha, x, y, x_val, y_val)
    first = _partial(*args, 0.0)
    families = {"the sign is flipped: return the gradient of L_val (α descends it)": -(
        finite_difference(lambda a: objective(model, w, a, x, y, x_val, y_val, xi), alpha)
        if second else first),
        "it is the gradient of the training loss: α descends the validation loss L_val, "
        "w the training loss": _partial(*args, 0.0, train_loss=True)}
    if second:
        families.update({
            "the second-order term is missing: the virtual step w' = w − ξ∇_w L_train(w, α) "
            "depends on α, and its derivative −ξ ∇²_{α,w} L_train · ∇_{w'} L_val(w', α) must be "
            "added (or differentiate through the step with create_graph=True)": first,
            "only ∂L_val(w', α)/∂α with w' held fixed: the virtual step w' also depends on α "
            "(keep its graph: create_graph=True, no detach)": _partial(*args, xi),
            "the virtual step goes uphill: w' = w − ξ∇_w L_train (minus)": finite_difference(
                lambda a: objective(model, w, a, x, y, x_val, y_val, xi, sign=-1.0), alpha),
            "the virtual step is taken on the validation batch: it is a training step, on "
            "L_train": finite_difference(
                lambda a: objective(model, w, a, x, y, x_val, y_val, xi, virtual_on="val"),
                alpha),
            "the virtual step ignores ξ (a step of 1): w' = w − ξ∇_w L_train": finite_difference(
                lambda a: objective(model, w, a, x, y, x_val, y_val, 1.0), alpha)})
    for cause, want in families.items():
        if torch.allclose(g, want, rtol=1e-3, atol=1e-7):
            return cause
    return None


def check_architecture_gradient(architecture_gradient, seed: int = 0) -> None:
    """First order against autograd, second order against finite differences of the bilevel
    objective; then the properties and the known mistakes."""
    s = architecture_gradient
    if not isinstance(s, Student):  # in the notebook: with the student's own mixed_op
        from autograder.transport.local import LocalClient

        s = Student(LocalClient({"architecture_gradient": architecture_gradient,
                                 "mixed_op": architecture_gradient.__globals__.get("mixed_op")}))
    model, w, alpha, x, y, x_val, y_val, xi, exact = smooth_problem(seed)
    first = _call(s, w, alpha, x, y, x_val, y_val, xi, False)
    if first.error and "not implemented" in first.error:
        fail(first.error)
    _mixed_op_first(s, seed)
    for second in (False, True):
        g = (_ask(s, w, alpha, x, y, x_val, y_val, xi, True) if second
             else _returned(first, alpha))
        want = exact if second else _partial(model, w, alpha, x, y, x_val, y_val, 0.0)
        if (g - want).abs().max() <= 1e-4 * want.abs().max() + 1e-9:
            continue
        order = "second order" if second else "first order"
        said = _property(s, g, second, model, w, alpha, x, y, x_val, y_val, xi)
        cause = _known(g, second, model, w, alpha, x, y, x_val, y_val, xi)
        fail(f"architecture_gradient ({order}) is wrong: " + (said or "") +
             (" — precisely, " if said and cause else "") + (cause or "") +
             ("" if said or cause else f"off by up to {(g - want).abs().max().item():.3g} "
              f"(largest entry {want.abs().max().item():.3g}) against finite differences of "
              "L_val(w − ξ∇_w L_train(w, α), α)") + ".")
