"""``python -m autograder measure-checks CASES.py``: how the hidden checks fare on a set of
student code that nobody tuned them to (JSON).

``CASES.py`` defines ``CASES``: a list of dicts ``name``, ``assignment``, ``function`` (the
answer cell it replaces), ``source`` (the student's cell), ``correct`` (a correct variant, or a
bug), ``cause`` (the bug in words) and ``keywords`` (phrases, any one of which a message that
names the cause contains).  Each case runs in the namespace its notebook gives (the reference
answers for the other functions, the notebook's imports), and every unit check of its
assignment is run on it, in-process (the same harness and encoding as a worker), once per seed.

Reported, per case and in total: a bug is *caught* when its own function's test fails on every
seed, *named* when that message holds one of its keywords on every seed, *elsewhere* when only
other tests fail; a correct variant is a *false positive* when any test fails; the *spread* is
the number of different outcomes (which tests pass) across the seeds — 1 means the same score
on every regrade.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Sequence

from autograder import checks
from autograder.checks.student import CheckFailed
from autograder.student_code import FUNCTIONS, Variant, namespace_with
from autograder.student_code.entries2 import FUNCTIONS2, namespace_with2

ASSIGNMENTS = {"metalearning": (FUNCTIONS, namespace_with),
               "metasgd_protonet": (FUNCTIONS2, namespace_with2)}


def catalogue_cases() -> list[dict]:
    """The project's own catalogue (:mod:`autograder.student_code`) in the same form: a bug's
    keyword is the phrase its test must name."""
    from autograder.student_code import BUGS, VARIANTS
    from autograder.student_code.metasgd_protonet import BUGS2, VARIANTS2

    def case(entry, assignment: str, correct: bool) -> dict:
        return {"name": entry.name, "assignment": assignment, "function": entry.function,
                "source": entry.source, "correct": correct,
                "keywords": [] if correct else [entry.message.lower()]}
    return [case(b, a, False) for bugs, a in ((BUGS, "metalearning"), (BUGS2, "metasgd_protonet"))
            for b in bugs] + [case(v, a, True) for variants, a in (
                (VARIANTS, "metalearning"), (VARIANTS2, "metasgd_protonet")) for v in variants]


def load_cases(path: str | Path) -> list[dict]:
    """The ``CASES`` list a Python file defines (``catalogue``: the project's own)."""
    if str(path) == "catalogue":
        return catalogue_cases()
    scope: dict = {"__name__": "cases", "__file__": str(path)}
    exec(compile(Path(path).read_text(), str(path), "exec"), scope)  # noqa: S102 - our own file
    return list(scope["CASES"])


def verdicts(case: dict, seed: int) -> dict[str, str | None]:
    """Every unit check of the case's assignment on the case's namespace: name → message."""
    return verdicts_of(case, seed)


def verdicts_of(case: dict, seed: int, only: str | None = None) -> dict[str, str | None]:
    """The unit checks of the case's assignment (``only``: that function's) on the case's
    namespace: function name → failure message (None: passed)."""
    functions, make = ASSIGNMENTS[case["assignment"]]
    namespace = make(Variant(case["name"], case["function"], case["source"]))
    out: dict[str, str | None] = {}
    for name in [only] if only else functions:
        try:
            getattr(checks, f"check_{name}")(namespace[name], seed=seed)
            out[name] = None
        except CheckFailed as e:
            out[name] = str(e)
        except Exception as e:  # noqa: BLE001 - a check that crashes is a finding too
            out[name] = f"CHECK CRASHED: {type(e).__name__}: {e}"
    return out


def judge_case(case: dict, seeds: Sequence[int]) -> dict:
    """One case's outcome over ``seeds`` (see the module docstring)."""
    runs = [verdicts(case, seed) for seed in seeds]
    own = [r[case["function"]] for r in runs]
    failed = [sorted(k for k, m in r.items() if m) for r in runs]
    keywords = [k.lower() for k in case.get("keywords", [])]
    row = {"name": case["name"], "function": case["function"], "correct": case["correct"],
           "spread": len({tuple(f) for f in failed}), "failed": failed[0],
           "message": own[0], "crashed": any("CHECK CRASHED" in (m or "") for r in runs
                                              for m in r.values())}
    if case["correct"]:
        row["false_positive"] = any(failed)
        row["messages"] = {k: m for r in runs for k, m in r.items() if m}
    else:
        row["caught"] = all(m is not None for m in own)
        row["caught_some_seed"] = any(m is not None for m in own)
        row["named"] = row["caught"] and all(any(k in m.lower() for k in keywords) for m in own)
        row["elsewhere_only"] = not row["caught_some_seed"] and any(failed)
        row["cause"] = case.get("cause")
    return row


def summary(rows: list[dict]) -> dict:
    bugs = [r for r in rows if not r["correct"]]
    good = [r for r in rows if r["correct"]]

    def share(n: int, d: int) -> float:
        return round(n / d, 3) if d else float("nan")
    return {"bugs": len(bugs), "correct_variants": len(good),
            "caught_in_own_test": share(sum(r["caught"] for r in bugs), len(bugs)),
            "cause_named": share(sum(r["named"] for r in bugs), len(bugs)),
            "lost_points_only_elsewhere": sum(r["elsewhere_only"] for r in bugs),
            "kept_full_marks": sum(not r["caught_some_seed"] and not r["failed"] for r in bugs),
            "false_positives": sum(r["false_positive"] for r in good),
            "cases_with_seed_spread": sum(r["spread"] > 1 for r in rows),
            "checks_crashed": sum(r["crashed"] for r in rows)}


def measure(cases: list[dict], seeds: Sequence[int]) -> dict:
    start = time.perf_counter()
    rows = [judge_case(c, seeds) for c in cases]
    return {"seeds": list(seeds), "summary": summary(rows), "cases": rows,
            "seconds": round(time.perf_counter() - start, 1)}


def main(args: argparse.Namespace) -> int:
    cases = load_cases(args.cases)
    if args.only:
        cases = [c for c in cases if c["name"] in set(args.only)]
    print(json.dumps(measure(cases, args.seeds), indent=1, ensure_ascii=False))
    return 0
