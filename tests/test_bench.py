"""The benchmark and time-to-accuracy commands: real runs on tiny budgets, JSON checked."""

from __future__ import annotations

import io
import json

import pytest
import torch

from autograder.research.bench import bench, markdown_table
from autograder.research.bench_case import Case, serve
from autograder.research.flops import count_flops


@pytest.fixture
def random_images(monkeypatch):
    """The bench on its fallback data (random drawings): quick to start in every process."""
    monkeypatch.delenv("OMNIGLOT_ROOT", raising=False)
    monkeypatch.setenv("HWLIB_CACHE_DIR", "/nonexistent-hw-bench-cache")


def test_flops_of_a_grouped_convolution_equal_the_hand_count():
    """N = 2, 8 → 8 channels in 4 groups, 10×10, 3×3, padding 1: forward, input gradient and
    weight gradient are each 2·N·HW·C_out·(C_in/g)·9 FLOPs; torch's own formula counts the
    weight gradient ``groups`` times (the fast path's convolutions have one group per task)."""
    import torch.nn.functional as F
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.randn(2, 8, 10, 10, requires_grad=True)
    w = torch.randn(8, 2, 3, 3, requires_grad=True)
    step = lambda: F.conv2d(x, w, padding=1, groups=4).sum().backward()
    hand = 2 * 2 * 100 * 8 * 2 * 9
    assert count_flops(step) == 3 * hand
    with FlopCounterMode(display=False) as torch_own:
        step()
    assert torch_own.get_total_flops() == hand * (2 + 4)


def test_conv4_forward_flops_equal_the_hand_count():
    """Conv4 on one 28×28 drawing: 2·(28²·64·9 + 14²·64·64·9 + 7²·64·64·9 + 3²·64·64·9)
    + 2·64·5 (the head), as counted by hand."""
    from hwlib.models import Conv4

    model = Conv4(5)
    hand = 2 * (28 ** 2 * 64 * 9 + (14 ** 2 + 7 ** 2 + 3 ** 2) * 64 * 64 * 9) + 2 * 64 * 5
    with torch.no_grad():
        assert count_flops(lambda: model(torch.randn(1, 1, 28, 28))) == hand


def test_serve_times_steps_on_demand_and_reports_memory():
    lines = io.StringIO()
    serve(Case("5w1s-q1", "maml", "fast", meta_batch=2), commands=iter(["run 2\n", "done\n"]),
          out=lines)
    ready, ran, done = (json.loads(x) for x in lines.getvalue().splitlines())
    assert ready["ready"] and ready["flops_per_step"] > 0 and ready["device"] == "cpu"
    assert ran["seconds"] > 0 and done["peak_mem_mb"] >= 0 and done["sample_s"] > 0


def test_bench_interleaves_rounds_with_spread_flops_and_roofline(random_images):
    """Two implementations, interleaved over 3 rounds: median and min–max of tasks/s and of the
    per-round ratio, the same FLOPs per task for the same algorithm (the grouped convolutions
    counted right), a roofline measured in the run, and no case the caller did not ask for."""
    report = bench(("5w1s-q1",), ("maml",), ("fast", "loop"), meta_batch=2, rounds=3, steps=1)
    json.dumps(report)
    rows = {r["impl"]: r for r in report["results"]}
    assert set(rows) == {"fast", "loop"} and all("error" not in r for r in rows.values()), rows
    fast, loop = rows["fast"], rows["loop"]
    for spread in (fast["tasks_per_s"], fast["ratio_vs_loop"]):
        assert 0 < spread["min"] <= spread["median"] <= spread["max"]
    assert fast["rounds"] == 3 and "ratio_vs_loop" not in loop
    assert fast["gflop_per_task"] == pytest.approx(loop["gflop_per_task"], rel=0.02)
    assert report["roofline_gflops"] > 0 and 0 < fast["roofline_fraction"] < 1.5
    table = markdown_table(report)   # the table of docs/benchmarks.md, from this command
    assert "| 5w1s-q1 | maml | fast |" in table and "| 5w1s-q1 | maml | loop |" in table


def test_bench_includes_the_incontext_learner_once(random_images):
    """The in-context learner has one implementation: one row, its throughput, no ratios."""
    report = bench(("5w1s-q1",), ("incontext",), ("fast", "loop"), meta_batch=2, rounds=2)
    (row,) = report["results"]
    assert row["algo"] == "incontext" and "error" not in row, row
    assert row["tasks_per_s"]["median"] > 0 and "ratio_vs_loop" not in row


