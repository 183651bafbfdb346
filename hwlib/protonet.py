"""Learning to compare: a prototypical network in the skeleton (Snell et al., 2017).

**Embedding.**  A prototypical network has no head: f_φ is Conv4 without its last layer,
``embed(model, φ, x) -> [n, 64]`` (φ holds the ``body.`` parameters only).

**Prototype classifier as a linear head.**  With prototypes c_k, the logits −‖z − c_k‖² equal
2 c_kᵀz − ‖c_k‖² − ‖z‖²; the last term is the same for every class, so softmax and arg-max
are those of a linear head with W_k = 2 c_k and b_k = −‖c_k‖² (§2.7).  :func:`prototype_head`
builds that head, so a ProtoNet is evaluated by the same skeleton as MAML: its "inner loop"
computes the head from the support set in closed form (no gradient step) and the query set is
scored with ``forward(model, {**φ, **head}, x_query)``.  :func:`protonet_learner` plugs the
student's ``prototypes`` and loss into a :class:`~hwlib.learner.MetaLearner`.
"""

from __future__ import annotations

from typing import Callable, Mapping, Optional

import torch
from torch import nn
from torch.func import functional_call

from .evaluate import EvalResult, evaluate
from .learner import MetaLearner
from .models import Params
from .tasks import FixedTaskSet


def embed(model: nn.Module, params: Mapping[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """f_φ(x): the ``model``'s body (Conv4 without its head) run with ``params`` → ``[n, d]``.

    ``params`` may hold the head too (it is not used): only the ``body.`` entries count."""
    body = {k[len("body."):]: v for k, v in params.items() if k.startswith("body.")}
    if not body:
        raise KeyError("params has no 'body.' entries: pass φ of the embedding (Conv4's body), "
                       "e.g. split_body_head(init_params(model))[0]")
    if x.dim() != 4:
        hint = " — one task at a time: task.x_support" if x.dim() == 5 else ""
        raise ValueError(f"embed expects images [n, C, H, W], got {list(x.shape)}{hint}")
    return functional_call(model.body, body, (x,))


def prototype_head(prototypes: torch.Tensor) -> Params:
    """The linear head with the prototype classifier's decisions: W_k = 2 c_k, b_k = −‖c_k‖²
    (``prototypes``: ``[N, d]``)."""
    if prototypes.dim() != 2:
        raise ValueError(f"prototypes must be [N, d], got {list(prototypes.shape)}")
    return {"head.weight": 2 * prototypes, "head.bias": -(prototypes ** 2).sum(-1)}


def prototype_adapt(model: nn.Module, prototypes: Callable) -> Callable:
    """The skeleton's ``adapt(φ, x_support, y_support, steps)`` for a prototype classifier: φ's
    body with :func:`prototype_head` of ``prototypes(embed(φ, x_s), y_s, N)`` (no gradient step;
    ``steps`` is ignored; N = the largest label + 1)."""
    def adapt(phi: Params, x: torch.Tensor, y: torch.Tensor, steps: int = 0) -> Params:
        body = {k: v for k, v in phi.items() if k.startswith("body.")}
        n_way = int(y.max()) + 1
        return {**body, **prototype_head(prototypes(embed(model, body, x), y, n_way))}
    return adapt


def protonet_learner(model: nn.Module, *, prototypes: Callable, loss: Callable,
                     name: str = "protonet",
                     evaluate_tasks: Optional[Callable] = None) -> MetaLearner:
    """A prototypical network: ``loss(model, φ, batch)`` is the meta-loss (φ: the
    embedding's parameters), and at test time the support set's ``prototypes(z, y, N)``
    become a linear head (:func:`prototype_head`) — no inner gradient step, so
    ``learner.evaluate(φ, tasks, steps)`` gives the same result for any ``steps``."""
    adapt = prototype_adapt(model, prototypes)

    def evaluate_fn(phi: Params, tasks: FixedTaskSet, steps: int) -> EvalResult:
        return evaluate(model, phi, adapt, tasks, 1)  # "1 step": the head is computed once

    return MetaLearner(model, adapt, meta_loss=lambda phi, batch: loss(model, phi, batch),
                       name=name, inner_steps=0, evaluate_tasks=evaluate_tasks or evaluate_fn)
