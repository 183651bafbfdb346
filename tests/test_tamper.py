"""The tamper snapshot on its own (no kernel): what it notices, what it puts back, what it
leaves alone.  The same guard inside real grading kernels: tests/test_adversarial.py."""

from __future__ import annotations

import builtins

import numpy.testing
import torch

import autograder.checks  # noqa: F401 - recorded like in a grading kernel
import hwlib.models
from autograder.tamper import GradingEnvironmentModified, Snapshot, failure


def test_patched_functions_and_classes_are_noticed_and_put_back():
    snap = Snapshot().take()
    real = torch.allclose, vars(torch.Tensor).get("__eq__")
    try:
        torch.allclose = lambda *a, **k: True
        numpy.testing.assert_allclose = lambda *a, **k: None
        hwlib.models.init_params = lambda *a, **k: {}
        torch.Tensor.__eq__ = lambda a, b: True
        builtins.isinstance = lambda *a: True
        hwlib.models.sneaky = 1  # a new name in a strict (hwlib) module
        changed = snap.verify()
    finally:
        snap.verify()  # whatever happens, the next tests get the real functions
    assert set(changed) >= {"torch.allclose", "numpy.testing.assert_allclose",
                            "hwlib.models.init_params", "torch.Tensor.__eq__",
                            "builtins.isinstance", "hwlib.models.sneaky (added)"}
    assert torch.allclose is real[0] and vars(torch.Tensor).get("__eq__") is real[1]
    assert not hasattr(hwlib.models, "sneaky")
    assert snap.verify() == []  # put back: nothing left to report


def test_untouched_environment_and_lazy_torch_names_pass():
    snap = Snapshot().take()
    torch.new_lazy_name_for_test = 1  # torch adds names lazily: new names there are allowed
    try:
        assert snap.verify() == []
    finally:
        del torch.new_lazy_name_for_test


def test_trusted_function_code_is_refused_and_the_message_names_the_change():
    snap = Snapshot().take()
    assert snap.refuse_patch(hwlib.models.init_params, "__code__")
    assert snap.refuse_patch(lambda: 0, "__code__") is None  # the student's own functions
    error = failure(["torch.allclose"])
    assert isinstance(error, GradingEnvironmentModified) and isinstance(error, SyntaxError)
    assert "the grading environment was modified (torch.allclose)" in str(error)
