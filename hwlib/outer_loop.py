"""The outer loop of meta-learning (across tasks), into which an algorithm's pieces plug.

For meta-step t = 1, 2, ...:

1. sample a meta-batch of B tasks T_1..T_B from the meta-train split;
2. ask the algorithm for the meta-gradient g = ∇φ (1/B) Σ_i l_query_i(θ̂_i(φ)) (or, for
   Reptile, the direction φ − θ̂) — see :mod:`hwlib.learner`;
3. update the initialisation with the meta-optimizer: φ ← Adam(φ, g; η) (or plain SGD,
   φ ← φ − η g);
4. every ``log_every`` steps log loss and query accuracy; every ``val_every`` steps adapt on
   the fixed meta-validation tasks and log mean ± 95% CI; every ``checkpoint_every`` steps save.

Training stops after ``steps`` meta-steps or ``minutes`` of wall time, whichever is first.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional

import torch

from .checkpoint import load_checkpoint, save_checkpoint
from .errors import out_of_memory_hint
from .history import History
from .learner import MetaLearner, Params, outer_gradient
from .progress import progress_bar
from .tasks import FixedTaskSet, TaskBatch


@dataclass
class TrainConfig:
    """Budget and schedule of the outer loop (η = ``meta_lr``; with ``anneal``, η decreases
    linearly to 0 over the budget, η_t = η (1 − t / T), as in the Reptile paper)."""

    meta_batch_size: int = 32
    meta_lr: float = 1e-3
    optimizer: str = "adam"
    anneal: bool = False
    steps: Optional[int] = None
    minutes: Optional[float] = None
    log_every: int = 10
    val_every: int = 0
    val_inner_steps: int = 1
    checkpoint_every: int = 0
    checkpoint_path: Optional[str] = None
    log_path: Optional[str] = None
    progress: bool = True

    def __post_init__(self) -> None:
        if self.steps is None and self.minutes is None:
            raise ValueError("give a budget: steps=... and/or minutes=...")
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"optimizer must be 'adam' or 'sgd', got {self.optimizer!r}")
        if self.meta_batch_size < 1 or self.meta_lr <= 0:
            raise ValueError("meta_batch_size must be >= 1 and meta_lr > 0")


@dataclass
class TrainResult:
    """What :func:`meta_train` returns: the learned φ and everything needed to report on it,
    with the two learning rates it was trained with (α: the learner's inner one, ``None`` when
    the learner does not say; η: the meta-optimizer's)."""

    phi: Params
    history: History
    steps: int
    tasks_seen: int
    train_seconds: float
    alpha: Optional[float] = None
    meta_lr: Optional[float] = None

    @property
    def tasks_per_second(self) -> float:
        return self.tasks_seen / self.train_seconds if self.train_seconds > 0 else math.nan


def make_optimizer(phi: Params, config: TrainConfig) -> torch.optim.Optimizer:
    """The outer optimizer over the tensors of φ that require grad (a frozen one, e.g. a
    Meta-SGD rate kept fixed, is not learned)."""
    params = [v for v in phi.values() if v.requires_grad]
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.meta_lr)
    return torch.optim.Adam(params, lr=config.meta_lr)


def _check_finite(loss: float, step: int) -> None:
    if not math.isfinite(loss):
        raise FloatingPointError(
            f"meta-loss is {loss} at step {step}: training diverged. Lower the inner learning "
            "rate α or the meta learning rate η, and check the inner loop's sign.")


