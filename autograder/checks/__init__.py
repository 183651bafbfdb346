"""The check machinery every assignment shares (instructor side only): the judge's view of a
student (:class:`Student`, behind a sandboxed worker), numeric verdicts (:mod:`.common`),
diagnosis by properties (:mod:`.properties`, :mod:`.step_properties`), verified gradients for
accuracy tiers (:mod:`.verified`) and the differential diagnosis helpers (:mod:`.diagnose`).
Each assignment's own checks live in its folder (``autograder/assignments/<name>/checks.py``).
"""

from .common import check_answer
from .student import CheckFailed, Student

__all__ = ["CheckFailed", "Student", "check_answer"]
