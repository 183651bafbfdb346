"""Known student bugs, as edits of the reference answer — the proof that the tests work.

Each :class:`Mutant` edits one function's code (the same text stands in the reference module
and in the solution notebook's solution cell), names the graded check that must catch it and a
phrase the failure message must contain.  ``tests/test_checks.py`` runs them against the
checks directly; ``tests/test_grading.py`` and ``python -m autograder validate`` grade mutated
notebooks through nbgrader.
"""

from __future__ import annotations

from autograder.student_code.entries import Mutant


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
