"""One case of the benchmark — a configuration, an algorithm and an implementation of its
meta-training step (sample a meta-batch on the device, meta-gradient, Adam step) — built once
in its own process and then timed on demand (:func:`serve`), so that the driver
(:mod:`.bench`) can interleave the implementations round by round.

* ``fast``   — the reference path (:mod:`autograder.reference.fast`: the whole meta-batch at
  once, grouped convolutions, per-task BatchNorm in one call);
* ``loop``   — a plain per-task Python loop (the course's sample-code style);
* ``higher`` — the ``higher`` library's differentiable inner loop, one task at a time.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from dataclasses import asdict, dataclass
from typing import Callable, Optional

import torch

from autograder.reference.algorithms import ALGORITHMS

from .flops import count_flops, synchronizer

CONFIGS = {"5w1s-q1": (5, 1, 1), "5w1s-q15": (5, 1, 15), "20w1s-q1": (20, 1, 1)}
#: learners with one implementation (no per-task loop or ``higher`` counterpart): measured once
ONE_IMPL = ("incontext",)


@dataclass
class Case:
    """One measurement: configuration, algorithm, implementation and meta-batch."""

    config: str = "5w1s-q1"
    algo: str = "maml"
    impl: str = "fast"
    meta_batch: int = 32
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


def prepare(case: Case) -> tuple[Callable, Callable, torch.device, str]:
    """``(step(batch), sample(), device, data)`` of ``case``."""
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
    return step, lambda: sampler.sample(case.meta_batch), device, data


def serve(case: Case, commands=sys.stdin, out=sys.stdout) -> None:
    """Build ``case``, warm up one step, count one step's FLOPs, say ``ready``; then for each
    command ``run K`` time K meta-steps (sampling included) and answer their seconds; on
    ``done`` answer the peak memory and the sampling cost, and return."""
    step, sample, device, data = prepare(case)
    sync = synchronizer(device)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    step(sample())  # warm-up
    batch = sample()
    flops = count_flops(lambda: step(batch))
    say = lambda obj: print(json.dumps(obj), file=out, flush=True)
    say({"ready": True, "flops_per_step": flops, "data": data, "device": str(device),
         "threads": torch.get_num_threads()})
    for line in commands:
        word, *arg = line.split()
        if word == "run":
            sync()
            t0 = time.perf_counter()
            for _ in range(int(arg[0])):
                step(sample())
            sync()
            say({"seconds": time.perf_counter() - t0})
        elif word == "done":
            break
    t0 = time.perf_counter()
    for _ in range(20):
        sample()
    sync()
    peak = (torch.cuda.max_memory_allocated() / 2 ** 20 if device.type == "cuda" else
            (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024)
    say({"peak_mem_mb": round(peak, 1), "sample_s": (time.perf_counter() - t0) / 20,
         **asdict(case)})
