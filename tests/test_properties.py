"""Diagnosis by properties (autograder/checks/properties.py, step_properties.py): every
correct answer has them, and each kind of mistake breaks the one that names it — whatever the
code looks like.  The reference must break none; each bug below is written fresh here."""

from __future__ import annotations

import pytest
import torch

from autograder.checks.common import leaf
from autograder.checks.properties import mean_query_loss, objective_violation
from autograder.checks.step_properties import step_violation
from autograder.reference import answers as ref
from hwlib.models import task_loss
from hwlib.sinusoid import tiny_sine_problem

MODEL, PHI, BATCH = tiny_sine_problem(seed=3)
ALPHA = 0.05


def _objective(fn) -> str | None:
    def ask(phi=PHI, batch=BATCH, alpha=ALPHA, steps=1):
        return fn(MODEL, leaf(phi), batch, alpha, steps).item()
    return objective_violation(ask, "maml_meta_loss", PHI, BATCH, ALPHA, 1,
                               mean_query_loss(MODEL, PHI))


def _adapt(model, phi, task, alpha, steps):
    for _ in range(steps):
        phi = ref.inner_update(model, phi, task.x_support, task.y_support, alpha, True)
    return phi


def chained(model, phi, batch, alpha, steps=1):   # each task starts from the last θ̂
    losses, theta = [], phi
    for t in batch:
        theta = _adapt(model, theta, t, alpha, steps)
        losses.append(task_loss(model, theta, t.x_query, t.y_query))
    return torch.stack(losses).mean()


def summed(model, phi, batch, alpha, steps=1):
    return ref.maml_meta_loss(model, phi, batch, alpha, steps) * len(batch)


def last_only(model, phi, batch, alpha, steps=1):
    for t in batch:
        loss = task_loss(model, _adapt(model, phi, t, alpha, steps), t.x_query, t.y_query)
    return loss


def one_step(model, phi, batch, alpha, steps=1):
    return ref.maml_meta_loss(model, phi, batch, alpha, 1)


def own_weights(model, phi, batch, alpha, steps=1):
    fixed = {k: v.detach() for k, v in model.named_parameters()}
    return ref.maml_meta_loss(model, leaf(fixed), batch, alpha, steps) + 0 * sum(
        p.sum() for p in phi.values())


def query_summed(model, phi, batch, alpha, steps=1):
    return ref.maml_meta_loss(model, phi, batch, alpha, steps) * batch.x_query.shape[1]


_calls = [0]


def stateful(model, phi, batch, alpha, steps=1):
    _calls[0] += 1
    return ref.maml_meta_loss(model, phi, batch, alpha, steps) * (1 + 1e-3 * _calls[0])


@pytest.mark.parametrize("fn, said", [
    (chained, "not independent"), (summed, "summed over the tasks"), (last_only, "only the last"),
    (one_step, "ignores `steps`"), (own_weights, "does not change when φ changes"),
    (query_summed, "mean over its query examples"), (stateful, "state is kept"),
])
def test_each_kind_of_meta_loss_bug_breaks_the_property_that_names_it(fn, said):
    assert _objective(ref.maml_meta_loss) is None
    assert said in (_objective(fn) or ""), _objective(fn)


def _step(fn) -> str | None:
    t = BATCH[0]

    def ask(phi=PHI, alpha=ALPHA, repeat=False):
        at = leaf(phi)
        out = fn(MODEL, at, t.x_support, t.y_support, alpha)
        return fn(MODEL, at, t.x_support, t.y_support, alpha) if repeat else out

    def grad(phi):
        at = leaf(phi)
        return dict(zip(at, torch.autograd.grad(task_loss(MODEL, at, t.x_support, t.y_support),
                                                list(at.values()))))
    return step_violation(ask, "inner_update", PHI, grad, ALPHA)


def backward_accumulates(model, params, x, y, alpha, create_graph=False):
    task_loss(model, params, x, y).backward()
    return {k: p - alpha * p.grad for k, p in params.items()}


def clipped(model, params, x, y, alpha, create_graph=False):
    g = torch.autograd.grad(task_loss(model, params, x, y), list(params.values()))
    top = max(x.abs().max() for x in g) * 0.9
    return {k: p - alpha * gk.clamp(-top, top) for (k, p), gk in zip(params.items(), g)}


def halved(model, params, x, y, alpha, create_graph=False):
    g = torch.autograd.grad(task_loss(model, params, x, y) / 2, list(params.values()))
    return {k: p - alpha * gk for (k, p), gk in zip(params.items(), g)}


def alpha_squared(model, params, x, y, alpha, create_graph=False):
    return ref.inner_update(model, params, x, y, alpha ** 2 / ALPHA)


@pytest.mark.parametrize("fn, said", [
    (backward_accumulates, "accumulated in .grad"), (clipped, "clipped"),
    (halved, "divided by 2"), (alpha_squared, "not proportional to α"),
])
def test_each_kind_of_inner_step_bug_breaks_the_property_that_names_it(fn, said):
    assert _step(ref.inner_update) is None
    assert said in (_step(fn) or ""), _step(fn)
