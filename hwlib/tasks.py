"""N-way K-shot episodes: the *tasks* of few-shot classification.

A task T = (support, query) is made of N classes.  The **support set** holds K labelled
drawings per class (what the learner may adapt on, the "training set" of the task); the
**query set** holds Q other drawings of the same classes (what the adapted learner is scored
on).  Labels are 0..N−1 and their assignment to characters is random in every task, so no
fixed label means anything across tasks — only *how to learn* transfers.

With ``rotations=True`` every character rotated by 0°, 90°, 180° and 270° is a class of its
own (four times as many classes, as in the MAML paper's Omniglot set-up).

Sampling happens on ``device`` from the uint8 ``[C, D, H, W]`` tensor: a whole meta-batch is
drawn with a few tensor operations and no Python work per image, and a seeded
``torch.Generator`` on that device makes it exactly reproducible (same seed, same device →
same tasks).  The :class:`FixedTaskSet` is drawn on the CPU once, so its episodes are the same
on every machine and for every student.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterator

import torch

from .omniglot import CharacterSet


@dataclass(frozen=True)
class TaskBatch:
    """A meta-batch of B tasks.

    Classification: ``x_support [B, N*K, 1, H, W]`` float in [0, 1], ``y_support [B, N*K]``
    long; ``x_query [B, N*Q, 1, H, W]``, ``y_query [B, N*Q]``.  Regression (sinusoid):
    ``x [B, K, 1]``, ``y [B, K, 1]`` floats.  ``batch[i]`` is task ``i`` (the same tensors
    without the leading B).
    """

    x_support: torch.Tensor
    y_support: torch.Tensor
    x_query: torch.Tensor
    y_query: torch.Tensor

    def __len__(self) -> int:
        return self.x_support.shape[0]

    def __getitem__(self, i: int) -> "TaskBatch":
        return TaskBatch(self.x_support[i], self.y_support[i], self.x_query[i], self.y_query[i])

    def __iter__(self) -> Iterator["TaskBatch"]:
        return (self[i] for i in range(len(self)))

    def to(self, device: torch.device | str) -> "TaskBatch":
        return replace(self, **{k: getattr(self, k).to(device) for k in
                                ("x_support", "y_support", "x_query", "y_query")})

    @property
    def device(self) -> torch.device:
        return self.x_support.device


def _check_sizes(num_classes: int, num_drawings: int, n_way: int, k_shot: int,
                 q_query: int, rotations: bool) -> None:
    for name, v in (("n_way", n_way), ("k_shot", k_shot), ("q_query", q_query)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    if n_way > num_classes:
        extra = "" if rotations else " (rotations=True gives 4x as many classes)"
        raise ValueError(f"n_way={n_way} is larger than the {num_classes} classes of this split; "
                         f"choose n_way <= {num_classes}{extra}")
    if k_shot + q_query > num_drawings:
        raise ValueError(f"k_shot + q_query = {k_shot + q_query} but each character has only "
                         f"{num_drawings} drawings; choose k_shot + q_query <= {num_drawings}")


def episode_indices(batch_size: int, num_classes: int, num_drawings: int, n_way: int,
                    per_class: int, generator: torch.Generator,
                    device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Class ids ``[B, N]`` (distinct per task) and drawing ids ``[B, N, K+Q]`` (distinct per class)."""
    classes = torch.rand(batch_size, num_classes, generator=generator, device=device)
    classes = classes.topk(n_way, dim=1).indices
    drawings = torch.rand(batch_size, n_way, num_drawings, generator=generator, device=device)
    drawings = drawings.argsort(dim=2)[..., :per_class]
    return classes, drawings


def gather_episodes(images: torch.Tensor, classes: torch.Tensor, drawings: torch.Tensor,
                    rotations: bool, k_shot: int) -> TaskBatch:
    """Build a :class:`TaskBatch` from uint8 ``images [C, D, H, W]`` and episode indices."""
    char = classes // 4 if rotations else classes
    x = images[char.unsqueeze(-1), drawings]  # [B, N, K+Q, H, W] uint8
    if rotations:
        turns = (classes % 4)[..., None, None, None]
        x = torch.stack([torch.rot90(x, r, dims=(-2, -1)) for r in range(4)]).gather(
            0, turns.unsqueeze(0).expand(1, *x.shape)).squeeze(0)
    b, n, per_class, h, w = x.shape
    x = x.to(torch.float32).div_(255.0).unsqueeze(3)  # [B, N, K+Q, 1, H, W]
    labels = torch.arange(n, device=x.device).view(1, n, 1).expand(b, n, per_class)
    q = per_class - k_shot
    return TaskBatch(
        x[:, :, :k_shot].reshape(b, n * k_shot, 1, h, w), labels[:, :, :k_shot].reshape(b, -1),
        x[:, :, k_shot:].reshape(b, n * q, 1, h, w), labels[:, :, k_shot:].reshape(b, -1))


