"""Tiers no worker can steer (autograder/checks/verified.py): every meta-gradient that could
move φ is verified against the judge's own, and the judge applies its own.

The attacks are answers a hostile worker could give at every meta-step (``ask``), on synthetic
Omniglot with a small budget: honest on its largest coordinates and steered on the rest,
honest with a scale, switching objective after the first step, NaN, zero, and a gradient the
old spot check (cosine ≥ 0.5) let through.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from autograder.assignments import assignment_named
from autograder.checks import CheckFailed
from autograder.assignments.metalearning.tiers import (ALPHA, maml_candidates, tier_results,
                                        train_and_evaluate)
from autograder.assignments.metasgd_protonet.tiers import protonet_candidates, protonet_tier_results
from autograder.checks.common import require_finite, same_number
from autograder.checks.student import Student
from autograder.checks.verified import MIN_COSINE, VerifiedGradient, cosine
from autograder.transport.local import LocalClient
from autograder.assignments.metasgd_protonet.answers import protonet_loss
from autograder.assignments.hypergradients.answers import incontext_logits
from autograder.assignments.hypergradients.incontext import variant_logits
from autograder.assignments.hypergradients.tiers import incontext_tier_results
from autograder.reference import maml_meta_loss
from conftest import shrink_tiers
from hwlib.profiles import PROFILES

TINY = dataclasses.replace(PROFILES["tiny"], test_tasks=10)


@pytest.fixture(autouse=True)
def small_tiers(monkeypatch):
    shrink_tiers(monkeypatch, maml_steps=5)


@pytest.fixture
def synthetic_env(synthetic_root, monkeypatch):
    monkeypatch.setenv("OMNIGLOT_ROOT", str(synthetic_root))


def _train(answer) -> tuple[object, VerifiedGradient]:
    """Train the tiers' φ with a worker that answers ``answer(honest, φ, batch, step)``."""
    made = []

    def make(device, model):
        candidates = maml_candidates(model)
        honest = candidates["MAML"]

        def ask(phi, batch, step):
            return answer(honest(phi, batch)[0], phi, batch, step, candidates)
        made.append(VerifiedGradient(ask, candidates, "maml_meta_loss"))
        return made[0]

    return train_and_evaluate(None, TINY, make=make), made[0]


def _steered(g: dict, phi: dict, size: float) -> dict:
    """g plus a push of ``size``·‖g‖ toward pasted weights, on g's smallest coordinates only
    (the largest few are left honest)."""
    flat = torch.cat([v.flatten() for v in g.values()])
    small = flat.abs() <= flat.abs().quantile(0.9)
    target = torch.cat([(phi[k].detach() - 0.05).flatten() for k in g])
    push = torch.where(small, target, torch.zeros_like(target))
    push = push / push.norm() * size * flat.norm()
    out, i = {}, 0
    for k, v in g.items():
        out[k] = v + push[i:i + v.numel()].view_as(v)
        i += v.numel()
    return out


def test_an_accepted_gradient_never_reaches_phi(synthetic_env):
    """A push small enough to pass verification, or an honest gradient scaled up, trains
    exactly the φ the honest gradient trains: the judge applies its own."""
    honest, _ = _train(lambda g, phi, batch, step, c: g)
    tiny_push, v = _train(lambda g, phi, batch, step, c: _steered(g, phi, 0.01))
    assert v.variant == "MAML" and min(v.cosines) >= MIN_COSINE
    assert torch.equal(tiny_push.accuracies, honest.accuracies)
    scaled, _ = _train(lambda g, phi, batch, step, c: {k: 1e4 * t for k, t in g.items()})
    assert torch.equal(scaled.accuracies, honest.accuracies)


@pytest.mark.parametrize("attack, message", [
    # what the old spot check (cosine ≥ 0.5 at 3 steps) accepted at every step
    (lambda g, phi, batch, step, c: _steered(g, phi, 0.5), "neither MAML's"),
    # honest on step 1, then another objective: the variant is fixed by the first step
    (lambda g, phi, batch, step, c: g if step == 1 else c["no inner loop"](phi, batch)[0],
     "no longer that of MAML"),
    (lambda g, phi, batch, step, c: g if step < 3 else {k: t * float("nan") for k, t in g.items()},
     "meta-step 3 is NaN"),
    (lambda g, phi, batch, step, c: {k: torch.zeros_like(t) for k, t in g.items()},
     "neither MAML's"),
])
def test_a_gradient_that_is_not_verified_ends_the_training(synthetic_env, attack, message):
    with pytest.raises(CheckFailed, match=message):
        _train(attack)


