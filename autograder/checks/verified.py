"""Verified meta-gradients: the only way a worker's answers can move φ in the accuracy tiers.

The judge meta-trains φ for the tiers; the worker computes, at every meta-step t, the
gradient g_w of the student's loss at the φ_t and tasks the judge sends.  A worker is hostile:
a gradient honest on its largest coordinates and steered on the rest, or one that switches
objective between steps, would let it choose φ (Adam turns any small push into a full step).
So, at **every** meta-step:

1. the judge computes itself the gradient g_v of each *candidate objective* — the algorithm
   (MAML, ProtoNet, …) and its known honest variants (first-order, support and query swapped,
   …) — on the same φ_t and tasks;
2. g_w must point like one of them: cos(g_w, g_v) ≥ :data:`MIN_COSINE` (0.999, i.e. a relative
   error of ≈ 4%; independent float32 implementations agree to ~1e-6, TF32 to ~1e-3).  Only
   the direction is compared: a loss summed instead of averaged has the same direction, and
   Adam's step does not depend on the scale;
3. the first meta-step fixes the variant — the candidate the gradient points like most
   closely (the algorithm on a tie) — and every later step must match that same one;
4. the judge applies **its own** g_v.  Nothing the worker sends reaches φ: φ's trajectory and
   the tiers' accuracy are a function of the verified variant and the profile alone, the same
   for every student whose function computes that objective.

A gradient that matches no candidate ends the training with a message that names the
mismatch (the cosine with the algorithm's gradient and with the closest variant), never
points.  Every step costs the same (every step is checked), so timing tells a worker nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import torch

from hwlib.evaluate import EvalResult
from hwlib.tasks import TaskBatch

from .common import require_finite, returned_loss
from .student import MODEL, CheckFailed, P, Student, fail

MIN_COSINE = 0.999
#: the judge's own gradient of one candidate objective at (φ, batch): (grads, loss)
Candidate = Callable[[dict, TaskBatch], tuple[dict, float]]
#: the worker's answer at (φ, batch, step): its gradient, validated as hostile data
Ask = Callable[[dict, TaskBatch, int], dict]


@dataclass
class Trained:
    """What the tiers grade: the test accuracy of φ trained with the verified ``variant``."""

    result: EvalResult
    variant: str
    algorithm: str

    @property
    def mean(self) -> float:
        return self.result.mean

    def describe(self) -> str:
        how = "" if self.variant == self.algorithm else \
            f" (trained with the meta-gradient your function computes: {self.variant})"
        return f"{self.result}{how}"


def cosine(a: dict, b: dict) -> float:
    """cos(a, b) over all of φ's entries (0 when either is zero)."""
    names = list(b)
    x = torch.cat([a[k].detach().flatten().to(b[k].dtype) for k in names])
    y = torch.cat([b[k].detach().flatten() for k in names])
    denominator = (x.norm() * y.norm()).item()
    return (x @ y).item() / denominator if denominator > 0 else 0.0


