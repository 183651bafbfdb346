"""The blind set's helpers (its cases live in each assignment's ``catalogue/blind/``): a case,
the notebooks' import lines and def lines, a source."""

from textwrap import dedent


def _case(name, assignment, function, correct, cause, keywords, source):
    return {"name": name, "assignment": assignment, "function": function,
            "source": dedent(source).strip() + "\n", "correct": correct, "cause": cause,
            "keywords": list(keywords)}


H1 = """
import torch
from torch import nn
from hwlib import Params, TaskBatch, task_loss
"""
H2 = """
import torch
import torch.nn.functional as F
from torch import nn
from hwlib import Params, TaskBatch, task_loss, embed
"""

IU_SIG = '''
def inner_update(model: nn.Module, params: Params, x: torch.Tensor, y: torch.Tensor,
                 alpha: float, create_graph: bool = False) -> Params:
    """One inner step on (x, y): θ' = θ − α ∇θ l(θ), for every parameter."""
'''
OS_SIG = '''
def outer_step(optimizer: torch.optim.Optimizer, meta_loss: torch.Tensor) -> float:
    """The outer update: one optimizer step on the gradient of this meta-loss."""
'''
MAML_SIG = '''
def maml_meta_loss(model: nn.Module, phi: Params, batch: TaskBatch, alpha: float,
                   steps: int = 1) -> torch.Tensor:
    """(1/B) Σ_i l_query_i(θ̂_i), θ̂_i = ``steps`` inner updates from φ on support_i, keeping
    the graph through the inner loop (second order)."""
'''
FO_SIG = '''
def fomaml_meta_loss(model: nn.Module, phi: Params, batch: TaskBatch, alpha: float,
                     steps: int = 1) -> torch.Tensor:
    """First-order MAML: as :func:`maml_meta_loss` but with ∂θ̂/∂φ ≈ I (no graph through the
    inner gradients), so ∇φ of this loss is the query gradient at θ̂."""
'''
ANIL_SIG = '''
def anil_adapt(model: nn.Module, phi: Params, x: torch.Tensor, y: torch.Tensor, alpha: float,
               steps: int = 1, create_graph: bool = False) -> Params:
    """ANIL's inner loop: ``steps`` gradient steps on the head only; the body stays at φ."""
'''
REP_SIG = '''
def reptile_meta_gradient(model: nn.Module, phi: Params, batch: TaskBatch, alpha: float,
                          steps: int = 5) -> tuple[Params, torch.Tensor]:
    """Reptile: θ̂_i = ``steps`` SGD steps on task i (support ∪ query); returns the direction
    (1/B) Σ_i (φ − θ̂_i) and the mean task loss at θ̂."""
'''
MSGD_SIG = '''
def metasgd_inner_update(model: nn.Module, params: Params, alphas: Params, x: torch.Tensor,
                         y: torch.Tensor, create_graph: bool = True) -> Params:
    """One Meta-SGD step: θ' = θ − α ⊙ ∇θ l(θ), with one learning rate per element of θ."""
'''
MSML_SIG = '''
def metasgd_meta_loss(model: nn.Module, phi: Params, alphas: Params, batch: TaskBatch,
                      steps: int = 1) -> torch.Tensor:
    """(1/B) Σ_i l_query_i(θ̂_i(φ, α)): differentiable w.r.t. φ and α (second order)."""
'''
PROTO_SIG = '''
def prototypes(embeddings: torch.Tensor, labels: torch.Tensor, n_way: int) -> torch.Tensor:
    """c_k = (1/|S_k|) Σ_{(x, y) ∈ S, y = k} f_φ(x): ``[n_way, d]``, row k for label k."""
'''
LOG_SIG = '''
def protonet_logits(query_embeddings: torch.Tensor, prototypes: torch.Tensor) -> torch.Tensor:
    """−‖f_φ(x) − c_k‖² for every query x and class k: ``[n_query, n_way]``."""
'''
PL_SIG = '''
def protonet_loss(model: nn.Module, phi: Params, batch: TaskBatch) -> torch.Tensor:
    """(1/B) Σ_i CE(−‖f_φ(x_query) − c‖², y_query) with the prototypes c of task i's support."""
'''


def _src(header, sig, body):
    """header + signature (docstring included) + the student's body (indented 4)."""
    body = dedent(body).strip("\n")
    body = "\n".join(("    " + line) if line.strip() else "" for line in body.splitlines())
    return dedent(header).strip() + "\n\n\n" + dedent(sig).strip() + "\n" + body + "\n"
