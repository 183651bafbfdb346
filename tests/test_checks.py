"""The hidden checks pass the reference and catch every known bug with a message naming it."""

from __future__ import annotations

import pytest

import autograder.checks as checks
from autograder.mutants import MUTANTS, mutated_namespace
from autograder.reference import inner_loop as reference

GRADED = ["inner_update", "outer_step", "maml_meta_loss", "fomaml_meta_loss", "anil_adapt",
          "reptile_meta_gradient"]


@pytest.mark.parametrize("name", GRADED)
def test_reference_passes(name):
    getattr(checks, f"check_{name}")(getattr(reference, name))


@pytest.mark.parametrize("name", GRADED)
def test_not_implemented_fails_clearly(name):
    def blank(*args, **kwargs):
        raise NotImplementedError()
    with pytest.raises(checks.CheckFailed, match="not implemented yet"):
        getattr(checks, f"check_{name}")(blank)


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_each_known_bug_is_caught_with_its_cause(mutant):
    namespace = mutated_namespace(mutant)
    with pytest.raises(checks.CheckFailed) as err:
        getattr(checks, f"check_{mutant.check}")(namespace[mutant.check])
    assert mutant.message in str(err.value), str(err.value)


def test_wrong_types_are_reported():
    with pytest.raises(checks.CheckFailed, match="must return a dict"):
        checks.check_inner_update(lambda *a, **k: [1, 2])
    with pytest.raises(checks.CheckFailed, match="scalar tensor"):
        checks.check_maml_meta_loss(lambda *a, **k: 1.0)
    with pytest.raises(checks.CheckFailed, match="raised ZeroDivisionError"):
        checks.check_anil_adapt(lambda *a, **k: 1 / 0)


def test_each_function_is_graded_alone():
    """A wrong inner_update costs its own test only: MAML, FOMAML and Reptile are checked with
    the reference inner step, and the student's namespace is restored afterwards."""
    (wrong_sign,) = [m for m in MUTANTS if m.name == "inner-step-wrong-sign"]
    namespace = mutated_namespace(wrong_sign)
    broken = namespace["inner_update"]
    with pytest.raises(checks.CheckFailed, match="wrong sign"):
        checks.check_inner_update(broken)
    for name in ("maml_meta_loss", "fomaml_meta_loss", "reptile_meta_gradient"):
        getattr(checks, f"check_{name}")(namespace[name])
        assert namespace["inner_update"] is broken
