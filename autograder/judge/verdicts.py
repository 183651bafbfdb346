"""Every graded test's verdict, computed in the judge from what the worker returns.

What each graded test cell checks is read from the instructor's source notebook (trusted):
its hidden region calls ``check_answer("n", var, expected, "hint")``, ``check_<function>(…)``
or a tier check with its number.  Those cells never run anywhere; the judge runs the named
check of the assignment (``autograder/assignments/<name>/checks.py``: its ``ORDER`` and
``TIERS``) against the worker.
"""

from __future__ import annotations

import ast
import json
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from autograder.assignments import Assignment
from autograder.checks.common import check_answer
from autograder.checks.student import CheckFailed, JudgeError, Opaque, Student
from autograder.judge.grading_key import derive
from hwlib.profiles import Profile

from autograder.transport.client import GraderError, WorkerLost

@dataclass
class Test:
    grade_id: str
    points: float
    check: str                   # one of the assignment's ORDER
    args: tuple = ()             # check_answer: (name, expected, hint); tier: (k,)
    answer_cells: list = field(default_factory=list)   # the answer cells before it


def _hidden_calls(source: str, order: tuple[str, ...]) -> list[ast.Call]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
            and n.func.id in order]


def catalogue(assignment: Assignment) -> tuple[Test, ...]:
    """The graded tests of the assignment's source notebook, in notebook order."""
    return _catalogue(assignment.source, tuple(assignment.checks.ORDER))


@lru_cache(maxsize=4)
def _catalogue(source_notebook: Path, order: tuple[str, ...]) -> tuple[Test, ...]:
    nb = json.loads(Path(source_notebook).read_text())
    tests, answers = [], []
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if meta.get("solution") and cell["cell_type"] == "code":
            answers.append(meta["grade_id"])
        if not meta.get("grade") or meta.get("solution"):
            continue
        calls = _hidden_calls(src, order)
        if len(calls) == 0:
            raise ValueError(f"graded cell {meta['grade_id']} names no check the judge knows")
        for call in calls[:1] if calls[0].func.id != "check_answer" else calls:
            args = tuple(a.value if isinstance(a, ast.Constant) else
                         a.id if isinstance(a, ast.Name) else None for a in call.args)
            if call.func.id == "check_answer":
                args = (args[0], args[2], args[3])
            tests.append(Test(meta["grade_id"], float(meta["points"]), call.func.id, args,
                              list(answers)))
        answers = []
    return tuple(tests)


def judge_all(student: Student, tests: tuple[Test, ...], profile: Profile, seed: int,
              deadline: float, assignment: Assignment) -> dict[str, str | None]:
    """grade_id → None (passed) or the failure message; raises only :class:`GraderError`
    (the grading environment failed: no verdict is a grade)."""
    verdicts: dict[str, str | None] = {}
    values = _values(student, tests)
    tiers: dict = {}
    checks, tier_of = assignment.checks, assignment.checks.TIERS
    for name in checks.ORDER:
        for test in (t for t in tests if t.check == name):
            if verdicts.get(test.grade_id):
                continue  # a cell with several answers fails on its first wrong one
            if time.monotonic() > deadline:
                verdicts[test.grade_id] = "not graded: the submission ran over its time limit"
                continue
            try:
                if name == "check_answer":
                    var, expected, hint = test.args
                    check_answer(var, values.get(var, Opaque("undefined")), expected, hint)
                elif name in tier_of:
                    tier = tier_of[name]
                    if name not in tiers:
                        tiers[name] = _named(tier.train(student, profile, seed), tier.calls,
                                             tests, verdicts)
                    tier.verdict(test.args[0], tiers[name], profile=profile)
                else:  # each check its own stream, keyed: none predicts another
                    getattr(checks, name)(student, seed=derive(seed, name))
                verdicts.setdefault(test.grade_id, None)
            except CheckFailed as e:
                verdicts[test.grade_id] = str(e)
            except GraderError:
                raise  # no verdict at all: the grading environment failed
            except JudgeError as e:  # the judge's own reference failed: never the student's
                raise GraderError(f"{name}'s reference failed its self-check: {e}") from e
            except WorkerLost as e:
                verdicts[test.grade_id] = f"your code stopped the grading process during this test: {e}"
                if name in tier_of:
                    tiers[name] = verdicts[test.grade_id]
            except Exception as e:  # noqa: BLE001 - hostile data the checks could not use
                verdicts[test.grade_id] = ("the grading process answered with data the judge "
                                           f"could not use ({type(e).__name__}: {str(e)[:200]})")
                if name in tier_of:
                    tiers[name] = verdicts[test.grade_id]
    return verdicts


def _named(result, calls: tuple[str, ...], tests: tuple[Test, ...], verdicts: dict):
    """A failed tier's message names the functions it called that failed their own test."""
    if not isinstance(result, str):
        return result
    failed = [t.check[len("check_"):] for t in tests if t.check in calls
              and verdicts.get(t.grade_id)]
    if not failed:
        return result
    names = " and ".join(dict.fromkeys(failed))
    return (f"{result} The training calls your {names}, which failed its own test "
            f"(test_{failed[0]}): fix {names} first, the tiers follow.")


def _values(student: Student, tests: tuple[Test, ...]) -> dict:
    names = [t.args[0] for t in tests if t.check == "check_answer"]
    try:
        got = student.values(names)
    except WorkerLost:
        return {}
    out = {}
    for name in names:
        entry = got.get(name) if isinstance(got, dict) else None
        if not isinstance(entry, dict):
            continue
        if "value" in entry and type(entry["value"]) in (str, int, float, bool):
            out[name] = entry["value"]
        else:
            out[name] = Opaque(str(entry.get("type") or "undefined")[:80])
    return out
