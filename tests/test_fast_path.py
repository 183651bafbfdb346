"""The fast reference path equals the per-task loop: forward passes, meta-losses,
meta-gradients (first and second order), Reptile's direction and the evaluation."""

from __future__ import annotations

import pytest
import torch

from autograder.assignments.metalearning import answers
from autograder.reference import fast, make_learner
from autograder.reference.algorithms import anil_meta_loss
from hwlib.learner import pretrain_loss
from autograder.reference.batchnorm import batch_norm
from autograder.reference.batched import forward_tasks, per_task, task_losses
from hwlib.evaluate import evaluate
from hwlib.learner import outer_gradient
from hwlib.models import MLP, Conv4, forward, init_params, split_body_head
from hwlib.outer_loop import TrainConfig, meta_train
from hwlib.tasks import EpisodeSampler, FixedTaskSet, TaskBatch


def _setup(dtype=torch.float64, b=3, n_way=5, q=2, seed=0, binary=False):
    """``binary``: 0/1 images with flat regions, like Omniglot's, so that max-pool windows
    hold ties."""
    torch.manual_seed(seed)
    model = Conv4(n_way).to(dtype)
    phi = {k: v.to(dtype).detach().requires_grad_() for k, v in init_params(model, seed).items()}
    image = lambda n: (torch.rand(b, n, 1, 28, 28, dtype=dtype) > 0.7).to(dtype) if binary \
        else torch.rand(b, n, 1, 28, 28, dtype=dtype)
    batch = TaskBatch(image(n_way),
                      torch.arange(n_way).expand(b, n_way).contiguous(),
                      image(n_way * q),
                      torch.arange(n_way).repeat(q).expand(b, n_way * q).contiguous())
    return model, phi, batch


def _grads(loss, phi):
    return torch.autograd.grad(loss, list(phi.values()))


def test_forward_tasks_equals_one_forward_per_task():
    model, phi, batch = _setup()
    thetas = [{k: v + 0.01 * i * torch.randn_like(v) for k, v in phi.items()} for i in range(3)]
    stacked = {k: torch.stack([t[k] for t in thetas]) for k in phi}
    expected = torch.stack([forward(model, t, x) for t, x in zip(thetas, batch.x_query)])
    assert torch.allclose(forward_tasks(model, stacked, batch.x_query), expected, atol=1e-12)
    body, head = split_body_head(stacked)  # a shared body with per-task heads (ANIL)
    mixed = {**{k: phi[k] for k in body}, **head}
    expected = torch.stack([forward(model, {**phi, **{k: head[k][i] for k in head}}, x)
                            for i, x in enumerate(batch.x_query)])
    assert torch.allclose(forward_tasks(model, mixed, batch.x_query), expected, atol=1e-12)
    mlp = MLP().double()
    p = {k: v.double() for k, v in init_params(mlp, 1).items()}
    x = torch.randn(4, 7, 1, dtype=torch.float64)
    assert torch.allclose(forward_tasks(mlp, per_task(p, 4), x),
                          torch.stack([forward(mlp, p, xi) for xi in x]), atol=1e-12)
    y = torch.randn(4, 7, 1, dtype=torch.float64)
    losses = task_losses(mlp, p, x, y)
    assert losses.shape == (4,) and torch.allclose(losses[1], ((forward(mlp, p, x[1]) - y[1]) ** 2).mean())


