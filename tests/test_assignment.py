"""The assignment source and its generated release: structure, one source of truth, no leaks."""

from __future__ import annotations

import inspect
import json
import re

import pytest

from autograder.pipeline.course import REPO, release
from autograder.assignments.metalearning.catalogue.mutants import GRADE_IDS
from autograder.assignments.metalearning import answers

ASSIGNMENT = "metalearning"  # the assignment these tests grade
NOTEBOOK = f"{ASSIGNMENT}.ipynb"

SOURCE = REPO / "solutions" / ASSIGNMENT / NOTEBOOK
RELEASED = REPO / "notebooks" / ASSIGNMENT / NOTEBOOK
FUNCTIONS = list(GRADE_IDS)


def cells(path):
    return json.loads(path.read_text())["cells"]


def text(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


@pytest.mark.parametrize("name", FUNCTIONS)
def test_solution_cells_are_the_reference_answers(name):
    """One source of truth: each solution cell is the reference function, plus markers."""
    (cell,) = [c for c in cells(SOURCE) if f"def {name}(" in text(c) and nbgrader_meta(c).get("solution")]
    code = "\n".join(line for line in text(cell).splitlines() if "### " not in line)
    assert code.strip() == inspect.getsource(getattr(answers, name)).strip()


def test_every_graded_function_has_a_test_cell_and_self_check():
    graded = {nbgrader_meta(c)["grade_id"]: text(c) for c in cells(SOURCE) if nbgrader_meta(c).get("grade")}
    for name, grade_id in GRADE_IDS.items():
        assert f"check_{name}({name})" in graded[grade_id]
    assert [g for g in graded if g.startswith("test_maml_accuracy_tier")] == \
        [f"test_maml_accuracy_tier{i}" for i in range(1, 5)]
    quiz = [g for g in graded if g.startswith("test_quiz_q")]
    assert len(quiz) >= 15
    visible = "".join(text(c) for c in cells(SOURCE) if not nbgrader_meta(c))
    for name in ("inner_update", "outer_step", "anil_adapt", "reptile_meta_gradient"):
        assert f"selfcheck.check_{name}(" in visible
    assert "selfcheck.check_meta_gradient(maml_meta_loss)" in visible


def test_committed_release_is_generated_from_the_source(tmp_path):
    fresh = release(tmp_path)
    assert [text(c) for c in cells(fresh)] == [text(c) for c in cells(RELEASED)], \
        "notebooks/ is stale: run `python -m autograder release` and commit it"


def test_release_holds_no_answers_and_no_hidden_tests():
    released = "\n".join(text(c) for c in cells(RELEASED))
    assert "BEGIN SOLUTION" not in released and "HIDDEN TESTS" not in released
    assert "autograder" not in released  # hidden checks and reference are never referenced
    given = "\n".join(text(c) for c in cells(SOURCE) if not nbgrader_meta(c).get("solution"))
    for name in FUNCTIONS:
        body = inspect.getsource(getattr(answers, name)).split('"""')[-1]
        for line in body.strip().splitlines():
            if len(line.strip()) > 25 and line.strip() not in given:
                assert line.strip() not in released, f"solution line of {name} leaked: {line}"
    quiz = re.findall(r'check_answer\("answer_q\d+", answer_q\d+, "([abcd])"', "\n".join(text(c) for c in cells(SOURCE)))
    assert len(quiz) >= 15
    assert not re.search(r'answer_q\d+ = "[abcd]"', released)
    stubs = sum(text(c).count("raise NotImplementedError()") for c in cells(RELEASED)
                if c["cell_type"] == "code")
    assert stubs == len(FUNCTIONS) + 1 + len(quiz)  # functions, exercise 1.1, quiz


def test_graded_cells_are_locked_and_ids_unique():
    ids = [nbgrader_meta(c)["grade_id"] for c in cells(SOURCE) if nbgrader_meta(c)]
    assert len(ids) == len(set(ids))
    for c in cells(SOURCE):
        m = nbgrader_meta(c)
        if m.get("grade"):
            assert m["locked"] and m["points"] > 0 and "### BEGIN HIDDEN TESTS" in text(c)


# ----- the second assignment: the same guarantees --------------------------------------------

def _second():
    from autograder.assignments import assignment_named
    from autograder.assignments.metasgd_protonet import answers as answers_metasgd_protonet
    from autograder.assignments.metasgd_protonet.catalogue import GRADE_IDS

    return assignment_named("metasgd_protonet"), answers_metasgd_protonet, GRADE_IDS


def test_second_assignment_solution_cells_are_its_reference_answers():
    a, reference, grade_ids = _second()
    for name in grade_ids:
        (cell,) = [c for c in cells(a.source) if f"def {name}(" in text(c)
                   and nbgrader_meta(c).get("solution")]
        code = "\n".join(line for line in text(cell).splitlines() if "### " not in line)
        assert code.strip() == inspect.getsource(getattr(reference, name)).strip(), name


def test_second_assignment_grades_every_function_tier_and_question():
    a, _, grade_ids = _second()
    graded = {nbgrader_meta(c)["grade_id"]: text(c) for c in cells(a.source)
              if nbgrader_meta(c).get("grade")}
    for name, grade_id in grade_ids.items():
        assert f"check_{name}({name})" in graded[grade_id]
    assert [g for g in graded if "tier" in g] == [f"test_protonet_accuracy_tier{i}" for i in (1, 2, 3)]
    assert len([g for g in graded if g.startswith("test_quiz_q")]) == 8
    visible = "".join(text(c) for c in cells(a.source) if not nbgrader_meta(c))
    for name in grade_ids:
        module = "selfcheck_metasgd" if name.startswith("metasgd") else "selfcheck_protonet"
        assert f"{module}.check_{name}({name})" in visible, name
    assert "embedding_explorer(" in visible and "plot_learned_alphas(" in visible


def test_second_assignment_release_is_current_and_holds_no_answers(tmp_path):
    from autograder.pipeline.course import release

    a, reference, grade_ids = _second()
    fresh = release(tmp_path, a)
    assert [text(c) for c in cells(fresh)] == [text(c) for c in cells(a.released)], \
        "notebooks/metasgd_protonet is stale: run `python -m autograder release`"
    released = "\n".join(text(c) for c in cells(a.released))
    assert "BEGIN SOLUTION" not in released and "HIDDEN TESTS" not in released
    assert "autograder" not in released
    given = "\n".join(text(c) for c in cells(a.source) if not nbgrader_meta(c).get("solution"))
    for name in grade_ids:
        body = inspect.getsource(getattr(reference, name)).split('"""')[-1]
        for line in body.strip().splitlines():
            if len(line.strip()) > 25 and line.strip() not in given:
                assert line.strip() not in released, f"solution line of {name} leaked: {line}"
    assert not re.search(r'answer_q\d+ = "[abcd]"', released)
    ids = [nbgrader_meta(c)["grade_id"] for c in cells(a.source) if nbgrader_meta(c)]
    assert len(ids) == len(set(ids))
