"""Student code that proves the checks: a known bug (caught by its test, with its cause named)
and a correct answer written differently (full marks)."""

from __future__ import annotations

from autograder.student_code.entries import (Bug, Mutant, Variant, mutated_namespace_of,
                                             namespace_of)

from .. import answers

FUNCTIONS = ("scale",)
PRELUDE = "import torch\n"
GRADE_IDS = {"scale": "test_scale"}
_SIGNATURE = "def scale(x: torch.Tensor, a: float) -> torch.Tensor:\n"
BUGS = [Bug("scale-adds", "scale", "scale", "adds a instead of multiplying",
            _SIGNATURE + "    return x + a\n")]
VARIANTS = [Variant("scale-mul", "scale", _SIGNATURE + "    return torch.mul(x, a)\n")]
MUTANTS: list[Mutant] = [Mutant("scale-squared", "scale", (("a * x", "a * a * x"),), "scale",
                                "not a·x")]


def namespace_with(*entries: Bug | Variant) -> dict:
    return namespace_of(answers, PRELUDE, *entries)


def mutated_namespace(mutant: Mutant) -> dict:
    return mutated_namespace_of(answers, mutant)
