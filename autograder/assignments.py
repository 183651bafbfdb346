"""The course's assignments: each one is a source notebook in ``solutions/<name>/`` released to
``notebooks/<name>/``, graded by the same pipeline (``--assignment NAME`` on ``release``,
``validate``, ``grade``; ``merge`` reads it from the results).

* ``metalearning`` — learning an initialisation: MAML, first-order MAML, ANIL, Reptile and the
  multi-task pretraining baseline (sinusoids, Omniglot 5-way 1-shot);
* ``metasgd_protonet`` — beyond the initialisation: learned inner learning rates (Meta-SGD)
  and learning to compare (prototypical networks), compared with MAML and ANIL.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Assignment:
    """One assignment: its name (the folder and notebook name) and a one-line title."""

    name: str
    title: str

    @property
    def notebook(self) -> str:
        return f"{self.name}.ipynb"

    @property
    def source(self) -> Path:
        """The instructor's notebook (solutions and hidden tests)."""
        return REPO / "solutions" / self.name / self.notebook

    @property
    def released(self) -> Path:
        """The generated student notebook."""
        return REPO / "notebooks" / self.name / self.notebook


ASSIGNMENTS = {a.name: a for a in (
    Assignment("metalearning", "Learning to learn: MAML, first-order MAML, ANIL and Reptile"),
    Assignment("metasgd_protonet", "Beyond the initialisation: Meta-SGD and prototypical "
                                   "networks"),
)}
DEFAULT = "metalearning"


def assignment_named(name: str | Assignment | None = None) -> Assignment:
    """The assignment ``name`` (default: the first one), with a clear error otherwise."""
    if isinstance(name, Assignment):
        return name
    if name is None:
        name = DEFAULT
    if name not in ASSIGNMENTS:
        raise ValueError(f"unknown assignment {name!r}: use one of {sorted(ASSIGNMENTS)}")
    return ASSIGNMENTS[name]
