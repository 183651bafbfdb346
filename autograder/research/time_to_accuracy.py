"""``python -m autograder time-to-accuracy``: train a reference algorithm until it reaches a
target accuracy on the fixed meta-test tasks, and report the training wall time.

Every ``--eval-every`` seconds of training the clock stops, φ is adapted on each of the fixed
meta-test tasks (the same 600 tasks, 15 queries per class, as everywhere) and scored; training
stops at the first evaluation that reaches ``--target`` or when the budget runs out.  The
reported time is meta-training time only (sampling, inner and outer loops); the evaluations'
own time is reported beside it.  The curve of (seconds, accuracy) points is the data of the
accuracy-vs-wall-time plot in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Optional

import torch

from hwlib.outer_loop import meta_train

from autograder.research.train import RunSpec, add_run_arguments, describe, prepare, spec_from_args, test_accuracy


def time_to_accuracy(spec: RunSpec, target: float, eval_every_s: float,
                     root: Optional[str] = None, cache_dir: Optional[str] = None,
                     download: bool = False, progress: bool = True) -> dict:
    """Train until test accuracy ≥ ``target`` (checked every ``eval_every_s`` seconds)."""
    if not 0 < target <= 1 or eval_every_s <= 0:
        raise ValueError("need 0 < target <= 1 and eval_every > 0 seconds")
    s = prepare(spec, root, cache_dir, download, progress=progress)
    curve: list[dict] = []
    next_eval = eval_every_s

    def score(step: int, seconds: float) -> bool:
        t0 = time.perf_counter()
        res = test_accuracy(spec, s)
        curve.append({"step": step, "train_seconds": round(seconds, 1),
                      "accuracy": round(res.mean, 4), "ci95": round(res.ci95, 4),
                      "eval_seconds": round(time.perf_counter() - t0, 1)})
        if progress:
            print(f"  {seconds:7.1f} s, {step} meta-steps: {100 * res.mean:.2f}% "
                  f"± {100 * res.ci95:.2f}%", flush=True)
        return res.mean >= target

    def check(step: int, seconds: float) -> bool:
        nonlocal next_eval
        if seconds < next_eval:
            return False
        next_eval = seconds + eval_every_s
        return score(step, seconds)

    result = meta_train(s.learner, s.phi, s.sampler.sample, s.config, after_step=check)
    if not curve or curve[-1]["step"] != result.steps:  # score the final φ too
        score(result.steps, result.train_seconds)
    reached = next((p for p in curve if p["accuracy"] >= target), None)
    return {"algo": spec.algo, "target": target, "reached": reached is not None,
            "seconds_to_target": reached["train_seconds"] if reached else None,
            "steps_to_target": reached["step"] if reached else None,
            "final_accuracy": curve[-1]["accuracy"], "curve": curve,
            "device": describe(s.device), "threads": torch.get_num_threads(),
            "torch": torch.__version__, "config": asdict(spec)}


def plot(reports: list[dict], out: str) -> str:
    """The accuracy-vs-wall-time figure of several reports (one line per algorithm)."""
    from hwlib.plots import plot_accuracy_vs_time, save_figure

    curves = {r["algo"]: [(p["train_seconds"], p["accuracy"], p["ci95"]) for p in r["curve"]]
              for r in reports}
    r = reports[0]
    title = (f"{r['config']['n_way']}-way {r['config']['k_shot']}-shot Omniglot, {r['device']}, "
             f"{r['threads']} threads")
    fig = plot_accuracy_vs_time(curves, title, targets=sorted({r["target"] for r in reports}))
    return save_figure(fig, out)


def plot_main(args: argparse.Namespace) -> int:
    reports = [json.loads(Path(f).read_text().strip().splitlines()[-1]) for f in args.reports]
    print(plot(reports, args.out))
    return 0


def add_tta_arguments(p: argparse.ArgumentParser) -> None:
    add_run_arguments(p)
    p.add_argument("--target", type=float, default=0.95, help="test accuracy to reach")
    p.add_argument("--eval-every", type=float, default=30.0,
                   help="seconds of training between evaluations on the meta-test tasks")
    p.set_defaults(minutes=10.0)


def main(args: argparse.Namespace) -> int:
    report = time_to_accuracy(spec_from_args(args), args.target, args.eval_every,
                              args.omniglot_root, args.cache_dir, args.download,
                              progress=not args.json)
    print(json.dumps(report, indent=None if args.json else 2))
    return 0 if report["reached"] else 1
