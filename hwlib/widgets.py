"""Interactive explorers for the notebook (ipywidgets): look at episodes, watch a sine being
adapted step by step, and follow meta-training live.

Every explorer renders matplotlib figures to PNG into an ``ipywidgets.Image``, so it works the
same in JupyterLab, Notebook 7, VS Code and Colab, and the figure is closed after rendering
(nothing leaks into the next cell's output).  Each returns an ``ipywidgets`` box: show it by
leaving it as the last expression of a cell, or with ``display(...)``.
"""

from __future__ import annotations

import io
import math
import struct
import time
from typing import Callable, Mapping, Optional

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch

from .history import History
from .models import Params, forward
from .plots import plot_episode_grid, plot_history, plot_sine_fits
from .splits import Splits
from .tasks import EpisodeSampler

SPLITS = {"meta-train": "train", "meta-val": "val", "meta-test": "test"}


def png(fig: plt.Figure, dpi: int = 80) -> bytes:
    """``fig`` as PNG bytes; the figure is closed (it will not also appear below the cell)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def show(image: widgets.Image, fig: plt.Figure) -> None:
    """Put ``fig`` into ``image`` at its own size (an Image widget otherwise stretches the
    picture to the width of the notebook)."""
    data = png(fig)
    image.value = data
    image.width = str(struct.unpack(">I", data[16:20])[0])  # the PNG header's width


def episode_browser(splits: Splits, device: torch.device | str | None = None,
                    q_query: int = 2, seed: int = 0) -> widgets.VBox:
    """Sliders for N (way) and K (shot), the split, rotations on/off and a "new episode" button;
    shows the support and query grids of one episode, row i = the class with label i."""
    n_way = widgets.IntSlider(5, min=2, max=20, description="N (way)", continuous_update=False)
    k_shot = widgets.IntSlider(1, min=1, max=5, description="K (shot)", continuous_update=False)
    split = widgets.Dropdown(options=list(SPLITS), value="meta-train", description="split")
    rotations = widgets.Checkbox(True, description="90° rotations as new classes")
    button = widgets.Button(description="new episode", icon="refresh", button_style="primary")
    caption = widgets.HTML()
    image = widgets.Image(format="png")
    counter = {"episodes": 0}

    def draw(*_: object) -> None:
        chars = getattr(splits, SPLITS[split.value])
        cap = min(20, len(chars.images) * (4 if rotations.value else 1))
        if n_way.max != cap:  # a small split has fewer than 20 classes
            clamped, n_way.max = n_way.value > cap, cap
            if clamped:
                return  # lowering the value has drawn the episode already
        counter["episodes"] += 1
        sampler = EpisodeSampler(chars, n_way.value, k_shot.value, q_query,
                                 rotations=rotations.value, device=device,
                                 seed=seed + counter["episodes"])
        task = sampler.sample(1)[0]
        rot = "rotations on" if rotations.value else "rotations off"
        caption.value = (f"<b>episode {counter['episodes']}</b>: {n_way.value}-way "
                         f"{k_shot.value}-shot from {split.value} ({rot}) — "
                         f"{len(task.x_support)} support and {len(task.x_query)} query images")
        show(image, plot_episode_grid(task, f"{n_way.value}-way {k_shot.value}-shot, "
                                            f"{split.value}"))

    for control in (n_way, k_shot, split, rotations):
        control.observe(draw, names="value")
    button.on_click(draw)
    draw()
    controls = widgets.HBox([widgets.VBox([n_way, k_shot]), widgets.VBox([split, rotations]),
                             button])
    box = widgets.VBox([controls, caption, image])
    box.add_class("hw-episode-browser")
    return box


def sine_explorer(model: torch.nn.Module, inits: Mapping[str, Params],
                  inner_step: Callable[[Params], Params], xs: torch.Tensor, truth: torch.Tensor,
                  support: tuple[torch.Tensor, torch.Tensor], max_steps: int = 10) -> widgets.VBox:
    """A slider for the number of inner steps (0..``max_steps``) and a toggle between the
    initialisations in ``inits`` (e.g. MAML vs pretrained); ``inner_step(θ) -> θ`` is one
    fine-tuning step on the support points.  Shows the prediction, the true curve ``truth``
    over ``xs`` and the support points, with the mean squared error against the truth."""
    curves: dict[str, list[torch.Tensor]] = {}
    for name, phi in inits.items():  # all adaptations once, so the slider answers at once
        theta = {k: v.detach().requires_grad_(True) for k, v in phi.items()}
        curves[name] = [forward(model, theta, xs).detach()[:, 0]]
        for _ in range(max_steps):
            theta = inner_step(theta)
            curves[name].append(forward(model, theta, xs).detach()[:, 0])
    steps = widgets.IntSlider(0, min=0, max=max_steps, description="inner steps",
                              continuous_update=True)
    init = widgets.ToggleButtons(options=list(inits), description="initialisation")
    caption = widgets.HTML()
    image = widgets.Image(format="png")

    def draw(*_: object) -> None:
        y = curves[init.value][steps.value]
        mse = float(((y - truth) ** 2).mean())
        caption.value = (f"<b>{init.value}</b> initialisation after <b>{steps.value}</b> inner "
                         f"step{'s' * (steps.value != 1)}: MSE to the true curve {mse:.3f}")
        label = f"after {steps.value} step{'s' * (steps.value != 1)}"
        fig = plot_sine_fits(xs[:, 0], {label: y}, truth, support,
                             f"{init.value} initialisation, fine-tuned on K = {len(support[0])}")
        fig.axes[0].set_ylim(float(truth.min()) - 2, float(truth.max()) + 2)
        show(image, fig)

    steps.observe(draw, names="value")
    init.observe(draw, names="value")
    draw()
    box = widgets.VBox([widgets.HBox([init, steps]), caption, image])
    box.add_class("hw-sine-explorer")
    return box


class LiveTrainingView:
    """Meta-training as it happens: a progress bar and the loss and accuracy curves, redrawn in
    place (at most every ``every_s`` seconds).  Display it (``display(view)``), pass
    ``view.update`` as ``meta_train``'s ``on_log`` and call :meth:`finish` after training."""

    def __init__(self, name: str, steps: Optional[int] = None, minutes: Optional[float] = None,
                 every_s: float = 2.0) -> None:
        if steps is None and minutes is None:
            raise ValueError("give the training budget: steps=... and/or minutes=...")
        self.name, self.steps, self.minutes, self.every_s = name, steps, minutes, every_s
        self.bar = widgets.FloatProgress(0.0, min=0.0, max=1.0, description=name,
                                         bar_style="info")
        self.status = widgets.HTML("waiting for the first meta-step")
        self.image = widgets.Image(format="png")
        self._drawn_at = -math.inf
        self.box = widgets.VBox([widgets.HBox([self.bar, self.status]), self.image])
        self.box.add_class("hw-live-training")

    def _repr_mimebundle_(self, **kwargs: object) -> dict:
        return self.box._repr_mimebundle_(**kwargs)

    def fraction(self, step: int, seconds: float) -> float:
        """How much of the budget is used (steps or minutes, whichever is further)."""
        parts = [step / self.steps if self.steps else 0.0,
                 seconds / (60 * self.minutes) if self.minutes else 0.0]
        return min(1.0, max(parts))

    def update(self, history: History, force: bool = False) -> None:
        """Show the latest rows of ``history`` (called by ``meta_train`` after each log)."""
        if not history.train:
            return
        last = history.train[-1]
        self.bar.value = self.fraction(last["step"], last["time_s"])
        val = f", val acc {100 * history.val[-1]['val_accuracy']:.1f}%" if history.val else ""
        self.status.value = (f"step {last['step']}, {last['tasks']} tasks, "
                             f"{last['time_s']:.0f} s — loss {last['loss']:.3f}{val}")
        if force or time.monotonic() - self._drawn_at >= self.every_s:
            self._drawn_at = time.monotonic()
            show(self.image, plot_history(history, f"{self.name}: meta-training"))

    def finish(self, history: History) -> None:
        """The final state: full bar, last curves."""
        self.update(history, force=True)
        self.bar.value, self.bar.bar_style = 1.0, "success"
