"""Reference implementations of the homework's algorithms — INSTRUCTOR SIDE, never shipped.

One source of truth for the answers: :mod:`.answers` holds the functions with the
students' signatures (the solution notebook's solution cells are checked against it), and
:mod:`.algorithms` assembles them into hwlib MetaLearners for the TA ``train`` command and the
graders.  ``hwlib`` (what students import) only has the skeleton they plug into.
"""

from .algorithms import ALGORITHMS, make_learner
from autograder.assignments.metalearning.answers import (anil_adapt, fomaml_meta_loss, inner_update, maml_meta_loss, outer_step,
                         reptile_meta_gradient)

__all__ = ["ALGORITHMS", "make_learner", "inner_update", "outer_step", "maml_meta_loss",
           "fomaml_meta_loss", "anil_adapt", "reptile_meta_gradient"]