@dataclass
class VerifiedGradient:
    """``meta_gradient(φ, batch) -> (grads, loss)`` for the judge's trainer (see the module)."""

    ask: Ask
    candidates: dict[str, Candidate]    # the algorithm's own objective first
    function: str                       # the student's function, for messages
    variant: str | None = None
    step: int = 0
    cosines: list[float] = field(default_factory=list)

    @property
    def algorithm(self) -> str:
        return next(iter(self.candidates))

    def __call__(self, phi: dict, batch: TaskBatch) -> tuple[dict, float]:
        self.step += 1
        got = self.ask(phi, batch, self.step)
        require_finite(f"the gradient of {self.function} at meta-step {self.step}", got)
        labels = [self.variant] if self.variant else list(self.candidates)
        seen: dict[str, float] = {}
        answers = {}
        for label in labels:
            answers[label] = self.candidates[label](phi, batch)
            seen[label] = cosine(got, answers[label][0])
            if label == self.algorithm and seen[label] >= 1 - 1e-6:
                break       # the algorithm itself, to float precision: no need to look further
        best = max(seen, key=seen.get)
        if self.algorithm in seen and seen[self.algorithm] >= max(MIN_COSINE, seen[best] - 1e-6):
            best = self.algorithm
        if seen[best] < MIN_COSINE:
            fail(self._mismatch(seen))
        self.variant = best
        self.cosines.append(seen[best])
        grads, loss = answers[best]
        return {k: g.detach() for k, g in grads.items()}, loss

    def _mismatch(self, seen: dict[str, float]) -> str:
        head = (f"the accuracy tiers train φ only with meta-gradients the judge has verified at "
                f"every meta-step (cosine ≥ {MIN_COSINE} with its own on the same φ and tasks)")
        if self.variant is not None:
            return (f"{head}. At meta-step {self.step} the gradient of your {self.function} "
                    f"was no longer that of {self.variant} (cosine {seen[self.variant]:.4f}), "
                    f"although it was at meta-steps 1–{self.step - 1}: the function computes "
                    "another objective on some inputs (a bug that shows only on some tasks, "
                    "or a gradient that changes between calls). The unit tests of "
                    f"{self.function} and of the functions it calls name the cause.")
        best = max(seen, key=seen.get)
        closest = "" if best == self.algorithm else \
            f"; the closest known variant is {best} (cosine {seen[best]:.4f})"
        return (f"{head}. At meta-step 1 the gradient of your {self.function} is neither "
                f"{self.algorithm}'s (cosine {seen[self.algorithm]:.4f}) nor that of a known "
                f"honest variant of it{closest}. The unit tests of {self.function} name the "
                "cause; once it computes the right gradient, the tiers follow.")


def ask_student(student: Student, fn: str, spec: dict, device: torch.device, *extra,
                **kwargs) -> "Ask":
    """``ask(φ, batch, step)``: ∇φ of the student's loss ``fn(model, φ, batch, *extra,
    **kwargs)``, computed in the worker and checked as hostile data (a failure names the
    meta-step)."""
    def ask(phi: dict, batch: TaskBatch, step: int) -> dict:
        c = student.call(fn, spec, MODEL, P(phi), batch, *extra, device=str(device),
                         probes=[{"name": "grad", "kind": "grad"}], **kwargs)
        if c.error:
            fail(f"meta-training with your {fn} failed at meta-step {step}: {c.error}")
        try:
            _, grads = returned_loss(fn, c.value, c.probes.get("grad", {}), phi)
        except CheckFailed as e:
            fail(f"meta-training with your {fn} failed at meta-step {step}: {e}")
        return {k: g.to(device) for k, g in grads.items()}
    return ask


def train_verified(train: Callable[[], object], functions: str) -> object:
    """Run a tier's training, every gradient verified: its result, or the message every tier of
    the assignment shows when a check failed or training diverged (``functions``: the
    student's functions it trained with, as the message names them)."""
    try:
        return train()
    except CheckFailed as e:
        return str(e)
    except FloatingPointError as e:
        return f"meta-training with your {functions} diverged: {e}"


_TRAINED: dict = {}


def tier_verdict(result, threshold: float, tier: int, reached: str,
                 train: Callable | None = None, profile=None) -> None:
    """A tier's verdict: the failure ``result`` names, or the accuracy below ``threshold``
    (``reached``: the sentence around the accuracy, with ``{shown}``).  The judge passes the
    shared training ``result``; in the instructor's notebook ``result`` is the student's function
    itself, and ``train(result, profile)`` runs once in-process for all the tier cells."""
    if callable(result) and train is not None:
        key = (train, profile.name, id(result))
        if key not in _TRAINED:
            _TRAINED[key] = train(result, profile)
        result = _TRAINED[key]
    if isinstance(result, str):
        fail(result)
    if not (result.mean >= threshold) or math.isnan(result.mean):
        shown = result.describe() if isinstance(result, Trained) else result
        fail(reached.format(shown=shown) + f"; tier {tier} needs {threshold:.0%}.")