def test_honest_variants_train_with_the_judges_gradient_of_that_variant(synthetic_env):
    """An honest bug is graded by the accuracy of what it computes: a student whose
    maml_meta_loss is first-order MAML's trains φ exactly as the judge's first-order MAML."""
    student, v = _train(lambda g, phi, batch, step, c: c["first-order MAML"](phi, batch)[0])
    assert v.variant == "first-order MAML"
    judge_alone = train_and_evaluate(lambda phi, batch: tuple(
        maml_candidates(_model(phi))["first-order MAML"](phi, batch)), TINY)
    assert torch.equal(student.accuracies, judge_alone.accuracies)


def _model(phi):
    from hwlib.models import Conv4
    return Conv4(5).to(next(iter(phi.values())).device)


def test_the_students_own_functions_through_the_tiers(synthetic_env):
    """In-process (the path the judge takes with a worker): the reference answers are MAML's,
    a loss with a pasted-weights term is not, and the message names the algorithm."""
    result = tier_results(maml_meta_loss, TINY)
    assert result.variant == "MAML", result

    def pasted(model, phi, batch, alpha, steps=1):
        return maml_meta_loss(model, phi, batch, alpha, steps) + sum(
            ((p - 0.05) ** 2).sum() for p in phi.values())
    assert "neither MAML's" in tier_results(pasted, TINY)


def test_protonet_tiers_are_verified_the_same_way(synthetic_env):
    ok = protonet_tier_results(protonet_loss, TINY)
    assert ok.variant == "ProtoNet", ok

    def with_push(model, phi, batch):
        return protonet_loss(model, phi, batch) + 0.5 * sum((p ** 2).sum() for p in phi.values())
    assert "neither ProtoNet's" in protonet_tier_results(with_push, TINY)
    candidates = protonet_candidates(_model({"x": torch.zeros(1)}))
    assert list(candidates)[0] == "ProtoNet" and len(candidates) > 1


def test_incontext_tiers_are_verified_the_same_way(synthetic_env):
    """The in-context learner's tier: the worker's gradient of each episode's query
    cross-entropy, summed over the meta-batch, verified at every step; a known mistake (the
    mask not passed) trains as that variant, a push toward pasted weights is refused."""
    ok = incontext_tier_results(incontext_logits, TINY)
    assert ok.variant == "the in-context learner", ok

    def unmasked(model, phi, xs, ys, xq, n_way):
        return variant_logits(model, phi, xs, ys, xq, n_way, mask="none")
    honest = incontext_tier_results(unmasked, TINY)
    assert "mask is not passed" in honest.variant, honest

    def causal(n_support, n_query):     # any wrong mask: it costs test_query_mask only
        L = n_support + n_query
        return torch.ones(L, L, dtype=torch.bool).triu(1)
    both = Student(LocalClient({"incontext_logits": lambda *a: _with_mask(causal, *a),
                                "query_mask": causal}))
    assert "with your query_mask" in incontext_tier_results(both, TINY).variant

    def with_push(model, phi, xs, ys, xq, n_way):
        push = 0.5 * sum((p ** 2).sum() for p in phi.values())   # on class 0's logit only
        return incontext_logits(model, phi, xs, ys, xq, n_way) + push * torch.eye(n_way)[0]
    assert "neither the in-context learner's" in incontext_tier_results(with_push, TINY)


def _with_mask(query_mask, model, phi, xs, ys, xq, n_way):
    """The reference logits under another mask (a student's own query_mask)."""
    return variant_logits(model, phi, xs, ys, xq, n_way, mask=query_mask(len(xs), len(xq)))


def test_cosine_is_zero_for_a_zero_gradient():
    a = {"w": torch.zeros(3)}
    assert cosine(a, {"w": torch.ones(3)}) == 0.0
    assert cosine({"w": torch.tensor([1.0, 2.0, 3.0])}, {"w": torch.tensor([2.0, 4.0, 6.0])}) \
        == pytest.approx(1.0)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_numeric_verdicts_reject_nan_and_inf_by_name(bad):
    """``abs(nan - x) > tol`` is False: every comparison checks finiteness first."""
    with pytest.raises(CheckFailed, match="the loss .* is (NaN|inf)"):
        same_number("the loss outer_step returned", bad, 1.0)
    with pytest.raises(CheckFailed, match=r"θ̂ is (NaN|inf) \(in \['b'\]\)"):
        require_finite("θ̂", {"w": torch.ones(2), "b": torch.tensor([1.0, bad])})
    assert same_number("x", 1.0 + 1e-9, 1.0) and not same_number("x", 1.1, 1.0)
    assert ALPHA == 0.4


