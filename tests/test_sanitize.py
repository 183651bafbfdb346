"""Untrusted notebooks are rebuilt from the release before they run; shards split a class.

Unit tests on the real release notebook (no kernel): whatever a student does to the JSON, only
the source of their answer cells reaches the grader, and each thing thrown away is named.
"""

from __future__ import annotations

import copy
import json

import pytest

from autograder.pipeline.batch import parse_shard, shard_of
from autograder.pipeline.course import REPO
from autograder.pipeline.sanitize import SKIP_TAG, SubmissionError, load_submission, rebuild

ASSIGNMENT = "metalearning"  # the assignment these tests grade
NOTEBOOK = f"{ASSIGNMENT}.ipynb"


def _gid(cell):
    return cell["metadata"].get("nbgrader", {}).get("grade_id")


def _src(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


@pytest.fixture(scope="module")
def release():
    return json.loads((REPO / "notebooks" / ASSIGNMENT / NOTEBOOK).read_text())


@pytest.fixture(scope="module")
def solution():
    return json.loads((REPO / "solutions" / ASSIGNMENT / NOTEBOOK).read_text())


def _graded(nb):
    """The cells the grader runs: all but those tagged to be skipped."""
    return [c for c in nb["cells"] if SKIP_TAG not in c["metadata"].get("tags", [])]


def _cell(nb, gid):
    return next(c for c in nb["cells"] if _gid(c) == gid)


def test_the_solution_passes_through_unchanged(release, solution):
    out = rebuild(solution, release)
    kept = _graded(release)
    assert 0 < len(kept) < len(release["cells"])  # the demo/report-training cells are skipped
    assert out.notes == [] and [c.get("id") for c in out.notebook["cells"]] == \
        [c.get("id") for c in kept]
    for cell in solution["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("solution"):
            assert _src(_cell(out.notebook, _gid(cell))) == _src(cell)


def test_tampered_structure_is_undone_and_named(release, solution):
    nb = copy.deepcopy(solution)
    _cell(nb, "test_inner_update")["source"] = "pass  # the test is gone"
    nb["cells"] = [c for c in nb["cells"] if _gid(c) != "test_outer_step"]  # deleted test cell
    nb["cells"].insert(3, {"cell_type": "code", "metadata": {}, "outputs": [],
                           "execution_count": 1, "source": "import builtins"})  # added cell
    nb["cells"].reverse()  # re-ordered
    _cell(nb, "test_quiz_q1")["outputs"] = [{"output_type": "stream", "name": "stdout",
                                             "text": "all tests passed"}]  # hard-coded output
    out = rebuild(nb, release)
    kept = _graded(release)
    assert [_gid(c) for c in out.notebook["cells"]] == [_gid(c) for c in kept]
    for cell in kept:
        if not cell["metadata"].get("nbgrader", {}).get("solution"):
            rebuilt = out.notebook["cells"][kept.index(cell)]
            assert _src(rebuilt) == _src(cell)
            assert rebuilt.get("outputs", []) == []
    assert any("1 cell(s) you added" in n for n in out.notes), out.notes


def test_missing_or_retyped_answers_are_graded_as_unanswered(release, solution):
    nb = copy.deepcopy(solution)
    answers = [c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("solution")]
    gone, retyped = _gid(answers[0]), _gid(answers[1])
    nb["cells"].remove(answers[0])
    answers[1]["cell_type"] = "markdown"
    out = rebuild(nb, release)
    for gid in (gone, retyped):
        assert _src(_cell(out.notebook, gid)) == _src(_cell(release, gid))  # the stub
    assert any(gone in n and "missing" in n for n in out.notes)
    assert any(retyped in n and "changed from code to markdown" in n for n in out.notes)


def test_demonstration_cells_tagged_skip_are_left_out(release, solution):
    template = copy.deepcopy(release)
    template["cells"][2].setdefault("metadata", {})["tags"] = [SKIP_TAG]
    out = rebuild(solution, template)
    assert len(out.notebook["cells"]) == len(_graded(release)) - 1


@pytest.mark.parametrize("content, reason", [
    (b"", "empty file"), (b"{ not json", "not a valid notebook"),
    (b'{"cells": 3}', "not a Jupyter notebook"), (b"\xff\xfe\x00", "not a valid notebook")])
def test_files_that_are_not_notebooks_are_refused_with_a_reason(tmp_path, content, reason):
    path = tmp_path / NOTEBOOK
    path.write_bytes(content)
    with pytest.raises(SubmissionError, match=reason):
        load_submission(path)


def test_shards_partition_the_class_deterministically():
    students = [f"s{i:03d}" for i in range(23)]
    slices = [shard_of(list(reversed(students)), (i, 4)) for i in range(1, 5)]
    assert sorted(s for part in slices for s in part) == students  # each exactly once
    assert slices == [shard_of(students, (i, 4)) for i in range(1, 5)]  # order-independent
    assert parse_shard("2/8") == (2, 8)
    for bad in ("0/3", "4/3", "two", "1-2"):
        with pytest.raises(ValueError, match="--shard"):
            parse_shard(bad)


def test_huge_outputs_are_cut_by_the_autograde_preprocessor():
    import nbformat

    from autograder.pipeline.preprocessors import CapOutput
    from autograder.pipeline.sanitize import MAX_OUTPUT_CHARS

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('x' * 10**7)", outputs=[
        nbformat.v4.new_output("stream", text="x" * 10 ** 7),
        nbformat.v4.new_output("execute_result", data={"text/plain": "y" * 10 ** 6}),
        nbformat.v4.new_output("error", ename="E", evalue="", traceback=["z" * 10 ** 6] * 500)])])
    nb, _ = CapOutput()(nb, {})
    stream, result, error = nb.cells[0].outputs
    assert len(stream.text) < MAX_OUTPUT_CHARS + 100 and "cut by the grader" in stream.text
    assert len(result.data["text/plain"]) < MAX_OUTPUT_CHARS + 100
    assert len(error.traceback) == 200


