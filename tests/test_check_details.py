"""Checks particular to one graded function (the shared, parametrised ones: tests/test_checks.py):
wrong types are reported, each function is graded alone (a broken helper costs its own test
only), a ReLU switch near φ does not fail a correct MAML, ProtoNet's true gradient is what
finite differences measure."""

from __future__ import annotations

import pytest
import torch

from autograder.assignments import assignment_named
from autograder.checks import CheckFailed

FIRST, SECOND = assignment_named("metalearning"), assignment_named("metasgd_protonet")
SEEDS = (0, 5)


def test_wrong_types_are_reported_first_assignment():
    with pytest.raises(CheckFailed, match="must return a dict"):
        FIRST.checks.check_inner_update(lambda *a, **k: [1, 2])
    with pytest.raises(CheckFailed, match="scalar tensor"):
        FIRST.checks.check_maml_meta_loss(lambda *a, **k: 1.0)
    with pytest.raises(CheckFailed, match="raised ZeroDivisionError"):
        FIRST.checks.check_anil_adapt(lambda *a, **k: 1 / 0)


def test_each_function_is_graded_alone_first_assignment():
    """A wrong inner_update costs its own test only: MAML, FOMAML and Reptile are checked with
    the reference inner step, and the student's namespace is restored afterwards."""
    (wrong_sign,) = [m for m in FIRST.catalogue.MUTANTS if m.name == "inner-step-wrong-sign"]
    namespace = FIRST.catalogue.mutated_namespace(wrong_sign)
    broken = namespace["inner_update"]
    with pytest.raises(CheckFailed, match="wrong sign"):
        FIRST.checks.check_inner_update(broken)
    for name in ("maml_meta_loss", "fomaml_meta_loss", "reptile_meta_gradient"):
        getattr(FIRST.checks, f"check_{name}")(namespace[name])
        assert namespace["inner_update"] is broken


def test_a_relu_switch_near_phi_does_not_fail_a_correct_answer():
    """Grading seed 137966111 put a hidden unit's switch within ε of φ: the finite differences
    of MAML's meta-loss measured a jump (off by 2e3) and the reference solution lost
    test_maml_gradient.  The judge now uses the exact derivative there."""
    from autograder.checks.common import finite_difference, grading_alpha, leaf, true_gradient
    from hwlib import tiny_sine_problem

    seed = 137966111
    model, phi, batch = tiny_sine_problem(seed=seed)
    alpha = grading_alpha(seed)
    f = lambda p: FIRST.part("answers").maml_meta_loss(model, p, batch, alpha)  # noqa: E731
    fd = finite_difference(lambda p: f(leaf(p)), phi)
    at = leaf(phi)
    exact = dict(zip(phi, torch.autograd.grad(f(at), list(at.values()))))
    assert max((fd[k] - exact[k]).abs().max().item() for k in phi) > 1  # the jump is there
    want = true_gradient(f, phi)
    assert all(torch.equal(want[k], exact[k]) for k in phi)
    FIRST.checks.check_maml_meta_loss(FIRST.part("answers").maml_meta_loss, seed=seed)  # full marks


def test_each_function_is_graded_alone_second_assignment():
    """A wrong helper costs its own test only: the meta-losses are checked with the reference
    helpers lent, and the student's namespace is restored afterwards."""
    by_name = {m.name: m for m in SECOND.catalogue.MUTANTS}
    for mutant, graded in (("metasgd-inner-wrong-sign", ("metasgd_meta_loss",)),
                           ("prototypes-summed", ("protonet_loss",)),
                           ("logits-wrong-sign", ("protonet_loss",))):
        namespace = SECOND.catalogue.mutated_namespace(by_name[mutant])
        broken = namespace[by_name[mutant].function]
        for name in graded:
            getattr(SECOND.checks, f"check_{name}")(namespace[name])
            assert namespace[by_name[mutant].function] is broken


@pytest.mark.parametrize("seed", SEEDS)
def test_the_true_protonet_gradient_is_what_finite_differences_measure(seed):
    """check_protonet_loss compares with the reference's exact float64 gradient: along random
    directions v, central finite differences of the loss agree with ⟨∇φ, v⟩."""
    from autograder.assignments.metasgd_protonet.protonet import expected_loss

    model, body, batch, value, grad = expected_loss(seed)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(3):
        v = {k: torch.randn(p.shape, generator=gen, dtype=p.dtype) for k, p in body.items()}
        f = lambda s: SECOND.part("answers").protonet_loss(  # noqa: E731
            model, {k: p.detach() + s * v[k] for k, p in body.items()}, batch).item()
        slope = sum((grad[k] * v[k]).sum() for k in v).item()
        assert abs((f(1e-6) - f(-1e-6)) / 2e-6 - slope) <= 1e-5 * max(1.0, abs(slope))
    assert abs(value - SECOND.part("answers").protonet_loss(model, body, batch).item()) < 1e-12


