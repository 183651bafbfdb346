"""N-way K-shot episodes, the fixed evaluation set and sinusoid tasks."""

from __future__ import annotations

import math

import pytest
import torch

from hwlib.sinusoid import SinusoidSampler
from hwlib.tasks import EpisodeSampler, FixedTaskSet, episode_indices


def identify(images_u8: torch.Tensor, x: torch.Tensor) -> list[tuple[int, int, int]]:
    """(character, drawing, rotation) of each float image in ``x [n, 1, H, W]``."""
    u8 = (x.squeeze(1) * 255).round().to(torch.uint8)
    found = []
    for img in u8:
        for r in range(4):
            match = (images_u8 == torch.rot90(img, -r, dims=(-2, -1))).flatten(2).all(-1)
            hits = match.nonzero()
            if len(hits):
                found.append((hits[0, 0].item(), hits[0, 1].item(), r))
                break
        else:
            raise AssertionError("image not found in the dataset")
    return found


def test_batch_shapes_labels_and_value_range(synthetic_splits):
    s = EpisodeSampler(synthetic_splits.train, n_way=5, k_shot=2, q_query=3, seed=1)
    b = s.sample(4)
    assert b.x_support.shape == (4, 10, 1, 28, 28) and b.x_query.shape == (4, 15, 1, 28, 28)
    assert b.y_support.shape == (4, 10) and b.y_query.shape == (4, 15)
    assert b.x_support.dtype == torch.float32 and b.y_support.dtype == torch.long
    assert 0 <= b.x_support.min() and b.x_support.max() <= 1 and b.x_query.max() == 1
    for y, per_class in ((b.y_support, 2), (b.y_query, 3)):
        assert (torch.bincount(y[0], minlength=5) == per_class).all()
    assert len(b) == 4 and b[2].x_support.shape == (10, 1, 28, 28)


def test_support_and_query_share_classes_but_not_drawings(synthetic_splits):
    images = synthetic_splits.train.images
    b = EpisodeSampler(synthetic_splits.train, 3, 2, 2, seed=3).sample(3)
    for task in b:
        sup, qry = identify(images, task.x_support), identify(images, task.x_query)
        label_of = {}
        for (char, _, _), y in zip(sup, task.y_support.tolist()):
            assert label_of.setdefault(char, y) == y
        assert len(label_of) == 3  # N distinct characters
        for (char, _, _), y in zip(qry, task.y_query.tolist()):
            assert label_of[char] == y  # query drawings of the same classes, same labels
        assert not {(c, d) for c, d, _ in sup} & {(c, d) for c, d, _ in qry}


def test_labels_are_reassigned_per_task(synthetic_splits):
    images = synthetic_splits.train.images
    b = EpisodeSampler(synthetic_splits.train, 5, 1, 1, seed=0).sample(40)
    labels_of_char: dict[int, set[int]] = {}
    for task in b:
        for (char, _, _), y in zip(identify(images, task.x_support), task.y_support.tolist()):
            labels_of_char.setdefault(char, set()).add(y)
    assert max(len(v) for v in labels_of_char.values()) >= 3


def test_rotations_make_new_classes(synthetic_splits):
    images = synthetic_splits.train.images
    plain = EpisodeSampler(synthetic_splits.train, 5, 1, 1, seed=0)
    assert plain.num_classes == len(images)
    rot = EpisodeSampler(synthetic_splits.train, 5, 1, 1, rotations=True, seed=0)
    assert rot.num_classes == 4 * len(images)
    turns_seen = set()
    for task in rot.sample(20):
        sup, qry = identify(images, task.x_support), identify(images, task.x_query)
        turns_seen |= {r for _, _, r in sup}
        for (c, _, r), (c2, _, r2) in zip(sup, qry):  # same label → same character and turn
            assert (c, r) == (c2, r2)
    assert turns_seen == {0, 1, 2, 3}
    assert {r for t in plain.sample(10) for _, _, r in identify(images, t.x_support)} == {0}


def test_seeded_and_exactly_reproducible(synthetic_splits):
    a = EpisodeSampler(synthetic_splits.train, 5, 1, 2, rotations=True, seed=7)
    b = EpisodeSampler(synthetic_splits.train, 5, 1, 2, rotations=True, seed=7)
    c = EpisodeSampler(synthetic_splits.train, 5, 1, 2, rotations=True, seed=8)
    for _ in range(3):
        x, y, z = a.sample(8), b.sample(8), c.sample(8)
        assert torch.equal(x.x_support, y.x_support) and torch.equal(x.x_query, y.x_query)
        assert not torch.equal(x.x_support, z.x_support)
    state = a.get_state()
    nxt = a.sample(4)
    a.set_state(state)
    assert torch.equal(a.sample(4).x_query, nxt.x_query)


