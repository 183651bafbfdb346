"""What the judge runs for this assignment: every hidden check the source notebook's test cells
name, in the judge's order (:data:`ORDER`), and its accuracy tiers (:data:`TIERS`).

The order matters: ``inner_update`` is graded before any check that lends the worker the
reference ``inner_update`` (functions graded alone), and the accuracy tiers train with the
student's own functions before that too.
"""

from autograder.assignments import Tier
from autograder.checks.common import check_answer

from .inner_step import check_anil_adapt, check_inner_update
from .meta_loss import check_fomaml_meta_loss, check_maml_meta_loss
from .outer_step import check_outer_step
from .reptile import check_reptile_meta_gradient
from .tiers import BUDGETS, check_accuracy_tier, tier_results

ORDER = ("check_answer", "check_inner_update", "check_outer_step", "check_anil_adapt",
         "check_accuracy_tier", "check_maml_meta_loss", "check_fomaml_meta_loss",
         "check_reptile_meta_gradient")

#: the tier check → how it trains (once, with the student's functions), its verdict, and the
#: student's helpers the training calls (a failed tier names those that failed their own test)
TIERS = {"check_accuracy_tier": Tier(tier_results, check_accuracy_tier, ("check_inner_update",),
                                     BUDGETS)}

__all__ = ["ORDER", "TIERS", "check_answer", "check_inner_update", "check_outer_step",
           "check_anil_adapt", "check_accuracy_tier", "check_maml_meta_loss",
           "check_fomaml_meta_loss", "check_reptile_meta_gradient", "tier_results"]
