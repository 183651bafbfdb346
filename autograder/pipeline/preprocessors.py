"""nbgrader preprocessors of the course: untrusted output in, nothing hidden out.

* :class:`CapOutput` (autograde, after nbgrader's ``LimitOutput``, which limits the number of
  lines but not the length of one line): every text output cut to
  :data:`autograder.pipeline.sanitize.MAX_OUTPUT_CHARS` characters.
* :class:`HideHiddenTests` (generate_feedback): the HTML a student receives shows no hidden
  test and no reference code — nbgrader alone renders test cells *with* their hidden part
  (nbgrader issues #483, #1429).  Hidden regions are cut from test cells, a failed test shows
  only its error line (``CheckFailed: inner_update is wrong: …``; the traceback would show the
  hidden test and the reference's source lines), and any hidden-test line found in any other
  output — e.g. a submission that printed ``In`` or read it from memory — is redacted.
"""

from __future__ import annotations

from nbconvert.preprocessors import Preprocessor
from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests
from traitlets import Bool

from autograder.pipeline.sanitize import cap_outputs

REDACTED = "[hidden test redacted]"


class CapOutput(Preprocessor):
    enabled = Bool(True)  # nbconvert preprocessors are off unless enabled

    def preprocess(self, nb, resources):
        cap_outputs(nb)
        return nb, resources


class HideHiddenTests(ClearHiddenTests):
    enabled = Bool(True)

    def preprocess(self, nb, resources):
        hidden: list[str] = []
        for cell in nb.cells:
            if cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell):
                before = cell.source.splitlines()
                if self._remove_hidden_test_region(cell):
                    kept = set(cell.source.splitlines())
                    hidden += [ln.strip() for ln in before if ln not in kept
                               and len(ln.strip()) >= 8 and self.begin_test_delimeter not in ln
                               and self.end_test_delimeter not in ln]
                for out in cell.get("outputs", []):
                    if out.output_type == "error":
                        out.traceback = [f"{out.ename}: {out.evalue}"]
        hidden += [self.begin_test_delimeter, self.end_test_delimeter]
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                _redact(out, hidden)
        return nb, resources


def _redact(output, hidden: list[str]) -> None:
    """Replace every hidden-test line inside the texts of one output."""
    def clean(text):
        if isinstance(text, list):
            return [clean(t) for t in text]
        if not isinstance(text, str):
            return text
        for line in hidden:
            if line in text:
                text = text.replace(line, REDACTED)
        return text

    for key in ("text", "evalue", "traceback"):
        if key in output:
            output[key] = clean(output[key])
    for mime, value in output.get("data", {}).items():
        if mime.startswith("text/") or mime.endswith("json"):
            output["data"][mime] = clean(value)
