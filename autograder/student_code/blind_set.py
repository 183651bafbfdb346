"""The blind set of student code for both notebooks (issue 24): 91 bugs and 36 correct answers
written from the student-facing material only (the released notebooks, docs/student.md,
README.md and hwlib/) by someone who did not read ``autograder/``, ``solutions/``, ``tests/``
or ``docs/grading.md``, each checked against their own float64 reference.  It measured the
checks before the property diagnosis was built (``python -m autograder measure-checks
autograder/student_code/blind_set.py``) and stays as a regression set
(``tests/test_blind_set.py``).

Each case replaces ONE answer cell.  Sources may call the notebook's other answer functions
(e.g. ``maml_meta_loss`` calling ``inner_update``, ``protonet_loss`` calling ``prototypes`` /
``protonet_logits``) and the names the notebooks import in their setup cell, as a student's
cell would; each source also imports what it uses itself.
"""

from autograder.assignments import ASSIGNMENTS

#: every assignment's blind cases (``autograder/assignments/<name>/catalogue/blind/``)
CASES = [case for a in ASSIGNMENTS.values() for case in getattr(a.catalogue, "BLIND", [])]
_names = [c["name"] for c in CASES]
assert len(_names) == len(set(_names)), "duplicate case names"