XSS = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'


def test_a_students_markdown_never_reaches_the_graded_notebook(release, solution):
    """Markdown cells of the student's own — plain, with an answer cell's grade id, or an
    answer cell retyped as markdown — are dropped: no student text is rendered as markdown."""
    nb = copy.deepcopy(solution)
    answer = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("solution"))
    nb["cells"].insert(2, {"cell_type": "markdown", "metadata": {}, "source": XSS})
    nb["cells"].insert(3, {"cell_type": "markdown", "source": XSS, "metadata": {
        "nbgrader": {"grade_id": "my_own", "solution": True}}})
    answer["cell_type"], answer["source"] = "markdown", XSS
    intro = next(c for c in nb["cells"] if c["cell_type"] == "markdown" and not _gid(c))
    intro["source"] = XSS + _src(intro)  # an instruction cell edited
    out = rebuild(nb, release)
    assert "__pwned" not in json.dumps(out.notebook)
    markdown = [_src(c) for c in out.notebook["cells"] if c["cell_type"] == "markdown"]
    assert markdown == [_src(c) for c in _graded(release) if c["cell_type"] == "markdown"]


def test_markdown_answers_are_made_inert(release):
    """An assignment with a written (markdown) answer: what the student writes renders as
    written, never as HTML or a ``javascript:`` link."""
    from autograder.pipeline.sanitize import inert_markdown

    template = copy.deepcopy(release)
    template["cells"].append({"cell_type": "markdown", "source": "YOUR ANSWER HERE", "metadata": {
        "nbgrader": {"grade_id": "essay", "solution": True, "grade": True, "points": 1}}})
    essay = XSS + " [click](javascript:window.__pwned=3) **bold** $a<b$"
    nb = copy.deepcopy(template)
    nb["cells"][-1]["source"] = essay
    out = _src(rebuild(nb, template).notebook["cells"][-1])
    assert out == inert_markdown(essay) and "<" not in out and "javascript:" not in out
    assert "**bold**" in out and "&lt;script&gt;" in out
