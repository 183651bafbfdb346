"""Diagnosis by properties (autograder/checks/properties.py, step_properties.py): every
correct answer has them, and each kind of mistake breaks the one that names it — whatever the
code looks like.  The reference must break none; each bug below is written fresh here."""

from __future__ import annotations

import pytest
import torch

from autograder.checks.common import leaf
from autograder.checks.properties import mean_query_loss, objective_violation
from autograder.checks.step_properties import step_violation
from autograder.assignments.metalearning import answers as ref
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

    def ask(phi=PHI, alpha=ALPHA, repeat=False, scale=1.0):
        at, y = leaf(phi), t.y_support * scale
        out = fn(MODEL, at, t.x_support, y, alpha)
        return fn(MODEL, at, t.x_support, y, alpha) if repeat else out

    def grad(phi, scale=1.0):
        at = leaf(phi)
        loss = task_loss(MODEL, at, t.x_support, t.y_support * scale)
        return dict(zip(at, torch.autograd.grad(loss, list(at.values()))))
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


def clip_norm_one(model, params, x, y, alpha, create_graph=False):
    g = torch.autograd.grad(task_loss(model, params, x, y), list(params.values()))
    total = torch.sqrt(sum((gk ** 2).sum() for gk in g))
    return {k: p - alpha * gk / max(1.0, total.item()) for (k, p), gk in zip(params.items(), g)}


def bias_left_out(model, params, x, y, alpha, create_graph=False):
    g = torch.autograd.grad(task_loss(model, params, x, y), list(params.values()))
    return {k: p if k == "head.bias" else p - alpha * gk
            for (k, p), gk in zip(params.items(), g)}


def no_step(model, params, x, y, alpha, create_graph=False):
    return dict(params)


@pytest.mark.parametrize("fn, said", [
    (clip_norm_one, "large gradients"), (bias_left_out, "does not update head.bias"),
    (no_step, "no step was taken"),
])
def test_clipping_a_skipped_tensor_and_no_step_are_named_whatever_the_gradient_size(fn, said):
    assert said in (_step(fn) or ""), _step(fn)


def test_prototype_logit_and_protonet_loss_properties_name_their_class_of_cause():
    from autograder.checks.common import tiny_classification
    from autograder.assignments.metasgd_protonet.protonet_properties import (logit_violation, loss_violation,
                                                       prototype_violation)
    from autograder.assignments.metasgd_protonet import answers as proto
    from hwlib.models import split_body_head

    z, labels = torch.randn(6, 5, dtype=torch.float64), torch.tensor([2, 0, 1, 1, 0, 2])
    assert prototype_violation(lambda a, b: proto.prototypes(a, b, 3), z, labels, 3) is None
    unit = lambda a, b: torch.nn.functional.normalize(proto.prototypes(a, b, 3), dim=1)  # noqa
    assert "not normalised" in prototype_violation(unit, z, labels, 3)
    q, c = torch.randn(4, 5, dtype=torch.float64), torch.randn(3, 5, dtype=torch.float64)
    assert logit_violation(proto.protonet_logits, q, c) is None
    probs = lambda a, b: proto.protonet_logits(a, b).softmax(1)  # noqa: E731
    assert "softmax probabilities" in logit_violation(probs, q, c)
    distance = lambda a, b: -torch.cdist(a, b)  # noqa: E731
    assert "squared" in logit_violation(distance, q, c)

    model, phi, batch = tiny_classification(seed=0)
    body = split_body_head(phi)[0]

    def loss_of(fn):
        return lambda b: float(fn(model, body, b).detach())

    def n_is_support_size(model, phi, batch):
        losses = []
        for t in batch:
            n_way = len(t.y_support)
            cs = proto.prototypes(proto.embed(model, phi, t.x_support), t.y_support, n_way)
            logits = proto.protonet_logits(proto.embed(model, phi, t.x_query), cs)
            losses.append(torch.nn.functional.cross_entropy(logits, t.y_query))
        return torch.stack(losses).mean()

    assert loss_violation(loss_of(proto.protonet_loss), batch, lambda: 1.0) is None
    assert "N and K are mixed up" in loss_violation(loss_of(n_is_support_size), batch,
                                                    lambda: 1.0)
    assert "float32" in loss_violation(loss_of(proto.protonet_loss), batch, lambda: float("inf"))


def test_reptile_direction_properties_name_a_rescaled_direction_and_the_step_count():
    rep = ref.reptile_meta_gradient

    def ask_of(fn):
        def ask(phi=PHI, batch=BATCH, alpha=ALPHA, steps=3):
            return fn(MODEL, leaf(phi), batch, alpha, steps)[0]
        return ask

    def over_alpha(model, phi, batch, alpha, steps=5):
        d, loss = rep(model, phi, batch, alpha, steps)
        return {k: v / alpha for k, v in d.items()}, loss

    def one_too_many(model, phi, batch, alpha, steps=5):
        return rep(model, phi, batch, alpha, steps + 1)

    def said(fn):
        return objective_violation(ask_of(fn), "reptile_meta_gradient", PHI, BATCH, ALPHA, 3,
                                   kind="direction")
    assert said(rep) is None
    assert "divided by α" in said(over_alpha), said(over_alpha)
    assert "one step too many" in said(one_too_many), said(one_too_many)
