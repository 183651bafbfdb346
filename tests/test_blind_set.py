"""The blind set (autograder/student_code/blind_set.py: student code written without reading the
grader) as a regression set: every bug loses points in its own function's test, every correct
answer passes it.  (How many messages name the cause, and the spread over seeds, are measured
by ``python -m autograder measure-checks autograder/student_code/blind_set.py``.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.instructor.measure_checks import load_cases, verdicts_of

CASES = load_cases(Path(__file__).resolve().parents[1] / "autograder" / "student_code" /
                   "blind_set.py")
#: bugs no test catches, on purpose: none (create_graph=False is first order, and Reptile's
#: returned loss is graded — both stated in the notebook)
NOT_GRADED: set[str] = set()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_each_bug_loses_points_in_its_own_test_and_each_correct_answer_passes(case):
    message = verdicts_of(case, seed=1, only=case["function"])[case["function"]]
    if case["correct"]:
        assert message is None, message
    elif case["name"] not in NOT_GRADED:
        assert message, f"{case['name']} ({case['cause']}) kept its points"
