"""The ProtoNet embedding explorer driven from Python, with a small Conv4 and the tests'
synthetic Omniglot: every control redraws, the student's functions are the ones used (a wrong
sign shows a different accuracy), and an error in them is shown, not raised.
(tests/test_browser.py drives it in a real browser.)"""

import re

import ipywidgets as widgets
import matplotlib.pyplot as plt
import pytest
import torch

from hwlib import Conv4, EpisodeSampler, embed, init_params, split_body_head
from hwlib.embedding_explorer import embedding_explorer
from test_widgets import find


def prototypes(embeddings, labels, n_way):
    return torch.stack([embeddings[labels == k].mean(0) for k in range(n_way)])


def protonet_logits(query_embeddings, protos):
    return -((query_embeddings[:, None, :] - protos[None, :, :]) ** 2).sum(-1)


@pytest.fixture(scope="module")
def net():
    model = Conv4(n_way=5, hidden=16)
    return model, init_params(model, seed=0)  # untrained φ, body and head


def accuracy(box) -> int:
    return int(re.search(r"accuracy (\d+)%", find(box, widgets.HTML).value).group(1))


def test_every_control_redraws(synthetic_splits, net):
    model, phi = net
    open_before = set(plt.get_fignums())
    box = embedding_explorer(model, phi, synthetic_splits, prototypes, protonet_logits)
    assert "hw-embedding-explorer" in box._dom_classes
    image, status = find(box, widgets.Image), find(box, widgets.HTML)
    assert image.value[:4] == b"\x89PNG" and "5-way 1-shot from meta-train" in status.value
    assert "How to read it" in box.children[-1].value  # the caption, under the image
    seen = {image.value}
    for change in (lambda: setattr(find(box, widgets.IntSlider, "N (way)"), "value", 3),
                   lambda: setattr(find(box, widgets.IntSlider, "K (shot)"), "value", 2),
                   lambda: find(box, widgets.Button).click()):
        change()
        assert image.value[:4] == b"\x89PNG" and image.value not in seen, status.value
        seen.add(image.value)
    assert "episode 4</b>: 3-way 2-shot" in status.value and "15 queries" in status.value
    n = find(box, widgets.IntSlider, "N (way)")
    n.value = n.max  # 10 synthetic meta-train characters
    find(box, widgets.Dropdown).value = "meta-test"  # only 8: N is lowered, drawn once
    assert n.max == n.value == 8 and "8-way 2-shot from meta-test" in status.value
    assert set(plt.get_fignums()) == open_before  # every figure closed after rendering


def test_uses_the_students_functions_in_the_full_space(synthetic_splits, net):
    model, phi = net
    body, _ = split_body_head(phi)
    right = embedding_explorer(model, body, synthetic_splits, prototypes, protonet_logits)
    full = embedding_explorer(model, phi, synthetic_splits, prototypes, protonet_logits)
    assert find(right, widgets.Image).value == find(full, widgets.Image).value  # head ignored
    task = EpisodeSampler(synthetic_splits.train, 5, 1, 5, seed=0).sample(1)[0]  # episode 1
    with torch.no_grad():
        c = prototypes(embed(model, body, task.x_support), task.y_support, 5)
        logits = protonet_logits(embed(model, body, task.x_query), c)
    expected = 100 * float((logits.argmax(1) == task.y_query).float().mean())
    assert accuracy(right) == round(expected)
    flipped = embedding_explorer(model, body, synthetic_splits, prototypes,
                                 lambda q, c: -protonet_logits(q, c))
    assert accuracy(flipped) != accuracy(right)


def test_an_error_in_the_students_code_is_shown_not_raised(synthetic_splits, net):
    model, phi = net

    def broken(embeddings, labels, n_way):
        raise RuntimeError("my prototypes are not written yet")

    box = embedding_explorer(model, phi, synthetic_splits, broken, protonet_logits)
    status, image = find(box, widgets.HTML), find(box, widgets.Image)
    assert "RuntimeError: my prototypes are not written yet" in status.value
    assert "broken" in status.value and image.value == b""  # the traceback; no stale picture
    find(box, widgets.Button).click()  # still alive
    assert "error in episode 2" in status.value
    wrong_shape = embedding_explorer(model, phi, synthetic_splits,
                                     lambda e, y, n: e.mean(0), protonet_logits)
    assert "prototypes returned shape [16], expected [5, 16]" in \
        find(wrong_shape, widgets.HTML).value
