"""Whatever a worker answers, the judge turns it into verdicts: it never crashes, never credits.

A fake worker answers every question with hostile data — malformed result descriptions, deep
nesting, tensors of the wrong shape or full of NaN, unhashable lists, huge strings, frames that
are not frames — and every graded test must end with a failure message.  Frames too large to
read (a million empty tensors) are refused before they cost memory; a reply must echo its
request's id; a worker may call back only the functions lent in the request in flight, within
bounds, and those give exact derivatives (computed by the judge) and nothing else.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time

import pytest
import torch

from autograder.checks.common import MLP_SPEC
from autograder.checks.student import MODEL, P, Student
from autograder.pipeline.course import REPO
from autograder.sandbox.isolation import Limits
from autograder.transport.client import Reply, WorkerClient, WorkerLost
from autograder.judge.verdicts import catalogue, judge_all
from autograder.assignments import assignment_named
from hwlib.profiles import PROFILES
from autograder.worker.channel import ChannelError, encode, receive


def _nested(depth: int) -> dict:
    spec: dict = {"value": 1.0}
    for _ in range(depth):
        spec = {"seq": [spec], "cls": "tuple"}
    return spec


HOSTILE = [
    ({"result": {"tensor": "r"}, "probes": {"grad": {"grads": "p", "none": [{}, []]}}},
     {"r": torch.full((3, 4), float("nan")), "p.x": torch.ones(2)}),
    ({"result": _nested(500), "probes": []}, {}),
    ({"result": {"dict": {"body.0.weight": {"tensor": "nope"}}}, "probes": None}, {}),
    ({"result": {"value": "x" * 100_000}, "values": {"answer_q1": {"value": ["a"]}}}, {}),
    ({"steps": [{"returned": {"tensor": "t"}}, "garbage"], "cells": {"0": 1}},
     {"phi0.body.0.weight": torch.zeros(1), "t": torch.zeros(())}),
    ({"values": {"n_support": {"type": "int", "value": True}}, "result": {"seq": "abc"}}, {}),
]


class HostileClient:
    def __init__(self) -> None:
        self.replies = itertools.cycle(HOSTILE)

    def request(self, head, tensors=None, seconds=None, lend=None) -> Reply:
        return Reply(*next(self.replies))


def test_hostile_answers_become_failures_not_crashes(synthetic_root, monkeypatch):
    monkeypatch.setenv("OMNIGLOT_ROOT", str(synthetic_root))
    tests = catalogue(assignment_named("metalearning"))
    verdicts = judge_all(Student(HostileClient()), tests, PROFILES["tiny"], seed=1,
                         deadline=time.monotonic() + 600,
                         assignment=assignment_named("metalearning"))
    assert set(verdicts) == {t.grade_id for t in tests}
    passed = [g for g, message in verdicts.items() if not message]
    assert not passed, passed


@pytest.mark.parametrize("frame", [
    b"XX1" + b"\0" * 20,                                              # not a frame
    b"HW1" + (2 ** 31).to_bytes(4, "little"),                         # header over the limit
    b"HW1" + (2).to_bytes(4, "little") + b"[]" + (0).to_bytes(8, "little"),   # not an object
    b"HW1" + (4).to_bytes(4, "little") + b"{}{}" + (0).to_bytes(8, "little"),  # not JSON
    b"HW1" + (2).to_bytes(4, "little") + b"{}" + (2 ** 40).to_bytes(8, "little"),  # payload too big
    b"HW1" + (2).to_bytes(4, "little") + b"{}" + (5).to_bytes(8, "little") + b"junk!",  # not safetensors
    b"HW1" + (200_000).to_bytes(4, "little") + b"[" * 100_000 + b"]" * 100_000
    + (0).to_bytes(8, "little"),                                      # nesting bomb
])
def test_frames_that_are_not_frames_are_refused(frame):
    r, w = os.pipe()
    os.write(w, frame) if len(frame) < 60_000 else None
    if len(frame) >= 60_000:
        import threading

        threading.Thread(target=lambda: (os.write(w, frame), os.close(w)), daemon=True).start()
    else:
        os.close(w)
    with pytest.raises((ChannelError, TimeoutError)):
        receive(r, 1 << 20, time.monotonic() + 5)
    os.close(r)


def test_pickles_are_never_loaded():
    """A payload that is a pickle (the classic way to run code in the reader) is refused."""
    import pickle

    class Boom:
        def __reduce__(self):
            return (os.system, ("touch /tmp/hw-pickle-ran",))

    frame = encode({"ok": 1})
    payload = pickle.dumps(Boom())
    n = int.from_bytes(frame[3:7], "little")
    bad = frame[:7 + n] + len(payload).to_bytes(8, "little") + payload
    r, w = os.pipe()
    os.write(w, bad)
    os.close(w)
    with pytest.raises(ChannelError):
        receive(r, 1 << 20, time.monotonic() + 5)
    assert not os.path.exists("/tmp/hw-pickle-ran")


def test_the_worker_rebuilds_dicts_in_the_judges_order():
    """A frame stores tensors in an order of its own (safetensors sorts them by size); the
    worker gives the student φ and α in φ's order, as the notebook does, so code that zips two
    dicts' values is graded on what it computes, not on the transport."""
    import struct

    from autograder.checks.student import P, _spec
    from autograder.worker.channel import MAGIC, decode, encode
    from autograder.worker.harness import Harness
    from hwlib.sinusoid import tiny_sine_problem

    _, phi, _ = tiny_sine_problem(seed=0)
    tensors: dict = {}
    specs = [_spec(P(phi), "a1", tensors), _spec(P({k: v * 0 for k, v in phi.items()}), "a2", tensors)]
    frame = encode({}, tensors)
    n = len(MAGIC)
    size = struct.unpack("<I", frame[n:n + 4])[0]
    _, received = decode(frame[n + 4:n + 4 + size], frame[n + 4 + size + 8:])
    for spec in specs:
        rebuilt = Harness().argument(spec, {}, received, {})
        assert list(rebuilt) == list(phi)
    assert list(Harness.params("a1", received, True)) != list(phi)  # the frame's own order