def test_indices_distinct_within_task_and_class():
    g = torch.Generator().manual_seed(0)
    classes, drawings = episode_indices(64, 30, 20, 20, 12, g, torch.device("cpu"))
    assert all(len(set(row.tolist())) == 20 for row in classes)
    assert all(len(set(cls.tolist())) == 12 for task in drawings for cls in task)
    assert classes.max() < 30 and drawings.max() < 20


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_way=11, k_shot=1, q_query=1), "n_way=11 is larger than the 10 classes"),
    (dict(n_way=5, k_shot=15, q_query=6), "k_shot \\+ q_query = 21"),
    (dict(n_way=0, k_shot=1, q_query=1), "n_way must be a positive int"),
    (dict(n_way=5, k_shot=-1, q_query=1), "k_shot must be a positive int"),
    (dict(n_way=5, k_shot=1, q_query=0), "q_query must be a positive int"),
])
def test_invalid_arguments_say_what_is_possible(synthetic_splits, kwargs, match):
    with pytest.raises(ValueError, match=match):
        EpisodeSampler(synthetic_splits.train, **kwargs)


def test_rotations_hint_and_batch_size_checked(synthetic_splits):
    with pytest.raises(ValueError, match="rotations=True"):
        EpisodeSampler(synthetic_splits.train, 11, 1, 1)
    assert EpisodeSampler(synthetic_splits.train, 11, 1, 1, rotations=True).num_classes == 40
    with pytest.raises(ValueError, match="batch_size"):
        EpisodeSampler(synthetic_splits.train, 5, 1, 1).sample(0)


def test_sampler_returns_tensors_on_requested_device(synthetic_splits):
    b = EpisodeSampler(synthetic_splits.train, 5, 1, 1, device="cpu").sample(2)
    assert b.x_support.device.type == "cpu" and b.y_query.device.type == "cpu"
    if torch.cuda.is_available():
        g = EpisodeSampler(synthetic_splits.train, 5, 1, 1, device="cuda").sample(2)
        assert g.x_support.is_cuda and g.y_support.is_cuda


def test_fixed_task_set_is_deterministic_and_batch_size_independent(synthetic_splits):
    a = FixedTaskSet(synthetic_splits.test, 5, 1, 5, num_tasks=30, seed=11)
    b = FixedTaskSet(synthetic_splits.test, 5, 1, 5, num_tasks=30, seed=11)
    assert len(a) == 30
    xa = torch.cat([t.x_query for t in a.batches(7)])
    xb = torch.cat([t.x_query for t in b.batches(30)])
    assert torch.equal(xa, xb) and xa.shape == (30, 25, 1, 28, 28)
    c = FixedTaskSet(synthetic_splits.test, 5, 1, 5, num_tasks=30, seed=12)
    assert not torch.equal(xa, torch.cat([t.x_query for t in c.batches(30)]))


def test_default_fixed_set_has_600_tasks(synthetic_splits):
    assert len(FixedTaskSet(synthetic_splits.test, n_way=5, k_shot=1)) == 600


def test_sinusoid_tasks_follow_the_maml_paper():
    s = SinusoidSampler(k_shot=10, q_query=7, seed=0)
    batch, sines = s.sample(500, with_sines=True)
    assert batch.x_support.shape == (500, 10, 1) and batch.y_query.shape == (500, 7, 1)
    assert 0.1 <= sines.amplitude.min() and sines.amplitude.max() <= 5.0
    assert 0 <= sines.phase.min() and sines.phase.max() <= math.pi
    assert -5 <= batch.x_support.min() and batch.x_query.max() <= 5
    expected = sines.amplitude.view(-1, 1, 1) * torch.sin(batch.x_query - sines.phase.view(-1, 1, 1))
    assert torch.allclose(batch.y_query, expected)
    again = SinusoidSampler(k_shot=10, q_query=7, seed=0).sample(500)
    assert torch.equal(again.x_support, batch.x_support)
    with pytest.raises(ValueError, match="k_shot"):
        SinusoidSampler(k_shot=0)


@pytest.mark.omniglot
def test_real_episode_batch(real_splits):
    s = EpisodeSampler(real_splits.train, 20, 1, 5, rotations=True, seed=0)
    assert s.num_classes == 4 * 864
    b = s.sample(16)
    assert b.x_support.shape == (16, 20, 1, 28, 28) and b.x_query.shape == (16, 100, 1, 28, 28)
    with pytest.raises(ValueError, match="larger than the 659 classes"):
        EpisodeSampler(real_splits.test, 660, 1, 1)
