"""``python -m autograder measure-checks CASES.py``: how the hidden checks fare on a set of
student code that nobody tuned them to (JSON).

``CASES.py`` defines ``CASES``: a list of dicts ``name``, ``assignment``, ``function`` (the
answer cell it replaces), ``source`` (the student's cell), ``correct`` (a correct variant, or a
bug), ``cause`` (the bug in words) and ``keywords`` (phrases, any one of which a message that
names the cause contains).  Each case runs in the namespace its notebook gives (the reference
answers for the other functions, the notebook's imports); its own function's unit check runs
on it, in-process (the same harness and encoding as a worker), once per seed, and so do the
other checks of its assignment — on the reference answers, once per seed, since each function
is graded alone (``--every``: each on the case's namespace).

Reported, per case and in total: a bug is *caught* when its own function's test fails on every
seed, *named* when that message holds one of its keywords on every seed, *elsewhere* when only
other tests fail; a correct variant is a *false positive* when any test fails; the *spread* is
the number of different outcomes (which tests pass) across the seeds — 1 means the same score
on every regrade.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from functools import lru_cache
from pathlib import Path
from typing import Sequence

from autograder.assignments import ASSIGNMENTS
from autograder.checks.student import CheckFailed
from autograder.student_code.entries import Variant


def catalogue_cases() -> list[dict]:
    """Every assignment's own catalogue in the same form: a bug's keyword is the phrase its
    test must name."""
    def case(entry, assignment: str, correct: bool) -> dict:
        return {"name": entry.name, "assignment": assignment, "function": entry.function,
                "source": entry.source, "correct": correct,
                "keywords": [] if correct else [entry.message.lower()]}
    return [case(e, name, correct) for name, a in ASSIGNMENTS.items()
            for entries, correct in ((a.catalogue.BUGS, False), (a.catalogue.VARIANTS, True))
            for e in entries]


def load_cases(path: str | Path) -> list[dict]:
    """The ``CASES`` list a Python file defines (``catalogue``: the project's own)."""
    if str(path) == "catalogue":
        return catalogue_cases()
    scope: dict = {"__name__": "cases", "__file__": str(path)}
    exec(compile(Path(path).read_text(), str(path), "exec"), scope)  # noqa: S102 - our own file
    return list(scope["CASES"])


def verdicts(case: dict, seed: int, every: bool = False) -> dict[str, str | None]:
    """Every unit check of the case's assignment: name → message.  The case's own function's
    check runs on the case's namespace; the others (each function is graded alone: they call
    the reference, never the case's function) on the reference answers, once per assignment
    and seed — or, with ``every``, each on the case's namespace too."""
    if every:
        return verdicts_of(case, seed)
    return {**_reference_verdicts(case["assignment"], seed),
            **verdicts_of(case, seed, only=case["function"])}


@lru_cache(maxsize=64)
def _reference_verdicts(assignment: str, seed: int) -> dict[str, str | None]:
    """The unit checks of an assignment on its reference answers (all pass when sound)."""
    return verdicts_of({"assignment": assignment, "name": "reference", "function": "",
                        "source": ""}, seed)


def verdicts_of(case: dict, seed: int, only: str | None = None) -> dict[str, str | None]:
    """The unit checks of the case's assignment (``only``: that function's) on the case's
    namespace: function name → failure message (None: passed)."""
    a = ASSIGNMENTS[case["assignment"]]
    entries = [Variant(case["name"], case["function"], case["source"])] if case["source"] else []
    namespace = a.catalogue.namespace_with(*entries)
    out: dict[str, str | None] = {}
    for name in [only] if only else a.catalogue.FUNCTIONS:
        try:
            getattr(a.checks, f"check_{name}")(namespace[name], seed=seed)
            out[name] = None
        except CheckFailed as e:
            out[name] = str(e)
        except Exception as e:  # noqa: BLE001 - a check that crashes is a finding too
            out[name] = f"CHECK CRASHED: {type(e).__name__}: {e}"
    return out


def judge_case(case: dict, seeds: Sequence[int], every: bool = False) -> dict:
    """One case's outcome over ``seeds`` (see the module docstring)."""
    runs = [verdicts(case, seed, every) for seed in seeds]
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


def measure(cases: list[dict], seeds: Sequence[int], every: bool = False) -> dict:
    start = time.perf_counter()
    rows = [judge_case(c, seeds, every) for c in cases]
    return {"seeds": list(seeds), "every_check_on_every_case": every,
            "summary": summary(rows), "cases": rows,
            "seconds": round(time.perf_counter() - start, 1)}


def main(args: argparse.Namespace) -> int:
    cases = load_cases(args.cases)
    if args.only:
        cases = [c for c in cases if c["name"] in set(args.only)]
    with contextlib.redirect_stdout(sys.stderr):  # what student code prints is not the report
        report = measure(cases, args.seeds, args.every)
    print(json.dumps(report, indent=1, ensure_ascii=False))
    return 0
