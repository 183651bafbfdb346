"""Hidden checks of Meta-SGD (second assignment): the inner step with learned learning rates
and the Meta-SGD meta-loss.

θ̂ = θ − α ⊙ ∇θ l_support(θ), one learning rate per element of θ.  The graded α is drawn per
element from the grading's seed (never all equal, never a value students hard-code), so a
scalar α, an ignored α or a hard-coded number gives a wrong θ̂.  The meta-gradient is checked
w.r.t. both φ and α against the true meta-gradient: the reference's exact derivative confirmed
by central finite differences (:func:`.common.true_gradient` on φ and α packed in one dict).
A wrong answer is matched against the answers of common mistakes (:mod:`.diagnose_metasgd`) to
name the cause.  Graded alone: the worker lends the reference ``metasgd_inner_update`` while
the meta-loss runs.
"""

from __future__ import annotations

import functools

import torch

from autograder.assignments.metasgd_protonet import answers as ref
from hwlib.metasgd import pack, unpack
from hwlib.models import task_loss
from hwlib.sinusoid import tiny_sine_problem

from autograder.checks.common import (CONV_SPEC, MLP_SPEC, check_params_dict, close, fail, leaf, max_diff,
                     returned_loss, same_number, tiny_classification, true_gradient)
from autograder.checks.diagnose import closest, closest_params, example_params, example_value
from autograder.checks.properties import mean_query_loss, objective_violation
from autograder.assignments.metalearning.inner_step import first_order
from autograder.checks.step_properties import step_violation
from autograder.assignments.metasgd_protonet.metasgd_causes import (alpha_family, describe, draw_alphas, meta_loss_family,
                               metasgd_loss, scalar_step, stepped)
from autograder.checks.student import MODEL, P, Student

INNER, META = "metasgd_inner_update", "metasgd_meta_loss"
INPUTS = {"name": "inputs", "kind": "inputs_after"}
GRAD_PHI = {"name": "grad", "kind": "grad"}                 # w.r.t. the argument a1: φ
GRAD_ALPHA = {"name": "grad", "kind": "grad", "wrt": "a2"}  # w.r.t. the argument a2: α
FORMULA = "(1/B) Σ_i l_query_i(θ̂_i(φ, α))"
NO_ALPHA_GRADIENT = ("there is no gradient w.r.t. α: α is detached (.detach(), .item(), "
                     "float(…) or a new tensor) — Meta-SGD learns α in the outer loop, so θ̂ "
                     "must stay a differentiable function of α")


def _called(s: Student, fn: str, spec: dict, *args, **kwargs):
    call = s.call(fn, spec, MODEL, *args, **kwargs)
    if call.error:
        fail(call.error)
    changed = sorted(set(call.probes.get("inputs", {}).get("changed") or []))
    if changed:
        what = " and ".join({"a1": "φ", "a2": "α"}.get(k, k) for k in changed)
        fail(f"{fn} changed {what} in place (e.g. `p -= α·g`, `p.data = …`, `params[name] = …` "
             "or an optimizer step): build new tensors for θ̂ and leave the parameters and "
             "learning rates you were given as they were.")
    return call


def _support_gradient(model, phi: dict, x, y) -> dict:
    at = leaf(phi)
    return dict(zip(at, torch.autograd.grad(task_loss(model, at, x, y), list(at.values()))))


def _step_asker(s: Student, spec: dict, phi: dict, alphas: dict, t):
    """``ask(phi=, alpha=, repeat=)``: the student's step (for :func:`.step_violation`)."""
    def ask(phi: dict = phi, alpha: dict = alphas, repeat: bool = False,
            scale: float = 1.0) -> dict:
        c = _called(s, INNER, spec, P(phi), P(alpha), t.x_support, t.y_support * scale,
                    repeat=2 if repeat else 1)
        check_params_dict(INNER, c.value, phi, c.subclassed)
        return c.value
    return ask


