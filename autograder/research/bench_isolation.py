"""``python -m autograder bench-isolation``: what the OS boundary costs, as JSON.

Grades the instructor's solution through the real ``grade`` command twice in one run — in the
bubblewrap worker and with ``--no-isolation`` (the same worker as a plain process) — and
reports each one's seconds, the worker's start-up (process, sandbox, imports, the notebook's
cells) and their ratio.  Run on an idle machine; compare ratios, not absolute times.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

from autograder.assignments import assignment_named


def bench_isolation(profile: str = "tiny", repeats: int = 1) -> dict:
    from autograder.pipeline.grade import grade

    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        subs = Path(tmp) / "subs" / "solution"
        subs.mkdir(parents=True)
        first = assignment_named()
        shutil.copy(first.source, subs / first.notebook)
        for i in range(repeats):
            for isolated in (True, False):
                out = Path(tmp) / f"out-{i}-{isolated}"
                start = time.perf_counter()
                (row,) = grade(subs.parent, out, profile, progress=False, isolated=isolated)
                runs.append({"isolated": isolated, "seconds": round(time.perf_counter() - start, 2),
                             "worker_startup_seconds": row.startup_seconds,
                             "score": row.score, "max_score": row.max_score})
    mean = {flag: sum(r["seconds"] for r in runs if r["isolated"] is flag) / repeats
            for flag in (True, False)}
    startup = {flag: sum(r["worker_startup_seconds"] for r in runs if r["isolated"] is flag)
               / repeats for flag in (True, False)}
    return {"profile": profile, "repeats": repeats, "runs": runs,
            "isolated_over_plain": round(mean[True] / mean[False], 3),
            "startup_isolated_minus_plain_seconds": round(startup[True] - startup[False], 2)}


def main(profile: str, repeats: int) -> int:
    print(json.dumps(bench_isolation(profile, repeats)))
    return 0
