"""The second assignment's hidden checks (Meta-SGD, prototypical networks) are sharp and fair,
run directly (in-process, the same harness as a worker).

* the reference passes; a blank function fails with "not implemented";
* every known bug — one-token edits of the reference (autograder/student_code/mutants2.py)
  and whole functions written as students write them (autograder/student_code/bugs_*.py,
  exported by autograder/student_code/metasgd_protonet.py) — is caught by the check meant for it, with
  its cause named, on two different gradings (seeds);
* every correct answer written differently passes all five checks (no false positive);
* no message holds a control character.
"""

from __future__ import annotations

import unicodedata
import warnings

import pytest
import torch

import autograder.checks as checks
from autograder.reference import answers_metasgd_protonet as reference
from autograder.student_code.metasgd_protonet import (BUGS2, FUNCTIONS2, GRADE_IDS2, MUTANTS2,
                                                      VARIANTS2, mutated_namespace2,
                                                      namespace_with2)

SEEDS = (0, 5)
MESSAGES: list[str] = []


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """The problems are tiny: intra-op threads only add synchronisation (7× slower measured on
    the shared 2-core machine), so this module runs on one thread and restores the setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _caught(check: str, fn, message: str, seed: int) -> None:
    with pytest.raises(checks.CheckFailed) as err:
        getattr(checks, f"check_{check}")(fn, seed=seed)
    assert message in str(err.value), str(err.value)
    MESSAGES.append(str(err.value))


@pytest.mark.parametrize("name", FUNCTIONS2)
def test_reference_passes(name):
    getattr(checks, f"check_{name}")(getattr(reference, name), seed=3)


@pytest.mark.parametrize("name", FUNCTIONS2)
def test_not_implemented_fails_clearly(name):
    def blank(*args, **kwargs):
        raise NotImplementedError()
    with pytest.raises(checks.CheckFailed, match="not implemented yet"):
        getattr(checks, f"check_{name}")(blank)


@pytest.mark.parametrize("mutant", MUTANTS2, ids=lambda m: m.name)
def test_each_known_bug_is_caught_with_its_cause(mutant):
    namespace = mutated_namespace2(mutant)
    for seed in SEEDS:
        _caught(mutant.check, namespace[mutant.check], mutant.message, seed)


@pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")  # float(α): a bug
@pytest.mark.parametrize("bug", BUGS2, ids=lambda b: b.name)
def test_each_bug_written_by_a_student_is_caught_with_its_cause(bug):
    namespace = namespace_with2(bug)
    for seed in SEEDS:
        _caught(bug.check, namespace[bug.check], bug.message, seed)


@pytest.mark.parametrize("variant", VARIANTS2, ids=lambda v: v.name)
def test_each_correct_answer_written_differently_gets_full_marks(variant):
    namespace = namespace_with2(variant)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        for seed in SEEDS:
            for name in FUNCTIONS2:
                getattr(checks, f"check_{name}")(namespace[name], seed=seed)


def test_the_catalogue_covers_every_function():
    assert len(MUTANTS2) + len(BUGS2) >= 30 and len(VARIANTS2) >= 8
    assert {b.function for b in BUGS2} == set(FUNCTIONS2) == {v.function for v in VARIANTS2}
    assert set(GRADE_IDS2) == set(FUNCTIONS2) == {m.function for m in MUTANTS2}


def test_each_function_is_graded_alone():
    """A wrong helper costs its own test only: the meta-losses are checked with the reference
    helpers lent, and the student's namespace is restored afterwards."""
    by_name = {m.name: m for m in MUTANTS2}
    for mutant, graded in (("metasgd-inner-wrong-sign", ("metasgd_meta_loss",)),
                           ("prototypes-summed", ("protonet_loss",)),
                           ("logits-wrong-sign", ("protonet_loss",))):
        namespace = mutated_namespace2(by_name[mutant])
        broken = namespace[by_name[mutant].function]
        for name in graded:
            getattr(checks, f"check_{name}")(namespace[name])
            assert namespace[by_name[mutant].function] is broken


@pytest.mark.parametrize("seed", SEEDS)
def test_the_true_protonet_gradient_is_what_finite_differences_measure(seed):
    """check_protonet_loss compares with the reference's exact float64 gradient: along random
    directions v, central finite differences of the loss agree with ⟨∇φ, v⟩."""
    from autograder.checks.protonet import expected_loss

    model, body, batch, value, grad = expected_loss(seed)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(3):
        v = {k: torch.randn(p.shape, generator=gen, dtype=p.dtype) for k, p in body.items()}
        f = lambda s: reference.protonet_loss(  # noqa: E731
            model, {k: p.detach() + s * v[k] for k, p in body.items()}, batch).item()
        slope = sum((grad[k] * v[k]).sum() for k in v).item()
        assert abs((f(1e-6) - f(-1e-6)) / 2e-6 - slope) <= 1e-5 * max(1.0, abs(slope))
    assert abs(value - reference.protonet_loss(model, body, batch).item()) < 1e-12


def test_wrong_types_are_reported():
    with pytest.raises(checks.CheckFailed, match="must return a dict"):
        checks.check_metasgd_inner_update(lambda *a, **k: [1, 2])
    with pytest.raises(checks.CheckFailed, match="scalar tensor"):
        checks.check_metasgd_meta_loss(lambda *a, **k: 1.0)
    with pytest.raises(checks.CheckFailed, match="must return a tensor"):
        checks.check_prototypes(lambda *a, **k: [0.0])
    with pytest.raises(checks.CheckFailed, match="wrong shape"):
        checks.check_protonet_logits(lambda q, c: q)
    with pytest.raises(checks.CheckFailed, match="raised ZeroDivisionError"):
        checks.check_protonet_loss(lambda *a, **k: 1 / 0)


def _control(text: str) -> list[str]:
    return [repr(c) for c in text if unicodedata.category(c) == "Cc" and c != "\n"]


def test_no_message_holds_a_control_character():
    if not MESSAGES:
        pytest.skip("no message collected: run it with the catalogue tests above")
    for text in MESSAGES:
        assert not _control(text), (text, _control(text))
