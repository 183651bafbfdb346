"""The instructor/TA command line: ``python -m autograder <command> [options]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hwlib.errors import DataNotFoundError, HwlibError

from .assignments import ASSIGNMENTS, DEFAULT, assignment_named
from hwlib.profiles import PROFILES


def build_parser() -> argparse.ArgumentParser:
    from autograder.research import train

    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="meta-train a reference algorithm, report test accuracy")
    train.add_arguments(p)
    p.set_defaults(func=train.main)

    from autograder.research import time_to_accuracy

    p = sub.add_parser("time-to-accuracy", help="train a reference algorithm until a target "
                       "test accuracy; report the wall time (JSON)")
    time_to_accuracy.add_tta_arguments(p)
    p.set_defaults(func=time_to_accuracy.main)
    p = sub.add_parser("plot-time-to-accuracy", help="accuracy vs wall time of saved reports")
    p.add_argument("reports", nargs="+", help="JSON files written by time-to-accuracy")
    p.add_argument("--out", default="accuracy_vs_wall_time.png")
    p.set_defaults(func=time_to_accuracy.plot_main)

    p = sub.add_parser("release", help="generate the student notebooks (solutions/ -> notebooks/)")
    p.add_argument("--assignment", choices=[*ASSIGNMENTS, "all"], default="all",
                   help="which assignment (default: all of them)")
    p.set_defaults(func=_release)

    p = sub.add_parser("validate", help="prove the tests: solution full marks, blank release zero")
    p.add_argument("--profile", default="tiny", choices=list(PROFILES))
    p.add_argument("--mutants", action="store_true", help="also grade every known student bug")
    p.add_argument("--sample", type=int, metavar="K",
                   help="with --mutants: only the first K notebooks of bugs and of correct "
                        "variants (the first holds one bug of every graded function)")
    p.add_argument("--out", type=Path, help="keep the grading course directory here")
    p.add_argument("--jobs", type=int, default=1, help="notebooks graded at once")
    p.add_argument("--assignment", choices=[*ASSIGNMENTS, "all"], default=DEFAULT,
                   help=f"which assignment (default: {DEFAULT}; all: one after the other)")
    p.set_defaults(func=_validate)

    p = sub.add_parser("new-assignment", help="a new assignment from the template (one folder)")
    p.add_argument("name", help="its name: a Python package name (a-z, 0-9, _)")
    p.add_argument("--title", default="A new assignment", help="its one-line title")
    p.set_defaults(func=_new_assignment)

    p = sub.add_parser("grade", help="autograde a folder of submissions -> grades.csv + feedback")
    p.add_argument("submissions", type=Path, help="one folder (or .ipynb) per student")
    p.add_argument("--assignment", choices=list(ASSIGNMENTS), default=DEFAULT,
                   help=f"which assignment the submissions are (default: {DEFAULT})")
    p.add_argument("--profile", choices=list(PROFILES),
                   help="grading budget (default: gpu when CUDA is available, else cpu)")
    p.add_argument("--out", type=Path, help="course directory for results "
                   "(default: grading/<assignment>)")
    p.add_argument("--cell-timeout", type=int, help="seconds per cell")
    p.add_argument("--notebook-timeout", type=int, help="seconds per submission")
    p.add_argument("--jobs", type=int, default=1, help="submissions graded at once (one GPU each)")
    p.add_argument("--shard", default="1/1", help="grade only slice i/n of the sorted students")
    p.add_argument("--regrade", nargs="+", default=[], metavar="STUDENT",
                   help="grade these students again even if already graded (others are kept)")
    p.add_argument("--no-isolation", action="store_true",
                   help="run student code without the sandbox: TRUSTED notebooks only "
                        "(recorded in the gradebook and the CSV)")
    p.set_defaults(func=_grade)

    p = sub.add_parser("merge", help="combine the --out folders of shards into one gradebook + CSV")
    p.add_argument("shards", nargs="+", type=Path, help="output folders of grade --shard i/n")
    p.add_argument("--out", type=Path, default=Path("grading"), help="merged course directory")
    p.set_defaults(func=_merge)

    from autograder.research.bench import ALGOS, CONFIGS, DEFAULT_IMPLS, IMPLS

    p = sub.add_parser("bench", help="meta-training throughput, GFLOP/s against the roofline "
                       "and memory: fast vs loop vs higher, interleaved in rounds (JSON)")
    p.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    p.add_argument("--algos", nargs="+", choices=list(ALGOS), default=list(ALGOS))
    p.add_argument("--impls", nargs="+", choices=list(IMPLS), default=list(DEFAULT_IMPLS),
                   help="fast-default-malloc: the fast path without the allocator tuning")
    p.add_argument("--meta-batch", type=int, default=32)
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds (A B C, A B C, …)")
    p.add_argument("--steps", type=int, default=1, help="timed meta-steps per implementation "
                   "and round (after 1 warm-up)")
    p.add_argument("--device", default="auto")
    p.add_argument("--omniglot-root", help="else $OMNIGLOT_ROOT; random images when absent")
    p.add_argument("--json", action="store_true", help="print only the JSON")
    p.add_argument("--markdown", type=Path, help="also write the table of docs/benchmarks.md here")
    p.set_defaults(func=_bench)

    p = sub.add_parser("profile-step", help="where one meta-step's time goes: convolutions "
                       "against the rest, the bound on the roofline fraction, top operators (JSON)")
    p.add_argument("--config", choices=list(CONFIGS), default="5w1s-q1")
    p.add_argument("--algo", choices=list(ALGOS), default="maml")
    p.add_argument("--impl", choices=list(IMPLS), default="fast")
    p.add_argument("--meta-batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=3, help="profiled meta-steps (after 2 warm-ups)")
    p.add_argument("--top", type=int, default=15, help="operators listed")
    p.add_argument("--device", default="auto")
    p.add_argument("--omniglot-root", help="else $OMNIGLOT_ROOT; random images when absent")
    p.add_argument("--markdown", type=Path, help="also write the operator table here")
    p.set_defaults(func=_profile_step)

    p = sub.add_parser("bench-isolation", help="grading time with and without the sandbox (JSON)")
    p.add_argument("--profile", default="tiny", choices=list(PROFILES))
    p.add_argument("--repeats", type=int, default=1)
    p.set_defaults(func=_bench_isolation)

    p = sub.add_parser("calibrate", help="check a grading profile's tiers on the reference (JSON)")
    p.add_argument("--profile", default="cpu", choices=list(PROFILES))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--margin", type=float, default=0.01)
    p.add_argument("--curve", type=int, nargs="*", default=[],
                   help="also report the accuracy after these meta-step budgets (same runs)")
    p.add_argument("--assignment", choices=list(ASSIGNMENTS), default=DEFAULT,
                   help="whose tiers (each assignment calibrates its own)")
    p.set_defaults(func=_calibrate)

    p = sub.add_parser("measure-checks", help="the hidden checks on a set of student code: "
                       "caught, named, false positives, spread over seeds (JSON)")
    p.add_argument("cases", help="a Python file defining CASES (e.g. "
                   "autograder/student_code/blind_set.py), "
                   "or 'catalogue' for the project's own")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--only", nargs="+", help="only these case names")
    p.add_argument("--every", action="store_true",
                   help="run every check on every case's namespace (slow; by default the other "
                        "functions' checks run once on the reference: each function is graded alone)")
    p.set_defaults(func=_measure_checks)
    return parser


def _measure_checks(args: argparse.Namespace) -> int:
    from autograder.instructor.measure_checks import main

    return main(args)


def _bench(args: argparse.Namespace) -> int:
    import json

    from autograder.research.bench import bench, markdown_table

    def log(r: dict) -> None:
        if args.json:
            return
        if "error" in r:
            print(f"{r['config']:9s} {r['algo']:9s} {r['impl']:19s} error: {r['error']}", flush=True)
            return
        t, ratio = r["tasks_per_s"], r.get("ratio_vs_loop")
        print(f"{r['config']:9s} {r['algo']:9s} {r['impl']:19s} {t['median']:8.2f} tasks/s "
              f"({t['min']:.2f}–{t['max']:.2f})  {r['gflops']:7.1f} GFLOP/s "
              f"({r['gflop_per_task']:.3f} GFLOP/task)  peak {r['peak_mem_mb']:8.1f} MB"
              + (f"  ×{ratio['median']:.2f} ({ratio['min']:.2f}–{ratio['max']:.2f}) vs loop"
                 if ratio else ""), flush=True)

    report = bench(tuple(args.configs), tuple(args.algos), tuple(args.impls), args.meta_batch,
                   args.rounds, args.steps, args.device, args.omniglot_root, log=log)
    print(json.dumps(report, indent=None if args.json else 2))
    if args.markdown:
        args.markdown.write_text(markdown_table(report) + "\n")
    return 0 if not any("error" in r for r in report["results"]) else 1


def _profile_step(args: argparse.Namespace) -> int:
    import json

    from autograder.research.bench_case import Case
    from autograder.research.profile_step import markdown, profile_step

    report = profile_step(Case(args.config, args.algo, args.impl, args.meta_batch,
                               device=args.device, omniglot_root=args.omniglot_root),
                          args.steps, args.top)
    print(json.dumps(report, indent=2))
    if args.markdown:
        args.markdown.write_text(markdown(report) + "\n")
    return 0


def _bench_isolation(args: argparse.Namespace) -> int:
    from autograder.research.bench_isolation import main

    return main(args.profile, args.repeats)


def _calibrate(args: argparse.Namespace) -> int:
    import json

    calibration = assignment_named(args.assignment).calibration
    report = calibration.calibrate(args.profile, args.seeds, args.margin, args.curve)
    print(json.dumps(report))
    return 0 if calibration.passed(report) else 1


def _chosen(name: str) -> list[str]:
    return list(ASSIGNMENTS) if name == "all" else [name]


def _release(args: argparse.Namespace) -> int:
    from autograder.pipeline.course import release

    for name in _chosen(args.assignment):
        print(f"released {release(assignment=name)}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from autograder.instructor.validate import validate

    ok = True
    for name in _chosen(args.assignment):
        out = args.out / name if args.out and args.assignment == "all" else args.out
        print(f"== {name}")
        ok &= all(v.ok for v in validate(args.profile, args.mutants, out, jobs=args.jobs,
                                          assignment=name, sample=args.sample))
    return 0 if ok else 1


def _new_assignment(args: argparse.Namespace) -> int:
    from .assignments.scaffold import scaffold

    folder = scaffold(args.name, args.title)
    print(f"made {folder} and solutions/{args.name}/{args.name}.ipynb: now add {args.name!r} to "
          "NAMES in autograder/assignments/__init__.py (docs/instructor.md: Add an assignment)")
    return 0


def _grade(args: argparse.Namespace) -> int:
    import torch

    from autograder.pipeline.grade import grade

    if not args.submissions.is_dir():
        raise ValueError(f"{args.submissions} is not a folder of submissions")
    profile = args.profile or ("gpu" if torch.cuda.is_available() else "cpu")
    from autograder.pipeline.batch import parse_shard

    out = args.out or Path("grading") / args.assignment
    rows = grade(args.submissions, out, profile, args.cell_timeout, args.notebook_timeout,
                 jobs=args.jobs, shard=parse_shard(args.shard), regrade=args.regrade,
                 isolated=not args.no_isolation, assignment=args.assignment)
    failed = [r for r in rows if r.grader_error]
    print(f"{len(rows) - len(failed)} submissions graded ({args.assignment}, '{profile}' "
          f"profile): {out / 'grades.csv'}")
    if failed:
        print(f"error: the grader failed on {len(failed)} submission(s), which have no grade "
              f"(status 'grader error'), e.g. {failed[0].student}: {failed[0].status[:400]}\n"
              "Fix the grading environment (docs/ta.md, 'When grading is refused') and run the "
              "same command again: only these are graded again.", file=sys.stderr)
        return 1
    return 0


def _merge(args: argparse.Namespace) -> int:
    from autograder.pipeline.gradebook import merge

    rows = merge(args.out, args.shards)
    print(f"{len(rows)} students from {len(args.shards)} shards: {args.out / 'grades.csv'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    from autograder.pipeline.canary import GradingRefused

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (HwlibError, ValueError, GradingRefused) as e:
        print(f"error: {e}", file=sys.stderr)
        if isinstance(e, DataNotFoundError):
            print("On the command line: --omniglot-root PATH, or --download.", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
