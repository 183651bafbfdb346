"""Hidden checks of prototypical networks (second assignment): the prototypes, the logits and
the ProtoNet meta-loss.

Inputs are float64 with sizes drawn from the grading's seed and labels shuffled (neither
0, 0, 1, 1, … nor 0, 1, 2, 0, 1, 2, …).  The loss runs on a tiny float64 Conv4 body (φ holds
the ``body.`` parameters only) and its gradient w.r.t. φ is checked against the true one (the
reference's exact float64 autograd, what central finite differences measure), which catches
prototypes cut from the graph.  A wrong answer is matched against the answers of common mistakes (:mod:`.diagnose_protonet`) to
name the cause.  Graded alone: the worker lends the reference ``prototypes`` and
``protonet_logits`` while ``protonet_loss`` runs, so a bug there is not charged twice.
"""

from __future__ import annotations

import functools

import torch

from autograder.assignments.metasgd_protonet import answers as ref
from hwlib.models import split_body_head

from autograder.checks.common import (CONV_SPEC, MLP_SPEC, close, fail, leaf, max_diff, returned_loss,
                     require_finite, same_number, tiny_classification)
from autograder.checks.diagnose import closest, closest_params, example_value
from autograder.checks.properties import objective_violation
from autograder.assignments.metasgd_protonet.protonet_properties import logit_violation, loss_violation, prototype_violation
from autograder.assignments.metasgd_protonet.protonet_causes import (draw_embeddings, gradient_family, logit_family, loss_family,
                                prototype_family, row_permutation)
from autograder.checks.student import MODEL, G, Opaque, P, Student

INPUTS = {"name": "inputs", "kind": "inputs_after"}
GRAD = {"name": "grad", "kind": "grad"}
SHUFFLED = "labels not in order"


def _tensor(fn: str, call, shape: tuple, what: str) -> torch.Tensor:
    """The returned value: a plain, finite float64 tensor of ``shape``, or a clear failure."""
    if call.error:
        fail(call.error)
    out = call.value
    if not isinstance(out, torch.Tensor):
        got = out.type_name if isinstance(out, Opaque) else type(out).__name__
        fail(f"{fn} must return a tensor {what}, got {got}.")
    if call.subclassed:
        fail(f"{fn}: {call.subclassed[0]} is a tensor subclass; return a plain torch tensor.")
    if tuple(out.shape) == shape[::-1] and shape[0] != shape[1]:
        fail(f"{fn} returned a tensor of shape {list(out.shape)}: it is transposed, the result "
             f"is {what} = {list(shape)}.")
    if tuple(out.shape) != shape:
        fail(f"{fn} returned a tensor of the wrong shape {list(out.shape)}: expected {what} = "
             f"{list(shape)}.")
    if out.dtype != torch.float64:
        fail(f"{fn} returned dtype {out.dtype} for float64 inputs: keep the inputs' dtype.")
    require_finite(f"the tensor {fn} returned", out)
    return out


def _example(fn: str, got: torch.Tensor, want: torch.Tensor, inputs: str, row: str) -> str:
    i = int((got - want).abs().flatten().argmax())
    r, j = divmod(i, want.shape[1])
    return (f"{fn} differs on {inputs}: for {row} {r}, entry {j}, the expected value is "
            f"{want[r, j].item():.6g}, yours is {got[r, j].item():.6g}.")


def check_prototypes(prototypes, seed: int = 0) -> None:
    """c_k = mean of the embeddings labelled k, row k for label k: ``[n_way, d]`` (labels
    shuffled, sizes drawn from the seed)."""
    s = Student.of(prototypes, "prototypes")
    z, labels, n_way, k = draw_embeddings(seed)
    d = z.shape[1]
    call = s.call("prototypes", MLP_SPEC, z, labels, n_way)
    if not call.error and isinstance(call.value, torch.Tensor) and \
            tuple(call.value.shape) == (n_way, k):
        fail(f"prototypes returned shape {list(call.value.shape)} = [n_way, k]: the mean is "
             "taken over the wrong dimension (the features); average each class's embeddings "
             "over its examples (dim=0) to get [n_way, d].")
    out = _tensor("prototypes", call, (n_way, d), "[n_way, d]")
    want = ref.prototypes(z, labels, n_way)
    family = [(cause, lambda f=f: {"c": f()}) for cause, f in prototype_family(z, labels, n_way, k)]
    said = prototype_violation(lambda zz, yy: s.call("prototypes", MLP_SPEC, zz, yy, n_way).value,
                               z, labels, n_way)
    if said:  # the properties first
        cause = ("the rows are the right class means but not in label order: row k must be "
                 "the prototype of label k" if row_permutation(out, want) else
                 closest_params({"c": out}, family))
        fail(f"prototypes is wrong: {said}" + (f" — precisely, {cause}." if cause else "."))
    if close({"c": out}, {"c": want}):
        return _graph_flows(s, "prototypes", (z, labels, n_way), [0], ref.prototypes, seed)
    if row_permutation(out, want):
        fail("prototypes are the right class means but the rows are not in label order: row k "
             "must be the prototype of label k (e.g. loop over range(n_way), not over the "
             "labels in the order they appear).")
    cause = closest_params({"c": out}, family)
    if cause:
        fail(f"prototypes is wrong: {cause}.")
    fail(_example("prototypes", out, want, f"{n_way}-way {k}-shot embeddings (d = {d}, "
                  f"{SHUFFLED})", "class"))


