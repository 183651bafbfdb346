"""Whatever a worker answers, the judge turns it into verdicts: it never crashes, never credits.

A fake worker answers every question with hostile data — malformed result descriptions, deep
nesting, tensors of the wrong shape or full of NaN, unhashable lists, huge strings, frames that
are not frames — and every graded test must end with a failure message.
"""

from __future__ import annotations

import itertools
import os
import time

import pytest
import torch

from autograder.checks.student import Student
from autograder.judge.client import Reply
from autograder.judge.verdicts import catalogue, judge_all
from autograder.judge.submission import SOURCE
from autograder.profiles import PROFILES
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

    def request(self, head, tensors=None, seconds=None) -> Reply:
        return Reply(*next(self.replies))


def test_hostile_answers_become_failures_not_crashes(synthetic_root, monkeypatch):
    monkeypatch.setenv("OMNIGLOT_ROOT", str(synthetic_root))
    tests = catalogue(SOURCE)
    verdicts = judge_all(Student(HostileClient()), tests, PROFILES["tiny"], seed=1,
                         deadline=time.monotonic() + 600)
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