def _inner_value(s: Student, seed: int, dtype: torch.dtype) -> tuple:
    model, phi, batch = tiny_sine_problem(seed=seed, dtype=dtype)
    alphas, t = draw_alphas(phi, seed), batch[0]
    spec = {**MLP_SPEC, "dtype": str(dtype).split(".")[-1]}
    c = _called(s, INNER, spec, P(phi), P(alphas), t.x_support, t.y_support, probes=[INPUTS])
    check_params_dict(INNER, c.value, phi, c.subclassed)
    g = _support_gradient(model, phi, t.x_support, t.y_support)
    want = stepped(phi, alphas, g)
    tol = {"rtol": 1e-5, "atol": 1e-8} if dtype == torch.float64 else {"rtol": 1e-4, "atol": 1e-6}
    right = close(c.value, want, **tol)
    if dtype == torch.float64 or not right:  # the properties first, on float64
        family = [(cause, lambda a=a: stepped(phi, a, g)) for cause, a in alpha_family(alphas)]
        cause = None if right else (closest_params(c.value, family, **tol)
                                    or scalar_step(c.value, phi, g))
        said = step_violation(_step_asker(s, spec, phi, alphas, t), INNER, phi,
                              lambda p, scale=1.0: _support_gradient(
                                  model, p, t.x_support, t.y_support * scale),
                              alphas)
        if said or cause:
            fail(f"{INNER} is wrong: " + (f"{said} — precisely, {cause}." if said and cause
                                         else f"{said or cause}."))
    if not right:
        fail(example_params(INNER, c.value, want, f"a 1-6-6-1 MLP ({dtype}, 4 points, one α "
                                                  "per element of θ); θ − α ⊙ ∇θ l(θ)"))
    return model, phi, alphas, t, g


def check_metasgd_inner_update(metasgd_inner_update, seed: int = 0) -> None:
    """θ̂ = θ − α ⊙ ∇θ l(θ) (float64, float32, and a Conv4 task with shuffled labels); θ̂
    differentiable w.r.t. θ and α; with ``create_graph=True`` its derivative w.r.t. θ is
    I − α ⊙ ∇²l(θ), with ``create_graph=False`` it is I (first order)."""
    s = Student.of(metasgd_inner_update, INNER)
    model, phi, alphas, t, g = _inner_value(s, seed, torch.float64)
    _inner_value(s, seed, torch.float32)
    conv, cphi, cbatch = tiny_classification(seed=seed)
    calphas, ct = draw_alphas(cphi, seed), cbatch[0]
    c = _called(s, INNER, CONV_SPEC, P(cphi), P(calphas), ct.x_support, ct.y_support)
    check_params_dict(INNER, c.value, cphi, c.subclassed)
    want = ref.metasgd_inner_update(conv, leaf(cphi), calphas, ct.x_support, ct.y_support)
    if not close(c.value, want):
        fail(example_params(INNER, c.value, want,
                            "a 3-way classification task whose labels are not in order"))
    v = {k: torch.randn(p.shape, generator=torch.Generator().manual_seed(seed + i),
                        dtype=p.dtype) for i, (k, p) in enumerate(phi.items())}
    data = (P(phi), P(alphas), t.x_support, t.y_support)
    wrt_alpha = _called(s, INNER, MLP_SPEC, *data, create_graph=False, probes=[
        {"name": "vjp", "kind": "vjp", "v": v, "wrt": "a2"}]).probes.get("vjp", {})
    if wrt_alpha.get("no_graph") or "grads" not in wrt_alpha or set(wrt_alpha["none"]) == set(v):
        fail(f"{INNER}: {NO_ALPHA_GRADIENT}.")
    got = {k: wrt_alpha["grads"].get(k, torch.zeros_like(x)) for k, x in v.items()}
    if not close(got, {k: -v[k] * g[k] for k in v}, rtol=1e-4, atol=1e-7):
        fail(f"{INNER}: the derivative of θ̂ w.r.t. α is not −∇θ l(θ) (elementwise; checked "
             "with a vector-Jacobian product): θ̂ must depend on α only through −α ⊙ ∇θ l(θ).")
    first = _called(s, INNER, MLP_SPEC, *data, create_graph=False, probes=[
        {"name": "vjp", "kind": "vjp", "v": v}]).probes.get("vjp", {})
    if first.get("no_graph") or "grads" not in first or set(first["none"]) == set(phi):
        fail(f"{INNER} returned parameters cut from θ (detached): θ̂ must stay a "
             "differentiable function of θ, even without create_graph.")
    second = _called(s, INNER, MLP_SPEC, *data, create_graph=True, probes=[
        {"name": "vjp", "kind": "vjp", "v": v}]).probes.get("vjp", {}).get("grads", {})
    at = leaf(phi)
    theta = ref.metasgd_inner_update(model, at, alphas, t.x_support, t.y_support)
    want = dict(zip(at, torch.autograd.grad(sum((theta[k] * v[k]).sum() for k in v),
                                            list(at.values()))))
    if not second or close(second, v):
        fail(f"{INNER}(create_graph=True) does not keep the graph of the inner gradient: pass "
             "create_graph=create_graph to torch.autograd.grad, otherwise Meta-SGD's "
             "second-order term is lost.")
    if not close(second, want, rtol=1e-4, atol=1e-7):
        fail(f"{INNER}(create_graph=True): the derivative of θ̂ w.r.t. θ differs from "
             "I − α ⊙ ∇²l(θ) (checked with a vector-Jacobian product).")
    first_order(first, v, want, INNER)
    _called_again(s, model, phi, alphas, t)


