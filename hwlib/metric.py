"""Learning to compare and learned learning rates: the pieces the second assignment plugs into.

**Embedding.**  A prototypical network has no head: f_φ is Conv4 without its last layer,
``embed(model, φ, x) -> [n, 64]`` (φ holds the ``body.`` parameters only).

**Prototype classifier as a linear head.**  With prototypes c_k, the logits −‖z − c_k‖² equal
2 c_kᵀz − ‖c_k‖² − ‖z‖²; the last term is the same for every class, so softmax and arg-max
are those of a linear head with W_k = 2 c_k and b_k = −‖c_k‖² (Snell et al., 2017, §2.7).
:func:`prototype_head` builds that head, so a ProtoNet is evaluated by the same skeleton as
MAML: its "inner loop" computes the head from the support set in closed form (no gradient
step) and the query set is scored with ``forward(model, {**φ, **head}, x_query)``.

**Meta-SGD's α.**  Meta-SGD (Li et al., 2017) learns one inner learning rate per element of
φ: θ̂ = φ − α ⊙ ∇φ l_support(φ).  The skeleton's outer loop optimises one dict, so the learned
α travels in it under the prefix ``alpha/`` (:func:`pack` and :func:`unpack`).
"""

from __future__ import annotations

from typing import Callable, Mapping

import torch
from torch import nn
from torch.func import functional_call

from .models import Params

ALPHA_PREFIX = "alpha/"


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


def init_alphas(phi: Mapping[str, torch.Tensor], value: float) -> Params:
    """Meta-SGD's α: one learning rate per element of φ, all equal to ``value`` at the start."""
    return {k: torch.full_like(v, value).detach().requires_grad_(True) for k, v in phi.items()}


def pack(phi: Mapping[str, torch.Tensor], alphas: Mapping[str, torch.Tensor]) -> Params:
    """φ and α in one dict (α under ``alpha/<name>``): what the outer loop optimises."""
    if set(phi) != set(alphas):
        raise KeyError("alphas must have exactly φ's names (one learning rate per tensor of φ)")
    return {**phi, **{ALPHA_PREFIX + k: v for k, v in alphas.items()}}


def unpack(params: Mapping[str, torch.Tensor]) -> tuple[Params, Params]:
    """``(φ, α)`` from a dict made by :func:`pack`."""
    phi = {k: v for k, v in params.items() if not k.startswith(ALPHA_PREFIX)}
    alphas = {k[len(ALPHA_PREFIX):]: v for k, v in params.items() if k.startswith(ALPHA_PREFIX)}
    return phi, alphas
