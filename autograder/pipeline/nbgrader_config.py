"""nbgrader course configuration of the meta-learning homework.

``solutions/`` is nbgrader's *source* folder (instructor notebooks with solution and hidden-test
regions) and ``notebooks/`` its *release* folder (the generated student notebooks).  The
``python -m autograder`` commands load this file and add the paths of each job (course root,
gradebook); it also works with plain nbgrader from the repository root:
``nbgrader generate_assignment metalearning --config autograder/pipeline/nbgrader_config.py``.
"""

import os

c = get_config()  # noqa: F821 (provided by traitlets when the file is loaded)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

c.CourseDirectory.course_id = "metalearning-hw"
c.CourseDirectory.root = REPO
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(REPO, ".nbgrader", "gradebook.db")

# The student version: every solution region becomes this stub.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Grading: nbgrader executes nothing.  Student code runs only in the judge's sandboxed
# workers (autograder/judge, autograder/isolation); the judge writes the graded notebook with
# its verdicts as the test cells' outputs, and `autograde` restores the test cells from the
# gradebook (OverwriteCells), scores those outputs and records them (SaveAutoGrades).
from nbconvert.preprocessors import ClearMetadataPreprocessor  # noqa: E402
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata,  # noqa: E402
                                    DeduplicateIds, LimitOutput, OverwriteCells,
                                    OverwriteKernelspec, SaveAutoGrades)

import sys  # noqa: E402

sys.path.insert(0, REPO)
from autograder.pipeline.preprocessors import CapOutput, HideHiddenTests  # noqa: E402

c.Autograde.sanitize_preprocessors = [DeduplicateIds, OverwriteKernelspec, OverwriteCells,
                                      CheckCellMetadata]
c.Autograde.autograde_preprocessors = [ClearMetadataPreprocessor, LimitOutput, CapOutput,
                                       SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]

# Feedback for students: no hidden test, no reference code, no traceback into the checks.
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import GetGrades  # noqa: E402

c.GenerateFeedback.preprocessors = [GetGrades, CSSHTMLHeaderPreprocessor, HideHiddenTests]
