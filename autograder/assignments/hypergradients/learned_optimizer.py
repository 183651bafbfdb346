"""Hidden checks of Part 1, the learned optimizer: ``preprocess_gradient`` and
``unrolled_loss``.

``preprocess_gradient`` on gradients whose magnitudes span 10⁻⁸…10² (zeros, both signs, and
entries on both sides of the threshold e^{−p}) for two values of p: a wrong answer is named
by the class of entries and the feature that is wrong, and by the properties every correct
answer has (continuous at the threshold, odd in g: pre(−g) = (a, −b), p used).

``unrolled_loss`` in float64 on small quadratics with a small LSTM (the reference
``preprocess_gradient`` lent: graded alone), T = 1, 2, 3: the returned θ_T, the state and
the meta-loss Σ_t mean_i f_i(θ_t), then the hypergradient ∂L/∂φ against central finite
differences of the true meta-loss (the second-order term through ∇f(θ) is detected).  A wrong
value is named by properties (depends on φ already at T = 1, additive over a split
trajectory, a mean over the problems) before the known mistakes.
"""

from __future__ import annotations

import math

import torch

from autograder.assignments.hypergradients import answers as ref
from autograder.checks.common import close, fail, leaf, max_diff, returned_loss, true_gradient
from autograder.checks.student import MODEL, G, P, Student
from hwlib.learned_optimizer import CoordinateLSTM, propose, quadratic_loss, sample_quadratics
from hwlib.models import init_params

LSTM_SPEC = {"kind": "hwlib.learned_optimizer.CoordinateLSTM",
             "kwargs": {"hidden": 3, "scale": 1.0}, "dtype": "float64"}
GRAD = {"name": "grad", "kind": "grad"}
INPUTS = {"name": "inputs", "kind": "inputs_after"}
PRE = "(log|g|/p, sign g) where |g| ≥ e^{−p}, else (−1, e^p·g)"


def gradients(seed: int, p: float) -> torch.Tensor:
    """``[3, 8]`` float64: magnitudes 10⁻⁸…10², both signs, a zero, and entries just above
    and below e^{−p}."""
    gen = torch.Generator().manual_seed(seed)
    mag = 10 ** (-8 + 10 * torch.rand(3, 8, generator=gen, dtype=torch.float64))
    g = mag * torch.where(torch.rand(3, 8, generator=gen) < 0.5, -1.0, 1.0).double()
    g[0, 0] = 0.0
    g[1, :2] = torch.tensor([1.5, -0.5], dtype=torch.float64) * math.exp(-p)
    return g


