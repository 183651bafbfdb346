"""Every assignment's hidden checks are sharp and fair, run directly (in-process, the same harness
as a worker), parametrised by assignment (a new one is covered by adding it to the registry):

* the reference passes; a blank function fails with "not implemented";
* every known bug of its catalogue (``autograder/assignments/<name>/catalogue/``: one-token
  edits of the reference and whole functions written as students write them) is caught by the
  check meant for it, with its cause named, on two different gradings (seeds: a small one and
  a 62-bit one like the pipeline's keyed seeds);
* no verdict depends on the seed: the reference passes on several seeds here, and with ``-m
  slow`` the reference, every bug (caught, cause named) and every correct variant on 32 seeds
  (a reference that failed 2 seeds in 60 once cost a correct student 3 points in CI);
* every correct answer written differently passes its check on two seeds (no false positive;
  through the pipeline, ``validate --mutants`` gives each variant's notebook full marks);
* no message or hint holds a control character (LaTeX in a plain string: ``\\t`` in ``\\theta``).

Checks particular to one function are in ``tests/test_check_details.py``.
"""

from __future__ import annotations

import unicodedata
import warnings

import pytest
import torch

from autograder.assignments import ASSIGNMENTS
from autograder.checks import CheckFailed
from autograder.judge.verdicts import catalogue

#: seeds like the pipeline's: HMAC outputs of 62 bits (``grading_key.derive``), any of which a
#: course's key may give a notebook
KEYED = tuple((i * 0x9E3779B97F4A7C15) % 2 ** 62 for i in range(1, 17))
SEEDS = (0, KEYED[0])
MESSAGES: list[str] = []


def _each(kind: str) -> list:
    """``(assignment, entry)`` for every entry of ``kind`` in every assignment's catalogue."""
    return [pytest.param(a, e, id=f"{name}:{getattr(e, 'name', e)}")
            for name, a in ASSIGNMENTS.items() for e in getattr(a.catalogue, kind)]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """The problems are tiny: intra-op threads only add synchronisation (7× slower measured on
    the shared 2-core machine), so this module runs on one thread and restores the setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _caught(a, check: str, fn, message: str, seed: int) -> None:
    with pytest.raises(CheckFailed) as err:
        getattr(a.checks, f"check_{check}")(fn, seed=seed)
    assert message in str(err.value), str(err.value)
    MESSAGES.append(str(err.value))


@pytest.mark.parametrize("a, name", _each("FUNCTIONS"))
def test_reference_passes(a, name):
    for seed in (3, 21, *KEYED[1:3]):  # 21: the seed that once failed a correct unrolled_loss
        getattr(a.checks, f"check_{name}")(getattr(a.part("answers"), name), seed=seed)


@pytest.mark.parametrize("a, name", _each("FUNCTIONS"))
def test_not_implemented_fails_clearly(a, name):
    def blank(*args, **kwargs):
        raise NotImplementedError()
    with pytest.raises(CheckFailed, match="not implemented yet"):
        getattr(a.checks, f"check_{name}")(blank)


@pytest.mark.parametrize("a, mutant", _each("MUTANTS"))
def test_each_known_bug_is_caught_with_its_cause(a, mutant):
    namespace = a.catalogue.mutated_namespace(mutant)
    for seed in SEEDS:
        _caught(a, mutant.check, namespace[mutant.check], mutant.message, seed)


@pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")  # float(α): a bug
@pytest.mark.parametrize("a, bug", _each("BUGS"))
def test_each_bug_written_by_a_student_is_caught_with_its_cause(a, bug):
    namespace = a.catalogue.namespace_with(bug)
    for seed in SEEDS:
        _caught(a, bug.check, namespace[bug.check], bug.message, seed)


@pytest.mark.parametrize("a, variant", _each("VARIANTS"))
def test_each_correct_answer_written_differently_gets_full_marks(a, variant):
    namespace = a.catalogue.namespace_with(variant)
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # e.g. float() of a tensor that requires grad warns
        for seed in SEEDS:  # the other checks grade the reference functions (each function is
            # graded alone); validate --mutants grades every variant's whole notebook
            getattr(a.checks, f"check_{variant.function}")(namespace[variant.function],
                                                           seed=seed)


@pytest.mark.parametrize("a", ASSIGNMENTS.values(), ids=list(ASSIGNMENTS))
def test_the_catalogue_covers_every_function(a):
    c = a.catalogue
    assert len(c.MUTANTS) + len(c.BUGS) >= 30 and len(c.VARIANTS) >= 8
    assert {b.function for b in c.BUGS} == set(c.FUNCTIONS) == {v.function for v in c.VARIANTS}
    assert set(c.GRADE_IDS) == set(c.FUNCTIONS) >= {m.function for m in c.MUTANTS}
    assert {f"check_{f}" for f in c.FUNCTIONS} <= set(a.checks.ORDER)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")
@pytest.mark.parametrize("a", ASSIGNMENTS.values(), ids=list(ASSIGNMENTS))
def test_no_verdict_depends_on_the_seed(a):
    """On 16 small and 16 keyed seeds: the reference and every correct variant pass, every bug
    fails its check with its cause named (2–5 minutes per assignment on one thread)."""
    c, wrong = a.catalogue, []
    seeds = (*range(16), *KEYED[:16])
    correct = [(f, getattr(a.part("answers"), f), f"reference {f}") for f in c.FUNCTIONS] + [
        (v.function, c.namespace_with(v)[v.function], f"variant {v.name}") for v in c.VARIANTS]
    for check, fn, label in correct:
        for seed in seeds:
            try:
                getattr(a.checks, f"check_{check}")(fn, seed=seed)
            except CheckFailed as e:
                wrong.append((label, seed, str(e)[:300]))
    bugs = [(b, c.namespace_with(b)) for b in c.BUGS] + [
        (m, c.mutated_namespace(m)) for m in c.MUTANTS]
    for bug, namespace in bugs:
        for seed in seeds:
            try:
                getattr(a.checks, f"check_{bug.check}")(namespace[bug.check], seed=seed)
                wrong.append((f"bug {bug.name}", seed, "passed"))
            except CheckFailed as e:
                if bug.message not in str(e):
                    wrong.append((f"bug {bug.name}", seed, str(e)[:300]))
    assert not wrong, wrong


def _control(text: str) -> list[str]:
    return [repr(c) for c in text if unicodedata.category(c) == "Cc" and c != "\n"]


def test_no_message_or_hint_holds_a_control_character():
    hints = [t.args[2] for a in ASSIGNMENTS.values() for t in catalogue(a)
             if t.check == "check_answer"]
    assert hints and all(isinstance(h, str) for h in hints)
    for text in hints + MESSAGES:
        assert not _control(text), (text, _control(text))