# ----- frames a worker may not send: refused before they cost the judge memory ----------------
FAKE_WORKER = r'''
import os, struct, sys, time
req, rep, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
if mode.startswith("tensors:"):  # an index of N empty tensors, streamed (never held whole)
    N = int(mode.split(":")[1])
    entry = lambda i: '"t%07d":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}' % i
    n = 2 + N * len(entry(0)) + (N - 1)
    head = b'{"id": 1}'
    os.write(rep, b"HW1" + struct.pack("<I", len(head)) + head + struct.pack("<Q", 8 + n)
             + struct.pack("<Q", n) + b"{")
    for start in range(0, N, 10_000):
        chunk = ",".join(entry(i) for i in range(start, min(N, start + 10_000)))
        os.write(rep, (("," if start else "") + chunk).encode())
    os.write(rep, b"}")
    time.sleep(60)
from autograder.worker.channel import encode, receive, write_all
head, _ = receive(req, 1 << 30)
rid = head["id"]
reply = {"other-id": {"result": {"value": 1.0}, "probes": {}, "id": rid + 1},
         "no-id": {"result": {"value": 1.0}, "probes": {}},
         "lend-unasked": {"op": "lend", "id": rid, "fn": "inner_update", "args": [], "kwargs": {}},
         "lend-other-name": {"op": "lend", "id": rid, "fn": "maml_meta_loss", "args": [],
                             "kwargs": {}},
         "lend-other-request": {"op": "lend", "id": rid + 7, "fn": "inner_update", "args": [],
                                "kwargs": {}},
         "vjp-never-called": {"op": "lend_vjp", "id": rid, "call": 0}}[mode]
write_all(rep, encode(reply))
time.sleep(60)
'''


