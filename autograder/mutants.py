"""Known student bugs, as edits of the reference answer — the proof that the tests work.

Each :class:`Mutant` edits one function's code (the same text stands in the reference module
and in the solution notebook's solution cell), names the graded check that must catch it and a
phrase the failure message must contain.  ``tests/test_checks.py`` runs them against the
checks directly; ``tests/test_grading.py`` and ``python -m autograder validate`` grade mutated
notebooks through nbgrader.
"""

from __future__ import annotations

import inspect

from autograder.reference import answers

from .student_code.entries import Mutant


MUTANTS = [
    Mutant("inner-step-wrong-sign", "inner_update", (("p - alpha * g", "p + alpha * g"),),
           "inner_update", "wrong sign"),
    Mutant("inner-lr-applied-twice", "inner_update",
           (("p - alpha * g", "p - alpha * alpha * g"),), "inner_update", "applied twice"),
    Mutant("inner-ignores-create-graph", "inner_update",
           (("create_graph=create_graph", "create_graph=False"),), "inner_update", "create_graph"),
    Mutant("inner-update-detached", "inner_update",
           (("p - alpha * g", "(p - alpha * g).detach()"),), "inner_update", "detached"),
    Mutant("grads-not-reset", "outer_step", (("optimizer.zero_grad()", "pass"),),
           "outer_step", "zero_grad"),
    Mutant("maml-no-create-graph", "maml_meta_loss", (("create_graph=True", "create_graph=False"),),
           "maml_meta_loss", "first-order approximation"),
    Mutant("support-query-swapped", "maml_meta_loss",
           (("task.x_support, task.y_support", "task.x_query, task.y_query"),
            ("task.x_query, task.y_query", "task.x_support, task.y_support")),
           "maml_meta_loss", "swapped"),
    Mutant("loss-summed-over-tasks", "maml_meta_loss",
           (("torch.stack(losses).mean()", "torch.stack(losses).sum()"),),
           "maml_meta_loss", "summed"),
    Mutant("maml-ignores-steps", "maml_meta_loss",
           (("        for _ in range(steps):", "        for _ in range(1):"),),
           "maml_meta_loss", "steps=2"),
    Mutant("fomaml-keeps-second-order", "fomaml_meta_loss",
           (("create_graph=False", "create_graph=True"),), "fomaml_meta_loss", "second-order"),
    Mutant("anil-adapts-body", "anil_adapt",
           (("body, head = split_body_head(phi)", "body, head = {}, dict(phi)"),),
           "anil_adapt", "changed body parameters"),
    Mutant("reptile-moves-away", "reptile_meta_gradient",
           (("(phi[name] - theta[name])", "(theta[name] - phi[name])"),),
           "reptile_meta_gradient", "away from θ̂"),
]


# the notebook's graded test cell (grade_id) of each check
GRADE_IDS = {"inner_update": "test_inner_update", "outer_step": "test_outer_step",
             "maml_meta_loss": "test_maml_gradient", "fomaml_meta_loss": "test_fomaml_gradient",
             "anil_adapt": "test_anil", "reptile_meta_gradient": "test_reptile"}


def mutate_notebook(notebook: dict, *entries) -> dict:
    """A copy of the solution ``notebook`` (nbformat JSON) with each entry applied to the cell
    that defines its function: a :class:`Mutant` edits it, an entry with a ``source`` (a bug
    or a correct variant written as a student would, :mod:`autograder.student_code`) replaces
    it."""
    import copy

    nb = copy.deepcopy(notebook)
    for entry in entries:
        for cell in nb["cells"]:
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            if cell["cell_type"] == "code" and f"def {entry.function}(" in source and \
                    cell["metadata"].get("nbgrader", {}).get("solution"):
                cell["source"] = entry.apply(source) if isinstance(entry, Mutant) else entry.source
                break
        else:
            raise ValueError(f"no answer cell defines {entry.function}")
    return nb


def buckets(entries: list) -> list[list]:
    """The entries split into groups with at most one per function: one notebook per group
    (each function is graded alone, so each entry is judged by its own test)."""
    groups: list[list] = []
    for entry in entries:
        group = next((g for g in groups if all(e.function != entry.function for e in g)), None)
        if group is None:
            groups.append(group := [])
        group.append(entry)
    return groups


def all_bugs() -> list:
    """The edits above and the bugs written as students write them."""
    from .student_code import BUGS

    return [*MUTANTS, *BUGS]


def catalogue_for(assignment: str) -> tuple[list, list, dict]:
    """``(bugs, correct variants, grade_id of each graded function)`` of an assignment: what
    ``validate --mutants`` grades to prove that assignment's tests."""
    if assignment == "metalearning":
        from .student_code import VARIANTS

        return all_bugs(), list(VARIANTS), GRADE_IDS
    if assignment == "metasgd_protonet":
        from .student_code.metasgd_protonet import BUGS2, GRADE_IDS2, MUTANTS2, VARIANTS2

        return [*MUTANTS2, *BUGS2], list(VARIANTS2), GRADE_IDS2
    raise ValueError(f"no catalogue of student code for the assignment {assignment!r}")


def reference_source() -> str:
    return inspect.getsource(answers)


def mutated_namespace(mutant: Mutant) -> dict:
    """The reference answers with ``mutant`` applied, as a namespace of functions."""
    namespace: dict = {"__name__": f"mutant_{mutant.name.replace('-', '_')}"}
    exec(compile(mutant.apply(reference_source()), f"<mutant {mutant.name}>", "exec"), namespace)
    return namespace
