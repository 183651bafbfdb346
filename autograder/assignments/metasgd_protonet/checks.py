"""What the judge runs for this assignment: every hidden check the source notebook's test cells
name, in the judge's order (:data:`ORDER`: the helpers before the functions graded with them
lent), and its accuracy tiers (:data:`TIERS`).
"""

from autograder.assignments import Tier
from autograder.checks.common import check_answer

from .metasgd import check_metasgd_inner_update, check_metasgd_meta_loss
from .protonet import check_protonet_logits, check_protonet_loss, check_prototypes
from .tiers import BUDGETS, check_protonet_tier, protonet_tier_results

ORDER = ("check_answer", "check_metasgd_inner_update", "check_prototypes",
         "check_protonet_logits", "check_protonet_tier", "check_metasgd_meta_loss",
         "check_protonet_loss")

TIERS = {"check_protonet_tier": Tier(protonet_tier_results, check_protonet_tier,
                                     ("check_prototypes", "check_protonet_logits"), BUDGETS)}

__all__ = ["ORDER", "TIERS", "check_answer", "check_metasgd_inner_update", "check_prototypes",
           "check_protonet_logits", "check_protonet_tier", "check_metasgd_meta_loss",
           "check_protonet_loss", "protonet_tier_results"]
