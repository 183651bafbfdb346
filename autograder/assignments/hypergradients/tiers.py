"""Hidden accuracy checks of the third assignment (Part 4): the judge meta-trains the in-context
learner with verified gradients of the student's ``incontext_logits``.

As for MAML and ProtoNet (:mod:`autograder.checks.verified`), φ (the transformer and its Conv4
body, started by :func:`~hwlib.incontext.init_incontext`), the optimiser (Adam, η = 2e-3
annealed), the episodes (meta-train characters, 5-way 1-shot, rotations), the fixed 5-way 1-shot
meta-test tasks (drawn from the grading key) and the evaluation (the reference logits) all stay
in the judge.  At every meta-step the worker returns, for each episode, ∇φ of the cross-entropy
of the student's query logits (the student's own ``query_mask`` inside); their mean must point
like the judge's gradient of the in-context learner's meta-loss, or of one of its known honest
mistakes (:data:`~.incontext.KNOWN`: those cost the unit test, not the tiers), on the same φ
and episodes, and the judge then applies its own.
"""

from __future__ import annotations

from functools import partial
from typing import Callable

import torch

from autograder.assignments import TierBudget, tier_budget
from autograder.assignments.hypergradients import answers as ref
from autograder.judge.grading_key import meta_test_seed
from hwlib.device import default_device
from hwlib.evaluate import EvalResult
from hwlib.incontext import (InContextLearner, episode_loss, evaluate_incontext,
                             init_incontext, meta_train_incontext)
from hwlib.profiles import Profile, profile_named
from hwlib.splits import omniglot_splits
from hwlib.tasks import EpisodeSampler, FixedTaskSet, TaskBatch

from autograder.checks.common import leaf, probed_gradient
from autograder.checks.student import MODEL, CheckFailed, P, Student, fail
from autograder.checks.verified import (Ask, Candidate, Trained, VerifiedGradient, tier_verdict,
                                        train_verified)

from .incontext import KNOWN, variant_logits

#: the judge's training per profile (5-way 1-shot episodes, 3 queries per class, the notebook's
#: recipe); ``cpu``: calibrated on 3 seeds (``calibrate --assignment hypergradients``), about a
#: minute of the judge's and the worker's time on 2 cores; ``gpu``: stated, 4× the steps
BUDGETS = {"gpu": TierBudget(3200, 4, (0.85, 0.88, 0.90), q_query=3),
           "cpu": TierBudget(800, 4, (0.70, 0.76, 0.80), q_query=3),
           "tiny": TierBudget(60, 2, (0.25, 0.28, 0.30), q_query=3)}
META_LR = 2e-3
ALGORITHM = "the in-context learner"


def _candidate(model: InContextLearner, logits_fn: Callable) -> Candidate:
    """The judge's gradient of the meta-loss (mean query cross-entropy over the episodes) of
    the in-context learner whose logits ``logits_fn`` computes (zero where φ is not used)."""
    def gradient(phi: dict, batch: TaskBatch) -> tuple[dict, float]:
        at = leaf(phi)
        loss, _ = episode_loss(model, at, logits_fn, batch)
        grads = torch.autograd.grad(loss, list(at.values()), allow_unused=True)
        return {k: torch.zeros_like(v) if g is None else g
                for (k, v), g in zip(at.items(), grads)}, loss.item()
    return gradient


def incontext_candidates(model: InContextLearner) -> dict[str, Candidate]:
    """The in-context learner's gradient first, then each known mistake's."""
    return {ALGORITHM: _candidate(model, ref.incontext_logits),
            **{cause: _candidate(model, partial(variant_logits, **options))
               for cause, options in KNOWN.items()}}


def with_students_mask(student: Student, model: InContextLearner, n_support: int,
                       n_query: int) -> dict[str, Candidate]:
    """An ``incontext_logits`` that is right with a wrong ``query_mask`` computes an honest
    objective — the in-context learner under the student's own mask — whatever the mask's
    mistake: the mask costs ``test_query_mask``, not the tiers.  The candidate, when the
    student's mask for the tier's episodes differs from the reference's (none when it cannot
    be used as an attention mask)."""
    c = student.call("query_mask", {"kind": "hwlib.incontext.InContextLearner",
                                    "kwargs": {"n_way": model.n_way}}, n_support, n_query)
    mask, L = c.value, n_support + n_query
    if c.error or not isinstance(mask, torch.Tensor) or tuple(mask.shape) != (L, L) or \
            mask.dtype not in (torch.bool, torch.float32) or \
            torch.equal(mask, ref.query_mask(n_support, n_query)):
        return {}
    mask = mask.clone()
    logits = partial(variant_logits, mask=mask)
    return {"the in-context learner with your query_mask (which fails test_query_mask)":
            _candidate(model, logits)}


