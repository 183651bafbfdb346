"""Nothing of the instructor's answers ever goes to a worker: every frame is read.

The reference answers are graded through the real request path — a real worker process
(``isolated=False``: the same harness and channel as in the sandbox) whose cells define the
reference functions — by every function check of both assignments, including the checks that
grade a function alone with the reference lent (``maml_meta_loss`` with ``inner_update``,
``metasgd_meta_loss``, ``protonet_loss``, ``reptile_meta_gradient``).  Every frame the judge
writes to the worker after its cells ran is recorded, and none may hold:

* a line of the reference source (``autograder/reference/*.py`` and every ``autograder/assignments/*/answers.py``: every stripped line of at
  least 25 characters that is not a comment, a docstring or an import);
* the ``def`` of a reference function;
* before a verdict compares against it, a value the verdict expects
  (``autograder.checks.common.EXPECTED`` records them) — unless it is one of the judge's
  inputs: the worker sees the inputs, and the lent functions' outputs on the student's own
  arguments (which may equal the expected value of a check already over: the lent
  ``inner_update`` on φ and a support set is what ``test_inner_update`` expected), never what
  an open verdict expects.

Each assignment is graded in a worker of its own, as a notebook is, by its checks in the
judge's order (each assignment's ``checks.ORDER``): the functions graded alone after the
functions they lend.
"""

from __future__ import annotations

import ast
import json
import struct

import pytest
import torch

import autograder.checks.common as common
import autograder.transport.client as client_module
from autograder.checks.student import Student
from autograder.pipeline.course import REPO
from autograder.sandbox.isolation import Limits
from autograder.transport.client import WorkerClient
from autograder.assignments import ASSIGNMENTS as ALL
from autograder.worker.channel import MAGIC, decode

REFERENCE = sorted([*(REPO / "autograder" / "reference").glob("*.py"),
                    *(REPO / "autograder" / "assignments").glob("*/answers.py")])
SEED = 3
#: assignment → the checks of its graded functions, in the judge's order
ASSIGNMENTS = {name: [c for c in a.checks.ORDER if c[len("check_"):] in a.catalogue.FUNCTIONS]
               for name, a in ALL.items()}


class _Expected(list):
    """``common.EXPECTED``: each expected value with the number of frames sent before it."""

    def __init__(self, frames: list) -> None:
        super().__init__()
        self.frames = frames

    def append(self, value) -> None:
        super().append((len(self.frames), value))


def _docstring_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            lines.update(range(body[0].lineno, body[0].end_lineno + 1))
    return lines


def secret_lines() -> set[str]:
    """The non-trivial code lines of the reference answers."""
    out = set()
    for path in REFERENCE:
        text = path.read_text()
        docs = _docstring_lines(ast.parse(text))
        for i, line in enumerate(text.splitlines(), 1):
            s = line.strip()
            if len(s) >= 25 and i not in docs and not s.startswith(("#", "import ", "from ")):
                out.add(s)
    return out


def reference_functions() -> set[str]:
    return {node.name for path in REFERENCE for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def _strings(value) -> list[str]:
    """Every string in a decoded JSON header (keys and values)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [str(k), *_strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _frame(data: bytes) -> tuple[dict, dict]:
    assert data[:3] == MAGIC
    (n,) = struct.unpack("<I", data[3:7])
    return decode(data[7:7 + n], data[15 + n:])


def _expected_tensors(values: list) -> list[torch.Tensor]:
    out = []
    for v in values:
        if isinstance(v, torch.Tensor):
            out.append(v.detach())
        elif isinstance(v, dict):
            out += _expected_tensors(list(v.values()))
        elif isinstance(v, (list, tuple)):
            out += _expected_tensors(list(v))
        elif isinstance(v, float):
            out.append(torch.tensor(v, dtype=torch.float64))
    return out


def _grade(stem: str) -> tuple[list, list]:
    """One assignment's reference graded in a real worker: the frames the judge sent after the
    cells ran, and the expected values (with the number of frames sent before each)."""
    cells = [{"id": stem, "source": (REPO / "autograder" / "assignments" / stem /
                                     "answers.py").read_text()}]
    frames: list[bytes] = []
    real = client_module.write_all
    mp = pytest.MonkeyPatch()
    try:
        with WorkerClient(cells, {}, Limits(), cell_seconds=300, isolated=False) as worker:
            worker.start()  # the cells (the student's own code) are not the judge's
            assert not worker.cell_errors, worker.cell_errors
            mp.setattr(client_module, "write_all",
                       lambda fd, data, deadline=None: (frames.append(bytes(data)),
                                                        real(fd, data, deadline))[1])
            mp.setattr(common, "EXPECTED", _Expected(frames))
            student = Student(worker)
            for check in ASSIGNMENTS[stem]:
                getattr(ALL[stem].checks, check)(student, seed=SEED)  # full marks
            expected = list(common.EXPECTED)
    finally:
        mp.undo()
    return [_frame(f) for f in frames], expected


@pytest.fixture(scope="module", params=sorted(ASSIGNMENTS))
def graded(request):
    """The frames the judge sent while grading one assignment's reference, and the expected
    values."""
    return _grade(request.param)


def test_the_reference_was_graded_with_lent_functions(graded):
    frames, expected = graded
    answers = [head for head, _ in frames if "call" in head and "op" not in head]
    assert len(answers) >= 5, "the lent functions were never called back"
    assert any("grads" in head for head in answers), "no derivative of a lent function"
    assert expected, "no expected value was recorded"


def test_no_line_of_the_reference_is_sent(graded):
    frames, _ = graded
    secrets = secret_lines()
    assert len(secrets) > 20
    text = "\n".join(s for head, tensors in frames for s in _strings(head) + list(tensors))
    leaked = sorted(line for line in secrets if line in text)
    assert not leaked, leaked[:5]


def test_no_reference_function_is_sent(graded):
    frames, _ = graded
    names = reference_functions()
    assert {"inner_update", "metasgd_inner_update", "prototypes", "protonet_logits"} <= names
    text = "\n".join(s for head, _ in frames for s in _strings(head))
    assert not [n for n in names if f"def {n}(" in text]
    assert "def " not in text and "lambda" not in text


def test_no_expected_value_is_sent_before_its_verdict(graded):
    frames, expected = graded
    assert sum(map(len, ASSIGNMENTS.values())) == sum(len(a.catalogue.FUNCTIONS)
                                                      for a in ALL.values())
    inputs = [t for head, tensors in frames if "op" in head for t in tensors.values()]
    leaked, secrets = [], 0
    for sent_before, value in expected:
        earlier = frames[:sent_before]
        tensors = [t for _, ts in earlier for t in ts.values()]
        numbers = {json.dumps(x) for head, _ in earlier for x in _numbers(head)}
        for want in _expected_tensors([value]):
            if not want.is_floating_point() or not want.abs().max() > 0 or _among(want, inputs):
                continue  # zeros (a gradient that must vanish) and the inputs are no secret
            secrets += 1
            if _among(want, tensors) or (want.numel() == 1 and json.dumps(want.item()) in numbers):
                leaked.append(tuple(want.shape))
    assert secrets > 40
    assert not leaked, leaked[:10]


def _among(want: torch.Tensor, tensors: list) -> bool:
    return any(t.shape == want.shape and t.dtype == want.dtype and torch.equal(t, want)
               for t in tensors)


def _numbers(value) -> list:
    if type(value) is float:
        return [value]
    if isinstance(value, dict):
        return [x for v in value.values() for x in _numbers(v)]
    if isinstance(value, list):
        return [x for v in value for x in _numbers(v)]
    return []
