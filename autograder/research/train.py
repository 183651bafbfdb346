"""``python -m autograder train``: meta-train a reference algorithm on Omniglot, report JSON.

Trains on the meta-train characters (background alphabets, 90° rotations as new classes),
then adapts on each of the fixed meta-test tasks (evaluation alphabets) and reports the mean
query accuracy ± 95% CI, the training wall time, tasks per second and the device.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import asdict, dataclass
from typing import Optional

import torch

from hwlib.device import default_device, keep_cpu_memory_mapped
from hwlib.evaluate import EvalResult, graph_memory_mb
from hwlib.learner import outer_gradient
from hwlib.models import Conv4
from hwlib.outer_loop import TrainConfig, meta_train
from hwlib.splits import omniglot_splits
from hwlib.tasks import EpisodeSampler, FixedTaskSet

from autograder.reference import ALGORITHMS, make_learner
from autograder.reference.algorithms import initial_params

# Hyper-parameters of each reference algorithm: α inner lr, inner steps in training and at test
# time (test-time adaptation may take more steps than training did), η meta lr, outer optimizer.
@dataclass
class RunSpec:
    """Everything that defines one training run (the JSON's ``config``)."""

    algo: str = "maml"
    n_way: int = 5
    k_shot: int = 1
    q_query: int = 1
    train_ways: Optional[int] = None   # ways of the training episodes (default n_way; ProtoNet)
    train_shots: Optional[int] = None  # shots of the training episodes (default k_shot)
    meta_batch_size: int = 16
    inner_lr: Optional[float] = None
    inner_steps: Optional[int] = None
    eval_inner_steps: Optional[int] = None
    meta_lr: Optional[float] = None
    optimizer: Optional[str] = None
    anneal: Optional[bool] = None      # η decreases linearly to 0 over the budget
    minutes: Optional[float] = 4.0
    steps: Optional[int] = None
    seed: int = 0
    rotations: bool = True
    val_characters: Optional[int] = None  # None: hwlib's default (100 on Omniglot)
    val_every: int = 0
    test_tasks: int = 600
    test_query: int = 15
    image_size: int = 28
    device: str = "auto"
    impl: str = "fast"  # "fast": whole meta-batch at once; "loop": per-task (same gradients)

    def __post_init__(self) -> None:
        if self.algo not in ALGORITHMS:
            raise ValueError(f"unknown algorithm {self.algo!r}; choose from {sorted(ALGORITHMS)}")
        for k, v in ALGORITHMS[self.algo].recipe().items():
            if getattr(self, k) is None:
                setattr(self, k, v)
        self.train_ways = self.train_ways or self.n_way
        self.train_shots = self.train_shots or self.k_shot
        if self.train_ways != self.n_way and self.algo != "protonet":
            raise ValueError(f"--train-ways {self.train_ways} differs from --n-way {self.n_way}: "
                             f"only protonet has no N-way head ({self.algo} has one)")


@dataclass
class Setup:
    """Everything a run is made of (see :func:`prepare`)."""

    device: torch.device
    splits: object
    sampler: EpisodeSampler
    model: Conv4
    phi: dict
    learner: object
    config: TrainConfig
    test: FixedTaskSet


def prepare(spec: RunSpec, root: Optional[str] = None, cache_dir: Optional[str] = None,
            download: bool = False, progress: bool = True,
            checkpoint: Optional[str] = None) -> Setup:
    """Data, sampler, model, φ, learner, training config and the fixed meta-test tasks."""
    device = default_device(spec.device)
    if device.type == "cpu":
        keep_cpu_memory_mapped()
    splits = omniglot_splits(root, spec.image_size, spec.val_characters, cache_dir=cache_dir,
                             download=download, progress=progress)
    sampler = EpisodeSampler(splits.train, spec.train_ways, spec.train_shots, spec.q_query,
                             rotations=spec.rotations, device=device, seed=spec.seed)
    model = Conv4(spec.n_way, image_size=spec.image_size).to(device)
    phi = {k: v.to(device).detach().requires_grad_(True) for k, v in
           initial_params(spec.algo, model, spec.seed, spec.inner_lr).items()}
    learner = make_learner(spec.algo, model, spec.inner_lr, spec.inner_steps, impl=spec.impl)
    config = TrainConfig(meta_batch_size=spec.meta_batch_size, meta_lr=spec.meta_lr,
                         optimizer=spec.optimizer, anneal=bool(spec.anneal), steps=spec.steps, minutes=spec.minutes,
                         progress=progress, checkpoint_path=checkpoint, val_every=spec.val_every,
                         val_inner_steps=spec.eval_inner_steps)
    test = FixedTaskSet(splits.test, spec.n_way, spec.k_shot, spec.test_query, spec.test_tasks)
    return Setup(device, splits, sampler, model, phi, learner, config, test)


def test_accuracy(spec: RunSpec, s: Setup, progress: bool = False) -> EvalResult:
    """Adapt φ on each fixed meta-test task (``eval_inner_steps``, the learner's α) and score
    its query set (the learner's own evaluation: batched on the fast path)."""
    return s.learner.evaluate(s.phi, s.test, spec.eval_inner_steps, device=s.device,
                              progress=progress)


def run(spec: RunSpec, root: Optional[str] = None, cache_dir: Optional[str] = None,
        download: bool = False, progress: bool = True,
        checkpoint: Optional[str] = None) -> dict:
    """Train ``spec`` and evaluate on the fixed meta-test tasks; return the report dict."""
    s = prepare(spec, root, cache_dir, download, progress, checkpoint)
    val = FixedTaskSet(s.splits.val, spec.n_way, spec.k_shot, spec.test_query, num_tasks=100,
                       seed=spec.seed + 1) if spec.val_every else None
    memory = meta_batch_memory_mb(s, spec)
    started = time.perf_counter()
    result = meta_train(s.learner, s.phi, s.sampler.sample, s.config, val_tasks=val,
                        sampler_state=s.sampler)
    t_eval = time.perf_counter()
    scores = test_accuracy(spec, s, progress)
    done = time.perf_counter()
    return {
        "algo": spec.algo, "n_way": spec.n_way, "k_shot": spec.k_shot,
        "test_accuracy": round(scores.mean, 4), "ci95": round(scores.ci95, 4),
        "test_tasks": len(s.test), "meta_steps": result.steps, "tasks_seen": result.tasks_seen,
        "train_seconds": round(result.train_seconds, 1),
        "eval_seconds": round(done - t_eval, 1), "wall_seconds": round(done - started, 1),
        "tasks_per_second": round(result.tasks_per_second, 2),
        "graph_memory_mb": round(memory, 1),
        "alpha": result.alpha, "meta_lr": result.meta_lr,
        "final_train_loss": round(result.history.train[-1]["loss"], 4),
        "validation": result.history.val, "device": describe(s.device),
        "torch": torch.__version__, "threads": torch.get_num_threads(), "config": asdict(spec),
    }


def meta_batch_memory_mb(s: Setup, spec: RunSpec) -> float:
    """MB autograd keeps for one meta-gradient of one meta-batch (a device-independent
    measure of the algorithm's memory; :func:`hwlib.evaluate.graph_memory_mb`)."""
    batch = EpisodeSampler(s.splits.train, spec.train_ways, spec.train_shots, spec.q_query,
                           rotations=spec.rotations, device=s.device,
                           seed=spec.seed + 99).sample(spec.meta_batch_size)
    return graph_memory_mb(lambda: outer_gradient(s.learner, s.phi, batch))


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    return f"{device.type}:{platform.processor() or platform.machine()}"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """``train``'s options: the run (:func:`add_run_arguments`), validation, checkpoint."""
    add_run_arguments(p)
    p.add_argument("--val-every", type=int, default=0,
                   help="validate on 100 fixed meta-val tasks every N meta-steps (0: never)")
    p.add_argument("--checkpoint", help="save the final checkpoint here")


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    """The options ``train`` and ``time-to-accuracy`` share (what :func:`spec_from_args` reads)."""
    p.add_argument("--algo", default="maml", choices=sorted(ALGORITHMS))
    p.add_argument("--n-way", type=int, default=5)
    p.add_argument("--k-shot", type=int, default=1)
    p.add_argument("--q-query", type=int, default=1, help="query drawings per class in training")
    p.add_argument("--train-ways", type=int, help="ways of the training episodes (default: "
                   "--n-way; protonet only: train with more ways than at test)")
    p.add_argument("--train-shots", type=int, help="shots of the training episodes (default: "
                   "--k-shot; e.g. Reptile trains with more shots than at test)")
    p.add_argument("--meta-batch", type=int, default=16, dest="meta_batch_size")
    p.add_argument("--inner-lr", type=float, help="α (default: per algorithm)")
    p.add_argument("--inner-steps", type=int, help="inner steps in training")
    p.add_argument("--eval-inner-steps", type=int, help="inner steps at test time (default 3)")
    p.add_argument("--meta-lr", type=float, help="η (default: per algorithm)")
    p.add_argument("--anneal", action="store_true", default=None,
                   help="η decreases linearly to 0 over the budget (default: per algorithm)")
    p.add_argument("--minutes", type=float, default=4.0, help="training wall-time budget")
    p.add_argument("--steps", type=int, help="meta-step budget (exactly reproducible)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-rotations", dest="rotations", action="store_false")
    p.add_argument("--val-characters", type=int,
                   help="background characters held out for meta-validation (default 100)")
    p.add_argument("--test-tasks", type=int, default=600)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:1 | mps")
    p.add_argument("--impl", default="fast", choices=["fast", "loop"],
                   help="fast: whole meta-batch at once (default); loop: one task at a time")
    p.add_argument("--omniglot-root", help="folder with the Omniglot zips (else $OMNIGLOT_ROOT)")
    p.add_argument("--cache-dir", help="preprocessing cache (else $HWLIB_CACHE_DIR)")
    p.add_argument("--download", action="store_true", help="download Omniglot if missing")
    p.add_argument("--json", action="store_true", help="print only the JSON report")


def spec_from_args(args: argparse.Namespace) -> RunSpec:
    """The run of ``train``/``time-to-accuracy`` arguments (``--minutes 0``: no time limit)."""
    fields = set(RunSpec.__dataclass_fields__)
    spec = RunSpec(**{k: v for k, v in vars(args).items() if k in fields})
    if args.minutes is not None and args.minutes <= 0:
        spec.minutes = None
    return spec


def main(args: argparse.Namespace) -> int:
    spec = spec_from_args(args)
    own = ALGORITHMS[spec.algo].run  # a learner the skeleton does not train (its own report)
    report = (own(spec, root=args.omniglot_root, cache_dir=args.cache_dir,
                  download=args.download) if own else
              run(spec, args.omniglot_root, args.cache_dir, args.download,
                  progress=not args.json, checkpoint=args.checkpoint))
    if args.json or own:
        print(json.dumps(report, indent=None if args.json else 2))
    else:
        print(f"{report['algo']}: {100 * report['test_accuracy']:.2f}% ± "
              f"{100 * report['ci95']:.2f}% on {report['test_tasks']} meta-test tasks after "
              f"{report['meta_steps']} meta-steps ({report['train_seconds']} s, "
              f"{report['tasks_per_second']} tasks/s, {report['device']})")
        print(json.dumps(report, indent=2))
    return 0
