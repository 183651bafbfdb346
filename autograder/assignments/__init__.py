"""The course's assignments.  An assignment is one folder, ``autograder/assignments/<name>/``,
and one line in :data:`NAMES`; its source notebook is ``solutions/<name>/<name>.ipynb``, released
to ``notebooks/<name>/`` and graded by the same pipeline (``--assignment NAME`` on ``release``,
``validate``, ``calibrate``, ``grade``; ``merge`` reads it from the results).

The folder holds everything that is the assignment's own:

* ``__init__.py`` — ``TITLE`` (one line);
* ``answers.py`` — the reference answers, with the students' signatures;
* ``checks.py`` — the judge's interface: ``ORDER`` (every hidden check the notebook's test cells
  may name, in the order the judge runs them), ``TIERS`` (accuracy tiers: how the judge trains,
  the verdict, the helpers the training calls) and the check functions themselves, each in a
  module named after what it checks;
* ``catalogue/`` — student code that proves the checks: ``FUNCTIONS``, ``BUGS``, ``VARIANTS``,
  ``MUTANTS``, ``GRADE_IDS``, ``namespace_with`` (what ``validate --mutants``,
  ``measure-checks`` and the tests grade);
* ``calibrate.py`` — ``calibrate(profile, seeds, margin, curve)`` → a report, and
  ``passed(report)`` (the tiers are reachable by the reference, not by the controls).

:class:`Assignment` reads them; ``grade``, ``validate``, ``calibrate``, ``release`` and the judge
know an assignment only through it.

* ``metalearning`` — learning an initialisation: MAML, first-order MAML, ANIL, Reptile and the
  multi-task pretraining baseline (sinusoids, Omniglot 5-way 1-shot);
* ``metasgd_protonet`` — beyond the initialisation: learned inner learning rates (Meta-SGD)
  and learning to compare (prototypical networks), compared with MAML and ANIL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from types import ModuleType
from typing import Callable

REPO = Path(__file__).resolve().parents[2]

#: the registry: adding an assignment is its folder and one name here
NAMES = ("metalearning", "metasgd_protonet", "hypergradients")


@dataclass(frozen=True)
class TierBudget:
    """How the judge trains for an assignment's accuracy tiers on one profile: ``steps``
    meta-steps of ``meta_batch_size`` tasks (``train_ways``-way 1-shot, ``q_query`` queries per
    class), then the ``tiers`` thresholds on the profile's fixed 5-way 1-shot test tasks."""

    steps: int
    meta_batch_size: int
    tiers: tuple[float, ...]
    train_ways: int = 5
    q_query: int = 1


@dataclass(frozen=True)
class Tier:
    """An accuracy tier: ``train(student, profile, seed)`` once with the student's functions,
    then ``verdict(k, results, profile=)`` for each tier cell; ``calls``: the checks of the
    student's helpers the training uses (a failed tier names those that failed their own test);
    ``budgets``: its :class:`TierBudget` for each profile of :data:`hwlib.profiles.PROFILES`."""

    train: Callable
    verdict: Callable
    calls: tuple[str, ...]
    budgets: dict = field(default_factory=dict)


def tier_budget(budgets: dict, profile) -> TierBudget:
    """The budget of ``profile`` (its ``tier_profile``: the canary trains with ``tiny``'s)."""
    name = profile.tier_profile
    if name not in budgets:
        raise ValueError(f"no tier budget for the {name!r} profile: add it to BUDGETS in the "
                         "assignment's tiers.py")
    return budgets[name]


@dataclass(frozen=True)
class Assignment:
    """One assignment: its folder's parts, loaded on first use.  ``package`` (default
    ``autograder.assignments.<name>``) and ``root`` (the course folder that holds
    ``solutions/`` and ``notebooks/``; default this repository) let a test build one elsewhere."""

    name: str
    package: str = ""
    root: Path = REPO

    def part(self, module: str = "") -> ModuleType:
        package = self.package or f"{__name__}.{self.name}"
        return import_module(package + (f".{module}" if module else ""))

    @property
    def title(self) -> str:
        return self.part().TITLE

    @property
    def checks(self) -> ModuleType:
        """``ORDER``, ``TIERS`` and every ``check_*`` the notebook's hidden tests name."""
        return self.part("checks")

    @property
    def catalogue(self) -> ModuleType:
        """``FUNCTIONS``, ``BUGS``, ``VARIANTS``, ``MUTANTS``, ``GRADE_IDS``, ``namespace_with``."""
        return self.part("catalogue")

    @property
    def calibration(self) -> ModuleType:
        """``calibrate(profile, seeds, margin, curve)`` and ``passed(report)``."""
        return self.part("calibrate")

    @property
    def notebook(self) -> str:
        return f"{self.name}.ipynb"

    @property
    def source(self) -> Path:
        """The instructor's notebook (solutions and hidden tests)."""
        return self.root / "solutions" / self.name / self.notebook

    @property
    def released(self) -> Path:
        """The generated student notebook."""
        return self.root / "notebooks" / self.name / self.notebook


ASSIGNMENTS = {name: Assignment(name) for name in NAMES}
DEFAULT = NAMES[0]


def assignment_named(name: str | Assignment | None = None) -> Assignment:
    """The assignment ``name`` (default: the first one), with a clear error otherwise."""
    if isinstance(name, Assignment):
        return name
    if name is None:
        name = DEFAULT
    if name not in ASSIGNMENTS:
        raise ValueError(f"unknown assignment {name!r}: use one of {sorted(ASSIGNMENTS)}")
    return ASSIGNMENTS[name]
