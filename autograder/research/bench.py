"""``python -m autograder bench``: meta-training throughput and peak memory, as JSON.

In one run and on one configuration each, compares three implementations of the same
meta-training step (sample a meta-batch on the device, meta-gradient, Adam step):

* ``fast``   — the reference path (:mod:`autograder.reference.fast`: the whole meta-batch at
  once, grouped convolutions, per-task BatchNorm in one call);
* ``loop``   — a plain per-task Python loop (the course's sample-code style; the reference
  answers of :mod:`autograder.assignments.metalearning.answers`);
* ``higher`` — the ``higher`` library's differentiable inner loop, one task at a time.

Each measurement runs in a fresh Python process (so peak memory is its own), after one warm-up
step.  Throughput is tasks per second; ``ratio_vs_loop`` / ``ratio_vs_higher`` are ratios of
throughputs measured in the same run.  Peak memory is the process's peak resident set above
its level before the first step (CPU), or ``torch.cuda.max_memory_allocated`` (CUDA).
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from typing import Optional

import torch

from autograder.assignments import REPO
from autograder.reference.algorithms import ALGORITHMS

CONFIGS = {"5w1s-q1": (5, 1, 1), "5w1s-q15": (5, 1, 15), "20w1s-q1": (20, 1, 1)}
#: the algorithms compared across implementations (their records say ``bench=True``)
ALGOS = tuple(a.name for a in ALGORITHMS.values() if a.bench)
IMPLS = ("fast", "loop", "higher")


@dataclass
class Case:
    """One measurement: configuration, algorithm, implementation and budget."""

    config: str = "5w1s-q1"
    algo: str = "maml"
    impl: str = "fast"
    meta_batch: int = 32
    steps: int = 3
    alpha: Optional[float] = None   # α: the algorithm's own (its record) when not given
    device: str = "auto"
    omniglot_root: Optional[str] = None
    malloc_tuning: bool = True


def _characters(case: Case) -> tuple[torch.Tensor, str]:
    from hwlib.errors import DataNotFoundError
    from hwlib.splits import omniglot_splits

    try:
        return omniglot_splits(case.omniglot_root, progress=False).train.images, "omniglot"
    except DataNotFoundError:
        g = torch.Generator().manual_seed(0)
        return torch.randint(0, 256, (964, 20, 28, 28), generator=g, dtype=torch.uint8), \
            "random images (no Omniglot found)"


def _alpha(case: Case) -> float:
    return ALGORITHMS[case.algo].alpha if case.alpha is None else case.alpha


def _higher_step(model, case: Case, batch, optimizer, first_order: bool) -> None:
    import higher
    import torch.nn.functional as F

    params = list(model.head.parameters()) if case.algo == "anil" else list(model.parameters())
    inner = torch.optim.SGD(params, lr=_alpha(case))
    optimizer.zero_grad()
    for task in batch:
        with higher.innerloop_ctx(model, inner, copy_initial_weights=False,
                                  track_higher_grads=not first_order) as (fmodel, diffopt):
            diffopt.step(F.cross_entropy(fmodel(task.x_support), task.y_support))
            loss = F.cross_entropy(fmodel(task.x_query), task.y_query) / len(batch)
            if first_order:  # ∂θ̂/∂φ ≈ I: the query gradient at θ̂ is φ's gradient
                fast = list(fmodel.parameters())
                for p, g in zip(model.parameters(), torch.autograd.grad(loss, fast)):
                    p.grad = g if p.grad is None else p.grad + g
            else:
                loss.backward()
    optimizer.step()


#: learners with one implementation (no per-task loop or ``higher`` counterpart): measured once
ONE_IMPL = ("incontext",)


def _incontext_step(case: Case, device: torch.device):
    """One meta-step of the in-context learner (the reference ``incontext_logits``, Adam)."""
    from hwlib.incontext import InContextLearner, episode_loss, init_incontext

    from autograder.assignments.hypergradients.answers import incontext_logits

    model = InContextLearner(n_way=CONFIGS[case.config][0]).to(device)
    phi = init_incontext(model, 0)
    optimizer = torch.optim.Adam(list(phi.values()), lr=1e-3)

    def step(b) -> None:
        loss, _ = episode_loss(model, phi, incontext_logits, b)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return step


def measure(case: Case) -> dict:
    """Run ``case`` in this process; its throughput, peak memory and sampling cost."""
    from hwlib.device import default_device, keep_cpu_memory_mapped
    from hwlib.learner import outer_gradient
    from hwlib.models import Conv4, init_params
    from hwlib.tasks import EpisodeSampler

    from autograder.reference import make_learner

    if case.malloc_tuning:
        keep_cpu_memory_mapped()
    device = default_device(case.device)
    n_way, k_shot, q_query = CONFIGS[case.config]
    images, data = _characters(case)
    sampler = EpisodeSampler(images, n_way, k_shot, q_query, rotations=True, device=device)
    model = Conv4(n_way).to(device)
    phi = {k: v.to(device).detach().requires_grad_() for k, v in init_params(model, 0).items()}
    if case.algo in ONE_IMPL:
        step = _incontext_step(case, device)
    elif case.impl == "higher":
        with torch.no_grad():
            for k, p in model.named_parameters():
                p.copy_(phi[k])
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        step = lambda b: _higher_step(model, case, b, optimizer, case.algo == "fomaml")
    else:
        learner = make_learner(case.algo, model, _alpha(case), 1, impl=case.impl)
        optimizer = torch.optim.Adam(list(phi.values()), lr=1e-3)

        def step(b) -> None:
            grads, _, _ = outer_gradient(learner, phi, b)
            for k, p in phi.items():
                p.grad = grads[k]
            optimizer.step()
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    step(sampler.sample(case.meta_batch))  # warm-up
    sync()
    t0 = time.perf_counter()
    for _ in range(case.steps):
        step(sampler.sample(case.meta_batch))
    sync()
    step_s = (time.perf_counter() - t0) / case.steps
    t0 = time.perf_counter()
    for _ in range(20):
        sampler.sample(case.meta_batch)
    sync()
    sample_s = (time.perf_counter() - t0) / 20
    peak = (torch.cuda.max_memory_allocated() / 2 ** 20 if device.type == "cuda" else
            (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024)
    return {**asdict(case), "data": data, "device": str(device), "threads": torch.get_num_threads(),
            "step_s": round(step_s, 4), "tasks_per_s": round(case.meta_batch / step_s, 2),
            "peak_mem_mb": round(peak, 1), "sample_s": round(sample_s, 5),
            "sampling_share": round(sample_s / step_s, 4)}


def run_case(case: Case, timeout: float = 1800) -> dict:
    """:func:`measure` in a fresh Python process (its own peak memory and allocator state)."""
    code = ("import json, sys; from autograder.research.bench import Case, measure; "
            "print(json.dumps(measure(Case(**json.loads(sys.argv[1])))))")
    try:
        proc = subprocess.run([sys.executable, "-c", code, json.dumps(asdict(case))],
                              capture_output=True, text=True, timeout=timeout,
                              cwd=REPO)
    except subprocess.TimeoutExpired:
        return {**asdict(case), "error": f"ran over {timeout:.0f} s"}
    if proc.returncode != 0:
        return {**asdict(case),
                "error": (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _higher_available() -> bool:
    try:
        import higher  # noqa: F401
        return True
    except ImportError:
        return False


def bench(configs=tuple(CONFIGS), algos=ALGOS, impls=IMPLS, meta_batch: int = 32,
          steps: int = 3, device: str = "auto", omniglot_root: Optional[str] = None,
          malloc_ablation: bool = True, log=None) -> dict:
    """Every (configuration, algorithm, implementation); ratios within this run."""
    if "higher" in impls and not _higher_available():
        impls = tuple(i for i in impls if i != "higher")
        skipped = "higher is not installed (pip install higher==0.2.1)"
    else:
        skipped = None
    results = []
    cases = [Case(c, a, i, meta_batch, steps, device=device, omniglot_root=omniglot_root)
             for c in configs for a in algos for i in impls
             if a not in ONE_IMPL or i == impls[0]]
    if malloc_ablation and "fast" in impls:
        cases.append(Case(configs[0], algos[0], "fast", meta_batch, steps, device=device,
                          omniglot_root=omniglot_root, malloc_tuning=False))
    for case in cases:
        results.append(run_case(case))
        if log:
            log(results[-1])
    for r in results:
        same = lambda impl: next((o for o in results if o["config"] == r["config"] and
                                  o["algo"] == r["algo"] and o["impl"] == impl and
                                  o["malloc_tuning"] and "error" not in o), None)
        for impl in ("loop", "higher"):
            other = same(impl)
            if other and "error" not in r:
                r[f"ratio_vs_{impl}"] = round(r["tasks_per_s"] / other["tasks_per_s"], 2)
    return {"machine": {"platform": platform.platform(), "processor": platform.processor(),
                        "cpus": os.cpu_count(), "torch": torch.__version__,
                        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available()
                        else None},
            "skipped": skipped, "results": results}
