"""Realistic student code for the third assignment's graded functions: wrong answers
(:data:`BUGS`, each rejected by its check with a message naming the cause), correct answers
written differently (:data:`VARIANTS`, full marks) and one-token mutants of the reference
(:data:`MUTANTS`), with :data:`GRADE_IDS` (the notebook's graded cell of each function).
Each ``source`` runs in the namespace of the notebook's import cell (:data:`PRELUDE`) next to
the other functions (:func:`namespace_with`); ``unrolled_loss`` may call
``preprocess_gradient`` by its global name (the grader lends the reference one)."""

from __future__ import annotations

from autograder.assignments.hypergradients import answers
from autograder.student_code.entries import Bug, Mutant, Variant, mutated_namespace_of

from .bugs import BUGS
from .entries import FUNCTIONS, PRELUDE, namespace_with
from .mutants import GRADE_IDS, MUTANTS
from .variants import VARIANTS

#: functions graded with the student's own other functions (not lent): architecture_gradient
#: runs the student's mixed_op inside the network
GRADED_WITH = {"architecture_gradient": ("mixed_op",)}


def mutated_namespace(mutant: Mutant) -> dict:
    """The reference answers with ``mutant`` applied, as a namespace of functions."""
    return mutated_namespace_of(answers, mutant)


__all__ = ["GRADED_WITH", "BUGS", "VARIANTS", "MUTANTS", "GRADE_IDS", "FUNCTIONS", "PRELUDE", "Bug", "Variant",
           "namespace_with", "mutated_namespace"]