def test_an_outer_step_returning_nan_loses_its_point():
    """Measured: an outer_step whose step is right but which returns NaN got its point."""
    from autograder.assignments.metalearning.checks import check_outer_step

    def outer_step(optimizer, meta_loss):
        optimizer.zero_grad()
        meta_loss.backward()
        optimizer.step()
        return float("nan")
    with pytest.raises(CheckFailed, match="outer_step returned is NaN"):
        check_outer_step(outer_step, seed=5)


def test_check_inputs_come_from_keyed_independent_streams(monkeypatch):
    """No check's inputs reveal the grading seed or another check's inputs: each stream is an
    HMAC of the seed under the grading key; the tiers' meta-test tasks are keyed too."""
    from autograder.judge import grading_key

    order = assignment_named("metalearning").checks.ORDER
    seeds = {grading_key.derive(7, name) for name in order}
    assert len(seeds) == len(order) and all(0 <= s < 2 ** 62 for s in seeds)
    assert grading_key.derive(7, "x") == grading_key.derive(7, "x") != grading_key.derive(8, "x")
    default = grading_key.meta_test_seed("maml")
    assert default != 2024  # FixedTaskSet's public default
    monkeypatch.setenv(grading_key.KEY_ENV, "another course")
    assert grading_key.meta_test_seed("maml") != default


def test_each_check_gets_its_own_derived_seed(monkeypatch):
    from autograder.assignments.metalearning import checks
    from autograder.judge.grading_key import derive
    from autograder.judge import verdicts

    got = {}
    for name in ("check_inner_update", "check_outer_step"):
        monkeypatch.setattr(checks, name, lambda student, seed, _n=name: got.__setitem__(_n, seed))
    tests = (verdicts.Test("a", 1, "check_inner_update"), verdicts.Test("b", 1, "check_outer_step"))
    monkeypatch.setattr(verdicts, "_values", lambda student, tests: {})
    assert verdicts.judge_all(None, tests, TINY, 11, deadline=float("inf"),
                              assignment=assignment_named("metalearning")) == {"a": None, "b": None}
    assert got == {"check_inner_update": derive(11, "check_inner_update"),
                   "check_outer_step": derive(11, "check_outer_step")}


def test_a_failed_tier_names_the_function_that_failed_its_own_test(monkeypatch):
    """The right test pays: a tier trained with a student's maml_meta_loss that calls a broken
    inner_update says so."""
    from autograder.assignments import Tier
    from autograder.assignments.metalearning import checks
    from autograder.judge import verdicts

    def broken(student, seed):
        raise CheckFailed("inner_update is wrong: …")
    monkeypatch.setattr(checks, "check_inner_update", broken)
    tier = checks.TIERS["check_accuracy_tier"]
    monkeypatch.setitem(checks.TIERS, "check_accuracy_tier", Tier(
        lambda student, profile, seed: "not MAML's.", tier.verdict, tier.calls))
    monkeypatch.setattr(verdicts, "_values", lambda student, tests: {})
    tests = (verdicts.Test("test_inner_update", 2, "check_inner_update"),
             verdicts.Test("tier1", 1, "check_accuracy_tier", (1,)))
    got = verdicts.judge_all(None, tests, TINY, 3, deadline=float("inf"),
                             assignment=assignment_named("metalearning"))
    assert "calls your inner_update, which failed its own test (test_inner_update)" in got["tier1"]


def test_a_reference_that_fails_its_self_check_is_a_grader_error_not_a_grade(monkeypatch):
    """A JudgeError (the judge's own reference disagrees with finite differences) stops the
    notebook's judging with a GraderError: the pipeline writes "grader error", never a score."""
    from autograder.assignments.metalearning import checks
    from autograder.checks.student import JudgeError
    from autograder.judge import verdicts
    from autograder.transport.client import GraderError

    def broken_reference(student, seed):
        raise JudgeError("the reference's derivative differs from finite differences")
    monkeypatch.setattr(checks, "check_inner_update", broken_reference)
    monkeypatch.setattr(verdicts, "_values", lambda student, tests: {})
    tests = (verdicts.Test("test_inner_update", 2, "check_inner_update"),)
    with pytest.raises(GraderError, match="check_inner_update's reference failed its self-check"):
        verdicts.judge_all(None, tests, TINY, 3, deadline=float("inf"),
                           assignment=assignment_named("metalearning"))
