"""The benchmark and time-to-accuracy commands: real runs on tiny budgets, JSON checked."""

from __future__ import annotations

import json

import pytest

from autograder.research.bench import Case, bench, measure


def test_measure_reports_throughput_memory_and_sampling_share():
    r = measure(Case("5w1s-q1", "maml", "fast", meta_batch=2, steps=1))
    assert r["tasks_per_s"] > 0 and r["step_s"] > 0 and r["peak_mem_mb"] >= 0
    assert 0 < r["sampling_share"] < 1 and r["device"] == "cpu"


def test_bench_includes_the_incontext_learner_once():
    """The in-context learner has one implementation: one row, its throughput, no ratios."""
    report = bench(("5w1s-q1",), ("incontext",), ("fast", "loop"), meta_batch=2, steps=1,
                   malloc_ablation=False)
    (row,) = report["results"]
    assert row["algo"] == "incontext" and "error" not in row, row
    assert row["tasks_per_s"] > 0 and "ratio_vs_loop" not in row


def test_bench_compares_fast_loop_and_higher_in_one_run():
    pytest.importorskip("higher")
    report = bench(("5w1s-q1",), ("maml", "fomaml"), ("fast", "loop", "higher"), meta_batch=2,
                   steps=1, malloc_ablation=False)
    json.dumps(report)
    rows = {(r["algo"], r["impl"]): r for r in report["results"]}
    assert set(rows) == {(a, i) for a in ("maml", "fomaml") for i in ("fast", "loop", "higher")}
    assert all("error" not in r for r in rows.values()), rows
    for algo in ("maml", "fomaml"):
        fast, loop = rows[(algo, "fast")], rows[(algo, "loop")]
        assert fast["ratio_vs_loop"] == pytest.approx(fast["tasks_per_s"] / loop["tasks_per_s"],
                                                      abs=0.01)
        assert loop["ratio_vs_loop"] == 1.0 and "ratio_vs_higher" in fast
    assert report["machine"]["torch"] and report["skipped"] is None


def test_higher_maml_gradient_equals_the_reference():
    higher = pytest.importorskip("higher")  # noqa: F841
    import torch

    from autograder.research.bench import _higher_step
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
