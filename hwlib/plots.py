"""Report-ready figures: titles, axis labels with units, saved to ``figures/`` as PNG."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import torch

from .cache import atomic_write
from .history import History
from .tasks import TaskBatch

FIGURES = Path("figures")


def save(fig: plt.Figure, name: str) -> Path:
    """Save ``fig`` as ``figures/<name>.png`` (150 dpi) and return the path."""
    FIGURES.mkdir(exist_ok=True)
    path = FIGURES / f"{name}.png"
    save_figure(fig, path)
    return path


def save_figure(fig: plt.Figure, path: str | Path, dpi: int = 150) -> Path:
    """``fig`` as an image at ``path`` (format from its suffix), written atomically."""
    path = Path(path)
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format=path.suffix.lstrip(".") or "png", dpi=dpi, bbox_inches="tight")
    return path


def plot_episode_grid(task: TaskBatch, title: str = "An N-way K-shot episode",
                      max_query: int = 5) -> plt.Figure:
    """Support set (left, N rows × K columns) and query set (right, N rows × Q columns, at most
    ``max_query`` shown) of one task; row i holds the drawings of the class with label i."""
    xs, xq = task.x_support.detach().cpu(), task.x_query.detach().cpu()
    n = int(task.y_support.max()) + 1
    k, q_all = len(xs) // n, len(xq) // n
    q = min(q_all, max_query)
    width, height = 0.75 * (k + q) + 0.6, 0.75 * n + 0.7  # inches: 0.75 per image
    fig, axes = plt.subplots(n, k + q, figsize=(width, height), squeeze=False,
                             gridspec_kw={"wspace": 0.05, "hspace": 0.05})
    fig.subplots_adjust(left=0.5 / width, right=1 - 0.1 / width, top=1 - 0.55 / height,
                        bottom=0.15 / height)
    for i in range(n):
        for j in range(k + q):
            ax, (x, col) = axes[i, j], ((xs, j) if j < k else (xq, j - k))
            ax.imshow(x[i * (k if j < k else q_all) + col, 0], cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([]), ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(f"y={i}", rotation=0, labelpad=14, fontsize=8)
            if i == 0:
                ax.set_title("support" if j == 0 else "query" if j == k else "", fontsize=8,
                             loc="left")
    fig.suptitle(title, fontsize=10, y=1 - 0.12 / height)
    return fig


def plot_sine_fits(x: torch.Tensor, curves: Mapping[str, torch.Tensor], truth: torch.Tensor,
                   support: tuple[torch.Tensor, torch.Tensor], title: str,
                   ax: plt.Axes | None = None) -> plt.Figure:
    """Predictions ``curves[label]`` over ``x`` with the true sine and the K support points."""
    fig, ax = plt.subplots(figsize=(6, 3.5)) if ax is None else (ax.figure, ax)
    ax.plot(x.cpu(), truth.cpu(), "k-", lw=2, label="true function")
    for label, y in curves.items():
        ax.plot(x.cpu(), y.detach().cpu(), "--", label=label)
    ax.plot(support[0].cpu(), support[1].cpu(), "^", color="tab:red", ms=8, label="support points")
    ax.set(xlabel="x", ylabel="y", title=title, xlim=(-5, 5))
    ax.legend(fontsize=8)
    return fig


def plot_sine_adaptation(x: torch.Tensor, fits: Mapping[str, Mapping[str, torch.Tensor]],
                         truth: torch.Tensor, support: tuple[torch.Tensor, torch.Tensor],
                         alpha: float) -> plt.Figure:
    """The MAML paper's sinusoid figure: one panel per initialisation (``fits[name]`` maps
    'after k steps' to the prediction), all on the same new task and the same y-axis."""
    fig, axes = plt.subplots(1, len(fits), figsize=(6 * len(fits), 3.8), sharey=True,
                             squeeze=False)
    for ax, (name, curves) in zip(axes[0], fits.items()):
        plot_sine_fits(x, curves, truth, support, f"{name} initialisation, fine-tuned (α = {alpha})",
                       ax=ax)
    fig.suptitle("Adapting to a new sine from K = %d points" % len(support[0]))
    fig.tight_layout()
    return fig


def plot_history(history: History, title: str = "Meta-training") -> plt.Figure:
    """Meta-loss and accuracy against the number of training tasks: the query accuracy on the
    training tasks (when the algorithm reports it) and meta-validation mean ± 95% CI."""
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.5))
    tasks = [r["tasks"] for r in history.train]
    ax[0].plot(tasks, [r["loss"] for r in history.train], marker=".")
    ax[0].set(xlabel="training tasks seen", ylabel="meta-loss (query)", title=title)
    acc = [100 * r["accuracy"] for r in history.train]
    if not all(math.isnan(a) for a in acc):  # NaN: the algorithm reports no accuracy
        ax[1].plot(tasks, acc, marker=".", alpha=0.6, label="query accuracy (training tasks)")
    if history.val:
        mean = torch.tensor([r["val_accuracy"] for r in history.val]) * 100
        ci = torch.tensor([r["val_ci95"] for r in history.val]) * 100
        t = [r["tasks"] for r in history.val]
        ax[1].plot(t, mean, marker="o", label="meta-validation (mean ± 95% CI)")
        ax[1].fill_between(t, mean - ci, mean + ci, alpha=0.3)
    ax[1].set(xlabel="training tasks seen", ylabel="accuracy (%)", title="Accuracy")
    if ax[1].lines:
        ax[1].legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_accuracy_vs_tasks(histories: Mapping[str, History]) -> plt.Figure:
    """Report plot: meta-validation accuracy against the number of training tasks, per method."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, h in histories.items():
        if h.val:
            ax.plot([r["tasks"] for r in h.val], [100 * r["val_accuracy"] for r in h.val],
                    marker="o", label=name)
    ax.set(xlabel="number of training tasks", ylabel="validation accuracy (%)",
           title="Accuracy vs number of training tasks (5-way 1-shot)")
    ax.legend()
    return fig


