"""The judge's accuracy run (φ trained in the judge with the meta-gradients a student's
function returns) and the calibration built on it (synthetic data, tiny sizes)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from autograder.assignments.metalearning.calibrate import calibrate
from autograder.checks import CheckFailed, Student
from autograder.assignments.metalearning.tiers import (check_accuracy_tier, student_meta_gradient, tier_results,
                                        train_and_evaluate)
from autograder.assignments import TierBudget
from autograder.assignments.metalearning import tiers as maml_tiers
from autograder.assignments.metasgd_protonet import tiers as protonet_tiers
from autograder.reference import maml_meta_loss
from conftest import shrink_tiers
from hwlib.profiles import PROFILES

TINY = dataclasses.replace(PROFILES["tiny"], test_tasks=10)


@pytest.fixture(autouse=True)
def small_tiers(monkeypatch):
    shrink_tiers(monkeypatch, maml_steps=6)


@pytest.fixture
def synthetic_env(synthetic_root, monkeypatch):
    monkeypatch.setenv("OMNIGLOT_ROOT", str(synthetic_root))


def _student(fn, profile):
    s = Student.of(fn, "maml_meta_loss")
    return lambda device, model: student_meta_gradient(s, device, model)


def test_curve_points_equal_runs_with_that_budget_alone(synthetic_env):
    curve = train_and_evaluate(None, TINY, curve=[3, 6], make=_student(maml_meta_loss, TINY))
    six = maml_tiers.BUDGETS["tiny"]
    maml_tiers.BUDGETS["tiny"] = dataclasses.replace(six, steps=3)
    alone = train_and_evaluate(None, TINY, make=_student(maml_meta_loss, TINY))
    maml_tiers.BUDGETS["tiny"] = six
    assert set(curve) == {3, 6}
    assert torch.equal(curve[3].accuracies, alone.accuracies)
    full = train_and_evaluate(None, TINY, make=_student(maml_meta_loss, TINY))
    assert torch.equal(curve[6].accuracies, full.accuracies)


def test_a_meta_gradient_that_is_not_mamls_fails_every_tier(synthetic_env):
    """Zero, pasted or unrelated meta-gradients are caught: every step is verified."""
    def zero(model, phi, batch, alpha, steps=1):
        return 0 * sum(p.sum() for p in phi.values())

    def towards_pasted_weights(model, phi, batch, alpha, steps=1):
        return sum(((p - 0.01) ** 2).sum() for p in phi.values())

    for fn in (zero, towards_pasted_weights):
        result = tier_results(fn, TINY, seed=1)
        assert isinstance(result, str) and "neither MAML's" in result, result
        with pytest.raises(CheckFailed, match="neither MAML's"):
            check_accuracy_tier(1, result, profile=TINY)


def test_calibrate_reports_every_run_and_both_verdicts(synthetic_env, monkeypatch):
    monkeypatch.setitem(PROFILES, "tiny", TINY)
    report = calibrate("tiny", seeds=[0, 1], curve=[3])
    assert [(r["method"], r["seed"]) for r in report["runs"]] == \
        [("maml", 0), ("maml", 1), ("pretrain", 0), ("pretrain", 1)]
    assert all(set(r["curve"]) == {3, 6} and 0 <= r["accuracy"] <= 1 for r in report["runs"])
    maml = min(r["accuracy"] for r in report["runs"] if r["method"] == "maml")
    assert report["reference_reaches_every_tier"] == (maml >= maml_tiers.BUDGETS["tiny"].tiers[-1] + 0.01)
    controls = report["controls"]
    assert controls["zero_meta_gradient_fails_tier1"] and "neither MAML's" in controls["zero_meta_gradient"]
    assert 0 <= controls["phi_never_moves_accuracy"] <= 1


def test_honest_but_wrong_meta_gradients_are_graded_by_their_accuracy(synthetic_env):
    """Verification stops fabricated meta-gradients, not honest bugs: a first-order or summed
    MAML (which lose test_maml_gradient) still train φ — with the judge's own gradient of the
    variant they compute — and are scored on its accuracy."""
    from autograder.reference import fomaml_meta_loss

    def summed(model, phi, batch, alpha, steps=1):
        return maml_meta_loss(model, phi, batch, alpha, steps) * len(batch)

    for fn, variant in ((fomaml_meta_loss, "first-order MAML"), (summed, "MAML")):
        result = tier_results(fn, TINY, seed=1)
        assert not isinstance(result, str), result
        assert result.variant == variant


@pytest.mark.parametrize("assignment, method, algorithm", [
    ("metasgd_protonet", "protonet", "ProtoNet"),
    ("hypergradients", "incontext", "the in-context learner")])
def test_verified_calibration_and_its_controls(synthetic_env, monkeypatch, assignment, method,
                                               algorithm):
    """The second and third assignments' tiers: the reference trained through the grading
    path, a φ that never moves and a zero gradient (refused by the verification)."""
    from autograder.assignments import assignment_named

    monkeypatch.setitem(PROFILES, "tiny", TINY)
    calibrate_verified = assignment_named(assignment).calibration.calibrate
    report = calibrate_verified("tiny", seeds=[0])
    assert [(r["method"], r["seed"]) for r in report["runs"]] == [(method, 0)]
    assert 0 <= report["runs"][0]["accuracy"] <= 1
    c = report["controls"]
    assert c["zero_gradient_fails_tier1"] and f"neither {algorithm}'s" in c["zero_gradient"]
    assert 0 <= c["phi_never_moves_accuracy"] <= 1


def test_protonet_tiers_grade_the_students_own_loss(synthetic_env, monkeypatch):
    from autograder.assignments.metasgd_protonet.checks import check_protonet_tier
    from autograder.assignments.metasgd_protonet.tiers import protonet_tier_results
    from autograder.assignments.metasgd_protonet.answers import protonet_loss

    monkeypatch.setitem(protonet_tiers.BUDGETS, "tiny", TierBudget(4, 2, (0.0, 0.0, 1.01), 5, 2))
    tiny = TINY
    result = protonet_tier_results(protonet_loss, tiny, seed=3)
    assert not isinstance(result, str), result
    check_protonet_tier(1, result, profile=tiny)
    with pytest.raises(CheckFailed, match="tier 3 needs 101%"):
        check_protonet_tier(3, result, profile=tiny)

    def broken(model, phi, batch):
        raise RuntimeError("my loss is broken")
    failed = protonet_tier_results(broken, tiny, seed=3)
    assert "my loss is broken" in failed and "meta-step 1" in failed


def test_incontext_tiers_grade_the_students_own_logits(synthetic_env, monkeypatch):
    from autograder.assignments.hypergradients import tiers as incontext_tiers
    from autograder.assignments.hypergradients.answers import incontext_logits

    monkeypatch.setitem(incontext_tiers.BUDGETS, "tiny", TierBudget(4, 2, (0.0, 0.0, 1.01),
                                                                    q_query=2))
    result = incontext_tiers.incontext_tier_results(incontext_logits, TINY, seed=3)
    assert not isinstance(result, str), result
    incontext_tiers.check_incontext_tier(1, result, profile=TINY)
    with pytest.raises(CheckFailed, match="tier 3 needs 101%"):
        incontext_tiers.check_incontext_tier(3, result, profile=TINY)

    def broken(model, phi, xs, ys, xq, n_way):
        raise RuntimeError("my transformer is broken")
    failed = incontext_tiers.incontext_tier_results(broken, TINY, seed=3)
    assert "my transformer is broken" in failed and "meta-step 1" in failed
