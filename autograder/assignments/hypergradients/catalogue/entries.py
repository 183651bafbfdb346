"""The third assignment's catalogue entries: its graded functions, the notebook's import cell
and skeleton def lines, and the namespace a student's function runs in."""

from __future__ import annotations

from autograder.assignments.hypergradients import answers
from autograder.student_code.entries import Bug, Variant, namespace_of

FUNCTIONS = ("preprocess_gradient", "unrolled_loss", "example_weights", "mixed_op",
             "architecture_gradient", "query_mask", "incontext_logits")

#: what the notebook's import cell puts in the students' namespace (besides the reference code)
PRELUDE = ("import math\nimport torch\nimport torch.nn.functional as F\nfrom torch import nn\n"
           "from hwlib.darts import OPS, search_loss\n"
           "from hwlib.incontext import apply\n"
           "from hwlib.learned_optimizer import Params, Problem, State, propose, quadratic_loss\n"
           "from hwlib.models import forward\n")


def namespace_with(*entries: Bug | Variant) -> dict:
    """The reference answers and the notebook's imports in one namespace, with each entry's
    ``source`` executed into it (replacing that one function)."""
    return namespace_of(answers, PRELUDE, *entries)


# The def lines as the notebook's skeleton gives them (students fill in the bodies).
PRE = "def preprocess_gradient(g: torch.Tensor, p: float = 10.0) -> torch.Tensor:\n"
UNROLLED = ("def unrolled_loss(optimizer: nn.Module, phi: Params, problem: Problem, "
            "theta: torch.Tensor,\n"
            "                  state: State, T: int) -> tuple[torch.Tensor, torch.Tensor, State]:\n")
WEIGHTS = ("def example_weights(model: nn.Module, params: Params, x: torch.Tensor, "
           "y: torch.Tensor,\n"
           "                    x_val: torch.Tensor, y_val: torch.Tensor, lr: float) "
           "-> torch.Tensor:\n")
MIX = "def mixed_op(candidates: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:\n"
ARCH = ("def architecture_gradient(model: nn.Module, w: Params, alpha: torch.Tensor, "
        "x: torch.Tensor,\n"
        "                          y: torch.Tensor, x_val: torch.Tensor, y_val: torch.Tensor, "
        "xi: float,\n"
        "                          second_order: bool) -> torch.Tensor:\n")
MASK = "def query_mask(n_support: int, n_query: int) -> torch.Tensor:\n"
LOGITS = ("def incontext_logits(model: nn.Module, params: Params, x_support: torch.Tensor,\n"
          "                     y_support: torch.Tensor, x_query: torch.Tensor,\n"
          "                     n_way: int) -> torch.Tensor:\n")
