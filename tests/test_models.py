"""conv4 and the MLP, used functionally with parameter dicts."""

from __future__ import annotations

import pytest
import torch

from hwlib.models import MLP, Conv4, detach_params, forward, init_params, split_body_head


def test_conv4_architecture():
    model = Conv4(n_way=5)
    params = init_params(model, seed=0)
    convs = [k for k in params if k.endswith(".0.weight")]
    assert [tuple(params[k].shape) for k in convs] == [(64, 1, 3, 3)] + [(64, 64, 3, 3)] * 3
    assert tuple(params["head.weight"].shape) == (5, 64)
    assert list(model.buffers()) == []  # BatchNorm keeps no running statistics
    assert all(v.requires_grad and v.is_leaf for v in params.values())
    assert forward(model, params, torch.rand(7, 1, 28, 28)).shape == (7, 5)


def test_batchnorm_uses_batch_statistics_even_in_eval_mode():
    model = Conv4(n_way=3).eval()
    params = init_params(model, seed=0)
    x = torch.rand(4, 1, 28, 28)
    alone = forward(model, params, x[:2])
    together = forward(model, params, torch.cat([x[:2], 5 * x[2:]]))[:2]
    assert not torch.allclose(alone, together)  # the other images of the batch matter


def test_functional_forward_uses_the_given_params():
    model = Conv4(n_way=5)
    phi = init_params(model, seed=1)
    x = torch.rand(5, 1, 28, 28)
    assert torch.allclose(forward(model, phi, x), forward(model, dict(phi), x))
    shifted = {**phi, "head.bias": phi["head.bias"] + torch.arange(5.0)}
    assert torch.allclose(forward(model, shifted, x) - forward(model, phi, x), torch.arange(5.0))
    out = forward(model, shifted, x).sum()
    (g,) = torch.autograd.grad(out, [phi["body.0.0.weight"]])
    assert g.abs().sum() > 0  # differentiable w.r.t. the dict entries


def test_init_is_seeded():
    a, b = init_params(Conv4(5), seed=3), init_params(Conv4(5), seed=3)
    c = init_params(Conv4(5), seed=4)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["body.0.0.weight"], c["body.0.0.weight"])


def test_body_head_split_partitions_params():
    phi = init_params(Conv4(5), seed=0)
    body, head = split_body_head(phi)
    assert set(head) == {"head.weight", "head.bias"}
    assert set(body) | set(head) == set(phi) and not set(body) & set(head)
    assert all(not v.requires_grad for v in detach_params(phi).values())


def test_mlp_is_1_40_40_1():
    model = MLP()
    params = init_params(model, seed=0)
    shapes = {k: tuple(v.shape) for k, v in params.items()}
    assert shapes == {"body.0.weight": (40, 1), "body.0.bias": (40,), "body.2.weight": (40, 40),
                      "body.2.bias": (40,), "head.weight": (1, 40), "head.bias": (1,)}
    assert forward(model, params, torch.rand(10, 1)).shape == (10, 1)


def test_clear_errors_for_bad_params():
    model = MLP()
    phi = init_params(model)
    with pytest.raises(TypeError, match="dict"):
        forward(model, list(phi.values()), torch.rand(3, 1))
    with pytest.raises(KeyError, match="missing"):
        forward(model, split_body_head(phi)[1], torch.rand(3, 1))
    with pytest.raises(ValueError):
        Conv4(n_way=0)
