"""Hidden accuracy checks of the second assignment: the judge meta-trains a ProtoNet embedding
with verified gradients of the student's ``protonet_loss``.

As for MAML (:mod:`.accuracy`), φ (Conv4's body), the optimiser (Adam, η = 1e-3), the task
sampler (meta-train characters, ``train_ways``-way 1-shot episodes, rotations), the fixed
5-way 1-shot meta-test tasks (drawn from the grading key) and the evaluation (the reference
prototype classifier) all stay in the judge.  At every meta-step the worker returns ∇φ of the
student's loss; it must be a prototypical network's (or a known honest variant's) gradient on
the same φ and tasks, and the judge then applies its own (:mod:`.verified`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

import torch
import torch.nn.functional as F

from autograder.assignments import TierBudget, tier_budget
from autograder.judge.grading_key import meta_test_seed
from autograder.reference import make_learner
from autograder.reference.algorithms import initial_params
from hwlib.device import default_device
from hwlib.evaluate import EvalResult
from hwlib.learner import outer_gradient
from hwlib.protonet import embed
from hwlib.models import Conv4
from hwlib.outer_loop import TrainConfig, meta_train
from hwlib.profiles import Profile, profile_named
from hwlib.splits import omniglot_splits
from hwlib.tasks import EpisodeSampler, FixedTaskSet, TaskBatch

from autograder.checks.common import leaf
from autograder.checks.student import Student
from autograder.checks.verified import (Ask, Candidate, Trained, VerifiedGradient,
                                        ask_student, tier_verdict, train_verified)

#: the judge's ProtoNet training per profile: 20-way 1-shot episodes with 5 queries per class
#: (the notebook's recipe), then the tiers on the fixed 5-way 1-shot test tasks
BUDGETS = {"gpu": TierBudget(2000, 8, (0.90, 0.95, 0.97), train_ways=20, q_query=5),
           "cpu": TierBudget(300, 4, (0.85, 0.90, 0.93), train_ways=20, q_query=5),
           "tiny": TierBudget(20, 2, (0.25, 0.30, 0.35), train_ways=5, q_query=5)}

#: losses an honest (possibly buggy) protonet_loss may differentiate besides ProtoNet's; the
#: bugs themselves cost the unit tests (test_prototypes, test_protonet_logits,
#: test_protonet_loss), not the tiers
HONEST = {"not squared distances": {"squared": False},
          "prototypes from the query set": {"swap": True},
          "a dot-product score": {"dot": True}}


def _variant_loss(model, phi: dict, batch: TaskBatch, squared: bool = True, swap: bool = False,
                  dot: bool = False) -> torch.Tensor:
    losses = []
    for t in batch:
        xs, ys, xq, yq = (t.x_query, t.y_query, t.x_support, t.y_support) if swap else \
            (t.x_support, t.y_support, t.x_query, t.y_query)
        n_way = int(ys.max()) + 1
        zs, zq = embed(model, phi, xs), embed(model, phi, xq)
        c = torch.stack([zs[ys == k].mean(0) for k in range(n_way)])
        d = ((zq[:, None] - c[None]) ** 2).sum(-1)
        logits = zq @ c.T if dot else -(d if squared else d.clamp_min(1e-12).sqrt())
        losses.append(F.cross_entropy(logits, yq))
    return torch.stack(losses).mean()


def protonet_candidates(model) -> dict[str, Candidate]:
    """ProtoNet's gradient (the fast reference) first, then the honest variants'."""
    learner = make_learner("protonet", model, 0.0, 0)

    def of_variant(options: dict) -> Candidate:
        def gradient(phi: dict, batch: TaskBatch) -> tuple[dict, float]:
            at = leaf(phi)
            loss = _variant_loss(model, at, batch, **options)
            return dict(zip(at, torch.autograd.grad(loss, list(at.values())))), loss.item()
        return gradient

    return {"ProtoNet": lambda phi, batch: outer_gradient(learner, phi, batch)[:2],
            **{label: of_variant(options) for label, options in HONEST.items()}}


def ask_protonet_loss(student: Student, device: torch.device, n_way: int) -> Ask:
    """∇φ of the student's ``protonet_loss`` from the worker, checked as hostile data."""
    spec = {"kind": "conv4", "n_way": n_way, "dtype": "float32", "device": str(device)}
    return ask_student(student, "protonet_loss", spec, device)


def protonet_train_and_evaluate(student: Student | None, profile: Profile,
                                train_seed: int | None = None,
                                gradient: Callable | None = None) -> EvalResult | Trained:
    """Train the embedding on the profile's ProtoNet budget with the student's gradient (the
    reference's when ``student`` is None; ``gradient(φ, batch)`` instead, for the calibration's
    controls), from ``train_seed`` (default: the profile's), and test it on the fixed 5-way
    1-shot tasks."""
    budget, device = tier_budget(BUDGETS, profile), default_device()
    train_seed = profile.seed if train_seed is None else train_seed
    splits = omniglot_splits(progress=False)
    torch.manual_seed(train_seed)
    model = Conv4(budget.train_ways).to(device)
    phi = {k: v.to(device).detach().requires_grad_(True)
           for k, v in initial_params("protonet", model, train_seed, 0.0).items()}
    learner = make_learner("protonet", model, 0.0, 0)
    if student is not None:
        gradient = VerifiedGradient(ask_protonet_loss(student, device, budget.train_ways),
                                    protonet_candidates(model), "protonet_loss")
    if gradient is not None:
        learner = replace(learner, meta_loss=None, name="student-protonet",
                          meta_gradient=gradient)
    sampler = EpisodeSampler(splits.train, budget.train_ways, 1, budget.q_query, rotations=True,
                             device=device, seed=train_seed)
    meta_train(learner, phi, sampler.sample, TrainConfig(
        meta_batch_size=budget.meta_batch_size, minutes=None, steps=budget.steps,
        progress=False))
    tasks = FixedTaskSet(splits.test, 5, 1, profile.test_query, profile.test_tasks,
                         seed=meta_test_seed("protonet"))
    result = learner.evaluate(phi, tasks, 0)
    if isinstance(gradient, VerifiedGradient):
        return Trained(result, gradient.variant, gradient.algorithm)
    return result


def protonet_tier_results(student, profile: Profile | None = None, seed: int = 0
                          ) -> Trained | str:
    """Train once (the tier tests share it), every gradient verified; a failure becomes the
    tiers' message (``seed``, the grading seed, is not needed: every step is checked)."""
    s, profile = Student.of(student, "protonet_loss"), profile or profile_named()
    return train_verified(lambda: protonet_train_and_evaluate(s, profile), "protonet_loss")


def check_protonet_tier(tier: int, result, profile: Profile | None = None) -> None:
    """Tier 1..3: the student's ProtoNet reaches ``BUDGETS[profile].tiers[tier-1]`` on the
    fixed 5-way 1-shot tasks.  The judge passes the shared ``result``; in the instructor's
    notebook ``check_protonet_tier(k, protonet_loss)`` trains in-process once."""
    profile = profile or profile_named()
    tier_verdict(result, tier_budget(BUDGETS, profile).tiers[tier - 1], tier,
                 "Your ProtoNet reached {shown} on the fixed 5-way 1-shot meta-test tasks with "
                 f"the '{profile.name}' grading budget", protonet_tier_results, profile)
