"""The second assignment's reference: the fast paths equal the students' per-task form, the
prototype classifier is the linear head of hwlib.protonet, and Meta-SGD with frozen rates is
MAML (or ANIL) — the reductions the notebook teaches."""

from __future__ import annotations

import pytest
import torch

from autograder.checks.common import tiny_classification
from autograder.assignments.metalearning import answers
from autograder.assignments.metasgd_protonet import answers as ref
from autograder.reference import fast, fast_protonet
from autograder.reference.algorithms import initial_params, make_learner
from autograder.research.train import RunSpec
from hwlib.evaluate import evaluate
from hwlib.learner import outer_gradient
from hwlib.protonet import embed, prototype_head
from hwlib.metasgd import init_alphas, pack, unpack
from hwlib.models import forward, split_body_head


def _grads(loss, params):
    names = list(params)
    return dict(zip(names, torch.autograd.grad(loss, [params[k] for k in names])))


def test_fast_protonet_equals_the_per_task_loop():
    model, phi, batch = tiny_classification(tasks=3, seed=1)
    body = split_body_head(phi)[0]
    loop = ref.protonet_loss(model, body, batch)
    quick, _ = fast_protonet.protonet_loss(model, body, batch)
    assert torch.allclose(loop, quick, rtol=1e-10)
    g_loop, g_fast = _grads(loop, body), _grads(quick, body)
    assert all(torch.allclose(g_loop[k], g_fast[k], rtol=1e-8, atol=1e-12) for k in body)


def test_prototype_classifier_is_a_linear_head():
    """−‖z − c_k‖² = 2c_kᵀz − ‖c_k‖² − ‖z‖²: same soft-max and arg-max as W = 2C, b = −‖C‖²."""
    z, c = torch.randn(7, 5, dtype=torch.float64), torch.randn(3, 5, dtype=torch.float64)
    head = prototype_head(c)
    linear = z @ head["head.weight"].T + head["head.bias"]
    distance = ref.protonet_logits(z, c)
    assert torch.allclose(linear.log_softmax(-1), distance.log_softmax(-1))
    assert torch.equal(linear.argmax(-1), distance.argmax(-1))


def test_protonet_learner_evaluates_like_the_skeleton():
    from hwlib.models import Conv4, init_params
    from hwlib.tasks import FixedTaskSet

    model = Conv4(3, hidden=4, image_size=16)
    body = split_body_head(init_params(model, 2))[0]
    images = (torch.rand(12, 6, 16, 16) * 255).to(torch.uint8)
    tasks = FixedTaskSet(images, 3, 2, 3, num_tasks=8, seed=0)
    learner = make_learner("protonet", model, 0.0, 0, impl="loop")
    skeleton = evaluate(model, body, learner.adapt, tasks)
    batched = fast_protonet.evaluate_tasks(model, body, tasks)
    assert torch.equal(skeleton.accuracies, batched.accuracies)


def test_fast_metasgd_equals_the_per_task_loop():
    model, phi, batch = tiny_classification(tasks=2, seed=3)
    alphas = {k: (0.05 + 0.1 * torch.rand_like(v)).requires_grad_(True) for k, v in phi.items()}
    loop = ref.metasgd_meta_loss(model, phi, alphas, batch, steps=2)
    g_loop = _grads(loop, pack(phi, alphas))
    g_fast, value, _ = fast.meta_gradient(model, phi, batch, alphas, steps=2)
    assert abs(value - loop.item()) < 1e-10
    assert set(g_fast) == set(g_loop)
    assert all(torch.allclose(g_loop[k], g_fast[k], rtol=1e-7, atol=1e-12) for k in g_loop)


def test_frozen_rates_make_metasgd_maml_and_anil():
    model, phi, batch = tiny_classification(tasks=2, seed=4)
    maml = answers.maml_meta_loss(model, phi, batch, 0.3, steps=1)
    frozen = {k: v.detach() for k, v in init_alphas(phi, 0.3).items()}
    metasgd = ref.metasgd_meta_loss(model, phi, frozen, batch, steps=1)
    assert torch.allclose(maml, metasgd)
    g1, g2 = _grads(maml, phi), _grads(metasgd, phi)
    assert all(torch.allclose(g1[k], g2[k], rtol=1e-8) for k in phi)
    head_only = {k: torch.full_like(v, 0.3 if k.startswith("head.") else 0.0) for k, v in phi.items()}
    theta = ref.metasgd_inner_update(model, phi, head_only, batch[0].x_support,
                                     batch[0].y_support)
    anil = answers.anil_adapt(model, phi, batch[0].x_support, batch[0].y_support, 0.3, 1)
    assert all(torch.allclose(theta[k], anil[k]) for k in phi)


def test_metasgd_learns_phi_and_alpha_but_not_frozen_rates():
    model, phi, batch = tiny_classification(tasks=2, seed=5)
    params = pack(phi, init_alphas(phi, 0.1))
    learner = make_learner("metasgd", model, 0.1, 1, impl="loop")
    grads, _, _ = outer_gradient(learner, params, batch)
    assert set(grads) == set(params) and all(g.abs().sum() > 0 for g in grads.values())
    _, alphas = unpack(params)
    for v in alphas.values():
        v.requires_grad_(False)
    grads, _, _ = outer_gradient(learner, params, batch)
    assert set(grads) == set(phi)


def test_initial_params_per_algorithm():
    model, _, _ = tiny_classification(tasks=1)
    assert all(k.startswith("body.") for k in initial_params("protonet", model, 0, 0.0))
    packed = initial_params("metasgd", model, 0, 0.4)
    phi, alphas = unpack(packed)
    assert set(phi) == set(alphas) and all(torch.all(a == 0.4) for a in alphas.values())


def test_train_ways_only_for_protonet():
    assert RunSpec(algo="protonet", train_ways=20).train_ways == 20
    with pytest.raises(ValueError, match="only protonet has no N-way head"):
        RunSpec(algo="maml", train_ways=20)


def test_embed_runs_the_body_only():
    model, phi, batch = tiny_classification(tasks=1)
    body = split_body_head(phi)[0]
    z = embed(model, phi, batch[0].x_query)
    assert z.shape == (9, 2) and torch.allclose(z, embed(model, body, batch[0].x_query))
    logits = forward(model, {**body, **prototype_head(torch.zeros(3, 2, dtype=z.dtype))},
                     batch[0].x_query)
    assert logits.shape == (9, 3)
    with pytest.raises(ValueError, match="one task at a time"):
        embed(model, body, batch.x_query)
