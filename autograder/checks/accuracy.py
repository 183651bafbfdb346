"""Hidden accuracy checks: the judge meta-trains φ with the student's meta-gradient.

φ, the optimiser (Adam, η = 1e-3), the task sampler (meta-train, 5-way 1-shot, rotations), the
fixed meta-test tasks and the evaluation all stay in the judge.  At each meta-step the judge
sends φ and the meta-batch to the worker and gets back only ∇φ of the student's
``maml_meta_loss`` (α = 0.4, one inner step); at a few meta-steps the worker cannot tell apart
(drawn from the grading seed) that meta-gradient must point like MAML's or a common
variant's on the same φ and tasks.  The trained φ is then scored on the fixed meta-test tasks by the judge's own
(reference) adaptation: weights pasted into a notebook buy nothing.
"""

from __future__ import annotations

import math
import os
import random
import tempfile
from dataclasses import replace
from typing import Callable, Optional, Sequence

import torch

from autograder.profiles import Profile, profile_named
from autograder.reference import make_learner
from hwlib.device import default_device
from hwlib.evaluate import EvalResult
from hwlib.models import Conv4, init_params
from hwlib.outer_loop import TrainConfig, meta_train
from hwlib.splits import omniglot_splits
from hwlib.tasks import EpisodeSampler, FixedTaskSet, TaskBatch

from .diagnose import meta_loss_tensor
from .student import MODEL, P, CheckFailed, Student, fail

ALPHA = 0.4
SPOT_CHECKS = 3
MIN_COSINE = 0.5  # against MAML's or a common variant's (HONEST): unrelated ones fail
MetaGradient = Callable[[dict, TaskBatch], tuple[dict, float]]


def student_meta_gradient(student: Student, device: torch.device, seed: int,
                          total_steps: int) -> MetaGradient:
    """∇φ of the student's ``maml_meta_loss`` from the worker, checked as hostile data, and
    compared with the reference at ``SPOT_CHECKS`` meta-steps drawn from ``seed``."""
    spec = {"kind": "conv4", "n_way": 5, "dtype": "float32", "device": str(device)}
    spots = set(random.Random(f"spot-{seed}").sample(range(1, total_steps + 1),
                                                     min(SPOT_CHECKS, total_steps)))
    step = [0]

    def meta_gradient(phi: dict, batch: TaskBatch) -> tuple[dict, float]:
        step[0] += 1
        c = student.call("maml_meta_loss", spec, MODEL, P(phi), batch, ALPHA, steps=1,
                         probes=[{"name": "grad", "kind": "grad"}], device=str(device))
        if c.error:
            fail(f"meta-training with your functions failed at meta-step {step[0]}: {c.error}")
        from .common import returned_loss

        try:
            loss, grads = returned_loss("maml_meta_loss", c.value, c.probes.get("grad", {}), phi)
        except CheckFailed as e:
            fail(f"meta-training with your functions failed at meta-step {step[0]}: {e}")
        grads = {k: g.to(device) for k, g in grads.items()}
        if step[0] in spots:
            _spot_check(phi, batch, grads, step[0])
        return grads, loss

    return meta_gradient


#: meta-objectives an honest (possibly buggy) maml_meta_loss may differentiate: a spot-checked
#: meta-gradient must point like one of them (a fabricated one, e.g. towards pasted weights,
#: points like none); the bugs themselves cost test_maml_gradient, not the tiers
HONEST = {"MAML": {}, "first-order MAML": {"create_graph": False},
          "support and query swapped": {"adapt_on": "query", "score_on": "support"},
          "adapted and scored on the query set": {"adapt_on": "query"},
          "scored on the support set": {"score_on": "support"},
          "no inner loop": {"steps": 0}, "a wrong-sign inner step": {"alpha": -ALPHA}}


def _cosine(a: dict, b: list, names: list) -> float:
    x = torch.cat([a[k].flatten() for k in names])
    y = torch.cat([g.flatten() for g in b])
    return (x @ y / (x.norm() * y.norm() + 1e-30)).item()


