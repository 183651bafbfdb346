"""The catalogue's entries: a one-token mutant, a bug or a correct variant, the skeleton def lines,
and the namespace a student's function runs in."""

from __future__ import annotations

import inspect
from dataclasses import dataclass

FUNCTIONS = ("inner_update", "outer_step", "maml_meta_loss", "fomaml_meta_loss", "anil_adapt",
             "reptile_meta_gradient")

#: what the notebook's import cell puts in the students' namespace (besides the reference code)
PRELUDE = ("import torch\nfrom torch import nn\n"
           "from hwlib.models import Params, task_loss, split_body_head, forward\n"
           "from hwlib.tasks import TaskBatch\n")


@dataclass(frozen=True)
class Mutant:
    name: str
    function: str
    edits: tuple[tuple[str, str], ...]  # (old, new) pairs, applied simultaneously
    check: str       # the graded check (grade_id suffix) that must fail
    message: str     # a phrase its message must contain

    def apply(self, source: str) -> str:
        """Apply the edits inside ``def <function>`` of ``source`` (each ``old`` exactly once)."""
        start = source.index(f"def {self.function}(")
        end = source.find("\ndef ", start + 1)
        end = len(source) if end == -1 else end
        body = source[start:end]
        for i, (old, _) in enumerate(self.edits):
            if body.count(old) != 1:
                raise ValueError(f"mutant {self.name}: {old!r} occurs {body.count(old)} times "
                                 f"in {self.function}")
            body = body.replace(old, f"\0MUTANT{i}\0")
        for i, (_, new) in enumerate(self.edits):
            body = body.replace(f"\0MUTANT{i}\0", new)
        return source[:start] + body + source[end:]


@dataclass(frozen=True)
class Bug:
    """A wrong answer: ``check_<check>`` must fail with a message containing ``message``."""

    name: str
    function: str
    check: str
    message: str
    source: str


@dataclass(frozen=True)
class Variant:
    """A correct answer, written differently from the reference: every check passes."""

    name: str
    function: str
    source: str


def namespace_with(*entries: Bug | Variant) -> dict:
    """The reference answers and the notebook's imports in one namespace, with each entry's
    ``source`` executed into it (replacing that one function)."""
    from autograder.reference import answers

    namespace: dict = {"__name__": "student_code"}
    exec(compile(inspect.getsource(answers), "<reference>", "exec"), namespace)  # noqa: S102
    exec(compile(PRELUDE, "<imports>", "exec"), namespace)  # noqa: S102
    for entry in entries:
        exec(compile(entry.source, f"<student {entry.name}>", "exec"), namespace)  # noqa: S102
    return namespace


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


