"""The second assignment's (Meta-SGD and prototypical networks) catalogue entries: the graded
functions, the notebook's skeleton def lines, and the namespace a student's function runs in."""

from __future__ import annotations

from autograder.assignments.metasgd_protonet import answers
from autograder.student_code.entries import Bug, Variant, namespace_of

FUNCTIONS = ("metasgd_inner_update", "metasgd_meta_loss", "prototypes", "protonet_logits",
             "protonet_loss")

#: what the second notebook's import cell puts in the students' namespace
PRELUDE = ("import torch\nimport torch.nn.functional as F\nfrom torch import nn\n"
           "from hwlib.models import Params, task_loss, forward\n"
           "from hwlib.protonet import embed\nfrom hwlib.tasks import TaskBatch\n")


def namespace_with(*entries: Bug | Variant) -> dict:
    """The second assignment's reference answers and the notebook's imports in one namespace,
    with each entry's ``source`` executed into it (replacing that one function)."""
    return namespace_of(answers, PRELUDE, *entries)


# The def lines as the notebook's skeleton gives them (students fill in the bodies).
_MSGD_INNER = ("def metasgd_inner_update(model: nn.Module, params: Params, alphas: Params,"
               " x: torch.Tensor,\n"
               "                         y: torch.Tensor, create_graph: bool = True) -> Params:\n")
_MSGD_META = ("def metasgd_meta_loss(model: nn.Module, phi: Params, alphas: Params,"
              " batch: TaskBatch,\n"
              "                      steps: int = 1) -> torch.Tensor:\n")
_PROTOS = ("def prototypes(embeddings: torch.Tensor, labels: torch.Tensor, n_way: int)"
           " -> torch.Tensor:\n")
_LOGITS = ("def protonet_logits(query_embeddings: torch.Tensor, prototypes: torch.Tensor)"
           " -> torch.Tensor:\n")
_PLOSS = "def protonet_loss(model: nn.Module, phi: Params, batch: TaskBatch) -> torch.Tensor:\n"