class EpisodeSampler:
    """Draws meta-batches of N-way K-shot Q-query tasks from a :class:`CharacterSet`.

    >>> sampler = EpisodeSampler(splits.train, n_way=5, k_shot=1, q_query=15, rotations=True)
    >>> batch = sampler.sample(32)          # TaskBatch, x_support [32, 5, 1, 28, 28]
    """

    def __init__(self, characters: CharacterSet | torch.Tensor, n_way: int, k_shot: int,
                 q_query: int, rotations: bool = False, device: torch.device | str | None = None,
                 seed: int = 0) -> None:
        images = characters.images if isinstance(characters, CharacterSet) else characters
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise ValueError(f"images must be uint8 [C, D, H, W], got {images.dtype} "
                             f"{tuple(images.shape)}")
        self.num_classes = images.shape[0] * (4 if rotations else 1)
        _check_sizes(self.num_classes, images.shape[1], n_way, k_shot, q_query, rotations)
        self.device = torch.device(device) if device is not None else images.device
        self.images = images.to(self.device)
        self.n_way, self.k_shot, self.q_query, self.rotations = n_way, k_shot, q_query, rotations
        self.seed = seed
        self.generator = torch.Generator(device=self.device).manual_seed(seed)

    def sample(self, batch_size: int) -> TaskBatch:
        """A meta-batch of ``batch_size`` new tasks (on ``self.device``)."""
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        classes, drawings = episode_indices(
            batch_size, self.num_classes, self.images.shape[1], self.n_way,
            self.k_shot + self.q_query, self.generator, self.device)
        return gather_episodes(self.images, classes, drawings, self.rotations, self.k_shot)

    def get_state(self) -> torch.Tensor:
        """The random state, for checkpoints (restore with :meth:`set_state`)."""
        return self.generator.get_state()

    def set_state(self, state: torch.Tensor) -> None:
        self.generator.set_state(state)


class FixedTaskSet:
    """A fixed, deterministic set of evaluation episodes (default: 600 tasks).

    The episode indices are drawn once on the CPU from ``seed``, so every method, machine and
    student is scored on exactly the same tasks; the images are gathered on ``device`` in
    batches when iterated.
    """

    def __init__(self, characters: CharacterSet | torch.Tensor, n_way: int = 5, k_shot: int = 1,
                 q_query: int = 15, num_tasks: int = 600, seed: int = 2024,
                 rotations: bool = False) -> None:
        images = characters.images if isinstance(characters, CharacterSet) else characters
        num_classes = images.shape[0] * (4 if rotations else 1)
        _check_sizes(num_classes, images.shape[1], n_way, k_shot, q_query, rotations)
        if not isinstance(num_tasks, int) or num_tasks < 1:
            raise ValueError(f"num_tasks must be a positive int, got {num_tasks!r}")
        generator = torch.Generator().manual_seed(seed)
        self.classes, self.drawings = episode_indices(
            num_tasks, num_classes, images.shape[1], n_way, k_shot + q_query, generator,
            torch.device("cpu"))
        self.images = images
        self.n_way, self.k_shot, self.q_query, self.rotations = n_way, k_shot, q_query, rotations
        self.seed = seed

    def __len__(self) -> int:
        return self.classes.shape[0]

    def batches(self, batch_size: int = 50,
                device: torch.device | str | None = None) -> Iterator[TaskBatch]:
        """The tasks in order, ``batch_size`` at a time, on ``device``."""
        device = torch.device(device) if device is not None else self.images.device
        images = self.images.to(device)
        for start in range(0, len(self), batch_size):
            sl = slice(start, start + batch_size)
            yield gather_episodes(images, self.classes[sl].to(device),
                                  self.drawings[sl].to(device), self.rotations, self.k_shot)