def plot_accuracy_vs_steps(results: Mapping[str, Sequence[tuple[int, float, float]]]) -> plt.Figure:
    """Report plot: test accuracy (mean ± 95% CI) against inner steps at test time, per method."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, rows in results.items():
        steps, mean, ci = zip(*rows)
        ax.errorbar(steps, [100 * m for m in mean], yerr=[100 * c for c in ci], marker="o",
                    capsize=3, label=name)
    ax.set(xlabel="inner steps at test time", ylabel="test accuracy (%)",
           title="Accuracy vs inner steps at test time (5-way 1-shot)")
    ax.legend()
    return fig


def plot_accuracy_vs_time(curves: Mapping[str, Sequence[tuple[float, float, float]]],
                          title: str = "Test accuracy vs meta-training wall time",
                          targets: Sequence[float] = (),
                          ylabel: str = "test accuracy (%)") -> plt.Figure:
    """Accuracy (mean ± 95% CI) against training seconds, one line per method;
    ``curves[name] = [(seconds, accuracy, ci95), ...]``; dashed lines at ``targets``."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, rows in curves.items():
        secs, mean, ci = zip(*rows)
        ax.errorbar([s / 60 for s in secs], [100 * m for m in mean],
                    yerr=[100 * c for c in ci], marker="o", capsize=3, label=name)
    for t in targets:
        ax.axhline(100 * t, color="grey", linestyle="--", linewidth=0.8)
    ax.set(xlabel="meta-training wall time (minutes)", ylabel=ylabel, title=title)
    ax.legend()
    return fig


def plot_learned_alphas(alphas: Mapping[str, torch.Tensor], initial: float | None = 0.4,
                        title: str = "Meta-SGD: learned inner learning rates per tensor") -> plt.Figure:
    """Meta-SGD's learned rates α, one box per tensor of φ (``alphas[name]``, any shape), in
    φ's order: the box spans the middle half of the tensor's rates, the whiskers 5–95%, the dot
    is the mean; the dashed horizontal line is the value every rate started from (``initial``;
    ``None``: no line).  The tick labels give each tensor's number of rates."""
    names = list(alphas)
    values = [alphas[n].detach().float().flatten().cpu().numpy() for n in names]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.42 * len(names) + 1.5), 4.5))
    ax.boxplot(values, whis=(5, 95), showfliers=False, showmeans=True,
               meanprops=dict(marker="o", markerfacecolor="tab:red", markeredgecolor="tab:red",
                              markersize=4))
    ax.set_xticks(range(1, len(names) + 1), [f"{n} ({v.size:,})" for n, v in zip(names, values)],
                  rotation=60, ha="right", fontsize=7)
    if initial is not None:
        ax.axhline(initial, color="grey", linestyle="--", linewidth=1,
                   label=f"initial α = {initial:g}")
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set(ylabel="inner learning rate α (per element)", title=title)
    fig.tight_layout()
    return fig