def _ask_pre(s: Student, g: torch.Tensor, p: float) -> torch.Tensor:
    call = s.call("preprocess_gradient", LSTM_SPEC, g, p=p)
    if call.error:
        fail(call.error)
    out = call.value
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (*g.shape, 2):
        got = list(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        fail(f"preprocess_gradient(g) must return a tensor of shape g.shape + (2,) "
             f"({list(g.shape)} → {[*g.shape, 2]}: the two features of each entry along a new "
             f"last dimension), got {got}.")
    return out.double()


def _wrong_part(got: torch.Tensor, want: torch.Tensor, g: torch.Tensor, p: float) -> str | None:
    """Which entries (|g| ≥ e^{−p} or below) and which feature differ, with an example."""
    big = g.abs() >= math.exp(-p)
    bad = ~torch.isclose(got, want, rtol=1e-6, atol=1e-9)
    for where, label in ((big, f"|g| ≥ e^{{−p}} (p = {p:g})"), (~big, f"|g| < e^{{−p}} (p = {p:g})")):
        for col, feature in ((0, "first"), (1, "second")):
            rows = bad[..., col] & where
            if rows.any():
                i = rows.nonzero()[0].tolist()
                expected = ("log|g|/p" if col == 0 else "sign g") if where is big else \
                    ("−1" if col == 0 else "e^p·g")
                return (f"for entries with {label} the {feature} feature must be {expected}: "
                        f"g = {g[tuple(i)].item():.4g} gave {got[(*i, col)].item():.6g}, "
                        f"not {want[(*i, col)].item():.6g}")
    return None


def _pre_cause(got: torch.Tensor, want: torch.Tensor, g: torch.Tensor, p: float) -> str | None:
    big = g.abs() >= math.exp(-p)
    if torch.allclose(got.flip(-1), want):
        return "the two features are swapped: the log-magnitude comes first, then the sign"
    if torch.allclose(got[..., 0][big], (want[..., 0] * p)[big]):
        return "the log-magnitude is not divided by p"
    if torch.allclose(got[..., 0][big], (g.abs().log10() / p)[big]):
        return "log₁₀ is used: the paper's log is the natural logarithm"
    small_features = torch.stack([-torch.ones_like(g), math.exp(p) * g], -1)
    if torch.allclose(got[big], small_features[big]):
        return ("the entries with |g| ≥ e^{−p} got the small-gradient features (−1, e^p·g): the "
                "threshold test is the wrong way round")
    return None


def check_preprocess_gradient(preprocess_gradient, seed: int = 0) -> None:
    """Values for two p, then the properties every correct answer has."""
    s = Student.of(preprocess_gradient, "preprocess_gradient")
    for p in (10.0, 6.0 + 2 * (seed % 3)):
        g = gradients(seed, p)
        got, want = _ask_pre(s, g, p), ref.preprocess_gradient(g, p)
        if not torch.isfinite(got).all():
            fail("preprocess_gradient returned NaN or ∞ (for g = 0 or tiny |g|?): where "
                 "|g| < e^{−p} the features are (−1, e^p·g), so log|g| is never needed there.")
        if torch.allclose(got, want, rtol=1e-6, atol=1e-9):
            continue
        said, cause = _wrong_part(got, want, g, p), _pre_cause(got, want, g, p)
        fail(f"preprocess_gradient is wrong ({PRE}): {said}" + (f" — {cause}" if cause else "")
             + ".")
    g = gradients(seed + 1, 10.0)
    if not torch.allclose(_ask_pre(s, -g, 10.0), ref.preprocess_gradient(-g)):
        fail("preprocess_gradient(−g) must be (a, −b) when preprocess_gradient(g) = (a, b).")


# ---- unrolled_loss --------------------------------------------------------------------------

def problem_of(seed: int, T: int = 1):
    """A float64 LSTM optimizer (hidden 3, scale 1), its φ, two 3-d quadratics, θ₀, s₀."""
    model = CoordinateLSTM(hidden=3, scale=1.0).double()
    phi = {k: 0.5 * v.double() for k, v in init_params(model, seed).items()}
    problem = sample_quadratics(2, dim=3, seed=seed, dtype=torch.float64)
    problem["W"] = problem["W"] / 3  # well-conditioned: steps of the LSTM's size change f
    gen = torch.Generator().manual_seed(seed + 7)
    theta = torch.randn(2, 3, generator=gen, dtype=torch.float64)
    return model, phi, problem, theta, model.init_state(6, torch.float64)


def _reference(model, phi, problem, theta, state, T):
    return ref.unrolled_loss(model, phi, problem, theta.clone().requires_grad_(True), state, T)


def _ask(s: Student, phi, problem, theta, state, T, probes=()):
    call = s.call("unrolled_loss", LSTM_SPEC, MODEL, P(phi), P(problem, grad=False), G(theta),
                  P(state, grad=False), T, probes=list(probes),
                  lend={"preprocess_gradient": ref.preprocess_gradient})
    if call.error:
        fail(call.error)
    out = call.value
    if not (isinstance(out, tuple) and len(out) == 3 and isinstance(out[1], torch.Tensor)
            and isinstance(out[2], dict)):
        fail("unrolled_loss must return a tuple (meta-loss, θ_T, state_T): the sum of the "
             "losses, the last θ and the optimizer's last state (a dict like the one given).")
    return call


def _value_causes(s: Student, v: float, model, phi, problem, theta, state, T: int) -> str | None:
    """The properties every correct meta-loss has, tested with the student's own function."""
    def loss(ph=phi, pr=problem, th=theta, st=state, t=T) -> tuple:
        out = _ask(s, ph, pr, th, st, t).value
        return float(out[0]), out[1], out[2]

    none = s.call("unrolled_loss", LSTM_SPEC, MODEL, P(phi), P(problem, grad=False), G(theta),
                  P(state, grad=False), 0, lend={"preprocess_gradient": ref.preprocess_gradient})
    if not none.error and isinstance(none.value, tuple) and len(none.value) == 3:
        v0, theta0 = none.value[0], none.value[1]
        if float(v0) != 0 or not (isinstance(theta0, torch.Tensor) and torch.equal(theta0, theta)):
            return ("with T = 0 the meta-loss must be 0 and θ unchanged, got "
                    f"{float(v0):.6g}: the loop must take exactly T steps (an off-by-one such "
                    "as range(T + 1) or while t <= T?)")
    one = loss(t=1)
    moved = {k: w * 1.3 for k, w in phi.items()}
    if abs(loss(ph=moved, t=1)[0] - one[0]) <= 1e-12 * max(1.0, abs(one[0])):
        return ("with T = 1 the meta-loss does not depend on φ: it must be the loss after the "
                "step, f(θ₁) with θ₁ = θ₀ + m_φ(…) — not f(θ₀) before it")
    twice = {"W": torch.cat([problem["W"]] * 2), "y": torch.cat([problem["y"]] * 2)}
    doubled = loss(pr=twice, th=torch.cat([theta] * 2),
                   st={k: torch.cat([v_] * 2) for k, v_ in state.items()}, t=1)[0]
    if abs(doubled - 2 * one[0]) <= 1e-9 * abs(one[0]) and abs(one[0]) > 0:
        return ("giving every problem twice doubles the meta-loss: it must be the mean over the "
                "problems, not their sum")
    if T > 1:
        rest = loss(th=one[1].detach(), st={k: x.detach() for k, x in one[2].items()}, t=T - 1)[0]
        if abs(v - (one[0] + rest)) > 1e-7 * max(1.0, abs(v)):
            return (f"the meta-loss of T = {T} steps must equal the loss of the first step plus "
                    f"that of the other {T - 1} started from the θ₁ and state it returned "
                    f"({one[0]:.6g} + {rest:.6g}), got {v:.6g}: a sum over the steps, with θ and "
                    "the LSTM's state carried from one step to the next (and returned)")
    return None


def _known_cause(v: float, model, phi, problem, theta, state, T: int) -> str | None:
    """The known mistakes, computed by the judge (``precisely, …``)."""
    def run(step_sign=1.0, raw=False, before=False, mean_t=False):
        th, st, total = theta.clone().requires_grad_(True), state, 0.0
        for _ in range(T):
            g, = torch.autograd.grad(quadratic_loss(problem, th).sum(), th, create_graph=True)
            feats = torch.stack([g, g], -1) if raw else ref.preprocess_gradient(g)
            step, st = propose(model, phi, feats.reshape(-1, 2), st)
            if before:
                total = total + quadratic_loss(problem, th).mean()
            th = th + step_sign * step.reshape(th.shape)
            if not before:
                total = total + quadratic_loss(problem, th).mean()
        return float(total.detach()) / (T if mean_t else 1)

    families = {"the step is subtracted (θ − m_φ(…)); the LSTM's output is the step itself: "
                "θ_{t+1} = θ_t + g_t": dict(step_sign=-1.0),
                "the raw gradient is fed to the LSTM, not preprocess_gradient(g)": dict(raw=True),
                "the losses are taken before each step (f(θ₀) … f(θ_{T−1})), not after it":
                dict(before=True),
                "the meta-loss is divided by T: the paper's L(φ) is the sum over the steps":
                dict(mean_t=True)}
    for cause, kw in families.items():
        if abs(run(**kw) - v) <= 1e-9 * max(1.0, abs(v)):
            return cause
    return None


def _check_trajectory(call, model, phi, problem, theta, state, T: int, s: Student) -> None:
    total, theta_T, state_T = _reference(model, phi, problem, theta, state, T)
    v, got_theta, got_state = call.value
    if not isinstance(v, torch.Tensor) or v.dim() != 0:
        fail("unrolled_loss's meta-loss must be a scalar tensor (0-d).")
    if abs(v.item() - total.item()) > 1e-7 * max(1.0, abs(total.item())):
        said = _value_causes(s, v.item(), model, phi, problem, theta, state, T)
        cause = _known_cause(v.item(), model, phi, problem, theta, state, T)
        fail(f"unrolled_loss(T={T})'s meta-loss is {v.item():.6g}, not {total.item():.6g} "
             "(Σ_{t=1..T} mean_i f_i(θ_t))" + (f": {said}" if said else "")
             + (f" — precisely, {cause}" if cause else "") + ".")
    if got_theta.shape != theta_T.shape or not torch.allclose(got_theta.double(), theta_T,
                                                              rtol=1e-7, atol=1e-10):
        fail(f"unrolled_loss(T={T}) returned the right meta-loss but not θ_T: return θ after "
             "the last step.")
    if set(got_state) != set(state_T) or not close(got_state, state_T, rtol=1e-7, atol=1e-10):
        fail(f"unrolled_loss(T={T}) returned the right meta-loss but not the optimizer's last "
             "state: return the state m_φ gave at the last step (truncated back-propagation "
             "starts the next segment from it).")


def _check_hypergradient(grads: dict, model, phi, problem, theta, state, T: int) -> None:
    def meta(p):
        return _reference(model, p, problem, theta, state, T)[0]

    # the reference's exact float64 hypergradient, confirmed by finite differences at T = 1
    want = true_gradient(meta, phi, confirm=T == 1)
    # T = 1: 1e-5 (no second-order term yet: g₀ does not depend on φ); T > 1: so tight that the
    # second-order term (small: it enters through log|g|'s slope 1/(p·g)) is seen
    tol = dict(rtol=1e-5, atol=1e-9) if T == 1 else dict(rtol=1e-9, atol=1e-12)
    if close(grads, want, **tol):
        return
    first = _first_order(model, phi, problem, theta, state, T)
    if close(grads, first, **tol):
        fail(f"unrolled_loss(T={T})'s hypergradient ∂L/∂φ misses the second-order term (the exact "
             "float64 hypergradient has it): ∇f(θ_t) is detached (create_graph=False or .detach()), "
             "which is the paper's cheaper approximation; here the exact hypergradient is asked "
             "— compute ∇f with create_graph=True.")
    if max(g.abs().max().item() for g in grads.values()) == 0:
        fail(f"unrolled_loss(T={T})'s meta-loss has a zero gradient w.r.t. φ: θ_t must be built "
             "from the LSTM's steps (no .detach(), .item() or torch.no_grad()).")
    fail(f"unrolled_loss(T={T})'s hypergradient ∂L/∂φ differs from finite differences of the "
         f"meta-loss by up to {max_diff(grads, want):.3g}.")


def _first_order(model, phi, problem, theta, state, T: int) -> dict:
    at, th, st, total = leaf(phi), theta.clone().requires_grad_(True), state, 0.0
    for _ in range(T):
        g, = torch.autograd.grad(quadratic_loss(problem, th).sum(), th, create_graph=True)
        step, st = propose(model, at, ref.preprocess_gradient(g.detach()).reshape(-1, 2), st)
        th = th + step.reshape(th.shape)
        total = total + quadratic_loss(problem, th).mean()
    return dict(zip(at, torch.autograd.grad(total, list(at.values()))))


def check_unrolled_loss(unrolled_loss, seed: int = 0) -> None:
    """θ_T, the state and the meta-loss for T = 1, 2, 3; the exact hypergradient."""
    s = Student.of(unrolled_loss, "unrolled_loss")
    model, phi, problem, theta, state = problem_of(seed)
    for T in (1, 2, 3):
        call = _ask(s, phi, problem, theta, state, T, probes=[GRAD, INPUTS])
        if call.probes.get("inputs", {}).get("changed"):
            fail("unrolled_loss changed φ or the state it was given in place: build new tensors.")
        _check_trajectory(call, model, phi, problem, theta, state, T, s)
        _, grads = returned_loss(f"unrolled_loss(T={T})", call.value[0],
                                 call.probes.get("grad", {}), phi)
        _check_hypergradient(grads, model, phi, problem, theta, state, T)