def test_wrong_types_are_reported_second_assignment():
    with pytest.raises(CheckFailed, match="must return a dict"):
        SECOND.checks.check_metasgd_inner_update(lambda *a, **k: [1, 2])
    with pytest.raises(CheckFailed, match="scalar tensor"):
        SECOND.checks.check_metasgd_meta_loss(lambda *a, **k: 1.0)
    with pytest.raises(CheckFailed, match="must return a tensor"):
        SECOND.checks.check_prototypes(lambda *a, **k: [0.0])
    with pytest.raises(CheckFailed, match="wrong shape"):
        SECOND.checks.check_protonet_logits(lambda q, c: q)
    with pytest.raises(CheckFailed, match="raised ZeroDivisionError"):
        SECOND.checks.check_protonet_loss(lambda *a, **k: 1 / 0)


def test_the_judge_compares_with_the_exact_derivative_and_refuses_a_wrong_reference():
    """true_gradient returns the reference's exact derivative (confirmed by finite differences),
    so a correct answer is never judged against the differences' own error; a reference whose
    derivative disagrees with a smooth slope is a JudgeError (a grader error, never a grade)."""
    from autograder.checks.common import finite_difference, leaf, true_gradient
    from autograder.checks.student import JudgeError

    phi = {"w": torch.tensor([0.3, -1.2, 2.0], dtype=torch.float64)}
    f = lambda p: (p["w"].sin() * p["w"]).sum()  # noqa: E731
    exact = true_gradient(f, phi)
    at = leaf(phi)
    assert torch.equal(exact["w"], torch.autograd.grad(f(at), at["w"])[0])
    assert not torch.equal(exact["w"], finite_difference(lambda p: f(leaf(p)), phi)["w"])

    class Doubled(torch.autograd.Function):  # a reference with a wrong backward
        @staticmethod
        def forward(ctx, w):
            ctx.save_for_backward(w)
            return (w ** 2).sum()

        @staticmethod
        def backward(ctx, g):
            (w,) = ctx.saved_tensors
            return g * 4 * w

    with pytest.raises(JudgeError, match="finite differences"):
        true_gradient(lambda p: Doubled.apply(p["w"]), phi)


@pytest.mark.parametrize("seed", (0, 5, 22))
def test_the_example_weights_hypergradient_is_what_finite_differences_measure(seed):
    """The judge's closed form −lr ∇L_val(θ̂)·∇l_i(θ) (at ε = 0 and at ε = 1) equals central
    differences in ε wherever they measure a slope (steps h and h/10 agree); seed 22 holds a
    ReLU kink within the step for one example, where the differences are wrong, not the form."""
    from autograder.assignments.hypergradients.sample_weights import _loss, batch_of, hypergradient

    model, theta, x, y, x_val, y_val, lr = batch_of(seed)

    def differences(at: float, h: float) -> torch.Tensor:
        def val(eps):
            th = {k: v.detach().requires_grad_(True) for k, v in theta.items()}
            grads = torch.autograd.grad((eps * _loss(model, th, x, y, "none")).sum(),
                                        list(th.values()))
            moved = {k: v.detach() - lr * g for (k, v), g in zip(th.items(), grads)}
            return _loss(model, moved, x_val, y_val).item()
        out = []
        for i in range(len(y)):
            e = torch.zeros(len(y), dtype=torch.float64)
            e[i] = h
            base = torch.full((len(y),), at, dtype=torch.float64)
            out.append((val(base + e) - val(base - e)) / (2 * h))
        return torch.tensor(out, dtype=torch.float64)

    for at in (0.0, 1.0):
        form = hypergradient(model, theta, x, y, x_val, y_val, lr, at=at)
        coarse, fine = differences(at, 1e-5), differences(at, 1e-6)
        smooth = (coarse - fine).abs() <= 1e-6 * (1 + fine.abs())
        assert smooth.sum() >= len(y) // 2
        assert torch.allclose(form[smooth], fine[smooth], rtol=1e-5, atol=1e-8), (form, fine)
