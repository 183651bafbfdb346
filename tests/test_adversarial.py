"""Adversarial submissions, graded in one batch through the real pipeline (tiny profile).

Each case changes one answer cell of the full solution: an attack put before (or after) the
honest answer.  The attack must fail with a message naming it — in the attacked cell or in
the test it targets —, cost exactly the points of the tests listed for it, leave every honest
part of the notebook at full marks, and not stop or corrupt the batch; no feedback file may
show a hidden test.  Tampering with the notebook's structure (edited, deleted, added,
re-ordered, re-typed cells, hard-coded outputs, files that are not notebooks) is covered by
tests/test_sanitize.py and tests/test_grading.py.
"""

from __future__ import annotations

import copy
import json
import os

import pytest

from autograder.course import ASSIGNMENT, NOTEBOOK, REPO
from autograder.grade import grade

Q1, INNER, ANIL, FOMAML = "quiz_q1", "inner_update", "anil_adapt", "fomaml_meta_loss"
TAMPERED = "the grading environment was modified"  # autograder/tamper.py
ATTACKS = {  # name: (answer cell, code, "before"/"after" the answer, tests lost, message)
    "network": (Q1, "import urllib.request\nurllib.request.urlopen('http://example.com', timeout=5)",
                "before", {"test_quiz_q1"}, "network access is not allowed"),
    "fork-bomb": (Q1, "import os\nwhile True:\n    os.fork()", "before", {"test_quiz_q1"},
                  "starting or signalling processes"),
    "subprocess": (Q1, "import subprocess\nsubprocess.run(['sh', '-c', 'echo hi'])", "before",
                   {"test_quiz_q1"}, "starting or signalling processes"),
    "memory-bomb": (Q1, "x = bytearray(64 * 2**30)", "before", {"test_quiz_q1"}, "MemoryError"),
    "os-exit": (Q1, "import os\nos._exit(0)", "before", {"test_quiz_q1"},
                "os._exit / os.abort is not allowed"),
    "sys-exit": (Q1, "import sys\nsys.exit(1)", "before", {"test_quiz_q1"}, "SystemExit"),
    "raise-system-exit": (Q1, "raise SystemExit(0)", "before", {"test_quiz_q1"}, "SystemExit"),
    "keyboard-interrupt": (Q1, "raise KeyboardInterrupt", "before", {"test_quiz_q1"},
                           "KeyboardInterrupt"),
    "read-hidden-tests": (Q1, f"print(open({str(REPO / 'solutions' / ASSIGNMENT / NOTEBOOK)!r}).read())",
                          "before", {"test_quiz_q1"}, "reading"),
    "read-reference": (Q1, f"print(open({str(REPO / 'autograder' / 'reference' / 'inner_loop.py')!r}).read())",
                       "before", {"test_quiz_q1"}, "reading"),
    "write-gradebook": (Q1, "open('../../../gradebook.db', 'w').write('')", "before",
                        {"test_quiz_q1"}, "writing"),
    "write-other-student": (Q1, "import os\nos.makedirs('../../other', exist_ok=True)", "before",
                            {"test_quiz_q1"}, "writing"),
    "infinite-loop": (Q1, "while True:\n    pass", "before", {"test_quiz_q1"}, "CellTimeoutError"),
    "str-subclass-answer": (Q1, "class S(str):\n    __eq__ = lambda s, o: True\n"
                            "    __hash__ = str.__hash__\nanswer_q1 = S('a')", "after",
                            {"test_quiz_q1"}, "a plain string"),
    "tensor-subclass": (ANIL, "class Liar(torch.Tensor):\n    @classmethod\n"
                        "    def __torch_function__(cls, f, t, a=(), k=None):\n"
                        "        return True if f is torch.allclose else "
                        "super().__torch_function__(f, t, a, k or {})\n"
                        "def anil_adapt(model, phi, x, y, alpha, steps=1, create_graph=False):\n"
                        "    return {k: v.detach().as_subclass(Liar) for k, v in phi.items()}",
                        "after", {"test_anil"}, "return plain torch tensors"),
    "nan-params": (ANIL, "_honest = anil_adapt\n"
                   "def anil_adapt(*a, **k):\n"
                   "    return {n: v * float('nan') for n, v in _honest(*a, **k).items()}",
                   "after", {"test_anil"}, "NaN or inf"),
    "wrong-shape": (ANIL, "_honest = anil_adapt\n"
                    "def anil_adapt(*a, **k):\n"
                    "    return {n: v.flatten() for n, v in _honest(*a, **k).items()}",
                    "after", {"test_anil"}, "should be a tensor of shape"),
    "wrong-dtype": (ANIL, "_honest = anil_adapt\n"
                    "def anil_adapt(*a, **k):\n"
                    "    return {n: v.float() for n, v in _honest(*a, **k).items()}",
                    "after", {"test_anil"}, "has dtype"),
    "nan-loss": (FOMAML, "def fomaml_meta_loss(model, phi, batch, alpha, steps=1):\n"
                 "    return sum(v.sum() for v in phi.values()) * float('nan')",
                 "after", {"test_fomaml_gradient"}, "not finite"),
    # monkeypatching: detected before the next statement runs, restored, that cell fails
    "patch-allclose": (ANIL, "torch.allclose = lambda *a, **k: True", "after", {"test_anil"},
                       TAMPERED),
    "patch-numpy-testing": (ANIL, "import numpy.testing\n"
                            "numpy.testing.assert_allclose = lambda *a, **k: None", "after",
                            {"test_anil"}, TAMPERED),
    "patch-hwlib": (ANIL, "import hwlib.models\nhwlib.models.init_params = lambda *a, **k: {}",
                    "after", {"test_anil"}, TAMPERED),
    "patch-test-helper": (ANIL, "import autograder.checks\n"
                          "autograder.checks.check_anil_adapt = lambda f: None", "after",
                          {"test_anil"}, TAMPERED),
    "patch-tensor-method": (ANIL, "torch.Tensor.__eq__ = lambda a, b: True", "after",
                            {"test_anil"}, TAMPERED),
    "patch-function-code": (ANIL, "import hwlib.models\nhwlib.models.init_params.__code__ = "
                            "(lambda *a, **k: {}).__code__", "after", set(),
                            "replacing the __code__"),  # refused at once: the answer stands
    "patch-during-check": (ANIL, "_honest = anil_adapt\n"
                           "def anil_adapt(*a, **k):\n"
                           "    torch.allclose = lambda *a, **k: True\n"
                           "    return _honest(*a, **k)", "after", {"test_anil"}, TAMPERED),
    "drop-test-cells": (Q1, "get_ipython().input_transformers_cleanup.append(lambda lines: [])",
                        "before", {"test_quiz_q1"}, TAMPERED),
    "strip-asserts": (Q1, "import ast\nclass NoAssert(ast.NodeTransformer):\n"
                      "    def visit_Assert(self, node):\n        return ast.Pass()\n"
                      "get_ipython().ast_transformers.append(NoAssert())", "before",
                      {"test_quiz_q1"}, TAMPERED),
    "patch-assertion-error": (Q1, "import builtins\n"
                              "builtins.AssertionError = type('Quiet', (Exception,), {})",
                              "before", {"test_quiz_q1"}, TAMPERED),
    "swallow-errors": (Q1, "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)",
                       "before", {"test_quiz_q1"}, TAMPERED),
    "patch-showtraceback": (Q1, "get_ipython().showtraceback = lambda *a, **k: None", "before",
                            {"test_quiz_q1"}, TAMPERED),
    "clear-outputs": (Q1, "from IPython.display import clear_output\n"
                      "get_ipython().events.register('post_run_cell', lambda r: clear_output())",
                      "before", {"test_quiz_q1"}, TAMPERED),
    "replace-builtins": (Q1, "__builtins__ = dict(vars(__builtins__), isinstance=lambda *a: True)",
                         "before", {"test_quiz_q1"}, TAMPERED),
    "shadow-type": (Q1, "class S(str):\n    __eq__ = lambda s, o: True\n"
                    "    __hash__ = str.__hash__\ntype = lambda x: str\nanswer_q1 = S('a')",
                    "after", {"test_quiz_q1"}, "must be a plain str"),
    "thread": (Q1, "import threading\nthreading.Thread(target=print).start()", "before",
               {"test_quiz_q1"}, "starting threads"),
    "print-history": (Q1, "print(In)", "before", set(), ""),  # allowed; redacted in feedback
    "huge-output": (Q1, "print('x' * 100_000_000)", "before", set(), ""),  # allowed; capped
}
HIDDEN = ["n_support, 100", "BEGIN HIDDEN TESTS", "check_accuracy_tier(1", "answer_q1, \"c\""]


