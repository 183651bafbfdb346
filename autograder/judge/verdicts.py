"""Every graded test's verdict, computed in the judge from what the worker returns.

What each graded test cell checks is read from the instructor's source notebook (trusted):
its hidden region calls ``check_answer("n", var, expected, "hint")``, ``check_<function>(…)``
or ``check_accuracy_tier(k, …)``.  Those cells never run anywhere; the judge runs the named
check against the worker.  The order matters: ``inner_update`` is graded before any check
that lends the worker the reference ``inner_update`` (functions graded alone), and the
accuracy tiers train with the student's own functions before that too.
"""

from __future__ import annotations

import ast
import json
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from autograder import checks
from autograder.checks.common import check_answer
from autograder.checks.student import CheckFailed, Opaque, Student
from autograder.grading_key import derive
from autograder.profiles import Profile

from .client import GraderError, WorkerLost

ORDER = ["check_answer", "check_inner_update", "check_outer_step", "check_anil_adapt",
         "check_accuracy_tier", "check_maml_meta_loss", "check_fomaml_meta_loss",
         "check_reptile_meta_gradient",
         # the second assignment: the helpers before the functions graded with them lent
         "check_metasgd_inner_update", "check_prototypes", "check_protonet_logits",
         "check_protonet_tier", "check_metasgd_meta_loss", "check_protonet_loss"]

#: accuracy tiers: the check → (train once with the student's functions, the tier's verdict)
TIERS = {"check_accuracy_tier": ("tier_results", "check_accuracy_tier"),
         "check_protonet_tier": ("protonet_tier_results", "check_protonet_tier")}
#: the student's functions a tier's training calls besides the one it asks for (the right test
#: pays: when one of them failed its own test, a failed tier names it)
TIER_CALLS = {"check_accuracy_tier": ("check_inner_update",),
              "check_protonet_tier": ("check_prototypes", "check_protonet_logits")}


@dataclass
class Test:
    grade_id: str
    points: float
    check: str                   # one of ORDER
    args: tuple = ()             # check_answer: (name, expected, hint); tier: (k,)
    answer_cells: list = field(default_factory=list)   # the answer cells before it


def _hidden_calls(source: str) -> list[ast.Call]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
            and n.func.id in ORDER]


@lru_cache(maxsize=4)
def catalogue(source_notebook: Path) -> tuple[Test, ...]:
    """The graded tests of the instructor's notebook, in notebook order."""
    nb = json.loads(Path(source_notebook).read_text())
    tests, answers = [], []
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if meta.get("solution") and cell["cell_type"] == "code":
            answers.append(meta["grade_id"])
        if not meta.get("grade") or meta.get("solution"):
            continue
        calls = _hidden_calls(src)
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
              deadline: float) -> dict[str, str | None]:
    """grade_id → None (passed) or the failure message; raises only :class:`GraderError`
    (the grading environment failed: no verdict is a grade)."""
    verdicts: dict[str, str | None] = {}
    values = _values(student, tests)
    tiers: dict = {}
    for name in ORDER:
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
                elif name in TIERS:
                    train, verdict = TIERS[name]
                    if name not in tiers:
                        tiers[name] = _named(getattr(checks, train)(student, profile, seed),
                                             name, tests, verdicts)
                    getattr(checks, verdict)(test.args[0], tiers[name], profile=profile)
                else:  # each check its own stream, keyed: none predicts another
                    getattr(checks, name)(student, seed=derive(seed, name))
                verdicts.setdefault(test.grade_id, None)
            except CheckFailed as e:
                verdicts[test.grade_id] = str(e)
            except GraderError:
                raise  # no verdict at all: the grading environment failed
            except WorkerLost as e:
                verdicts[test.grade_id] = f"your code stopped the grading process during this test: {e}"
                if name in TIERS:
                    tiers[name] = verdicts[test.grade_id]
            except Exception as e:  # noqa: BLE001 - hostile data the checks could not use
                verdicts[test.grade_id] = ("the grading process answered with data the judge "
                                           f"could not use ({type(e).__name__}: {str(e)[:200]})")
                if name in TIERS:
                    tiers[name] = verdicts[test.grade_id]
    return verdicts


def _named(result, tier: str, tests: tuple[Test, ...], verdicts: dict):
    """A failed tier's message names the functions it called that failed their own test."""
    if not isinstance(result, str):
        return result
    failed = [t.check[len("check_"):] for t in tests if t.check in TIER_CALLS[tier]
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
