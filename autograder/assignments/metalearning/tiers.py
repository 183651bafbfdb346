"""Hidden accuracy checks: the judge meta-trains φ with verified meta-gradients.

φ, the optimiser (Adam, η = 1e-3), the task sampler (meta-train, 5-way 1-shot, rotations), the
fixed meta-test tasks (drawn from the grading key: :mod:`autograder.judge.grading_key`) and the
evaluation all stay in the judge.  At every meta-step the judge sends φ and the meta-batch to
the worker and gets back ∇φ of the student's ``maml_meta_loss`` (α = 0.4, one inner step); it
is accepted only when it is the meta-gradient of MAML or of a known honest variant of it on the
same φ and tasks, and then the judge applies its own (:mod:`.verified`).  The trained φ is
scored on the fixed meta-test tasks by the judge's own (reference) adaptation: weights pasted
into a notebook, or a gradient steered toward them, buy nothing.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from typing import Callable, Optional, Sequence

import torch

from autograder.judge.grading_key import meta_test_seed
from autograder.assignments import TierBudget, tier_budget
from autograder.reference import make_learner
from autograder.reference.algorithms import ALGORITHMS
from hwlib.device import default_device
from hwlib.evaluate import EvalResult
from hwlib.learner import outer_gradient
from hwlib.models import Conv4, init_params
from hwlib.outer_loop import TrainConfig, meta_train
from hwlib.profiles import Profile, profile_named
from hwlib.splits import omniglot_splits
from hwlib.tasks import EpisodeSampler, FixedTaskSet, TaskBatch

from autograder.checks.common import leaf
from autograder.checks.diagnose import meta_loss_tensor
from autograder.checks.student import Student
from autograder.checks.verified import (Ask, Candidate, Trained, VerifiedGradient,
                                        ask_student, tier_verdict, train_verified)

ALPHA = ALGORITHMS["maml"].alpha  # α of the tiers: MAML's, from its record

#: the judge's training per profile (5-way 1-shot MAML): ``gpu`` keeps HW15's tiers (sized for
#: one GPU; docs/grading.md: calibration status), ``cpu`` is about 4 minutes on 2 cores,
#: calibrated on 3 seeds, ``tiny`` proves the pipeline in seconds, not the accuracy
BUDGETS = {"gpu": TierBudget(3000, 32, (0.60, 0.70, 0.90, 0.95)),
           "cpu": TierBudget(500, 16, (0.60, 0.70, 0.85, 0.88)),
           "tiny": TierBudget(40, 4, (0.26, 0.29, 0.32, 0.35))}
MetaGradient = Callable[[dict, TaskBatch], tuple[dict, float]]

#: meta-objectives an honest (possibly buggy) maml_meta_loss may differentiate, besides MAML
#: (fast reference): the tiers train with the one the student's matches; the bugs themselves
#: cost test_maml_gradient, not the tiers
HONEST = {"support and query swapped": {"adapt_on": "query", "score_on": "support"},
          "adapted and scored on the query set": {"adapt_on": "query"},
          "scored on the support set": {"score_on": "support"},
          "no inner loop": {"steps": 0}, "a wrong-sign inner step": {"alpha": -ALPHA},
          "only the last task counted": {"reduce": "last"},
          "only the first task counted": {"reduce": "first"}}


def maml_candidates(model: torch.nn.Module) -> dict[str, Candidate]:
    """The judge's own meta-gradients: MAML first, first-order MAML (both on the fast batched
    reference), then the honest variants of :data:`HONEST`."""
    def of_learner(algo: str) -> Candidate:
        learner = make_learner(algo, model, ALPHA, 1)
        return lambda phi, batch: outer_gradient(learner, phi, batch)[:2]

    def of_variant(options: dict) -> Candidate:
        def gradient(phi: dict, batch: TaskBatch) -> tuple[dict, float]:
            at, kw = leaf(phi), dict(options)
            loss = meta_loss_tensor(model, at, batch, kw.pop("alpha", ALPHA), **kw)
            return dict(zip(at, torch.autograd.grad(loss, list(at.values())))), loss.item()
        return gradient

    return {"MAML": of_learner("maml"), "first-order MAML": of_learner("fomaml"),
            **{label: of_variant(options) for label, options in HONEST.items()}}


def ask_maml_meta_loss(student: Student, device: torch.device) -> Ask:
    """∇φ of the student's ``maml_meta_loss`` at (φ, batch), from the worker (α: MAML's)."""
    spec = {"kind": "conv4", "n_way": 5, "dtype": "float32", "device": str(device)}
    return ask_student(student, "maml_meta_loss", spec, device, ALPHA, steps=1)


def student_meta_gradient(student: Student, device: torch.device,
                          model: torch.nn.Module) -> VerifiedGradient:
    """The student's ``maml_meta_loss`` as the tiers' meta-gradient: verified at every step."""
    return VerifiedGradient(ask_maml_meta_loss(student, device), maml_candidates(model),
                            "maml_meta_loss")


def train_and_evaluate(meta_gradient: MetaGradient | None, profile: Profile,
                       seed: Optional[int] = None, curve: Sequence[int] = (),
                       make: Callable[[torch.device, torch.nn.Module], MetaGradient] | None = None
                       ) -> EvalResult | dict[int, EvalResult]:
    """Meta-train φ (here) with ``meta_gradient`` on the profile's budget; test accuracy.

    ``make(device, model)`` builds the meta-gradient once the device and model are known.
    With ``curve`` (increasing meta-step counts), one run is evaluated after each of those
    budgets.  The meta-test tasks are the grading key's (:func:`meta_test_seed`).
    """
    device = default_device()
    splits = omniglot_splits(progress=False)
    seed = profile.seed if seed is None else seed
    torch.manual_seed(seed)
    model = Conv4(5).to(device)
    phi = {k: v.to(device).detach().requires_grad_(True)
           for k, v in init_params(model, seed).items()}
    meta_gradient = meta_gradient or make(device, model)
    # the reference MAML's learner (α, batched evaluation) with the given meta-gradient
    learner = replace(make_learner("maml", model, ALPHA, 1), meta_gradient=meta_gradient,
                      name="student-maml")
    sampler = EpisodeSampler(splits.train, 5, 1, 1, rotations=True, device=device, seed=seed)
    tasks = FixedTaskSet(splits.test, 5, 1, profile.test_query, profile.test_tasks,
                         seed=meta_test_seed("maml"))

    def score() -> EvalResult:
        return learner.evaluate(phi, tasks, profile.eval_inner_steps)

    if not curve:
        meta_train(learner, phi, sampler.sample, _config(profile, tier_budget(BUDGETS, profile).steps))
        return score()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = os.path.join(tmp, "curve.ckpt")
        for steps in curve:
            meta_train(learner, phi, sampler.sample, _config(profile, steps, ckpt),
                       resume_from=ckpt if results else None, sampler_state=sampler)
            results[steps] = score()
    return results


def _config(profile: Profile, steps: Optional[int], checkpoint: Optional[str] = None):
    return TrainConfig(meta_batch_size=tier_budget(BUDGETS, profile).meta_batch_size,
                       minutes=None, steps=steps,
                       progress=False, checkpoint_path=checkpoint)


def tier_results(student, profile: Profile | None = None, seed: int = 0) -> Trained | str:
    """Train once with the profile's fixed seed (the four tier tests share it), every
    meta-gradient verified; a failure becomes the tiers' message.  (``seed``, the grading
    seed, is not needed: every step is checked, none is drawn.)"""
    profile = profile or profile_named()
    s = Student.of(student, "maml_meta_loss")
    built: list[VerifiedGradient] = []

    def make(device: torch.device, model: torch.nn.Module) -> VerifiedGradient:
        built.append(student_meta_gradient(s, device, model))
        return built[0]

    result = train_verified(lambda: train_and_evaluate(None, profile, make=make), "functions")
    return result if isinstance(result, str) else Trained(result, built[0].variant,
                                                          built[0].algorithm)


def check_accuracy_tier(tier: int, result, maml_meta_loss=None,
                        profile: Profile | None = None) -> None:
    """Tier 1..4: the student's MAML reaches ``BUDGETS[profile].tiers[tier-1]`` test accuracy.

    The judge passes the shared training ``result``; in a notebook (the instructor's solution)
    ``check_accuracy_tier(k, inner_update, maml_meta_loss)`` trains in-process once."""
    profile = profile or profile_named()
    tier_verdict(maml_meta_loss if callable(maml_meta_loss) else result,
                 tier_budget(BUDGETS, profile).tiers[tier - 1], tier,
                 "Your MAML reached {shown} on the fixed meta-test tasks with the "
                 f"'{profile.name}' grading budget", tier_results, profile)