def _with_attack(solution: dict, cell_id: str, code: str, where: str) -> dict:
    nb = copy.deepcopy(solution)
    cell = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id")
                == cell_id)
    honest = "".join(cell["source"])
    cell["source"] = code + "\n" + honest if where == "before" else honest + "\n" + code
    return nb


def _errors(cell: dict) -> str:
    return " ".join(f"{o.get('ename')}: {o.get('evalue')}" for o in cell.get("outputs", [])
                    if o["output_type"] == "error")


@pytest.mark.timeout(1800)
def test_every_attack_costs_only_what_it_attacked(tmp_path, grading_data):
    solution = json.loads((REPO / "solutions" / ASSIGNMENT / NOTEBOOK).read_text())
    subs = tmp_path / "subs"
    for name, (cell_id, code, where, _, _) in ATTACKS.items():
        (subs / name).mkdir(parents=True)
        (subs / name / NOTEBOOK).write_text(json.dumps(_with_attack(solution, cell_id, code,
                                                                    where)))
    rows = {r.student: r for r in grade(subs, tmp_path / "out", "tiny", cell_timeout=60,
                                        progress=True, jobs=2)}
    assert sorted(rows) == sorted(ATTACKS)
    graded = tmp_path / "out" / "autograded" / "huge-output" / ASSIGNMENT / NOTEBOOK
    assert graded.stat().st_size < 5 * 2 ** 20  # the 100 MB print was capped
    problems = []
    for name, row in rows.items():
        cell_id, _, _, lost_tests, message = ATTACKS[name]
        nb = json.loads((tmp_path / "out" / "autograded" / name / ASSIGNMENT / NOTEBOOK)
                        .read_text())
        by_id = {c["metadata"].get("nbgrader", {}).get("grade_id"): c for c in nb["cells"]}
        said = " ".join(_errors(by_id[i]) for i in [cell_id, *sorted(lost_tests)])
        lost = {t for t, (s, m) in row.tests.items() if s < m}
        points = sum(m for t, (_, m) in row.tests.items() if t in lost_tests)
        if lost != lost_tests or row.score != row.max_score - points or message not in said \
                or row.max_score != 33:
            problems.append((name, row.score, sorted(lost), said[:300], row.status))
        feedback = (tmp_path / "out" / "feedback" / name / ASSIGNMENT /
                    NOTEBOOK.replace(".ipynb", ".html")).read_text()
        problems += [(name, "feedback shows", h) for h in HIDDEN if h in feedback]
    assert not problems, problems
    assert any("network access" in n for n in rows["network"].notes)  # TAs see who tried what
    assert any(TAMPERED in n for n in rows["patch-allclose"].notes)
    gradebook = tmp_path / "out" / "gradebook.db"
    assert gradebook.stat().st_size > 0
    assert not (tmp_path / "out" / "other").exists()
    leftover = [p for p in filter(str.isdigit, os.listdir("/proc"))
                if _cwd(p).startswith(str(tmp_path))]
    assert not leftover, "kernels left running"


def _cwd(pid: str) -> str:
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return ""