def meta_train(learner: MetaLearner, phi: Params, sample: Callable[[int], TaskBatch],
               config: TrainConfig, val_tasks: Optional[FixedTaskSet] = None,
               resume_from: Optional[str] = None, sampler_state: Optional[object] = None,
               after_step: Optional[Callable[[int, float], bool]] = None,
               on_log: Optional[Callable[[History], None]] = None) -> TrainResult:
    """Meta-train ``phi`` in place with ``learner``; ``sample(B)`` draws a meta-batch of tasks.

    ``sampler_state`` (e.g. the :class:`~hwlib.tasks.EpisodeSampler` itself) is saved in
    checkpoints and restored on ``resume_from``, so a resumed run sees the same tasks.
    ``after_step(step, train_seconds)`` is called after every meta-step (its own time is not
    counted as training time); returning True stops training.  ``on_log(history)`` is called
    after each logged row (e.g. :class:`hwlib.widgets.LiveTrainingView`'s ``update``).
    """
    optimizer = make_optimizer(phi, config)
    history = History(log_path=Path(config.log_path) if config.log_path else None)
    step, tasks_seen, elapsed = 0, 0, 0.0
    if resume_from is not None:
        blob = load_checkpoint(resume_from, next(iter(phi.values())).device)
        with torch.no_grad():
            for k, v in blob["phi"].items():
                phi[k].copy_(v)
        optimizer.load_state_dict(blob["optimizer"])
        history = History.from_state(blob["history"], config.log_path)
        step, tasks_seen, elapsed = blob["step"], blob["tasks_seen"], blob["train_seconds"]
        if sampler_state is not None and blob.get("sampler_state") is not None:
            sampler_state.set_state(blob["sampler_state"])
    budget = math.inf if config.minutes is None else 60.0 * config.minutes
    max_steps = math.inf if config.steps is None else config.steps
    bar = progress_bar(total=config.steps, desc=f"Meta-training {learner.describe()}",
                       disable=not config.progress, initial=step)
    with bar:
        while step < max_steps and elapsed < budget:
            t0 = time.perf_counter()
            batch = sample(config.meta_batch_size)
            with out_of_memory_hint(f"meta-batch of {config.meta_batch_size} tasks",
                                    "TrainConfig(meta_batch_size=...)"):
                grads, loss, acc = outer_gradient(learner, phi, batch)
            for k, p in phi.items():
                p.grad = grads.get(k)
            if config.anneal:
                done = max(step / max_steps, elapsed / budget)
                for group in optimizer.param_groups:
                    group["lr"] = config.meta_lr * max(0.0, 1.0 - done)
            optimizer.step()
            step, tasks_seen = step + 1, tasks_seen + len(batch)
            elapsed += time.perf_counter() - t0
            _check_finite(loss, step)
            bar.update(1)
            if step % config.log_every == 0 or step == 1:
                history.log("train", {"step": step, "tasks": tasks_seen, "time_s": elapsed,
                                      "loss": loss, "accuracy": acc})
                bar.set_postfix(loss=f"{loss:.3f}", **({} if math.isnan(acc) else
                                                       {"acc": f"{acc:.3f}"}))
                if on_log is not None:
                    on_log(history)
            if val_tasks is not None and config.val_every and step % config.val_every == 0:
                res = learner.evaluate(phi, val_tasks, config.val_inner_steps)
                history.log("val", {"step": step, "tasks": tasks_seen, "time_s": elapsed,
                                    "val_accuracy": res.mean, "val_ci95": res.ci95})
                if on_log is not None:
                    on_log(history)
            if config.checkpoint_path and (
                    (config.checkpoint_every and step % config.checkpoint_every == 0)):
                _save(config, phi, optimizer, history, step, tasks_seen, elapsed, sampler_state)
            if after_step is not None and after_step(step, elapsed):
                break
    if config.checkpoint_path:
        _save(config, phi, optimizer, history, step, tasks_seen, elapsed, sampler_state)
    return TrainResult(phi, history, step, tasks_seen, elapsed, learner.alpha, config.meta_lr)


def _save(config: TrainConfig, phi: Params, optimizer: torch.optim.Optimizer, history: History,
          step: int, tasks_seen: int, elapsed: float, sampler_state: Optional[object]) -> None:
    save_checkpoint(config.checkpoint_path, phi, optimizer=optimizer.state_dict(),
                    history=history.state_dict(), step=step, tasks_seen=tasks_seen,
                    train_seconds=elapsed, config=asdict(config),
                    sampler_state=None if sampler_state is None else sampler_state.get_state())