def test_profile_step_splits_convolutions_from_the_rest(random_images):
    """The profile of a fast MAML step: the convolutions' share and in-step rate, the bound it
    puts on the step's fraction of the roofline, the bandwidths, and a table of the top
    operators with their shapes (no timing is asserted: the machine is shared)."""
    from autograder.research.profile_step import markdown, profile_step

    r = profile_step(Case("5w1s-q1", "maml", "fast", meta_batch=2), steps=1, top=4)
    json.dumps(r)
    assert 0 < r["convolution_share"] < 1 and r["gflop_per_step"] == pytest.approx(2 * 1.1553, rel=0.01)
    assert r["bandwidth_gbs"] > 0 and r["cache_bandwidth_gbs"] > 0 and r["roofline_gflops"] > 0
    assert r["convolution_gflops"] > 0 and r["convolution_roofline_fraction"] > 0
    assert len(r["top"]) == 4 and any("conv" in t["op"] for t in r["top"])
    assert markdown(r).count("\n") == 5 and "| `aten::" in markdown(r)


@pytest.mark.slow  # the default run interleaves two implementations (above)
def test_bench_compares_fast_loop_and_higher_in_one_run(random_images):
    pytest.importorskip("higher")
    report = bench(("5w1s-q1",), ("maml", "fomaml"), ("fast", "loop", "higher"), meta_batch=2,
                   rounds=2)
    rows = {(r["algo"], r["impl"]): r for r in report["results"]}
    assert set(rows) == {(a, i) for a in ("maml", "fomaml") for i in ("fast", "loop", "higher")}
    assert all("error" not in r for r in rows.values()), rows
    for algo in ("maml", "fomaml"):
        assert "ratio_vs_higher" in rows[(algo, "fast")] and "ratio_vs_loop" in rows[(algo, "fast")]
    assert report["machine"]["torch"] and report["skipped"] is None


def test_higher_maml_gradient_equals_the_reference():
    higher = pytest.importorskip("higher")  # noqa: F841
    import torch

    from autograder.research.bench_case import _higher_step
    from autograder.assignments.metalearning import answers
    from hwlib.models import Conv4, init_params
    from hwlib.tasks import TaskBatch

    torch.manual_seed(0)
    model = Conv4(5).double()
    phi = {k: v.detach().double().requires_grad_() for k, v in init_params(model, 0).items()}
    with torch.no_grad():
        for k, p in model.named_parameters():
            p.copy_(phi[k])
    b = TaskBatch(torch.rand(2, 5, 1, 28, 28, dtype=torch.float64), torch.arange(5).expand(2, 5),
                  torch.rand(2, 5, 1, 28, 28, dtype=torch.float64), torch.arange(5).expand(2, 5))
    for first_order, loss_fn in ((False, answers.maml_meta_loss),
                                 (True, answers.fomaml_meta_loss)):
        model.zero_grad()
        opt = torch.optim.SGD(model.parameters(), lr=0.0)  # lr 0: keep φ, read the gradient
        _higher_step(model, Case(algo="fomaml" if first_order else "maml", alpha=0.4), b, opt,
                     first_order)
        ref = torch.autograd.grad(loss_fn(model, phi, b, 0.4), list(phi.values()))
        assert all(torch.allclose(p.grad, g, atol=1e-12) for p, g in zip(model.parameters(), ref))


def test_time_to_accuracy_stops_at_the_target(synthetic_root, isolated_cache, tmp_path):
    from autograder.research.time_to_accuracy import plot, time_to_accuracy
    from autograder.research.train import RunSpec

    spec = RunSpec(algo="maml", n_way=3, meta_batch_size=2, minutes=None, steps=40,
                   test_tasks=10, val_characters=3)
    report = time_to_accuracy(spec, target=0.01, eval_every_s=0.01, root=str(synthetic_root),
                              progress=False)
    assert report["reached"] and report["steps_to_target"] == 1 and len(report["curve"]) == 1
    never = time_to_accuracy(RunSpec(algo="anil", n_way=3, meta_batch_size=2, minutes=None,
                                     steps=3, test_tasks=10, val_characters=3), target=1.0,
                             eval_every_s=1e-3, root=str(synthetic_root), progress=False)
    assert not never["reached"] and [p["step"] for p in never["curve"]] == [1, 2, 3]
    times = [p["train_seconds"] for p in never["curve"]]
    assert times == sorted(times)
    assert (tmp_path / "p.png").exists() is False
    plot([report, never], str(tmp_path / "p.png"))
    assert (tmp_path / "p.png").stat().st_size > 10_000
