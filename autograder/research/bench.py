"""``python -m autograder bench``: meta-training throughput, FLOP rate against the roofline,
and peak memory, as JSON — with ratios that can be trusted.

Each case (configuration × algorithm × implementation, :mod:`.bench_case`) is built once in its
own Python process (its own peak memory and allocator state), warmed up, and then the driver
**interleaves** the implementations of one configuration and algorithm: in each of ``rounds``
rounds it asks each process in turn (A B C, A B C, …) for ``steps`` timed meta-steps.  A
slowdown of the machine lands on every implementation of a round alike, and each round gives
its own ratio (throughput of A / throughput of B, measured seconds apart); the report gives the
**median ratio with its min–max over the rounds**, and the median tasks/s.

FLOPs per step are counted once per case (:func:`~.flops.count_flops`: grouped convolutions
counted correctly); GFLOP/s = FLOPs per step / median seconds per step, and ``roofline_fraction``
is that over a float32 matmul measured in the same run on the same device and threads
(:func:`~.flops.matmul_gflops`, before and after the cases; the larger).  No case is added
behind the caller's back: the allocator comparison is its own implementation,
``fast-default-malloc``, measured only when asked for.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
from dataclasses import asdict
from typing import Optional

import torch

from autograder.assignments import REPO
from autograder.reference.algorithms import ALGORITHMS

from .bench_case import CONFIGS, ONE_IMPL, Case
from .flops import matmul_gflops

#: the algorithms compared across implementations (their records say ``bench=True``)
ALGOS = tuple(a.name for a in ALGORITHMS.values() if a.bench)
IMPLS = ("fast", "loop", "higher", "fast-default-malloc")
DEFAULT_IMPLS = IMPLS[:3]


class Child:
    """One case served in its own process (:func:`~.bench_case.serve`)."""

    def __init__(self, case: Case, timeout: float) -> None:
        code = ("import json, sys; from autograder.research.bench_case import Case, serve; "
                "serve(Case(**json.loads(sys.argv[1])))")
        self.case, self.timeout = case, timeout
        self.proc = subprocess.Popen([sys.executable, "-c", code, json.dumps(asdict(case))],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, cwd=REPO)
        self.ready = self._answer()

    def _answer(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read().strip().splitlines()
            raise RuntimeError(err[-1] if err else f"exit {self.proc.wait()}")
        return json.loads(line)

    def ask(self, command: str) -> dict:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._answer()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def _impl_case(config: str, algo: str, impl: str, **kw) -> Case:
    if impl == "fast-default-malloc":
        return Case(config, algo, "fast", malloc_tuning=False, **kw)
    return Case(config, algo, impl, **kw)


def _spread(values: list[float], digits: int = 2) -> dict:
    return {"median": round(statistics.median(values), digits),
            "min": round(min(values), digits), "max": round(max(values), digits)}


def _group(config: str, algo: str, impls: tuple, rounds: int, steps: int, kw: dict,
           timeout: float, log) -> list[dict]:
    """Every implementation of (config, algo), interleaved over ``rounds`` rounds."""
    children, rows, tps = {}, [], {}
    try:
        for impl in impls:
            try:
                children[impl] = Child(_impl_case(config, algo, impl, **kw), timeout)
            except (RuntimeError, ValueError) as e:
                rows.append({"config": config, "algo": algo, "impl": impl, "error": str(e)})
        tps = {impl: [] for impl in children}
        for _ in range(rounds):
            for impl, child in children.items():
                seconds = child.ask(f"run {steps}")["seconds"]
                tps[impl].append(kw["meta_batch"] * steps / seconds)
        for impl, child in children.items():
            end = child.ask("done")
            median_tps = statistics.median(tps[impl])
            flops = child.ready["flops_per_step"]
            rows.append({**end, "impl": impl, "rounds": rounds, "steps_per_round": steps,
                         "data": child.ready["data"], "device": child.ready["device"],
                         "threads": child.ready["threads"],
                         "tasks_per_s": _spread(tps[impl]),
                         "gflop_per_task": round(flops / kw["meta_batch"] / 1e9, 4),
                         "gflops": round(median_tps * flops / kw["meta_batch"] / 1e9, 2),
                         "sampling_share": round(end["sample_s"] * median_tps
                                                 / kw["meta_batch"], 4),
                         "_tps": tps[impl]})
    finally:
        for child in children.values():
            child.close()
    for row in rows:
        for other in ("loop", "higher"):
            if "error" in row or other not in tps or row["impl"] == other:
                continue
            row[f"ratio_vs_{other}"] = _spread([a / b for a, b in zip(row["_tps"], tps[other])])
        if log:
            log(row)
    for row in rows:
        row.pop("_tps", None)
    return rows


def bench(configs=tuple(CONFIGS), algos=ALGOS, impls=DEFAULT_IMPLS, meta_batch: int = 32,
          rounds: int = 5, steps: int = 1, device: str = "auto",
          omniglot_root: Optional[str] = None, timeout: float = 1800, log=None) -> dict:
    """Every (configuration, algorithm) with its implementations interleaved; ratios, FLOP
    rate and roofline within this run."""
    skipped = None
    if "higher" in impls and not _higher_available():
        impls = tuple(i for i in impls if i != "higher")
        skipped = "higher is not installed (pip install higher==0.2.1)"
    from hwlib.device import default_device

    dev = default_device(device)
    roofline = [matmul_gflops(dev)]
    kw = dict(meta_batch=meta_batch, device=device, omniglot_root=omniglot_root)
    results = []
    for config in configs:
        for algo in algos:
            mine = impls[:1] if algo in ONE_IMPL else impls
            results += _group(config, algo, mine, rounds, steps, kw, timeout, log)
    roofline.append(matmul_gflops(dev))
    top = max(roofline)
    for r in results:
        if "gflops" in r:
            r["roofline_fraction"] = round(r["gflops"] / top, 3)
    return {"machine": {"platform": platform.platform(), "processor": platform.processor(),
                        "cpus": os.cpu_count(), "threads": torch.get_num_threads(),
                        "torch": torch.__version__,
                        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available()
                        else None},
            "roofline_gflops": round(top, 1), "roofline_runs": [round(x, 1) for x in roofline],
            "skipped": skipped, "results": results}


def _higher_available() -> bool:
    try:
        import higher  # noqa: F401
        return True
    except ImportError:
        return False


def markdown_table(report: dict) -> str:
    """The report as the table of ``docs/benchmarks.md``: median (min–max over the rounds)."""
    def spread(s: dict, unit: str = "") -> str:
        return f"{s['median']}{unit} ({s['min']}–{s['max']})"
    head = ("| config | algorithm | implementation | tasks/s | × loop | × higher | GFLOP/task | "
            "GFLOP/s | of roofline | peak memory (MB) |\n" + "| --- " * 10 + "|")
    rows = [head]
    for r in report["results"]:
        if "error" in r:
            rows.append(f"| {r['config']} | {r['algo']} | {r['impl']} | error: {r['error']} |"
                        + " |" * 6)
            continue
        ratio = lambda k: spread(r[k]) if k in r else ("1" if r["impl"] == k[9:] else "–")
        rows.append(f"| {r['config']} | {r['algo']} | {r['impl']} | {spread(r['tasks_per_s'])} | "
                    f"{ratio('ratio_vs_loop')} | {ratio('ratio_vs_higher')} | "
                    f"{r['gflop_per_task']} | {r['gflops']} | {r['roofline_fraction']:.0%} | "
                    f"{r['peak_mem_mb']} |")
    return "\n".join(rows)