def test_batch_norm_has_the_derivatives_of_torchs_up_to_second_order():
    x = torch.randn(3, 4, 5, 5, dtype=torch.float64, requires_grad=True)
    g = (torch.rand(4, dtype=torch.float64) + 0.5).requires_grad_()
    b = torch.randn(4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(batch_norm, (x, g, b))

    def second(bn, used):  # a second-order objective that reads the chosen first derivatives
        y = bn(x, g, b)
        first = torch.autograd.grad((y * torch.cos(y)).sum(), (x, g, b), create_graph=True)
        outer = sum((f.sin() * (i + 1)).sum() for i, f in enumerate(first) if i in used)
        return torch.autograd.grad(outer, (x, g, b), allow_unused=True)
    aten = lambda x, g, b: torch.nn.functional.batch_norm(x, None, None, g, b, training=True)
    for used in [(0, 1, 2), (0,), (1, 2)]:  # every cotangent, or some of them only
        for mine, theirs in zip(second(batch_norm, used), second(aten, used)):
            assert (mine is None and theirs is None) or torch.allclose(mine, theirs, atol=1e-10)
    with pytest.raises(RuntimeError):  # third order is not supported: it says so, no wrong value
        y = batch_norm(x, g, b)
        gx, = torch.autograd.grad((y ** 3).sum(), x, create_graph=True)
        hx, = torch.autograd.grad(gx.pow(2).sum(), x, create_graph=True)
        torch.autograd.grad(hx.sum(), x)


def test_forward_tasks_explains_bad_input():
    model, phi, batch = _setup()
    with pytest.raises(ValueError, match=r"params\['body.0.0.weight'\] has shape"):
        forward_tasks(model, {**phi, "body.0.0.weight": phi["body.0.0.weight"][:1]}, batch.x_query)
    with pytest.raises(ValueError, match=r"x must be \[B, n, ...\]"):
        forward_tasks(model, phi, batch.x_query[0, 0])
    with pytest.raises(TypeError, match="supports Conv2d"):
        forward_tasks(torch.nn.Sequential(torch.nn.Tanh()), {}, torch.zeros(2, 3, 4))


@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.parametrize("steps", [1, 2])
@pytest.mark.parametrize("algo", ["maml", "fomaml", "anil"])
def test_fast_meta_gradient_equals_the_loop(algo, steps, binary):
    model, phi, batch = _setup(binary=binary)
    loop = {"maml": lambda: answers.maml_meta_loss(model, phi, batch, 0.4, steps),
            "fomaml": lambda: answers.fomaml_meta_loss(model, phi, batch, 0.4, steps),
            "anil": lambda: anil_meta_loss(model, phi, batch, 0.4, steps)}[algo]()
    quick, acc = fast.meta_loss(model, phi, batch, 0.4, steps, first_order=algo == "fomaml",
                                head_only=algo == "anil")
    assert torch.allclose(quick, loop, rtol=1e-12) and 0 <= acc <= 1
    for g_fast, g_loop in zip(_grads(quick, phi), _grads(loop, phi)):
        assert torch.allclose(g_fast, g_loop, rtol=1e-9, atol=1e-12)


def test_fast_path_in_float32_matches_within_rounding():
    model, phi, batch = _setup(torch.float32, b=8, q=1)
    g_fast = _grads(fast.meta_loss(model, phi, batch, 0.4)[0], phi)
    g_loop = _grads(answers.maml_meta_loss(model, phi, batch, 0.4), phi)
    for a, b in zip(g_fast, g_loop):  # float32 rounding, amplified by BatchNorm on 5 images
        assert (a - b).norm() <= 2e-3 * b.norm() + 1e-5  # conv biases: exactly 0 ± rounding


def test_fast_reptile_and_pretraining_equal_the_loop():
    model, phi, batch = _setup()
    d_fast, l_fast = fast.reptile_meta_gradient(model, phi, batch, 0.1, 3)
    d_loop, l_loop = answers.reptile_meta_gradient(model, phi, batch, 0.1, 3)
    assert all(torch.allclose(d_fast[k], d_loop[k], atol=1e-12) for k in phi)
    assert torch.allclose(l_fast, l_loop)
    assert torch.allclose(_grads(fast.pretrain_loss(model, phi, batch), phi)[0],
                          _grads(pretrain_loss(model, phi, batch), phi)[0], atol=1e-12)


@pytest.mark.parametrize("algo", ["maml", "fomaml", "anil", "reptile", "pretrain"])
def test_learners_fast_and_loop_give_the_same_update(algo):
    model, phi, batch = _setup()
    out = [outer_gradient(make_learner(algo, model, 0.1, 1, impl=impl), phi, batch)
           for impl in ("fast", "loop")]
    assert all(torch.allclose(out[0][0][k], out[1][0][k], atol=1e-10) for k in phi)
    assert out[0][1] == pytest.approx(out[1][1])
    with pytest.raises(ValueError, match="impl must be one of"):
        make_learner(algo, model, 0.1, 1, impl="vectorised")


@pytest.mark.parametrize("algo", ["maml", "fomaml", "anil"])
def test_meta_gradient_in_passes_equals_the_whole_batch(algo):
    model, phi, batch = _setup(b=5)  # 15 images per task: passes of 2, 2 and 1 tasks
    assert fast.tasks_per_pass(batch, images=30) == 2 and fast.tasks_per_pass(batch, 1) == 1
    kw = dict(first_order=algo == "fomaml", head_only=algo == "anil")
    whole, acc = fast.meta_loss(model, phi, batch, 0.4, **kw)
    grads, loss, acc_passes = fast.meta_gradient(model, phi, batch, 0.4, images_per_pass=30, **kw)
    assert all(torch.allclose(g, grads[k], atol=1e-12)
               for k, g in zip(phi, _grads(whole, phi)))
    assert loss == pytest.approx(whole.item()) and acc_passes == pytest.approx(acc)


@pytest.mark.parametrize("algo", ["maml", "anil"])
def test_batched_evaluation_equals_the_skeletons(synthetic_splits, algo):
    model = Conv4(3)
    phi = init_params(model, 0)
    learner = make_learner(algo, model, 0.4, 1)
    meta_train(learner, phi, EpisodeSampler(synthetic_splits.train, 3, 1, 2).sample,
               TrainConfig(meta_batch_size=2, steps=3, progress=False))
    tasks = FixedTaskSet(synthetic_splits.test, 3, 1, 5, num_tasks=13)
    plain = evaluate(model, phi, learner.adapt, tasks, steps=2)
    quick = fast.evaluate_tasks(model, phi, tasks, 0.4, 2, head_only=algo == "anil",
                                batch_size=5)
    assert torch.equal(plain.accuracies, quick.accuracies) and quick.steps == 2
    # the learner carries it: `train` and the grader call learner.evaluate, never branch on algo
    assert learner.evaluate_tasks is not None
    assert torch.equal(learner.evaluate(phi, tasks, steps=2).accuracies, plain.accuracies)
    looped = make_learner(algo, model, 0.4, 1, impl="loop")
    assert looped.evaluate_tasks is None
    assert torch.equal(looped.evaluate(phi, tasks, steps=2).accuracies, plain.accuracies)


def test_after_step_stops_training_and_its_time_is_not_counted(synthetic_splits):
    import time

    model = Conv4(3)
    phi = init_params(model, 0)
    calls = []

    def slow_check(step: int, seconds: float) -> bool:
        calls.append((step, seconds))
        time.sleep(0.3)
        return step == 4

    start = time.perf_counter()
    result = meta_train(make_learner("maml", model, 0.4, 1), phi,
                        EpisodeSampler(synthetic_splits.train, 3, 1, 1).sample,
                        TrainConfig(meta_batch_size=2, steps=50, progress=False),
                        after_step=slow_check)
    elapsed = time.perf_counter() - start
    assert result.steps == 4 and [c[0] for c in calls] == [1, 2, 3, 4]
    assert elapsed - result.train_seconds >= 4 * 0.3  # the checks' sleeps are not counted
