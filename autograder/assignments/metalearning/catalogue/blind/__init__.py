"""The blind set's cases of this assignment: student code written without reading the grader
(see :mod:`autograder.student_code.blind_set`), each a dict with its cause and the keywords a
message that names it holds.  ``python -m autograder measure-checks`` measures the checks on
them; ``tests/test_blind_set.py`` keeps them as a regression set."""

A1 = __name__.split(".")[2]  # this assignment: its folder's name
BLIND: list[dict] = []
add = BLIND.append

# the parts, in the notebook's order (each appends its cases)
from . import inner_step, maml, fomaml, anil, reptile  # noqa: E402,F401,I001
