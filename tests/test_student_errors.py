"""The common student mistakes stop with a message that names the cause and the fix."""

import pytest
import torch

from hwlib import MLP, Conv4, MetaLearner, TrainConfig, evaluate, forward, init_params, meta_train
from hwlib.errors import OutOfMemoryHint
from hwlib.models import task_loss
from hwlib.tasks import EpisodeSampler, FixedTaskSet


@pytest.mark.parametrize("shape, hint", [
    ((2, 5, 1, 28, 28), "whole meta-batch: pass one task's images, e.g. batch[i].x_support"),
    ((5, 28, 28), "add the channel dimension: x.unsqueeze(1)"),
    ((5, 784), "Conv4 expects images [n, 1, 28, 28], got [5, 784]"),
])
def test_wrong_image_shape(shape, hint):
    model = Conv4(n_way=5, hidden=8)
    with pytest.raises(ValueError, match=hint.replace("[", r"\[").replace("(", r"\(")
                       .replace(")", r"\)").replace("]", r"\]").replace(".", r"\.")):
        forward(model, init_params(model, 0), torch.zeros(shape))


def test_wrong_sine_shapes():
    model = MLP()
    phi = init_params(model, 0)
    with pytest.raises(ValueError, match="one task at a time"):
        forward(model, phi, torch.zeros(4, 10, 1))
    with pytest.raises(ValueError, match=r"must have the predictions' shape \[10, 1\]"):
        task_loss(model, phi, torch.zeros(10, 1), torch.zeros(10))


def test_support_images_with_query_labels():
    model = Conv4(n_way=5, hidden=8)
    with pytest.raises(ValueError, match="x_support with y_support"):
        task_loss(model, init_params(model, 0), torch.zeros(5, 1, 28, 28),
                  torch.zeros(75, dtype=torch.long))


def test_params_not_a_dict():
    model = MLP()
    phi = init_params(model, 0)
    with pytest.raises(TypeError, match=r"got list: rebuild the dict, e\.g\. dict\(zip"):
        forward(model, [v - 0.1 for v in phi.values()], torch.zeros(3, 1))
    with pytest.raises(TypeError, match="got generator: rebuild the dict"):
        forward(model, (v for v in phi.values()), torch.zeros(3, 1))


def test_forgetting_create_graph_is_named_by_the_self_check():
    from hwlib import selfcheck

    def inner(model, params, x, y, alpha, create_graph=False):  # ignores create_graph
        grads = torch.autograd.grad(task_loss(model, params, x, y), list(params.values()))
        return {k: v - alpha * g for (k, v), g in zip(params.items(), grads)}

    def maml(model, phi, batch, alpha, steps=1):
        return torch.stack([task_loss(model, inner(model, phi, t.x_support, t.y_support, alpha),
                                      t.x_query, t.y_query) for t in batch]).mean()

    with pytest.raises(AssertionError, match=r"create_graph=True"):
        selfcheck.check_meta_gradient(maml)


def _oom(*_):
    raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


def test_out_of_memory_in_training_says_lower_the_meta_batch(synthetic_splits):
    model = Conv4(n_way=2, hidden=4)
    sampler = EpisodeSampler(synthetic_splits.train, 2, 1, 1, seed=0)
    learner = MetaLearner(model, lambda p, x, y, k: p, meta_loss=_oom, name="maml")
    with pytest.raises(OutOfMemoryHint, match=r"meta-batch of 32 tasks\. Lower it "
                       r"\(TrainConfig\(meta_batch_size=\.\.\.\)") as info:
        meta_train(learner, init_params(model, 0), sampler.sample,
                   TrainConfig(meta_batch_size=32, steps=1, progress=False))
    assert "Tried to allocate 2.00 GiB" in str(info.value)
    assert isinstance(info.value, torch.OutOfMemoryError)  # still catchable as torch's error


def test_out_of_memory_in_evaluation_says_lower_the_batch(synthetic_splits):
    model = Conv4(n_way=2, hidden=4)
    tasks = FixedTaskSet(synthetic_splits.test, 2, 1, 2, num_tasks=3)
    with pytest.raises(OutOfMemoryHint, match=r"evaluation batch of 50 tasks\. Lower it"):
        evaluate(model, init_params(model, 0), _oom, tasks, progress=False)
