"""What the judge runs for the third assignment: every hidden check the source notebook's test
cells name, in the judge's order (:data:`ORDER`), and its accuracy tiers (:data:`TIERS`: the
in-context learner meta-trained with the student's verified ``incontext_logits``).
``preprocess_gradient`` is graded before ``unrolled_loss``, which is graded alone (the worker
lends the reference ``preprocess_gradient``); ``mixed_op`` before ``architecture_gradient``, which
runs the student's own ``mixed_op`` (its check says when that is wrong);
``query_mask`` before ``incontext_logits`` (graded alone: the reference ``query_mask`` lent)."""

from autograder.assignments import Tier
from autograder.checks.common import check_answer

from .architecture_search import check_architecture_gradient, check_mixed_op
from .incontext import check_incontext_logits, check_query_mask
from .learned_optimizer import check_preprocess_gradient, check_unrolled_loss
from .sample_weights import check_example_weights
from .tiers import BUDGETS, check_incontext_tier, incontext_tier_results

ORDER = ("check_answer", "check_preprocess_gradient", "check_unrolled_loss",
         "check_example_weights", "check_mixed_op", "check_architecture_gradient", "check_query_mask",
         "check_incontext_logits", "check_incontext_tier")
TIERS = {"check_incontext_tier": Tier(incontext_tier_results, check_incontext_tier,
                                      ("check_query_mask",), BUDGETS)}

__all__ = ["ORDER", "TIERS", "check_answer", "check_preprocess_gradient", "check_unrolled_loss",
           "check_example_weights", "check_mixed_op", "check_architecture_gradient", "check_query_mask",
           "check_incontext_logits", "check_incontext_tier", "incontext_tier_results"]
