'''The first assignment's catalogue: realistic student code for its six graded functions (wrong
answers and correct ones) and one-token mutants of its reference answers.

:mod:`.mutants` edits the reference answer one token at a time; this module holds
what students actually hand in — whole function definitions with their own variable names,
loops or comprehensions, ``torch.autograd.grad`` or ``torch.func``, comments — to show that the
hidden checks (:mod:`..checks`) are both sharp and fair:

* :data:`BUGS` — wrong answers.  ``check_<bug.check>`` must reject each one with a
  :class:`~autograder.checks.CheckFailed` whose message contains ``bug.message``, a phrase that
  names the cause ("wrong sign", "summed", "in place", …).
* :data:`VARIANTS` — correct answers written differently from the reference; all six checks
  must pass with each of them in place of the reference function.

Each ``source`` is a complete ``def`` with the signature of the reference.  It runs in the
namespace the notebook's import cell gives (``torch``, ``nn``, ``Params``, ``task_loss``,
``TaskBatch``, ``split_body_head``, ``forward``) next to the other five functions; see
:func:`namespace_with`.  ``maml_meta_loss``, ``fomaml_meta_loss`` and ``reptile_meta_gradient``
may call ``inner_update`` by its global name (the grader lends the reference one while checking
them).

Verify, e.g.::

    ns = namespace_with(bug)
    getattr(checks, f"check_{bug.check}")(ns[bug.check], seed=0)  # CheckFailed
'''


from __future__ import annotations

from autograder.assignments.metalearning import answers
from autograder.student_code.entries import Bug, Mutant, Variant, mutated_namespace_of

from . import bugs_later, bugs_meta, bugs_reptile, bugs_steps
from .blind import BLIND
from .entries import FUNCTIONS, PRELUDE, namespace_with
from .mutants import GRADE_IDS, MUTANTS
from .variants import VARIANTS

BUGS: list[Bug] = [*bugs_steps.BUGS, *bugs_meta.BUGS, *bugs_reptile.BUGS, *bugs_later.BUGS]


def mutated_namespace(mutant: Mutant) -> dict:
    """The reference answers with ``mutant`` applied, as a namespace of functions."""
    return mutated_namespace_of(answers, mutant)


__all__ = ["BUGS", "VARIANTS", "BLIND", "MUTANTS", "GRADE_IDS", "FUNCTIONS", "PRELUDE", "Bug", "Variant",
           "namespace_with", "mutated_namespace"]
