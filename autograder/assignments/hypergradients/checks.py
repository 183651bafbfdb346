"""What the judge runs for the third assignment: every hidden check the source notebook's test
cells name, in the judge's order (:data:`ORDER`); no accuracy tiers yet (:data:`TIERS`).
``preprocess_gradient`` is graded before ``unrolled_loss``, which is graded alone (the worker
lends the reference ``preprocess_gradient``)."""

from autograder.checks.common import check_answer

from .learned_optimizer import check_preprocess_gradient, check_unrolled_loss
from .sample_weights import check_example_weights

ORDER = ("check_answer", "check_preprocess_gradient", "check_unrolled_loss",
         "check_example_weights")
TIERS: dict = {}

__all__ = ["ORDER", "TIERS", "check_answer", "check_preprocess_gradient", "check_unrolled_loss",
           "check_example_weights"]
