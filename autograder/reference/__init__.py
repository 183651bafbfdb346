"""Reference implementations of the homework's algorithms — INSTRUCTOR SIDE, never shipped.

One source of truth for the answers: the solutions notebook, the hidden tests and the TA
``train`` command all call these functions.  ``hwlib`` (what students import) only has the
skeleton they plug into.
"""

from .algorithms import ALGORITHMS, make_learner
from .inner_loop import inner_loop

__all__ = ["ALGORITHMS", "make_learner", "inner_loop"]
