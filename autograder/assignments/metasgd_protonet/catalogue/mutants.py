"""Known student bugs of the second assignment (Meta-SGD and prototypical networks), as
one-token edits of its reference answers (:mod:`autograder.assignments.metasgd_protonet.answers`)
— the proof that its hidden checks work (exported with the rest of the catalogue by
:mod:`autograder.assignments.metasgd_protonet.catalogue`).
"""

from __future__ import annotations

from autograder.student_code.entries import Mutant

_PROTOS_FROM = "embed(model, phi, task.x_support), task.y_support, n_way)"

MUTANTS = [
    Mutant("metasgd-inner-wrong-sign", "metasgd_inner_update",
           (("p - alphas[name] * g", "p + alphas[name] * g"),), "metasgd_inner_update",
           "wrong sign"),
    Mutant("metasgd-inner-alpha-applied-twice", "metasgd_inner_update",
           (("p - alphas[name] * g", "p - alphas[name] * alphas[name] * g"),),
           "metasgd_inner_update", "applied twice"),
    Mutant("metasgd-inner-scalar-alpha", "metasgd_inner_update",
           (("alphas[name] * g", "alphas[name].mean() * g"),), "metasgd_inner_update",
           "one scalar"),
    Mutant("metasgd-inner-alpha-detached", "metasgd_inner_update",
           (("alphas[name] * g", "alphas[name].detach() * g"),), "metasgd_inner_update",
           "no gradient w.r.t. α"),
    Mutant("metasgd-inner-ignores-create-graph", "metasgd_inner_update",
           (("create_graph=create_graph", "create_graph=False"),), "metasgd_inner_update",
           "create_graph"),
    Mutant("metasgd-first-order", "metasgd_meta_loss",
           (("create_graph=True", "create_graph=False"),), "metasgd_meta_loss",
           "first-order approximation"),
    Mutant("metasgd-support-query-swapped", "metasgd_meta_loss",
           (("task.x_support, task.y_support", "task.x_query, task.y_query"),
            ("task.x_query, task.y_query", "task.x_support, task.y_support")),
           "metasgd_meta_loss", "swapped"),
    Mutant("metasgd-summed-over-tasks", "metasgd_meta_loss",
           (("torch.stack(losses).mean()", "torch.stack(losses).sum()"),),
           "metasgd_meta_loss", "summed"),
    Mutant("metasgd-ignores-steps", "metasgd_meta_loss",
           (("range(steps)", "range(1)"),), "metasgd_meta_loss", "whatever `steps` is"),
    Mutant("metasgd-one-step-too-many", "metasgd_meta_loss",
           (("range(steps)", "range(steps + 1)"),), "metasgd_meta_loss", "one step too many"),
    Mutant("metasgd-alpha-not-learned", "metasgd_meta_loss",
           (("theta, alphas, task.x_support", "theta, {k: a.detach() for k, a in alphas.items()}"
             ", task.x_support"),), "metasgd_meta_loss", "no gradient w.r.t. α"),
    Mutant("prototypes-summed", "prototypes", ((".mean(dim=0)", ".sum(dim=0)"),),
           "prototypes", "summed instead of averaged"),
    Mutant("prototypes-mean-wrong-dim", "prototypes", ((".mean(dim=0)", ".mean(dim=1)"),),
           "prototypes", "wrong dimension"),
    Mutant("logits-wrong-sign", "protonet_logits",
           (("return -(differences ** 2)", "return (differences ** 2)"),), "protonet_logits",
           "wrong sign"),
    Mutant("logits-not-squared", "protonet_logits",
           ((".sum(dim=-1)", ".sum(dim=-1).sqrt()"),), "protonet_logits", "not squared"),
    Mutant("logits-averaged-over-features", "protonet_logits",
           ((".sum(dim=-1)", ".mean(dim=-1)"),), "protonet_logits", "averaged over the features"),
    Mutant("protonet-summed-over-tasks", "protonet_loss",
           (("torch.stack(losses).mean()", "torch.stack(losses).sum()"),), "protonet_loss",
           "summed"),
    Mutant("protonet-support-query-swapped", "protonet_loss",
           ((_PROTOS_FROM, "embed(model, phi, task.x_query), task.y_query, n_way)"),
            ("embed(model, phi, task.x_query), c)", "embed(model, phi, task.x_support), c)"),
            ("F.cross_entropy(logits, task.y_query)", "F.cross_entropy(logits, task.y_support)")),
           "protonet_loss", "swapped"),
    Mutant("protonet-prototypes-detached", "protonet_loss",
           ((_PROTOS_FROM, _PROTOS_FROM + ".detach()"),), "protonet_loss",
           "prototypes are detached"),
    Mutant("protonet-softmax-twice", "protonet_loss",
           (("F.cross_entropy(logits,", "F.cross_entropy(logits.softmax(dim=-1),"),),
           "protonet_loss", "probabilities"),
]

# the second notebook's graded test cell (grade_id) of each check
GRADE_IDS = {"metasgd_inner_update": "test_metasgd_inner_update",
              "metasgd_meta_loss": "test_metasgd_meta_gradient", "prototypes": "test_prototypes",
              "protonet_logits": "test_protonet_logits", "protonet_loss": "test_protonet_loss"}
