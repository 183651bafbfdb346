"""Hidden checks called by the graded test cells of the assignment (instructor side only)."""

from .accuracy import PROFILES, check_accuracy_tier, current_profile
from .common import CheckFailed, check_answer
from .gradients import (check_anil_adapt, check_fomaml_meta_loss, check_inner_update,
                        check_maml_meta_loss, check_outer_step, check_reptile_meta_gradient)

__all__ = ["CheckFailed", "check_answer", "PROFILES", "current_profile", "check_accuracy_tier",
           "check_inner_update", "check_outer_step", "check_maml_meta_loss",
           "check_fomaml_meta_loss", "check_anil_adapt", "check_reptile_meta_gradient"]
