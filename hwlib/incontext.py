"""Beyond gradient descent: a learner that is a network (in-context learning).

MAML adapts θ̂ = φ − α∇l(φ) on the support set; a prototypical network computes a head from
it in closed form.  Here the whole learning algorithm is a network: a transformer reads the
support set as tokens (the embedding of each drawing ⊕ its one-hot label) next to the query
tokens (embedding ⊕ a zero label ⊕ a query flag) and outputs each query's logits.  Nothing is
adapted per task — the "learning" happens in the forward pass, in the attention over the
support set.  φ is the network's weights, meta-trained across tasks on the query loss.

* :class:`InContextLearner` — the network's parts: ``body`` (a Conv4 embedding f_φ with
  per-image normalisation, see below), ``token`` (Linear(d + N + 1 → d_model)), ``encoder`` (a
  transformer encoder, no positional encoding: the support set is a set) and ``head``
  (Linear(d_model → N)).  It is called *functionally*, one part at a time:
  ``apply(model, φ, "encoder", tokens, mask=mask)``.
* :func:`meta_train_incontext` — the outer loop (Adam on the mean query cross-entropy over a
  meta-batch of episodes) with the student's ``incontext_logits`` plugged in, evaluated every
  ``eval_every_s`` seconds of training: the accuracy-against-time curve.
* :func:`evaluate_incontext` — query accuracy on fixed tasks, mean ± 95% CI.

**Why GroupNorm, not Conv4's BatchNorm.**  BatchNorm with batch statistics mixes the images
of one call, so a query's embedding would depend on the *other* queries — exactly what the
attention mask forbids.  The body normalises each image on its own (GroupNorm with one group),
so embedding all drawings of a task in one call is the same as embedding them one by one.
"""

from __future__ import annotations

import time
from typing import Callable, Iterable, Mapping, Optional

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from .evaluate import EvalResult
from .models import Params, init_params
from .tasks import EpisodeSampler, FixedTaskSet, TaskBatch

#: the student's ``incontext_logits(model, φ, x_support, y_support, x_query, n_way)``
LogitsFn = Callable[..., torch.Tensor]
#: a meta-gradient computed elsewhere: (φ, meta-batch) -> (∇φ of the meta-loss, its value)
MetaGradient = Callable[[Params, TaskBatch], tuple[dict, float]]
#: an accuracy-against-time curve: (training seconds, mean accuracy, 95% CI half-width)
Curve = list[tuple[float, float, float]]


def conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """conv 3×3 → GroupNorm (one group: per image, no batch statistics) → ReLU →
    max-pool 2."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
                         nn.GroupNorm(1, out_channels), nn.ReLU(), nn.MaxPool2d(2))


class InContextLearner(nn.Module):
    """A transformer that learns a task from its support set in one forward pass.

    ``n_way`` label slots (the one-hot size and the number of logits); ``hidden`` channels and
    ``image_size`` of the Conv4 body (``d_embed = hidden · (image_size // 16)²``); the encoder
    has ``layers`` pre-norm layers of width ``d_model`` with ``heads`` heads.  Every argument is
    a plain number, so ``{"kind": "hwlib.incontext.InContextLearner", "kwargs": {...}}``
    rebuilds it.  Call it through :func:`apply`, part by part (it has no ``forward``)."""

    def __init__(self, n_way: int = 5, in_channels: int = 1, hidden: int = 32,
                 image_size: int = 28, d_model: int = 64, heads: int = 2, layers: int = 2,
                 ff: int = 128) -> None:
        super().__init__()
        if n_way < 2 or image_size < 16 or d_model % heads:
            raise ValueError(f"need n_way >= 2, image_size >= 16 and d_model divisible by heads, "
                             f"got {n_way}, {image_size}, {d_model}, {heads}")
        self.n_way, self.input_shape = n_way, (in_channels, image_size, image_size)
        self.body = nn.Sequential(conv_block(in_channels, hidden),
                                  *[conv_block(hidden, hidden) for _ in range(3)], nn.Flatten())
        self.d_embed = hidden * (image_size // 16) ** 2
        self.token = nn.Linear(self.d_embed + n_way + 1, d_model)
        layer = nn.TransformerEncoderLayer(d_model, heads, ff, dropout=0.0, batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(d_model),
                                             enable_nested_tensor=False)
        for m in self.encoder.modules():  # init_params(model, seed) re-draws the attention too
            if isinstance(m, nn.MultiheadAttention):
                m.reset_parameters = m._reset_parameters
        self.head = nn.Linear(d_model, n_way)

    def forward(self, *args, **kwargs):
        raise TypeError("InContextLearner is called part by part: apply(model, φ, 'body', x), "
                        "apply(model, φ, 'token', ...), apply(model, φ, 'encoder', tokens, "
                        "mask=...), apply(model, φ, 'head', ...)")


def init_incontext(model: InContextLearner, seed: Optional[int] = None, sharpness: float = 10.0,
                   readout: float = 0.3) -> Params:
    """A fresh φ (:func:`~hwlib.models.init_params`) that starts as a soft nearest-neighbour
    reader, so that meta-training does not sit on the loss plateau at log N first: the label
    slots of ``token`` are the first N axes of the model space, the first layer's attention
    scores are ``sharpness`` · ⟨W t_i, W t_j⟩ (keys = queries: similar drawings attend to each
    other), its values pass the tokens through (identity), and ``head`` reads the label axes
    (× ``readout``).  With the default random start the query loss stays at log N for
    hundreds of meta-steps while the attention and the read-out wait for each other."""
    phi = init_params(model, seed)
    d, n, d_e = model.head.in_features, model.n_way, model.d_embed
    if n > d:
        raise ValueError(f"n_way = {n} label slots need d_model >= n_way, got d_model = {d}")
    like = dict(dtype=phi["head.weight"].dtype, device=phi["head.weight"].device)
    axes = torch.eye(d, n, **like)
    with torch.no_grad():
        phi["token.weight"][:, d_e:d_e + n] = axes
        phi["head.weight"].copy_(readout * axes.T)
        attn = "encoder.layers.0.self_attn."
        w = phi[attn + "in_proj_weight"]
        w[d:2 * d] = sharpness * w[:d]
        w[2 * d:] = torch.eye(d, **like)
        phi[attn + "out_proj.weight"].copy_(torch.eye(d, **like))
    return phi


PARTS = ("body", "token", "encoder", "head")


def apply(model: nn.Module, params: Mapping[str, torch.Tensor], part: str, *args,
          **kwargs) -> torch.Tensor:
    """Run the submodule ``part`` of ``model`` with the ``part.`` entries of ``params``
    (φ, a dict name → tensor): ``apply(model, φ, "encoder", tokens, mask=mask)``."""
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS}, got {part!r}")
    prefix = part + "."
    own = {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}
    if not own:
        raise KeyError(f"params has no '{prefix}' entries: pass the whole φ "
                       "(e.g. init_params(model))")
    if part == "body" and (args[0].dim() != 4 or tuple(args[0].shape[1:]) != model.input_shape):
        raise ValueError(f"the body embeds images [n, {', '.join(map(str, model.input_shape))}], "
                         f"got {list(args[0].shape)} — one task at a time: task.x_support")
    return functional_call(getattr(model, part), own, args, kwargs)


def _task_logits(model: nn.Module, phi: Params, logits_fn: LogitsFn, task: TaskBatch,
                 n_way: int) -> torch.Tensor:
    logits = logits_fn(model, phi, task.x_support, task.y_support, task.x_query, n_way)
    if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != (len(task.x_query), n_way):
        got = list(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(f"incontext_logits must return [n_query, n_way] = "
                         f"{[len(task.x_query), n_way]}, got {got}")
    return logits


def episode_loss(model: nn.Module, phi: Params, logits_fn: LogitsFn,
                 batch: TaskBatch) -> tuple[torch.Tensor, float]:
    """The meta-loss: the query cross-entropy averaged over the tasks of ``batch``, and the
    query accuracy."""
    n_way = int(batch.y_support.max()) + 1
    losses, hits = [], []
    for task in batch:
        logits = _task_logits(model, phi, logits_fn, task, n_way)
        losses.append(F.cross_entropy(logits, task.y_query))
        hits.append((logits.argmax(-1) == task.y_query).float().mean())
    return torch.stack(losses).mean(), torch.stack(hits).mean().item()


def evaluate_incontext(model: nn.Module, phi: Params, logits_fn: LogitsFn,
                       tasks: FixedTaskSet | Iterable[TaskBatch],
                       batch_size: int = 50) -> EvalResult:
    """Query accuracy of every fixed task (no gradient: one forward pass per task), on φ's
    device."""
    device = next(iter(phi.values())).device
    batches = tasks.batches(batch_size, device) if isinstance(tasks, FixedTaskSet) else tasks
    accs = []
    with torch.no_grad():
        for batch in batches:
            n_way = int(batch.y_support.max()) + 1
            for task in batch:
                logits = _task_logits(model, phi, logits_fn, task, n_way)
                accs.append((logits.argmax(-1) == task.y_query).float().mean())
    return EvalResult(torch.stack(accs).cpu(), 0)


def meta_train_incontext(model: nn.Module, phi: Params, logits_fn: LogitsFn,
                         sampler: EpisodeSampler, *, seconds: Optional[float] = None,
                         steps: Optional[int] = None, lr: float = 1e-3, meta_batch: int = 4,
                         eval_every_s: Optional[float] = None,
                         eval_tasks: Optional[FixedTaskSet] = None,
                         log: Optional[Callable[[str], None]] = print,
                         gradient: Optional[MetaGradient] = None) -> Curve:
    """Meta-train φ in place (Adam, η = ``lr`` decreasing linearly to 0 over the budget) on
    ``meta_batch`` episodes per step, for ``seconds`` of training and/or ``steps`` meta-steps.
    Every ``eval_every_s`` training seconds (and at the end) the clock stops and φ is scored
    on ``eval_tasks``: returns the curve [(seconds, accuracy, ci95), ...] (the evaluations'
    own time is not counted).  ``gradient(φ, batch) -> (∇φ, loss)``, when given, replaces
    back-propagation through ``logits_fn`` (the grader's verified gradients)."""
    if seconds is None and steps is None:
        raise ValueError("give a budget: seconds=... and/or steps=...")
    learned = [v for v in phi.values() if v.requires_grad]
    if not learned:
        raise ValueError("no tensor of φ requires grad: nothing to learn")
    opt = torch.optim.Adam(learned, lr=lr)
    curve: Curve = []
    spent, step, next_eval = 0.0, 0, eval_every_s

    def score() -> None:
        if eval_tasks is not None:
            res = evaluate_incontext(model, phi, logits_fn, eval_tasks)
            curve.append((round(spent, 1), res.mean, res.ci95))
            if log:
                log(f"  {spent:6.1f} s, {step} meta-steps: {100 * res.mean:.2f}% ± "
                    f"{100 * res.ci95:.2f}% on {len(res.accuracies)} tasks")

    while (seconds is None or spent < seconds) and (steps is None or step < steps):
        t0 = time.perf_counter()
        done = max(spent / seconds if seconds else 0.0, step / steps if steps else 0.0)
        for group in opt.param_groups:
            group["lr"] = lr * max(1.0 - done, 0.02)
        batch = sampler.sample(meta_batch)
        opt.zero_grad()
        if gradient is None:
            episode_loss(model, phi, logits_fn, batch)[0].backward()
        else:
            for name, g in gradient(phi, batch)[0].items():
                phi[name].grad = g
        opt.step()
        spent, step = spent + time.perf_counter() - t0, step + 1
        if eval_every_s is not None and spent >= next_eval:
            score()
            next_eval = spent + eval_every_s
    if not curve or curve[-1][0] != round(spent, 1):
        score()
    return curve


def accuracy_by_shots(model: nn.Module, phi: Params, logits_fn: LogitsFn, characters,
                      shots: Iterable[int], n_way: int = 5, num_tasks: int = 600,
                      q_query: int = 10) -> dict[int, EvalResult]:
    """:func:`evaluate_incontext` on fixed N-way K-shot tasks for each K of ``shots``, with
    ``q_query`` queries per class for every K (K + Q ≤ 20: an Omniglot character has 20
    drawings)."""
    return {k: evaluate_incontext(model, phi, logits_fn,
                                  FixedTaskSet(characters, n_way, k, q_query, num_tasks))
            for k in shots}


__all__ = ["InContextLearner", "LogitsFn", "Curve", "apply", "conv_block", "episode_loss",
           "init_incontext", "evaluate_incontext", "meta_train_incontext", "accuracy_by_shots"]
