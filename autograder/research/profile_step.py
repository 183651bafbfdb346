"""``python -m autograder profile-step``: where one meta-training step's time goes, and the
bound the convolution kernels put on its fraction of the roofline.

The step of :mod:`.bench_case` (one configuration, algorithm and implementation: sample a
meta-batch, meta-gradient, Adam) runs ``--steps`` times under ``torch.profiler`` after two
warm-ups.  The report splits the operators' self time into

* **the convolutions** (forward and backward kernels: the only FLOPs counted, see
  :mod:`.flops`).  FLOPs per step / their time is their own rate inside the step; as a
  fraction of the matmul roofline it is **the most the whole step could reach** if everything
  else took no time;
* **the rest** — BatchNorm, pooling, ReLU, element-wise arithmetic, copies, fills: memory
  passes, whose rate is set by the memory bandwidth, measured in the same run by copying a
  float32 tensor of a first layer's activations, ``[5, 1024, 28, 28]`` (16 MB: mostly in
  cache, ``cache_bandwidth_gbs``) and of 8× that (128 MB: main memory, ``bandwidth_gbs``);

with the rest's memory traffic estimated from the operators' shapes (``rest_gb_per_step``)
and the rate it moves at (``rest_gbs``, to read against the bandwidths); and lists the top
operators by self time with their shapes (the table of docs/benchmarks.md).  The step's own
time and rate are measured without the profiler, before it; the roofline is the largest of
three matmul measurements (before and after the timed steps, after the profile), as in
:mod:`.bench`.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import asdict

import torch
from torch.profiler import ProfilerActivity, profile

from .bench_case import Case, prepare
from .flops import bandwidth_gbs, count_flops, matmul_gflops, synchronizer


#: a first layer's activations in a pass of 16 tasks × 5 drawings (float32: 16 MB)
ACTIVATION = (5, 1024, 28, 28)


def _is_convolution(name: str) -> bool:
    return "conv" in name.lower()


def _bytes(shapes: list, element_size: int = 4) -> int:
    """An operator's memory traffic estimated from its input shapes: every input read once and
    an output the size of the largest input written once (exact for element-wise operators;
    an over-estimate for reductions and pooling)."""
    sizes = [math.prod(s) for s in shapes if isinstance(s, (list, tuple)) and s]
    return element_size * (sum(sizes) + max(sizes, default=0))


def _timed(step, sample, sync, steps: int) -> float:
    times = []
    for _ in range(steps):
        batch = sample()
        sync()
        t0 = time.perf_counter()
        step(batch)
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def profile_step(case: Case, steps: int = 3, top: int = 15) -> dict:
    """Profile ``case``'s meta-step (see the module docstring); a JSON-able report."""
    step, sample, device, data = prepare(case)
    cuda, sync = device.type == "cuda", synchronizer(device)
    for _ in range(2):
        step(sample())
    batch = sample()
    flops = count_flops(lambda: step(batch))
    roofline = [matmul_gflops(device)]
    seconds = _timed(step, sample, sync, steps)
    roofline.append(matmul_gflops(device))
    cache = bandwidth_gbs(device, ACTIVATION)
    memory = bandwidth_gbs(device, (40, *ACTIVATION[1:]))
    batches = [sample() for _ in range(steps)]
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities, record_shapes=True) as prof:
        for b in batches:
            step(b)
        sync()
    key = "self_device_time_total" if cuda else "self_cpu_time_total"
    events = [e for e in prof.key_averages(group_by_input_shape=True) if getattr(e, key) > 0]
    total_us = sum(getattr(e, key) for e in events)
    conv_us = sum(getattr(e, key) for e in events if _is_convolution(e.key))
    conv_gflops = flops / (conv_us / 1e6 / steps) / 1e9 if conv_us else float("nan")
    rest = [e for e in events if not _is_convolution(e.key)]
    rest_bytes = sum(_bytes(e.input_shapes) * e.count for e in rest)
    rest_us = total_us - conv_us
    roofline = max(roofline + [matmul_gflops(device)])
    events.sort(key=lambda e: getattr(e, key), reverse=True)
    return {
        "case": asdict(case), "data": data, "device": str(device),
        "threads": torch.get_num_threads(), "steps": steps,
        "step_seconds": round(seconds, 4), "gflop_per_step": round(flops / 1e9, 3),
        "gflops": round(flops / seconds / 1e9, 1), "roofline_gflops": round(roofline, 1),
        "roofline_fraction": round(flops / seconds / 1e9 / roofline, 3),
        "bandwidth_gbs": round(memory, 1), "cache_bandwidth_gbs": round(cache, 1),
        "profiled_seconds_per_step": round(total_us / 1e6 / steps, 4),
        "convolution_share": round(conv_us / total_us, 3),
        "convolution_gflops": round(conv_gflops, 1),
        "convolution_roofline_fraction": round(conv_gflops / roofline, 3),
        "rest_gb_per_step": round(rest_bytes / 1e9 / steps, 2),
        "rest_gbs": round(rest_bytes / (rest_us / 1e6) / 1e9, 1) if rest_us else float("nan"),
        "top": [{"op": e.key, "shapes": str(e.input_shapes)[:120],
                 "ms_per_step": round(getattr(e, key) / 1e3 / steps, 2),
                 "share": round(getattr(e, key) / total_us, 3), "calls": e.count // steps}
                for e in events[:top]],
    }


def markdown(report: dict) -> str:
    """The report's operator table, as in docs/benchmarks.md."""
    rows = ["| operator | input shapes | ms per step | share of self time | calls per step |",
            "| --- | --- | --- | --- | --- |"]
    rows += [f"| `{t['op']}` | `{t['shapes']}` | {t['ms_per_step']} | {t['share']:.1%} | "
             f"{t['calls']} |" for t in report["top"]]
    return "\n".join(rows)