def _called_again(s: Student, model, phi: dict, alphas: dict, t) -> None:
    """The step called as the meta-loss calls it: twice on the same tensors (nothing kept in
    ``.grad``), and on its own θ̂ (two steps)."""
    def step(p: dict) -> dict:
        return ref.metasgd_inner_update(model, leaf(p), alphas, t.x_support, t.y_support)
    data = (P(phi), P(alphas), t.x_support, t.y_support)
    again = _called(s, INNER, MLP_SPEC, *data, repeat=2).value
    check_params_dict(INNER, again, phi)
    if not close(again, step(phi)):
        fail(f"calling {INNER} twice on the same parameter tensors gives a different θ̂ the "
             "second time: the gradient is accumulated in .grad (loss.backward()) or state is "
             "kept between calls — compute it with torch.autograd.grad.")
    shuffled = dict(reversed(list(alphas.items())))  # α's keys in another order than φ's
    again = _called(s, INNER, MLP_SPEC, P(phi), P(shuffled), t.x_support, t.y_support).value
    if type(again) is not dict or any(not isinstance(again.get(k), torch.Tensor) or
                                      again[k].shape != v.shape for k, v in phi.items()) \
            or not close(again, step(phi)):
        fail(f"{INNER} pairs parameters and rates by position: with α's keys in another order "
             "than φ's, θ̂ changes — look each rate up by its name, alphas[name].")
    twice = _called(s, INNER, MLP_SPEC, *data, chain=2).value
    check_params_dict(INNER, twice, phi)
    if not close(twice, step(step(phi)), rtol=1e-6, atol=1e-9):
        fail(f"{INNER} applied to the θ̂ it returned (a second inner step, as the meta-loss "
             "takes it) is not θ̂ − α ⊙ ∇l(θ̂): a step works only on leaf parameters (.grad of a "
             "non-leaf tensor stays None; use torch.autograd.grad).")


@functools.lru_cache(maxsize=16)
def _expected(seed: int, steps: int) -> tuple[dict, dict]:
    """The true meta-gradient w.r.t. φ and α packed (the reference's exact float64 autograd,
    confirmed by finite differences at one step) and the
    first-order one (no graph through the inner gradients)."""
    model, phi, batch = tiny_sine_problem(seed=seed)
    alphas = draw_alphas(phi, seed)
    f = lambda p: ref.metasgd_meta_loss(model, *unpack(p), batch, steps)  # noqa: E731
    true = true_gradient(f, pack(phi, alphas), confirm=steps == 1)
    at = leaf(pack(phi, alphas))
    loss = metasgd_loss(model, *unpack(at), batch, steps, create_graph=False)
    return true, dict(zip(at, torch.autograd.grad(loss, list(at.values()))))


def _loss_and_grads(s: Student, spec: dict, phi, alphas, batch, steps: int):
    label = f"{META}(steps={steps})" if steps != 1 else META
    args = (P(phi), P(alphas), batch)
    lend = {"lend": {INNER: ref.metasgd_inner_update}}
    c = _called(s, META, spec, *args, steps=steps, probes=[GRAD_PHI, INPUTS], **lend)
    value, g_phi = returned_loss(label, c.value, c.probes.get("grad", {}), phi)
    c = _called(s, META, spec, *args, steps=steps, probes=[GRAD_ALPHA], **lend)
    probe = c.probes.get("grad", {})
    if probe.get("no_graph"):
        fail(f"{label}: {NO_ALPHA_GRADIENT}.")
    _, g_alpha = returned_loss(label, c.value, probe, alphas)
    return label, value, g_phi, g_alpha