_NAMES = {"prototypes": ("the embeddings",), "protonet_logits": ("the queries", "the prototypes")}


def _graph_flows(s: Student, fn: str, args: tuple, wrt: list[int], reference, seed: int) -> None:
    """Gradient flow: the result is a differentiable function of its tensor inputs, with the
    reference's derivative (a vector-Jacobian product) — protonet_loss's gradient reaches φ
    only through it.  NumPy, ``.tolist()``, ``.item()`` or ``torch.tensor(...)`` cut it."""
    out = reference(*args)
    v = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed + 59),
                    dtype=out.dtype)
    for position, what in zip(wrt, _NAMES[fn]):
        sent = tuple(G(a) if i == position else a for i, a in enumerate(args))
        got = s.call(fn, MLP_SPEC, *sent, probes=[{"name": "vjp", "kind": "vjp", "v": v,
                                                  "wrt": f"a{position}"}]).probes.get("vjp", {})
        grads = got.get("grads", {}) if isinstance(got, dict) else {}
        if got.get("no_graph") or "input" not in grads:
            fail(f"{fn}'s result is cut from the graph of {what} (NumPy, .tolist(), .item(), "
                 "torch.tensor(...) or .detach() inside): the meta-gradient cannot flow through "
                 f"it, so protonet_loss cannot train φ — compute it with torch operations on "
                 f"{what}.")
        leaf_args = [a.detach().clone().requires_grad_(i == position) if isinstance(
            a, torch.Tensor) and a.is_floating_point() else a for i, a in enumerate(args)]
        want = torch.autograd.grad((reference(*leaf_args) * v).sum(), leaf_args[position])[0]
        if not close({"d": grads["input"]}, {"d": want}, rtol=1e-6, atol=1e-9):
            fail(f"{fn}'s derivative w.r.t. {what} (a vector-Jacobian product) is not the "
                 f"reference's, although its values are: part of the computation does not "
                 "carry the gradient (a detached or in-place piece?).")


def check_protonet_logits(protonet_logits, seed: int = 0) -> None:
    """−‖z − c_k‖² for every query z and prototype c_k: ``[n_query, n_way]``."""
    s = Student.of(protonet_logits, "protonet_logits")
    gen = torch.Generator().manual_seed(seed + 41)
    c, _, n_way, _ = draw_embeddings(seed)
    c = c[:n_way]
    n_query = 8 + int(torch.randint(3, (1,), generator=gen))
    q = torch.randn(n_query, c.shape[1], generator=gen, dtype=torch.float64)
    call = s.call("protonet_logits", MLP_SPEC, q, c)
    out = _tensor("protonet_logits", call, (n_query, n_way), "[n_query, n_way]")
    want = ref.protonet_logits(q, c)
    family = [(cause, lambda f=f: {"l": f()}) for cause, f in logit_family(q, c)]
    cause = None if close({"l": out}, {"l": want}) else closest_params({"l": out}, family)
    said = logit_violation(lambda qq, cc: s.call("protonet_logits", MLP_SPEC, qq, cc).value, q, c)
    if said:  # the properties first
        fail(f"protonet_logits is wrong: {said}" + (f" — precisely, {cause}." if cause else "."))
    if close({"l": out}, {"l": want}):
        return _graph_flows(s, "protonet_logits", (q, c), [0, 1], ref.protonet_logits, seed)
    if cause:
        fail(f"protonet_logits is wrong: {cause}.")
    shift = out - want
    if torch.allclose(shift, shift[:, :1].expand_as(shift), rtol=1e-6, atol=1e-8):
        fail("protonet_logits differs from −‖z − c_k‖² by a constant per query (e.g. ‖z‖² is "
             "left out of the expanded form): the softmax is the same, but the function must "
             "return the negative squared distance itself.")
    fail(_example("protonet_logits", out, want, f"{n_query} queries and {n_way} prototypes "
                  f"(d = {c.shape[1]})", "query"))


