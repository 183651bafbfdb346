'''Realistic student code for the second assignment's five graded functions (Meta-SGD and
prototypical networks): wrong answers and correct ones, and its one-token mutants.

As the first assignment's catalogue:

* :data:`BUGS` — wrong answers written as students write them (whole ``def``s, their own
  names, loops, comprehensions, ``torch.cdist``, ``einsum``, ``index_add``, …).
  ``check_<bug.check>`` must reject each one with a message containing ``bug.message``;
* :data:`VARIANTS` — correct answers written differently from the reference; all five checks
  must pass with each of them in place of the reference function;
* :data:`MUTANTS` — one-token edits of the reference (:mod:`.mutants`),
  with :data:`GRADE_IDS` (the notebook's graded cell of each check) and
  :func:`mutated_namespace`.

Each ``source`` runs in the namespace of the second notebook's import cell (:data:`PRELUDE`)
next to the other four functions (:func:`namespace_with`); ``metasgd_meta_loss`` may call
``metasgd_inner_update``, and ``protonet_loss`` ``prototypes`` and ``protonet_logits``, by their
global names (the grader lends the reference ones while checking them)::

    ns = namespace_with(bug)
    getattr(checks, f"check_{bug.check}")(ns[bug.check], seed=0)  # CheckFailed
'''

from __future__ import annotations

from autograder.assignments.metasgd_protonet import answers
from autograder.student_code.entries import Bug, Mutant, Variant, mutated_namespace_of

from . import bugs_metasgd, bugs_protonet
from .blind import BLIND
from .entries import FUNCTIONS, PRELUDE, namespace_with
from .mutants import GRADE_IDS, MUTANTS
from .variants import VARIANTS

BUGS: list[Bug] = [*bugs_metasgd.BUGS, *bugs_protonet.BUGS]


def mutated_namespace(mutant: Mutant) -> dict:
    """The second assignment's reference answers with ``mutant`` applied, as a namespace."""
    return mutated_namespace_of(answers, mutant)


__all__ = ["BUGS", "VARIANTS", "BLIND", "MUTANTS", "GRADE_IDS", "FUNCTIONS", "PRELUDE", "Bug", "Variant",
           "namespace_with", "mutated_namespace"]
