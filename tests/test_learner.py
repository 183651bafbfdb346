"""The bridge from the students' functions to the skeleton: MetaLearner.from_answers."""

from __future__ import annotations

import pytest
import torch

from autograder.assignments.metalearning.answers import anil_adapt, inner_update, maml_meta_loss
from hwlib import MetaLearner, inner_loop, pretrain_loss, tiny_sine_problem
from hwlib.learner import outer_gradient


def _grads(loss, phi):
    return torch.autograd.grad(loss, list(phi.values()))


def test_inner_loop_repeats_the_inner_update():
    model, phi, batch = tiny_sine_problem()
    t = batch[0]
    adapt = inner_loop(inner_update, model, 0.05)
    assert adapt(phi, t.x_support, t.y_support, 0) is phi
    by_hand = inner_update(model, inner_update(model, phi, t.x_support, t.y_support, 0.05),
                           t.x_support, t.y_support, 0.05)
    two = adapt(phi, t.x_support, t.y_support, 2)
    assert all(torch.equal(two[k], by_hand[k]) for k in phi)


def test_from_answers_uses_the_students_functions_with_the_learners_alpha():
    model, phi, batch = tiny_sine_problem()
    learner = MetaLearner.from_answers(model, 0.05, name="maml", inner_update=inner_update,
                                       meta_loss=maml_meta_loss, inner_steps=2)
    assert learner.alpha == 0.05 and learner.describe() == "maml (α = 0.05, 2 inner steps)"
    grads, loss, _ = outer_gradient(learner, phi, batch)
    expected = maml_meta_loss(model, phi, batch, 0.05, steps=2)
    assert loss == pytest.approx(expected.item())
    assert all(torch.allclose(grads[k], g) for k, g in zip(phi, _grads(expected, phi)))
    # α is read on every call: changing it on the learner changes the inner loop and the loss
    t = batch[0]
    before = learner.adapt(phi, t.x_support, t.y_support, 1)["head.bias"]
    learner.alpha = 0.2
    after = learner.adapt(phi, t.x_support, t.y_support, 1)["head.bias"]
    assert torch.allclose(after, inner_update(model, phi, t.x_support, t.y_support,
                                              0.2)["head.bias"])
    assert not torch.allclose(before, after)
    assert outer_gradient(learner, phi, batch)[1] == pytest.approx(
        maml_meta_loss(model, phi, batch, 0.2, steps=2).item())


def test_from_answers_with_a_whole_inner_loop_and_the_pretraining_loss():
    model, phi, batch = tiny_sine_problem()
    t = batch[0]
    anil = MetaLearner.from_answers(model, 0.1, name="anil", adapt=anil_adapt,
                                    meta_loss=pretrain_loss)
    got = anil.adapt(phi, t.x_support, t.y_support, 3)
    want = anil_adapt(model, phi, t.x_support, t.y_support, 0.1, 3)
    assert all(torch.equal(got[k], want[k]) for k in phi)
    _, loss, _ = outer_gradient(anil, phi, batch)
    by_hand = sum(torch.mean((_forward(model, phi, t.x_query) - t.y_query) ** 2)
                  for t in batch) / len(batch)  # the loss of φ itself, no inner loop
    assert loss == pytest.approx(by_hand.item())


def _forward(model, phi, x):
    return torch.func.functional_call(model, phi, (x,))


@pytest.mark.parametrize("kwargs, message", [
    (dict(meta_loss=maml_meta_loss), "inner_update"),
    (dict(inner_update=inner_update, adapt=anil_adapt, meta_loss=maml_meta_loss), "exactly one"),
    (dict(inner_update=inner_update), "meta_loss or meta_gradient"),
])
def test_from_answers_says_what_is_missing(kwargs, message):
    model, _, _ = tiny_sine_problem()
    with pytest.raises(ValueError, match=message):
        MetaLearner.from_answers(model, 0.1, name="x", **kwargs)