def _spot_check(phi: dict, batch: TaskBatch, grads: dict, step: int) -> None:
    """The returned meta-gradient points like the meta-gradient of MAML or of one of its
    common variants (cosine similarity ≥ ``MIN_COSINE``) on the same φ and tasks."""
    model = Conv4(5).to(next(iter(phi.values())).device)
    names = list(phi)
    cosines = {}
    for label, variant in HONEST.items():
        at = {k: v.detach().clone().requires_grad_(True) for k, v in phi.items()}
        options = dict(variant)
        loss = meta_loss_tensor(model, at, batch, options.pop("alpha", ALPHA), **options)
        cosines[label] = _cosine(grads, torch.autograd.grad(loss, [at[k] for k in names]), names)
        if cosines[label] >= MIN_COSINE:
            return
    fail(f"the meta-gradient your maml_meta_loss returned at meta-step {step} is not MAML's, nor "
         f"that of any common variant of it (cosine similarity {cosines['MAML']:.2f} with MAML's "
         "on the same φ and tasks): the tiers grade φ trained with your meta-gradient.")


def train_and_evaluate(meta_gradient: MetaGradient | None, profile: Profile,
                       seed: Optional[int] = None, curve: Sequence[int] = (),
                       make: Callable[[torch.device], MetaGradient] | None = None
                       ) -> EvalResult | dict[int, EvalResult]:
    """Meta-train φ (here) with ``meta_gradient`` on the profile's budget; test accuracy.

    ``make(device)`` builds the meta-gradient once the device is known.  With ``curve``
    (increasing meta-step counts), one run is evaluated after each of those budgets.
    """
    device = default_device()
    splits = omniglot_splits(progress=False)
    seed = profile.seed if seed is None else seed
    torch.manual_seed(seed)
    model = Conv4(5).to(device)
    phi = {k: v.to(device).detach().requires_grad_(True)
           for k, v in init_params(model, seed).items()}
    meta_gradient = meta_gradient or make(device)
    # the reference MAML's learner (α, batched evaluation) with the student's meta-gradient
    learner = replace(make_learner("maml", model, ALPHA, 1), meta_gradient=meta_gradient,
                      name="student-maml")
    sampler = EpisodeSampler(splits.train, 5, 1, 1, rotations=True, device=device, seed=seed)
    tasks = FixedTaskSet(splits.test, 5, 1, profile.test_query, profile.test_tasks)

    def score() -> EvalResult:
        return learner.evaluate(phi, tasks, profile.eval_inner_steps)

    if not curve:
        meta_train(learner, phi, sampler.sample, _config(profile, profile.steps))
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
    return TrainConfig(meta_batch_size=profile.meta_batch_size, minutes=None, steps=steps,
                       progress=False, checkpoint_path=checkpoint)


def tier_results(student, profile: Profile | None = None, seed: int = 0) -> EvalResult | str:
    """Train once with the profile's fixed seed (the four tier tests share it); the spot checks
    are drawn from the grading ``seed``.  A failure becomes the tiers' message."""
    profile = profile or profile_named()
    s = Student.of(student, "maml_meta_loss")
    try:
        return train_and_evaluate(None, profile, make=lambda device: student_meta_gradient(
            s, device, seed, profile.steps))
    except CheckFailed as e:
        return str(e)
    except FloatingPointError as e:
        return f"meta-training with your functions diverged: {e}"


_LOCAL: dict = {}


def check_accuracy_tier(tier: int, result, maml_meta_loss=None,
                        profile: Profile | None = None) -> None:
    """Tier 1..4: the student's MAML reaches the profile's ``tiers[tier-1]`` test accuracy.

    The judge passes the shared training ``result``; in a notebook (the instructor's solution)
    ``check_accuracy_tier(k, inner_update, maml_meta_loss)`` trains in-process once."""
    profile = profile or profile_named()
    if callable(maml_meta_loss):
        key = (profile.name, id(maml_meta_loss))
        if key not in _LOCAL:
            _LOCAL[key] = tier_results(maml_meta_loss, profile)
        result = _LOCAL[key]
    if isinstance(result, str):
        fail(result)
    threshold = profile.tiers[tier - 1]
    if not (result.mean >= threshold) or math.isnan(result.mean):
        fail(f"Your MAML reached {result} on the fixed meta-test tasks with the '{profile.name}' "
             f"grading budget; tier {tier} needs {threshold:.0%}.")