def _check_value(label: str, v: float, model, phi, alphas, batch, steps: int, where: str,
                 s: Student, spec: dict = MLP_SPEC):
    want = ref.metasgd_meta_loss(model, leaf(phi), alphas, batch, steps).item()
    if same_number(f"the value of {label}", v, want):
        return
    cause = closest(v, meta_loss_family(model, phi, alphas, batch, steps))
    said = objective_violation(_meta_asker(s, spec, phi, alphas, batch, steps), META, phi,
                               batch, 1.0, steps, mean_query_loss(model, phi))
    if said or cause:
        fail(f"{label}'s value is wrong: " + (f"{said} — precisely, {cause}." if said and cause
                                             else f"{said or cause}."))
    fail(example_value(label, v, want, FORMULA, where))


def _meta_asker(s: Student, spec: dict, phi, alphas, batch, steps: int):
    """``ask(phi=, batch=, alpha=, steps=)``: the student's Meta-SGD meta-loss with some inputs
    changed; ``alpha`` scales every learned rate (0: no adaptation)."""
    def ask(phi: dict = phi, batch=batch, alpha: float = 1.0, steps: int = steps) -> float:
        rates = {k: v * alpha for k, v in alphas.items()}
        c = _called(s, META, spec, P(phi), P(rates), batch, steps=steps,
                    lend={INNER: ref.metasgd_inner_update})
        return returned_loss(META, c.value, {"grads": {}}, phi)[0]
    return ask


def _check_gradient(label: str, g_phi: dict, g_alpha: dict, seed: int, steps: int) -> None:
    true, first = _expected(seed, steps)
    want_phi, want_alpha = unpack(true)
    first_phi, first_alpha = unpack(first)
    tol = {"rtol": 1e-4, "atol": 1e-7}
    ok_phi, ok_alpha = close(g_phi, want_phi, **tol), close(g_alpha, want_alpha, **tol)
    if ok_phi and ok_alpha:
        return
    zero_alpha = max(g.abs().max().item() for g in g_alpha.values()) == 0
    if ok_phi and zero_alpha:
        fail(f"{label}'s meta-gradient: {NO_ALPHA_GRADIENT}.")
    if close(g_phi, first_phi, **tol) and close(g_alpha, first_alpha, **tol):
        fail(f"{label}'s meta-gradient w.r.t. φ equals the first-order approximation, not the "
             "true meta-gradient (checked by finite differences; the one w.r.t. α is there): "
             "the graph through the inner gradient is missing — call metasgd_inner_update "
             "with create_graph=True inside the meta-loss.")
    if max(g.abs().max().item() for g in g_phi.values()) == 0:
        fail(f"{label}'s meta-gradient w.r.t. φ is zero: θ̂ was detached from φ.")
    if steps > 1 and not ok_phi:
        fail(f"{label}'s meta-gradient w.r.t. φ is neither the true meta-gradient nor the "
             "first-order one: the graph is kept through some inner steps but not all — use "
             "create_graph=True in every inner step.")
    which, got, want = ("φ", g_phi, want_phi) if not ok_phi else ("α", g_alpha, want_alpha)
    fail(f"{label}'s meta-gradient w.r.t. {which} differs from the true (finite-difference) "
         f"meta-gradient by up to {max_diff(got, want):.3g}.")


def check_metasgd_meta_loss(metasgd_meta_loss, seed: int = 0) -> None:
    """Value (1/B) Σ_i l_query_i(θ̂_i) and its exact second-order meta-gradient w.r.t. φ and α,
    for 1, 2 and 3 inner steps; the value on classification tasks with shuffled labels."""
    s = Student.of(metasgd_meta_loss, META)
    model, phi, batch = tiny_sine_problem(seed=seed)
    alphas = draw_alphas(phi, seed)
    for steps in (1, 2, 3):
        label, v, g_phi, g_alpha = _loss_and_grads(s, MLP_SPEC, phi, alphas, batch, steps)
        _check_value(label, v, model, phi, alphas, batch, steps, describe(batch, steps), s)
        _check_gradient(label, g_phi, g_alpha, seed, steps)
    model, phi, batch = tiny_classification(seed=seed)
    alphas = draw_alphas(phi, seed)
    c = _called(s, META, CONV_SPEC, P(phi), P(alphas), batch, steps=1, probes=[INPUTS],
                lend={INNER: ref.metasgd_inner_update})
    v, _ = returned_loss(META, c.value, {"grads": {}}, phi)
    _check_value(META, v, model, phi, alphas, batch, 1, s=s, spec=CONV_SPEC, where=
                 "3-way classification tasks whose labels are not in order (one α per element)")
