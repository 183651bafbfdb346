"""The first assignment's catalogue entries: its graded functions, the notebook's import cell
and skeleton def lines, and the namespace a student's function runs in."""

from __future__ import annotations

from autograder.assignments.metalearning import answers
from autograder.student_code.entries import Bug, Variant, namespace_of

FUNCTIONS = ("inner_update", "outer_step", "maml_meta_loss", "fomaml_meta_loss", "anil_adapt",
             "reptile_meta_gradient")

#: what the notebook's import cell puts in the students' namespace (besides the reference code)
PRELUDE = ("import torch\nfrom torch import nn\n"
           "from hwlib.models import Params, task_loss, split_body_head, forward\n"
           "from hwlib.tasks import TaskBatch\n")


def namespace_with(*entries: Bug | Variant) -> dict:
    """The reference answers and the notebook's imports in one namespace, with each entry's
    ``source`` executed into it (replacing that one function)."""
    return namespace_of(answers, PRELUDE, *entries)


# The def lines as the notebook's skeleton gives them (students fill in the bodies).
_INNER = ("def inner_update(model: nn.Module, params: Params, x: torch.Tensor, y: torch.Tensor,\n"
          "                 alpha: float, create_graph: bool = False) -> Params:\n")
_OUTER = "def outer_step(optimizer: torch.optim.Optimizer, meta_loss: torch.Tensor) -> float:\n"
_MAML = ("def maml_meta_loss(model: nn.Module, phi: Params, batch: TaskBatch, alpha: float,\n"
         "                   steps: int = 1) -> torch.Tensor:\n")
_FOMAML = ("def fomaml_meta_loss(model: nn.Module, phi: Params, batch: TaskBatch, alpha: float,\n"
           "                     steps: int = 1) -> torch.Tensor:\n")
_ANIL = ("def anil_adapt(model: nn.Module, phi: Params, x: torch.Tensor, y: torch.Tensor,"
         " alpha: float,\n"
         "               steps: int = 1, create_graph: bool = False) -> Params:\n")
_REPTILE = ("def reptile_meta_gradient(model: nn.Module, phi: Params, batch: TaskBatch,"
            " alpha: float,\n"
            "                          steps: int = 5) -> tuple[Params, torch.Tensor]:\n")