@functools.lru_cache(maxsize=8)
def expected_loss(seed: int) -> tuple:
    """``(model, φ, batch, value, true gradient)`` of one grading: φ is the body of the tiny
    float64 Conv4, the gradient the reference's exact float64 autograd — what central finite
    differences measure (``tests/test_check_details.py`` checks that along random
    directions; all of φ's 150 coordinates one by one would cost 300 evaluations of the loss
    per grading)."""
    model, phi, batch = tiny_classification(seed=seed)
    body = split_body_head(phi)[0]
    at = leaf(body)
    value = ref.protonet_loss(model, at, batch)
    return model, body, batch, value.item(), dict(zip(at, torch.autograd.grad(
        value, list(at.values()))))


def _loss_asker(s: Student, body: dict, batch):
    """``ask(phi=, batch=)``: the student's ProtoNet loss with some inputs changed (the
    reference helpers lent), for :func:`.properties.objective_violation`."""
    def ask(phi: dict = body, batch=batch, **_) -> float:
        c = s.call("protonet_loss", CONV_SPEC, MODEL, P(phi), batch,
                   lend={"prototypes": ref.prototypes, "protonet_logits": ref.protonet_logits})
        if c.error:
            fail(c.error)
        return returned_loss("protonet_loss", c.value, {"grads": {}}, phi)[0]
    return ask


def _raw_loss(s: Student, body: dict, spec: dict = CONV_SPEC):
    """``ask(batch)``: the student's loss as a float (NaN included), or the error in words."""
    def ask(batch) -> float | str:
        c = s.call("protonet_loss", spec, MODEL, P(body), batch,
                   lend={"prototypes": ref.prototypes, "protonet_logits": ref.protonet_logits})
        if c.error:
            return c.error
        v = c.value
        return v.item() if isinstance(v, torch.Tensor) and v.dim() == 0 else "not a scalar"
    return ask


def _far_apart(body: dict) -> dict:
    """φ in float32 with the last block's BatchNorm scale and shift ×300: embeddings of
    order 10², logits of order −10⁵."""
    return {k: (v.detach() * (300.0 if k.startswith("body.3.1.") else 1.0)).float()
            for k, v in body.items()}


def _float32(batch):
    return type(batch)(batch.x_support.float(), batch.y_support, batch.x_query.float(),
                       batch.y_query)


def check_protonet_loss(protonet_loss, seed: int = 0) -> None:
    """(1/B) Σ_i CE(−‖f_φ(x_query) − c‖², y_query), c from task i's support set; its gradient
    w.r.t. φ (the Conv4 body) against the true gradient (:func:`expected_loss`)."""
    s = Student.of(protonet_loss, "protonet_loss")
    model, phi, batch = tiny_classification(seed=seed)
    call = s.call("protonet_loss", CONV_SPEC, MODEL, P(split_body_head(phi)[0]), batch,
                  probes=[GRAD, INPUTS], lend={"prototypes": ref.prototypes,
                                               "protonet_logits": ref.protonet_logits})
    if call.probes.get("inputs", {}).get("changed"):
        fail("protonet_loss changed φ in place: leave the parameters you were given as they "
             "were.")
    model, body, batch, want, exact = expected_loss(seed)
    said = loss_violation(_raw_loss(s, body), batch, lambda: _raw_loss(s, _far_apart(body), {
        **CONV_SPEC, "dtype": "float32"})(_float32(batch)))
    if said:  # the properties first
        fail(f"protonet_loss is wrong: {said}.")
    if call.error:
        fail(call.error)
    value, grads = returned_loss("protonet_loss", call.value, call.probes.get("grad", {}), body)
    if not same_number("the value of protonet_loss", value, want):
        cause = closest(value, loss_family(model, body, batch))
        said = objective_violation(_loss_asker(s, body, batch), "protonet_loss", body, batch,
                                   0.0, None)
        if said or cause:
            fail("protonet_loss's value is wrong: " + (f"{said} — precisely, {cause}."
                                                      if said and cause else f"{said or cause}."))
        fail(example_value("protonet_loss", value, want, "(1/B) Σ_i CE(−‖f_φ(x_query) − c‖², "
                           "y_query)", "3-way tasks of a tiny float64 Conv4 (2 support and 3 "
                           f"query images per class, {SHUFFLED})"))
    if close(grads, exact, rtol=1e-4, atol=1e-7):
        return
    cause = closest_params(grads, gradient_family(model, body, batch),
                           rtol=1e-4, atol=1e-7)
    if cause:
        fail(f"protonet_loss's gradient w.r.t. φ is wrong: {cause}.")
    if max(g.abs().max().item() for g in grads.values()) == 0:
        fail("protonet_loss's gradient w.r.t. φ is zero: the loss was detached from φ.")
    fail(f"protonet_loss's gradient w.r.t. φ differs from the true gradient (autograd of the "
         f"reference in float64, checked by finite differences) by up to "
         f"{max_diff(grads, exact):.3g}.")
