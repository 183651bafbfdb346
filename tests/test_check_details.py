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
