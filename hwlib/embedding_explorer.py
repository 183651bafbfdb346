"""The embedding space of a prototypical network, one episode at a time (ipywidgets).

A ProtoNet embeds every image with f_φ (Conv4 without its head, :func:`hwlib.protonet.embed`)
and represents class k of an N-way K-shot episode by its **prototype**, the mean embedding of
its support drawings S_k:

    c_k = (1/|S_k|) Σ_{(x, y) ∈ S_k} f_φ(x)

A query x is scored with the logits −‖f_φ(x) − c_k‖² (minus the squared Euclidean distance)
and classified as the nearest prototype: ŷ(x) = arg max_k −‖f_φ(x) − c_k‖².

The explorer draws the episode in 2-D: a PCA of the episode's support and query embeddings
(centred, the two leading singular vectors).  The prototypes are projected the same way (the
projection is linear, so a projected prototype is the mean of the projected support points),
and the background is shaded with the decision regions of the nearest-prototype rule *among the
projected prototypes* in that plane.  The accuracy in the title is computed in the full
d-dimensional embedding space.  ``prototypes`` and ``protonet_logits`` are the student's own
functions, passed in: hwlib does not contain them.
"""

from __future__ import annotations

import html
import traceback
from typing import Callable, Mapping, Optional

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
from matplotlib.colors import ListedColormap
from matplotlib.lines import Line2D
from torch import nn

from .protonet import embed
from .splits import Splits
from .tasks import EpisodeSampler
from .widgets import show

SPLITS = {"meta-train": "train", "meta-test": "test"}
GRID = 200  # grid points per side for the decision regions

CAPTION = (
    "<b>How to read it.</b> Each point is one image of the episode embedded by f<sub>φ</sub> and "
    "projected to 2-D by a PCA of this episode's support and query embeddings. "
    "<b>Filled circles</b>: support images; <b>hollow circles</b>: query images, coloured by "
    "their true class; <b>black ×</b>: a query your classifier gets wrong (in the full embedding "
    "space); <b>stars</b>: the prototypes c<sub>k</sub> (class means of the support embeddings; "
    "with K = 1 a star hides its single support point). "
    "The <b>shaded regions</b> are the decisions of <code>protonet_logits</code> on a grid of the "
    "plane with the <i>projected</i> prototypes, so a query can look misplaced in 2-D and still be "
    "right in the full space (or the reverse). The title's accuracy is that of the full space.")


