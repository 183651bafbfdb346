"""nbgrader course configuration of the meta-learning homework.

``solutions/`` is nbgrader's *source* folder (instructor notebooks with solution and hidden-test
regions) and ``notebooks/`` its *release* folder (the generated student notebooks).  The
``python -m autograder`` commands load this file and add the paths of each job (course root,
gradebook); it also works with plain nbgrader from the repository root:
``nbgrader generate_assignment metalearning --config autograder/nbgrader_config.py``.
"""

import os

c = get_config()  # noqa: F821 (provided by traitlets when the file is loaded)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

c.CourseDirectory.course_id = "metalearning-hw"
c.CourseDirectory.root = REPO
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(REPO, ".nbgrader", "gradebook.db")

# The student version: every solution region becomes this stub.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Grading: each cell may run this long (seconds) before it is interrupted and marked failed;
# the whole notebook's limit is enforced by the grade command (one process per submission).
c.Execute.timeout = 900
c.Execute.interrupt_on_timeout = True
c.Execute.allow_errors = True

# Untrusted output: nbgrader's LimitOutput limits lines, CapOutput the length of each output
# (autograder/preprocessors.py).
from nbconvert.preprocessors import ClearMetadataPreprocessor  # noqa: E402
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, Execute,  # noqa: E402
                                    IgnorePattern, LimitOutput, SaveAutoGrades)

import sys  # noqa: E402

sys.path.insert(0, REPO)
from autograder.preprocessors import CapOutput, HideHiddenTests  # noqa: E402

c.Autograde.autograde_preprocessors = [Execute, IgnorePattern, ClearMetadataPreprocessor,
                                       LimitOutput, CapOutput, SaveAutoGrades,
                                       AssignLatePenalties, CheckCellMetadata]

# Feedback for students: no hidden test, no reference code, no traceback into the checks.
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import GetGrades  # noqa: E402

c.GenerateFeedback.preprocessors = [GetGrades, CSSHTMLHeaderPreprocessor, HideHiddenTests]
