"""The notebook's explorers, driven from Python: controls change what is drawn, and the live
training view follows meta_train.  (tests/test_browser.py drives them in a real browser.)"""

import math

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch

from hwlib import MLP, Conv4, MetaLearner, TrainConfig, init_params, meta_train
from hwlib.history import History
from hwlib.models import task_loss
from hwlib.widgets import LiveTrainingView, episode_browser, sine_explorer


def find(box, kind, description=None):
    """The first widget of class ``kind`` (and ``description``) inside ``box``."""
    stack = [box]
    while stack:
        w = stack.pop(0)
        if isinstance(w, kind) and (description is None or w.description == description):
            return w
        stack.extend(getattr(w, "children", ()))
    raise LookupError(f"no {kind.__name__} {description!r}")


def test_episode_browser_redraws_for_every_control(synthetic_splits):
    open_before = set(plt.get_fignums())
    box = episode_browser(synthetic_splits, q_query=2)
    image, caption = find(box, widgets.Image), find(box, widgets.HTML)
    assert image.value[:4] == b"\x89PNG" and "5-way 1-shot from meta-train" in caption.value
    seen = {image.value}
    find(box, widgets.Button).click()
    assert "episode 2" in caption.value and image.value not in seen
    seen.add(image.value)
    find(box, widgets.IntSlider, "N (way)").value = 3
    find(box, widgets.IntSlider, "K (shot)").value = 2
    assert "3-way 2-shot" in caption.value and "6 support and 6 query" in caption.value
    find(box, widgets.Dropdown).value = "meta-test"
    find(box, widgets.Checkbox).value = False
    assert "from meta-test (rotations off)" in caption.value and image.value not in seen
    assert set(plt.get_fignums()) == open_before  # every figure closed after rendering


def test_sine_explorer_uses_the_given_inner_step():
    model = MLP()
    phi = init_params(model, seed=0)
    xs = torch.linspace(-5, 5, 50).view(-1, 1)
    truth = 2 * torch.sin(xs[:, 0])
    x_s, y_s = xs[::3], truth[::3].view(-1, 1)
    calls = []

    def step(theta):
        calls.append(1)
        loss = task_loss(model, theta, x_s, y_s)
        grads = torch.autograd.grad(loss, list(theta.values()))
        return {k: v - 0.01 * g for (k, v), g in zip(theta.items(), grads)}

    box = sine_explorer(model, {"MAML": phi, "pretrained": init_params(model, seed=1)}, step, xs,
                        truth, (x_s[:, 0], y_s[:, 0]), max_steps=10)
    assert len(calls) == 20  # 10 steps for each of the two initialisations, once
    caption, image = find(box, widgets.HTML), find(box, widgets.Image)
    mse = lambda: float(caption.value.split("MSE to the true curve ")[1])  # noqa: E731
    before, png0 = mse(), image.value
    find(box, widgets.IntSlider).value = 10
    assert "after <b>10</b> inner steps" in caption.value and mse() < before
    assert image.value != png0
    find(box, widgets.ToggleButtons).value = "pretrained"
    assert "<b>pretrained</b>" in caption.value and len(calls) == 20


def test_live_view_follows_meta_train(synthetic_splits):
    from hwlib import EpisodeSampler

    model = Conv4(n_way=2, hidden=4)
    phi = init_params(model, seed=0)
    sampler = EpisodeSampler(synthetic_splits.train, 2, 1, 1, seed=0)

    def meta_loss(p, batch):
        return torch.stack([task_loss(model, p, t.x_query, t.y_query) for t in batch]).mean()

    open_before = set(plt.get_fignums())
    view = LiveTrainingView("pretrain", steps=6, every_s=0.0)
    updates = []
    result = meta_train(MetaLearner(model, lambda p, x, y, k: p, meta_loss=meta_loss, name="p"),
                        phi, sampler.sample, TrainConfig(meta_batch_size=2, steps=6, log_every=2,
                                                         progress=False),
                        on_log=lambda h: (updates.append(view.bar.value), view.update(h)))
    assert updates and view.image.value[:4] == b"\x89PNG"
    assert "step 6" in view.status.value and math.isclose(view.bar.value, 1.0)
    view.finish(result.history)
    assert view.bar.bar_style == "success" and set(plt.get_fignums()) == open_before
    assert "application/vnd.jupyter.widget-view+json" in view._repr_mimebundle_()


def test_live_view_progress_is_the_larger_of_steps_and_time():
    view = LiveTrainingView("m", steps=100, minutes=1.0)
    assert view.fraction(10, 30.0) == 0.5 and view.fraction(80, 6.0) == 0.8
    view.update(History())  # nothing logged yet: nothing to draw
    assert view.image.value == b""
