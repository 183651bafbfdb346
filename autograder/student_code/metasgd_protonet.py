'''Realistic student code for the second assignment's five graded functions (Meta-SGD and
prototypical networks): wrong answers and correct ones, and its one-token mutants.

As :mod:`autograder.student_code` for the first assignment (whose lists stay as they are):

* :data:`BUGS2` — wrong answers written as students write them (whole ``def``s, their own
  names, loops, comprehensions, ``torch.cdist``, ``einsum``, ``index_add``, …).
  ``check_<bug.check>`` must reject each one with a message containing ``bug.message``;
* :data:`VARIANTS2` — correct answers written differently from the reference; all five checks
  must pass with each of them in place of the reference function;
* :data:`MUTANTS2` — one-token edits of the reference (:mod:`.mutants2`),
  with :data:`GRADE_IDS2` (the notebook's graded cell of each check) and
  :func:`mutated_namespace2`.

Each ``source`` runs in the namespace of the second notebook's import cell (:data:`PRELUDE2`)
next to the other four functions (:func:`namespace_with2`); ``metasgd_meta_loss`` may call
``metasgd_inner_update``, and ``protonet_loss`` ``prototypes`` and ``protonet_logits``, by their
global names (the grader lends the reference ones while checking them)::

    ns = namespace_with2(bug)
    getattr(autograder.checks, f"check_{bug.check}")(ns[bug.check], seed=0)  # CheckFailed
'''

from __future__ import annotations

from . import bugs_metasgd, bugs_protonet
from .entries import Bug, Variant
from .entries2 import FUNCTIONS2, PRELUDE2, namespace_with2
from .mutants2 import GRADE_IDS2, MUTANTS2, mutated_namespace2
from .variants2 import VARIANTS as VARIANTS2

BUGS2: list[Bug] = [*bugs_metasgd.BUGS, *bugs_protonet.BUGS]

__all__ = ["BUGS2", "VARIANTS2", "FUNCTIONS2", "PRELUDE2", "MUTANTS2", "GRADE_IDS2", "Bug",
           "Variant", "namespace_with2", "mutated_namespace2"]