def _fake_worker(mode: str) -> WorkerClient:
    """A client whose 'worker' is :data:`FAKE_WORKER` in ``mode`` (no hello, no cells)."""
    req_r, req_w = os.pipe()
    rep_r, rep_w = os.pipe()
    proc = subprocess.Popen([sys.executable, "-c", FAKE_WORKER, str(req_r), str(rep_w), mode],
                            pass_fds=(req_r, rep_w), start_new_session=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    os.close(req_r)
    os.close(rep_w)
    client = WorkerClient([], {}, Limits(), cell_seconds=30, isolated=False)
    client._proc, client._fds = proc, (req_w, rep_r)
    return client


@pytest.mark.parametrize("count", [1_000_000, 10_000])
def test_a_million_empty_tensors_are_refused_cheaply(count):
    """~57 MB of tensor index (a million entries, under the payload limit) or 10,000 entries in
    570 kB: refused from the index's length or count, before any tensor is made; the judge's
    memory grows by far less than the frame."""
    import resource
    import tracemalloc

    with _fake_worker(f"tensors:{count}") as client:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        tracemalloc.start()
        try:
            with pytest.raises(WorkerLost, match="not an answer .*(over the limit|tensors in one)"):
                client.request({"op": "values", "names": ["x"]})
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
    assert peak < 100 << 20 and grown < 100 << 20, (peak, grown)


@pytest.mark.parametrize("mode, message", [
    ("other-id", "a reply to request 2, not 1"),
    ("no-id", "a reply to request None"),
    ("lend-unasked", "while nothing is lent"),
])
def test_replies_must_echo_their_request(mode, message):
    with _fake_worker(mode) as client:
        with pytest.raises(WorkerLost, match=f"not an answer .*{message}"):
            client.request({"op": "values", "names": ["x"]})


@pytest.mark.parametrize("mode, message", [
    ("lend-other-name", "'maml_meta_loss', which is not lent"),
    ("lend-other-request", "a call-back for request 8, not 1"),
    ("vjp-never-called", "a call 0 that was not made"),
])
def test_call_backs_are_only_for_what_is_lent(mode, message):
    from autograder.assignments.metalearning import answers as ref
    from hwlib.sinusoid import tiny_sine_problem

    _, phi, batch = tiny_sine_problem(seed=0)
    with _fake_worker(mode) as client:
        with pytest.raises(WorkerLost, match=f"not an answer .*{message}"):
            Student(client).call("maml_meta_loss", MLP_SPEC, MODEL, P(phi), batch, 0.05,
                                 lend={"inner_update": ref.inner_update})


# ----- lent functions: exact derivatives through the judge, nothing more -----------------------
LENT_CODE = '''
import torch
from hwlib.models import task_loss
_stolen = []

def inner_update(model, params, x, y, alpha, create_graph=False):
    raise AssertionError("the student's own inner_update must not run")

def meta(model, phi, batch, alpha, steps=1, second_order=True):
    _stolen.append(inner_update)
    losses = []
    for task in batch:
        theta = phi
        for _ in range(steps):
            theta = inner_update(model, theta, task.x_support, task.y_support, alpha,
                                 create_graph=second_order)
        losses.append(task_loss(model, theta, task.x_query, task.y_query))
    return torch.stack(losses).mean()

def later(model, phi, batch, alpha):
    return _stolen[-1](model, phi, batch[0].x_support, batch[0].y_support, alpha)

def wrong_dict(model, phi, batch, alpha):
    return inner_update(model, {"nope": torch.zeros(2)}, batch[0].x_support,
                        batch[0].y_support, alpha)

def not_a_tensor(model, phi, batch, alpha):
    return inner_update(model, list(phi.values()), batch[0].x_support, batch[0].y_support, alpha)
'''


def _lent_student() -> Student:
    from autograder.transport.local import LocalClient

    namespace: dict = {}
    exec(LENT_CODE, namespace)  # noqa: S102 - test code
    return Student(LocalClient(namespace))


@pytest.mark.parametrize("steps", [1, 2, 3])
@pytest.mark.parametrize("second_order", [True, False])
def test_lent_inner_update_gives_the_exact_meta_gradient(steps, second_order):
    """The student's meta-loss through the lent ``inner_update`` (chained calls, each one's
    derivative computed by the judge) has the reference's value and gradient: second order
    with ``create_graph=True``, first order without."""
    from autograder.checks.common import leaf
    from autograder.assignments.metalearning import answers as ref
    from hwlib.sinusoid import tiny_sine_problem

    model, phi, batch = tiny_sine_problem(seed=1)
    call = _lent_student().call("meta", MLP_SPEC, MODEL, P(phi), batch, 0.07, steps=steps,
                                second_order=second_order, probes=[{"name": "g", "kind": "grad"}],
                                lend={"inner_update": ref.inner_update})
    assert call.error is None, call.error
    at = leaf(phi)
    want = (ref.maml_meta_loss if second_order else ref.fomaml_meta_loss)(
        model, at, batch, 0.07, steps=steps)
    grads = dict(zip(at, torch.autograd.grad(want, list(at.values()))))
    assert torch.allclose(call.value, want.detach(), rtol=1e-12, atol=0)
    got = call.probes["g"]["grads"]
    assert set(got) == set(grads)
    for k in grads:
        assert torch.allclose(got[k], grads[k], rtol=1e-10, atol=1e-14), k


@pytest.mark.parametrize("fn, message", [
    ("later", "inner_update was lent by the grader for one call only"),
    ("wrong_dict", "holds 'nope', which φ does not have"),
    ("not_a_tensor", "takes tensors, dicts of tensors, the model and plain numbers, not list"),
])
def test_misuse_of_a_lent_function_fails_in_the_students_code(fn, message):
    from autograder.assignments.metalearning import answers as ref
    from hwlib.sinusoid import tiny_sine_problem

    _, phi, batch = tiny_sine_problem(seed=0)
    s = _lent_student()
    lend = {"inner_update": ref.inner_update}
    assert s.call("meta", MLP_SPEC, MODEL, P(phi), batch, 0.05, lend=lend).error is None
    call = s.call(fn, MLP_SPEC, MODEL, P(phi), batch, 0.05,
                  lend=lend if fn != "later" else None)
    assert call.error and message in call.error, call.error


def test_lent_calls_and_numbers_are_bounded(monkeypatch):
    """Past :data:`MAX_LENDS` calls, or :data:`MAX_ELEMENTS` numbers, a request fails; after
    it, the graphs are gone."""
    import autograder.transport.lending as lending
    from autograder.checks.student import _spec
    from autograder.assignments.metalearning import answers as ref
    from hwlib.sinusoid import tiny_sine_problem

    _, phi, batch = tiny_sine_problem(seed=0)
    tensors: dict = {}
    head = {"op": "call", "id": 1, "model": MLP_SPEC, "args": [_spec(P(phi), "a1", tensors)],
            "kwargs": {}}
    frame = {"op": "lend", "id": 1, "fn": "inner_update",
             "args": [{"model": True}, {"params": "p", "order": list(phi), "grad": list(phi)},
                      {"tensor": "x", "grad": False}, {"tensor": "y", "grad": False},
                      {"json": 0.1}], "kwargs": {"create_graph": {"json": True}}}
    sent = {**{f"p.{k}": v.detach() for k, v in phi.items()},
            "x": batch[0].x_support, "y": batch[0].y_support}
    monkeypatch.setattr(lending, "MAX_LENDS", 3)
    lent = lending.Lending({"inner_update": ref.inner_update}, head, tensors)
    for k in range(3):
        answer, out = lent.answer(1, frame, sent)
        assert answer["call"] == k and set(out) == {f"o{j}" for j in range(len(phi))}
    with pytest.raises(lending.LendViolation, match="more than 3 calls"):
        lent.answer(1, frame, sent)
    lent.close()
    with pytest.raises(lending.LendViolation, match="not made"):
        lent.answer(1, {"op": "lend_vjp", "id": 1, "call": 0}, {})
    monkeypatch.setattr(lending, "MAX_ELEMENTS", 100)
    with pytest.raises(lending.LendViolation, match="more than 100 numbers"):
        lending.Lending({"inner_update": ref.inner_update}, head, tensors).answer(
            1, frame, {**sent, "big": torch.zeros(101)})