def ask_incontext_logits(student: Student, device: torch.device, n_way: int) -> Ask:
    """``ask(φ, batch, step)``: the mean over the episodes of ∇φ CE(the student's query logits,
    y_query), computed in the worker (one call per episode) and checked as hostile data."""
    spec = {"kind": "hwlib.incontext.InContextLearner", "kwargs": {"n_way": n_way},
            "dtype": "float32", "device": str(device)}

    def ask(phi: dict, batch: TaskBatch, step: int) -> dict:
        total = {k: torch.zeros_like(v) for k, v in phi.items()}
        for task in batch:
            c = student.call("incontext_logits", spec, MODEL, P(phi), task.x_support,
                             task.y_support, task.x_query, n_way, device=str(device),
                             probes=[{"name": "ce", "kind": "ce", "y": task.y_query}])
            if c.error:
                fail(f"meta-training with your incontext_logits failed at meta-step {step}: "
                     f"{c.error}")
            try:
                grads = probed_gradient("incontext_logits", "logits",
                                        "the cross-entropy of the logits incontext_logits "
                                        "returned", c.probes.get("ce", {}), phi)
            except CheckFailed as e:
                fail(f"meta-training with your incontext_logits failed at meta-step {step}: {e}")
            for k, g in grads.items():
                total[k] += g.to(device) / len(batch)
        return total
    return ask


def incontext_train_and_evaluate(student: Student | None, profile: Profile,
                                 train_seed: int | None = None,
                                 gradient: Callable | None = None) -> EvalResult | Trained:
    """Meta-train the in-context learner on the profile's budget with the student's verified
    gradient (the reference's when ``student`` is None; ``gradient(φ, batch)`` instead, for the
    calibration's controls), from ``train_seed`` (default: the profile's), and score φ with the
    reference logits on the fixed 5-way 1-shot tasks."""
    budget, device = tier_budget(BUDGETS, profile), default_device()
    train_seed = profile.seed if train_seed is None else train_seed
    splits = omniglot_splits(progress=False)
    model = InContextLearner(n_way=budget.train_ways).to(device)
    phi = {k: v.to(device).detach().requires_grad_(True)
           for k, v in init_incontext(model, train_seed).items()}
    candidates = incontext_candidates(model)
    if student is not None:
        n_support, n_query = budget.train_ways, budget.train_ways * budget.q_query
        candidates.update(with_students_mask(student, model, n_support, n_query))
        gradient = VerifiedGradient(ask_incontext_logits(student, device, budget.train_ways),
                                    candidates, "incontext_logits")
    sampler = EpisodeSampler(splits.train, budget.train_ways, 1, budget.q_query, rotations=True,
                             device=device, seed=train_seed)
    if budget.steps:
        meta_train_incontext(model, phi, ref.incontext_logits, sampler, steps=budget.steps,
                             lr=META_LR, meta_batch=budget.meta_batch_size, log=None,
                             gradient=gradient or candidates[ALGORITHM])
    tasks = FixedTaskSet(splits.test, 5, 1, profile.test_query, profile.test_tasks,
                         seed=meta_test_seed("incontext"))
    result = evaluate_incontext(model, phi, ref.incontext_logits, tasks)
    if isinstance(gradient, VerifiedGradient):
        return Trained(result, gradient.variant, gradient.algorithm)
    return result


def incontext_tier_results(student, profile: Profile | None = None, seed: int = 0
                           ) -> Trained | str:
    """Train once (the tier tests share it), every gradient verified; a failure becomes the
    tiers' message (``seed``, the grading seed, is not needed: every step is checked)."""
    s, profile = Student.of(student, "incontext_logits"), profile or profile_named()
    return train_verified(lambda: incontext_train_and_evaluate(s, profile), "incontext_logits")


def check_incontext_tier(tier: int, result, profile: Profile | None = None) -> None:
    """Tier 1..3: the in-context learner trained with the student's ``incontext_logits``
    reaches ``BUDGETS[profile].tiers[tier-1]`` on the fixed 5-way 1-shot tasks.  The judge
    passes the shared ``result``; in the instructor's notebook
    ``check_incontext_tier(k, incontext_logits)`` trains in-process once."""
    profile = profile or profile_named()
    tier_verdict(result, tier_budget(BUDGETS, profile).tiers[tier - 1], tier,
                 "The in-context learner trained with your incontext_logits reached {shown} on "
                 f"the fixed 5-way 1-shot meta-test tasks with the '{profile.name}' grading "
                 "budget", incontext_tier_results, profile)
