"""Hidden checks, run by the judge on what a worker returns (instructor side only)."""

from .accuracy import check_accuracy_tier, tier_results, train_and_evaluate
from .accuracy_protonet import check_protonet_tier, protonet_tier_results
from .common import check_answer
from .gradients import check_anil_adapt, check_inner_update
from .outer_step import check_outer_step
from .reptile import check_reptile_meta_gradient
from .meta_loss import check_fomaml_meta_loss, check_maml_meta_loss
from .metasgd import check_metasgd_inner_update, check_metasgd_meta_loss
from .protonet import check_protonet_logits, check_protonet_loss, check_prototypes
from .student import CheckFailed, Student

__all__ = ["CheckFailed", "Student", "check_answer", "check_accuracy_tier", "tier_results",
           "train_and_evaluate", "check_protonet_tier", "protonet_tier_results", "check_inner_update", "check_outer_step",
           "check_maml_meta_loss", "check_fomaml_meta_loss", "check_anil_adapt",
           "check_reptile_meta_gradient", "check_metasgd_inner_update",
           "check_metasgd_meta_loss", "check_prototypes", "check_protonet_logits",
           "check_protonet_loss"]
