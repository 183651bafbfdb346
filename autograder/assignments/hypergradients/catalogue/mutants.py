"""One-token edits of the third assignment's reference answers, each caught by its check."""

from __future__ import annotations

from autograder.student_code.entries import Mutant

GRADE_IDS = {"preprocess_gradient": "test_preprocess_gradient",
             "unrolled_loss": "test_unrolled_loss", "example_weights": "test_example_weights"}

MUTANTS = [
    Mutant("pre-not-divided-by-p", "preprocess_gradient",
           (("clamp_min(math.exp(-p)).log() / p", "clamp_min(math.exp(-p)).log()"),),
           "preprocess_gradient", "not divided by p"),
    Mutant("pre-small-branch-sign", "preprocess_gradient",
           (("math.exp(p) * g", "torch.sign(g)"),), "preprocess_gradient", "e^p·g"),
    Mutant("pre-features-swapped", "preprocess_gradient",
           (("[log_magnitude, sign]", "[sign, log_magnitude]"),), "preprocess_gradient",
           "swapped"),
    Mutant("unrolled-first-order", "unrolled_loss",
           (("create_graph=True", "create_graph=False"),), "unrolled_loss",
           "second-order term"),
    Mutant("unrolled-step-subtracted", "unrolled_loss",
           (("theta + step.reshape", "theta - step.reshape"),), "unrolled_loss", "subtracted"),
    Mutant("unrolled-summed-over-problems", "unrolled_loss",
           (("quadratic_loss(problem, theta).mean()", "quadratic_loss(problem, theta).sum()"),),
           "unrolled_loss", "mean over the problems"),
    Mutant("pre-sign-of-magnitude", "preprocess_gradient",
           (("torch.sign(g)", "torch.sign(g.abs())"),), "preprocess_gradient", "sign g"),
    Mutant("unrolled-one-step-too-many", "unrolled_loss",
           (("range(T)", "range(T + 1)"),), "unrolled_loss", "exactly T steps"),
    Mutant("unrolled-state-not-returned", "unrolled_loss",
           (("return total, theta, state", "return total, theta, {}"),), "unrolled_loss",
           "last state"),
    Mutant("weights-eps-ones", "example_weights",
           (("eps = torch.zeros(", "eps = torch.ones("),), "example_weights", "ε starts at 1"),
    Mutant("weights-mean-reduction", "example_weights",
           (('reduction="none"', 'reduction="mean"'),), "example_weights", "same weight"),
    Mutant("weights-no-clamp", "example_weights",
           (("w = torch.clamp(-hyper, min=0)", "w = -hyper"),), "example_weights", "negative"),
    Mutant("weights-no-create-graph", "example_weights",
           (("create_graph=True", "create_graph=False"),), "example_weights", "create_graph=True"),
    Mutant("weights-sign-flipped", "example_weights",
           (("torch.clamp(-hyper, min=0)", "torch.clamp(hyper, min=0)"),), "example_weights",
           "sign is flipped"),
    Mutant("weights-not-normalised", "example_weights",
           (("return w / total if total > 0 else w", "return w"),), "example_weights",
           "normalise them"),
    Mutant("weights-on-training-batch", "example_weights",
           (("forward(model, theta, x_val), y_val", "forward(model, theta, x), y"),),
           "example_weights", "validation set changes"),
]
