"""The sine explorer pictures of docs/student.md, made as the notebook makes them.

``PYTHONPATH=. python docs/figures/make_sine_explorer.py`` (from the repository root) trains the sinusoid MAML and pretraining
initialisations with the ``cpu`` notebook budget (the notebook's Part 2 cells, with the
reference answers), opens ``hwlib.widgets.sine_explorer`` on the notebook's fixed new task,
sets it to one inner step and saves what the widget shows for each initialisation (PNG), with
the MSE its caption states.  Sine tasks only: no Omniglot.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from autograder.assignments.metalearning import answers as ref
from hwlib.profiles import PROFILES
from hwlib.cache import atomic_write
from hwlib.learner import pretrain_loss
from hwlib.models import MLP, init_params
from hwlib.sinusoid import SineTasks, SinusoidSampler
from hwlib.widgets import sine_explorer

HERE = Path(__file__).resolve().parent
ALPHA_SINE = 0.01


def train_sine(model, sines, meta_loss_fn, steps, seed=0):
    phi = init_params(model, seed)
    optimizer = torch.optim.Adam(phi.values(), lr=1e-3)
    for _ in range(steps):
        ref.outer_step(optimizer, meta_loss_fn(model, phi, sines.sample(25), ALPHA_SINE))
    return phi


def main() -> None:
    torch.manual_seed(0)
    model, steps = MLP(), PROFILES["cpu"].notebook.sine_steps
    sines = SinusoidSampler(k_shot=10, q_query=10, seed=0)  # one sampler, as in the notebook
    inits = {"MAML": train_sine(model, sines, ref.maml_meta_loss, steps),
             "pretrained": train_sine(model, sines, pretrain_loss, steps)}
    new_sine = SineTasks(amplitude=torch.tensor([3.5]), phase=torch.tensor([0.5]))
    x_new, y_new = SinusoidSampler(seed=123).sample_points(new_sine, 10)
    x_new, y_new = x_new[0], y_new[0]
    xs = torch.linspace(-5, 5, 200).view(-1, 1)
    truth = new_sine.at(xs.view(1, -1, 1))[0, :, 0]
    box = sine_explorer(model, inits, lambda theta: ref.inner_update(model, theta, x_new, y_new,
                                                                    ALPHA_SINE),
                        xs, truth, (x_new[:, 0], y_new[:, 0]), max_steps=10)
    (init, slider), caption, image = box.children[0].children, box.children[1], box.children[2]
    slider.value = 1
    for name in inits:
        init.value = name
        out = HERE / f"sine_explorer_{name.lower()}_1_step.png"
        with atomic_write(out) as f:
            f.write(image.value)
        print(out.name, re.sub("<[^>]+>", "", caption.value))
    slider.value = 10  # the text also quotes the pretrained initialisation after 10 steps
    print("10 steps:", re.sub("<[^>]+>", "", caption.value))


if __name__ == "__main__":
    main()