def _pca_2d(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Mean ``[d]``, the two leading principal directions ``[d, 2]`` of the rows of ``z`` and
    the fraction of the variance they explain (directions padded with zeros if rank < 2)."""
    mean = z.mean(0)
    _, s, vh = torch.linalg.svd(z - mean, full_matrices=False)
    basis = torch.zeros(z.shape[1], 2, dtype=z.dtype)
    basis[:, :min(2, len(vh))] = vh[:2].T
    signs = torch.sign(basis[basis.abs().argmax(0), torch.arange(2)])  # a stable orientation
    basis = basis * torch.where(signs == 0, torch.ones_like(signs), signs)
    explained = float((s[:2] ** 2).sum() / (s ** 2).sum().clamp_min(1e-12))
    return mean, basis, explained


def _checked(out: object, shape: tuple[int, int], what: str) -> torch.Tensor:
    """``out`` detached, once it is a tensor of ``shape`` (else an error that says so)."""
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"{what} must return a tensor, got {type(out).__name__}")
    if tuple(out.shape) != shape:
        raise ValueError(f"{what} returned shape {list(out.shape)}, expected {list(shape)}")
    return out.detach()


def _figure(zs: torch.Tensor, ys: torch.Tensor, zq: torch.Tensor, yq: torch.Tensor,
            c: torch.Tensor, wrong: torch.Tensor, regions: torch.Tensor,
            extent: tuple[float, float, float, float], n_way: int, title: str) -> plt.Figure:
    tab20 = plt.get_cmap("tab20").colors  # strong colours first, then their pale pairs
    colors = (tab20[0::2] + tab20[1::2])[:n_way]
    zs, zq, c, wrong, regions = (t.numpy() for t in (zs, zq, c, wrong, regions))
    fig, ax = plt.subplots(figsize=(7.2, 5.4))
    ax.imshow(regions, origin="lower", extent=extent, cmap=ListedColormap(colors), alpha=0.3,
              vmin=-0.5, vmax=n_way - 0.5, interpolation="nearest", aspect="auto")
    col = [colors[int(k)] for k in ys]
    ax.scatter(zs[:, 0], zs[:, 1], c=col, s=55, edgecolors="black", linewidths=0.6, zorder=3)
    ax.scatter(zq[:, 0], zq[:, 1], facecolors="none", edgecolors=[colors[int(k)] for k in yq],
               s=55, linewidths=1.6, zorder=3)
    ax.scatter(zq[wrong, 0], zq[wrong, 1], marker="x", c="black", s=60, linewidths=1.6,
               zorder=4)
    ax.scatter(c[:, 0], c[:, 1], marker="*", c=colors, s=420, edgecolors="black",
               linewidths=1.0, zorder=5)
    ax.set_xlim(extent[:2]), ax.set_ylim(extent[2:])
    ax.set_xlabel("principal component 1"), ax.set_ylabel("principal component 2")
    ax.set_title(title, fontsize=10)
    grey = dict(color="none", markeredgecolor="black")
    handles = [Line2D([], [], marker="o", color="none", markerfacecolor="grey",
                      markeredgecolor="black", label="support"),
               Line2D([], [], marker="o", markerfacecolor="none", label="query", **grey),
               Line2D([], [], marker="x", color="none", markeredgecolor="black",
                      label="misclassified query"),
               Line2D([], [], marker="*", markersize=13, markerfacecolor="grey",
                      label="prototype c_k", **grey)]
    handles += [Line2D([], [], marker="s", color="none", markerfacecolor=colors[k],
                       markeredgecolor="none", label=f"class {k}") for k in range(n_way)]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
              frameon=False)
    return fig


def embedding_explorer(model: nn.Module, phi: Mapping[str, torch.Tensor], splits: Splits,
                       prototypes: Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor],
                       protonet_logits: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                       device: Optional[torch.device | str] = None, n_way: int = 5,
                       k_shot: int = 1, q_query: int = 5, seed: int = 0) -> widgets.VBox:
    """Sliders for N and K, the split and a "New episode" button; shows one episode's support
    and query embeddings, the prototypes and the decision regions in a 2-D PCA plane.
    ``phi``: the embedding's parameters (Conv4's ``body.`` entries; a head is ignored)."""
    if device is None:  # where φ lives (an empty φ: embed's error is shown in the widget)
        device = next(iter(phi.values()), torch.empty(0)).device
    n_slider = widgets.IntSlider(n_way, min=2, max=20, description="N (way)",
                                 continuous_update=False)
    k_slider = widgets.IntSlider(k_shot, min=1, max=5, description="K (shot)",
                                 continuous_update=False)
    split = widgets.Dropdown(options=list(SPLITS), value="meta-train", description="split")
    button = widgets.Button(description="New episode", icon="refresh", button_style="primary")
    status = widgets.HTML()
    caption = widgets.HTML(CAPTION, layout=widgets.Layout(max_width="800px"))
    image = widgets.Image(format="png")
    counter = {"episodes": 0}

    def episode() -> tuple[plt.Figure, str]:
        chars = getattr(splits, SPLITS[split.value])
        n, k = n_slider.value, k_slider.value
        task = EpisodeSampler(chars, n, k, q_query, rotations=False, device=device,
                              seed=seed + counter["episodes"] - 1).sample(1)[0]
        with torch.no_grad():  # support and query embedded apart (BatchNorm: batch statistics)
            zs = embed(model, phi, task.x_support).detach()
            zq = embed(model, phi, task.x_query).detach()
            c = _checked(prototypes(zs, task.y_support, n), (n, zs.shape[1]), "prototypes")
            logits = _checked(protonet_logits(zq, c), (len(zq), n), "protonet_logits")
        zs, zq, c = zs.float().cpu(), zq.float().cpu(), c.float().cpu()
        ys, yq = task.y_support.cpu(), task.y_query.cpu()
        wrong = logits.argmax(1).cpu() != yq
        mean, basis, explained = _pca_2d(torch.cat([zs, zq]))
        ps, pq, pc = (zs - mean) @ basis, (zq - mean) @ basis, (c - mean) @ basis
        pts = torch.cat([ps, pq, pc])
        lo, hi = pts.min(0).values, pts.max(0).values
        pad = 0.12 * (hi - lo).clamp_min(1e-3)
        lo, hi = lo - pad, hi + pad
        gx, gy = (torch.linspace(float(lo[i]), float(hi[i]), GRID) for i in range(2))
        grid = torch.stack(torch.meshgrid(gx, gy, indexing="xy"), -1).reshape(-1, 2)
        with torch.no_grad():
            grid_logits = _checked(protonet_logits(grid, pc), (len(grid), n), "protonet_logits")
        regions = grid_logits.argmax(1).cpu().reshape(GRID, GRID)
        acc = 1 - float(wrong.float().mean())
        title = (f"{n}-way {k}-shot, {split.value}, episode {counter['episodes']}: query "
                 f"accuracy {100 * acc:.0f}% ({int((~wrong).sum())}/{len(yq)}) in the full "
                 f"{zs.shape[1]}-D space\nPCA plane: {100 * explained:.0f}% of the variance")
        fig = _figure(ps, ys, pq, yq, pc, wrong, regions,
                      (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])), n, title)
        text = (f"<b>episode {counter['episodes']}</b>: {n}-way {k}-shot from {split.value}, "
                f"{len(yq)} queries — accuracy {100 * acc:.0f}%")
        return fig, text

    def draw(*_: object) -> None:
        cap = min(20, len(getattr(splits, SPLITS[split.value]).images))
        if n_slider.max != cap:  # a small split has fewer than 20 characters
            clamped, n_slider.max = n_slider.value > cap, cap
            if clamped:
                return  # lowering the value has drawn the episode already
        counter["episodes"] += 1
        try:
            fig, status.value = episode()
        except Exception as e:  # the student's functions: show the error, keep the widget alive
            frames = traceback.format_exception(type(e), e, e.__traceback__, limit=-3)
            image.value, image.width = b"", "0"
            status.value = (f"<div style='color:#b00020'><b>error in episode "
                            f"{counter['episodes']}: {html.escape(type(e).__name__)}: "
                            f"{html.escape(str(e))}</b><pre style='font-size:11px'>"
                            f"{html.escape(''.join(frames))}</pre></div>")
            return
        show(image, fig)

    for control in (n_slider, k_slider, split):
        control.observe(draw, names="value")
    button.on_click(draw)
    draw()
    controls = widgets.HBox([widgets.VBox([n_slider, k_slider]), split, button])
    box = widgets.VBox([controls, status, image, caption])
    box.add_class("hw-embedding-explorer")
    return box
