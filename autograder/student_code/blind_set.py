"""A blind set of student code for both notebooks (issue 24): 91 bugs and 36 correct answers
written from the student-facing material only (the released notebooks, docs/student.md,
README.md and hwlib/) by someone who did not read ``autograder/``, ``solutions/``, ``tests/``
or ``docs/grading.md``, each checked against their own float64 reference.  It measured the
checks before the property diagnosis was built (``python -m autograder measure-checks
autograder/student_code/blind_set.py``) and stays as a regression set
(``tests/test_blind_set.py``).

Each case replaces ONE answer cell.  Sources may call the notebook's other answer functions
(e.g. ``maml_meta_loss`` calling ``inner_update``, ``protonet_loss`` calling ``prototypes`` /
``protonet_logits``) and the names the notebooks import in their setup cell, as a student's
cell would; each source also imports what it uses itself.
"""

from textwrap import dedent


def _case(name, assignment, function, correct, cause, keywords, source):
    return {"name": name, "assignment": assignment, "function": function,
            "source": dedent(source).strip() + "\n", "correct": correct, "cause": cause,
            "keywords": list(keywords)}


A1, A2 = "metalearning", "metasgd_protonet"
H1 = """
import torch
from torch import nn
from hwlib import Params, TaskBatch, task_loss
"""
H2 = """
import torch
import torch.nn.functional as F
from torch import nn
from hwlib import Params, TaskBatch, task_loss, embed
"""

IU_SIG = '''
def inner_update(model: nn.Module, params: Params, x: torch.Tensor, y: torch.Tensor,
                 alpha: float, create_graph: bool = False) -> Params:
    """One inner step on (x, y): θ' = θ − α ∇θ l(θ), for every parameter."""
'''
OS_SIG = '''
def outer_step(optimizer: torch.optim.Optimizer, meta_loss: torch.Tensor) -> float:
    """The outer update: one optimizer step on the gradient of this meta-loss."""
'''
MAML_SIG = '''
def maml_meta_loss(model: nn.Module, phi: Params, batch: TaskBatch, alpha: float,
                   steps: int = 1) -> torch.Tensor:
    """(1/B) Σ_i l_query_i(θ̂_i), θ̂_i = ``steps`` inner updates from φ on support_i, keeping
    the graph through the inner loop (second order)."""
'''
FO_SIG = '''
def fomaml_meta_loss(model: nn.Module, phi: Params, batch: TaskBatch, alpha: float,
                     steps: int = 1) -> torch.Tensor:
    """First-order MAML: as :func:`maml_meta_loss` but with ∂θ̂/∂φ ≈ I (no graph through the
    inner gradients), so ∇φ of this loss is the query gradient at θ̂."""
'''
ANIL_SIG = '''
def anil_adapt(model: nn.Module, phi: Params, x: torch.Tensor, y: torch.Tensor, alpha: float,
               steps: int = 1, create_graph: bool = False) -> Params:
    """ANIL's inner loop: ``steps`` gradient steps on the head only; the body stays at φ."""
'''
REP_SIG = '''
def reptile_meta_gradient(model: nn.Module, phi: Params, batch: TaskBatch, alpha: float,
                          steps: int = 5) -> tuple[Params, torch.Tensor]:
    """Reptile: θ̂_i = ``steps`` SGD steps on task i (support ∪ query); returns the direction
    (1/B) Σ_i (φ − θ̂_i) and the mean task loss at θ̂."""
'''
MSGD_SIG = '''
def metasgd_inner_update(model: nn.Module, params: Params, alphas: Params, x: torch.Tensor,
                         y: torch.Tensor, create_graph: bool = True) -> Params:
    """One Meta-SGD step: θ' = θ − α ⊙ ∇θ l(θ), with one learning rate per element of θ."""
'''
MSML_SIG = '''
def metasgd_meta_loss(model: nn.Module, phi: Params, alphas: Params, batch: TaskBatch,
                      steps: int = 1) -> torch.Tensor:
    """(1/B) Σ_i l_query_i(θ̂_i(φ, α)): differentiable w.r.t. φ and α (second order)."""
'''
PROTO_SIG = '''
def prototypes(embeddings: torch.Tensor, labels: torch.Tensor, n_way: int) -> torch.Tensor:
    """c_k = (1/|S_k|) Σ_{(x, y) ∈ S, y = k} f_φ(x): ``[n_way, d]``, row k for label k."""
'''
LOG_SIG = '''
def protonet_logits(query_embeddings: torch.Tensor, prototypes: torch.Tensor) -> torch.Tensor:
    """−‖f_φ(x) − c_k‖² for every query x and class k: ``[n_query, n_way]``."""
'''
PL_SIG = '''
def protonet_loss(model: nn.Module, phi: Params, batch: TaskBatch) -> torch.Tensor:
    """(1/B) Σ_i CE(−‖f_φ(x_query) − c‖², y_query) with the prototypes c of task i's support."""
'''


def _src(header, sig, body):
    """header + signature (docstring included) + the student's body (indented 4)."""
    body = dedent(body).strip("\n")
    body = "\n".join(("    " + line) if line.strip() else "" for line in body.splitlines())
    return dedent(header).strip() + "\n\n\n" + dedent(sig).strip() + "\n" + body + "\n"


CASES = []
add = CASES.append

# =====================================================================================
# Assignment 1 — inner_update
# =====================================================================================
add(_case("iu_sign_plus", A1, "inner_update", False,
          "the step goes up the gradient (θ + α∇l) instead of down (θ − α∇l): a gradient-ascent sign error",
          ["sign", "ascent", "minus"],
          _src(H1, IU_SIG, """
            loss = task_loss(model, params, x, y)
            grads = torch.autograd.grad(loss, list(params.values()), create_graph=create_graph)
            return {name: p + alpha * g for (name, p), g in zip(params.items(), grads)}
          """)))
add(_case("iu_create_graph_ignored", A1, "inner_update", False,
          "create_graph is never passed to torch.autograd.grad, so with create_graph=True the gradient's graph is dropped and MAML becomes first-order",
          ["create_graph", "second-order", "second order"],
          _src(H1, IU_SIG, """
            loss = task_loss(model, params, x, y)
            grads = torch.autograd.grad(loss, list(params.values()))
            new_params = {}
            for (name, p), g in zip(params.items(), grads):
                new_params[name] = p - alpha * g
            return new_params
          """)))
add(_case("iu_create_graph_always", A1, "inner_update", False,
          "create_graph=True is hard-coded, ignoring the argument: with create_graph=False the step still carries the graph of the gradient (second-order where a first-order step was asked for)",
          ["create_graph", "ignores the argument", "always"],
          _src(H1, IU_SIG, """
            loss = task_loss(model, params, x, y)
            # always keep the graph so that MAML works
            grads = torch.autograd.grad(loss, list(params.values()), create_graph=True)
            return {name: p - alpha * g for (name, p), g in zip(params.items(), grads)}
          """)))
add(_case("iu_model_parameters", A1, "inner_update", False,
          "the gradient is taken at the model's own weights (model.named_parameters()) instead of at the params passed in, so every step uses ∇l at the module's weights rather than at θ",
          ["model's own", "model's weights", "parameters()", "module's"],
          _src(H1, IU_SIG, """
            weights = dict(model.named_parameters())
            loss = task_loss(model, weights, x, y)
            grads = torch.autograd.grad(loss, list(weights.values()), create_graph=create_graph)
            return {name: params[name] - alpha * g for name, g in zip(weights, grads)}
          """)))
add(_case("iu_inplace_no_grad", A1, "inner_update", False,
          "the parameters are updated in place under torch.no_grad() and the same dict is returned: φ itself is overwritten and θ' has no graph back to φ",
          ["in place", "in-place", "overwrit"],
          _src(H1, IU_SIG, """
            loss = task_loss(model, params, x, y)
            grads = torch.autograd.grad(loss, list(params.values()), create_graph=create_graph)
            with torch.no_grad():
                for p, g in zip(params.values(), grads):
                    p -= alpha * g
            return params
          """)))
add(_case("iu_backward_grad", A1, "inner_update", False,
          "uses loss.backward() and reads p.grad: gradients accumulate in .grad from one call to the next (and are None for non-leaf θ), instead of torch.autograd.grad's fresh gradients",
          [".backward", ".grad", "accumulat"],
          _src(H1, IU_SIG, """
            loss = task_loss(model, params, x, y)
            loss.backward(create_graph=create_graph)
            return {name: p - alpha * p.grad for name, p in params.items()}
          """)))
add(_case("iu_divide_by_n", A1, "inner_update", False,
          "the step is divided by the number of examples (α/len(x)) although task_loss is already a mean: the step size is wrong",
          ["step size", "len(x)", "divid"],
          _src(H1, IU_SIG, """
            loss = task_loss(model, params, x, y)
            grads = torch.autograd.grad(loss, list(params.values()), create_graph=create_graph)
            n = len(x)  # average the gradient over the support examples
            return {name: p - alpha * g / n for (name, p), g in zip(params.items(), grads)}
          """)))
add(_case("iu_clamp_grad", A1, "inner_update", False,
          "the gradient is clipped (clamped to [−1, 1]) before the step, so θ' is not θ − α∇l(θ)",
          ["clip", "clamp"],
          _src(H1, IU_SIG, """
            loss = task_loss(model, params, x, y)
            grads = torch.autograd.grad(loss, list(params.values()), create_graph=create_graph)
            grads = [g.clamp(-1.0, 1.0) for g in grads]  # avoid exploding inner steps
            return {name: p - alpha * g for (name, p), g in zip(params.items(), grads)}
          """)))
add(_case("iu_no_grad_update", A1, "inner_update", False,
          "the update is computed inside torch.no_grad(), so θ' is cut from the graph: no gradient can reach φ through the inner step",
          ["no_grad", "detach", "graph"],
          _src(H1, IU_SIG, """
            loss = task_loss(model, params, x, y)
            grads = torch.autograd.grad(loss, list(params.values()), create_graph=create_graph)
            with torch.no_grad():
                new = {k: p - alpha * g for (k, p), g in zip(params.items(), grads)}
            return new
          """)))
add(_case("iu_ok_names_loop", A1, "inner_update", True,
          "explicit loop over a list of names, gradients looked up by name",
          [],
          _src(H1, IU_SIG, """
            names = list(params.keys())
            loss = task_loss(model, params, x, y)
            grads = torch.autograd.grad(loss, [params[n] for n in names], create_graph=create_graph)
            updated = {}
            for n, g in zip(names, grads):
                updated[n] = params[n] - alpha * g
            return updated
          """)))
add(_case("iu_ok_torch_func", A1, "inner_update", True,
          "torch.func.grad of the support loss instead of torch.autograd.grad; gradients detached by hand when create_graph is False",
          [],
          _src(H1 + "from torch.func import grad\n", IU_SIG, """
            g = grad(lambda p: task_loss(model, p, x, y))(dict(params))
            if not create_graph:
                g = {k: v.detach() for k, v in g.items()}
            return {k: params[k] - alpha * g[k] for k in params}
          """)))
add(_case("iu_ok_torch_sub", A1, "inner_update", True,
          "torch.sub(p, g, alpha=α), a tuple of inputs and allow_unused=True (unused params kept as they are)",
          [],
          _src(H1, IU_SIG, """
            out = {}
            loss = task_loss(model, params, x, y)
            grads = torch.autograd.grad(loss, tuple(params.values()), create_graph=create_graph,
                                        allow_unused=True)
            for (name, p), g in zip(params.items(), grads):
                out[name] = p if g is None else torch.sub(p, g, alpha=alpha)
            return out
          """)))

# =====================================================================================
# Assignment 1 — outer_step
# =====================================================================================
add(_case("os_no_zero_grad", A1, "outer_step", False,
          "the gradients are never cleared (no zero_grad), so each step adds the previous steps' gradients to the new one",
          ["zero_grad", "accumulat", "clear"],
          _src(H1, OS_SIG, """
            meta_loss.backward()
            optimizer.step()
            return meta_loss.item()
          """)))
add(_case("os_zero_between", A1, "outer_step", False,
          "zero_grad() is called between backward() and step(), so the step is taken on zeroed gradients and φ does not move",
          ["zero_grad", "order", "before backward"],
          _src(H1, OS_SIG, """
            meta_loss.backward()
            optimizer.zero_grad()
            optimizer.step()
            return float(meta_loss)
          """)))
add(_case("os_returns_tensor", A1, "outer_step", False,
          "returns the meta-loss as a (detached) tensor, not as a Python float (.item() / float())",
          ["float", ".item()", "tensor"],
          _src(H1, OS_SIG, """
            optimizer.zero_grad()
            meta_loss.backward()
            optimizer.step()
            return meta_loss.detach()
          """)))
add(_case("os_clip_grad_norm", A1, "outer_step", False,
          "the meta-gradient is clipped (clip_grad_norm_) before the step, so the update is not a step on ∇φ of the meta-loss",
          ["clip", "clipping"],
          _src(H1, OS_SIG, """
            optimizer.zero_grad()
            meta_loss.backward()
            params = [p for group in optimizer.param_groups for p in group["params"]]
            torch.nn.utils.clip_grad_norm_(params, max_norm=1.0)
            optimizer.step()
            return meta_loss.item()
          """)))
add(_case("os_manual_sgd", A1, "outer_step", False,
          "updates the parameters by hand with p -= lr·p.grad instead of optimizer.step(): plain SGD whatever the optimizer (wrong for Adam, momentum, ...)",
          ["optimizer.step", "manual", "by hand"],
          _src(H1, OS_SIG, """
            optimizer.zero_grad()
            meta_loss.backward()
            lr = optimizer.param_groups[0]["lr"]
            with torch.no_grad():
                for group in optimizer.param_groups:
                    for p in group["params"]:
                        if p.grad is not None:
                            p -= lr * p.grad
            return meta_loss.item()
          """)))
add(_case("os_new_optimizer", A1, "outer_step", False,
          "a new Adam optimizer is built inside the function on every call instead of stepping the optimizer passed in (its type, learning rate and state are lost)",
          ["new optimizer", "inside", "optimizer passed", "own optimizer"],
          _src(H1, OS_SIG, """
            params = [p for g in optimizer.param_groups for p in g["params"]]
            opt = torch.optim.Adam(params, lr=1e-3)
            opt.zero_grad()
            meta_loss.backward()
            opt.step()
            return meta_loss.item()
          """)))
add(_case("os_ok_zero_after_step", A1, "outer_step", True,
          "clears the gradients after step() (zero_grad(set_to_none=True)) instead of before backward()",
          [],
          _src(H1, OS_SIG, """
            meta_loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            return float(meta_loss.detach())
          """)))
add(_case("os_ok_grad_none_loop", A1, "outer_step", True,
          "sets p.grad = None for every parameter of every param group by hand",
          [],
          _src(H1, OS_SIG, """
            for group in optimizer.param_groups:
                for p in group["params"]:
                    p.grad = None
            meta_loss.backward()
            optimizer.step()
            return meta_loss.item()
          """)))
add(_case("os_ok_autograd_assign", A1, "outer_step", True,
          "computes the gradients with torch.autograd.grad and assigns them to .grad before optimizer.step()",
          [],
          _src(H1, OS_SIG, """
            params = [p for group in optimizer.param_groups for p in group["params"]]
            grads = torch.autograd.grad(meta_loss, params, allow_unused=True)
            for p, g in zip(params, grads):
                p.grad = None if g is None else g.detach()
            optimizer.step()
            return meta_loss.item()
          """)))
add(_case("os_ok_zero_false", A1, "outer_step", True,
          "zero_grad(set_to_none=False) (zeros instead of None), loss value read before backward",
          [],
          _src(H1, OS_SIG, """
            value = meta_loss.item()
            optimizer.zero_grad(set_to_none=False)
            meta_loss.backward()
            optimizer.step()
            return value
          """)))

# =====================================================================================
# Assignment 1 — maml_meta_loss
# =====================================================================================
add(_case("maml_chained_tasks", A1, "maml_meta_loss", False,
          "each task starts from the previous task's adapted parameters instead of from φ",
          ["from φ", "from phi", "previous task", "restart"],
          _src(H1, MAML_SIG, """
            losses = []
            theta = phi
            for task in batch:
                for _ in range(steps):
                    theta = inner_update(model, theta, task.x_support, task.y_support, alpha,
                                         create_graph=True)
                losses.append(task_loss(model, theta, task.x_query, task.y_query))
            return torch.stack(losses).mean()
          """)))
add(_case("maml_first_order", A1, "maml_meta_loss", False,
          "inner_update is called without create_graph=True, so the graph through the inner gradient is dropped and the meta-gradient is first-order, not MAML's second-order one",
          ["create_graph", "second-order", "second order"],
          _src(H1, MAML_SIG, """
            losses = []
            for task in batch:
                theta = phi
                for _ in range(steps):
                    theta = inner_update(model, theta, task.x_support, task.y_support, alpha)
                losses.append(task_loss(model, theta, task.x_query, task.y_query))
            return torch.stack(losses).mean()
          """)))
add(_case("maml_hwlib_inner_loop", A1, "maml_meta_loss", False,
          "uses hwlib.inner_loop, which calls inner_update without create_graph: the inner loop's gradient graph is lost and the meta-gradient is first-order",
          ["create_graph", "second-order", "inner_loop"],
          _src(H1 + "from hwlib import inner_loop\n", MAML_SIG, """
            adapt = inner_loop(inner_update, model, alpha)
            total = 0
            for task in batch:
                theta_hat = adapt(phi, task.x_support, task.y_support, steps)
                total = total + task_loss(model, theta_hat, task.x_query, task.y_query)
            return total / len(batch)
          """)))
add(_case("maml_sum_tasks", A1, "maml_meta_loss", False,
          "the query losses are summed over the tasks instead of averaged (missing 1/B)",
          ["sum", "mean", "average"],
          _src(H1, MAML_SIG, """
            meta_loss = 0
            for task in batch:
                theta = phi
                for _ in range(steps):
                    theta = inner_update(model, theta, task.x_support, task.y_support, alpha,
                                         create_graph=True)
                meta_loss = meta_loss + task_loss(model, theta, task.x_query, task.y_query)
            return meta_loss
          """)))
add(_case("maml_steps_ignored", A1, "maml_meta_loss", False,
          "`steps` is ignored: exactly one inner update is taken whatever steps is",
          ["steps", "one step", "ignor"],
          _src(H1, MAML_SIG, """
            losses = []
            for task in batch:
                theta = inner_update(model, phi, task.x_support, task.y_support, alpha,
                                     create_graph=True)
                losses.append(task_loss(model, theta, task.x_query, task.y_query))
            return torch.stack(losses).mean()
          """)))
add(_case("maml_steps_from_phi", A1, "maml_meta_loss", False,
          "every inner step starts again from φ (inner_update(model, phi, ...)) instead of from the current θ, so several steps are the same as one",
          ["current θ", "steps", "from φ"],
          _src(H1, MAML_SIG, """
            losses = []
            for task in batch:
                theta = phi
                for _ in range(steps):
                    theta = inner_update(model, phi, task.x_support, task.y_support, alpha,
                                         create_graph=True)
                losses.append(task_loss(model, theta, task.x_query, task.y_query))
            return torch.stack(losses).mean()
          """)))
add(_case("maml_off_by_one", A1, "maml_meta_loss", False,
          "the inner loop runs range(1, steps), one step too few (no adaptation at all with steps=1)",
          ["off-by-one", "one step too few", "steps"],
          _src(H1, MAML_SIG, """
            losses = []
            for task in batch:
                theta = phi
                for step in range(1, steps):
                    theta = inner_update(model, theta, task.x_support, task.y_support, alpha,
                                         create_graph=True)
                losses.append(task_loss(model, theta, task.x_query, task.y_query))
            return torch.stack(losses).mean()
          """)))
add(_case("maml_scores_support", A1, "maml_meta_loss", False,
          "the adapted parameters are scored on the support set they were adapted on instead of on the query set",
          ["query set", "support set", "score"],
          _src(H1, MAML_SIG, """
            losses = []
            for task in batch:
                theta = phi
                for _ in range(steps):
                    theta = inner_update(model, theta, task.x_support, task.y_support, alpha,
                                         create_graph=True)
                losses.append(task_loss(model, theta, task.x_support, task.y_support))
            return torch.stack(losses).mean()
          """)))
add(_case("maml_detached_phi", A1, "maml_meta_loss", False,
          "each task starts from a detached copy of φ (v.detach().clone().requires_grad_()), so the meta-loss has no graph back to φ and the meta-gradient is zero",
          ["detach", "graph", "no gradient"],
          _src(H1, MAML_SIG, """
            losses = []
            for task in batch:
                # copy phi so the inner loop does not change it
                theta = {k: v.detach().clone().requires_grad_(True) for k, v in phi.items()}
                for _ in range(steps):
                    theta = inner_update(model, theta, task.x_support, task.y_support, alpha,
                                         create_graph=True)
                losses.append(task_loss(model, theta, task.x_query, task.y_query))
            return torch.stack(losses).mean()
          """)))
add(_case("maml_model_forward_query", A1, "maml_meta_loss", False,
          "the query loss is computed with model(x) — the module's own weights — instead of forward(model, θ̂, x): θ̂ is never used and nothing reaches φ",
          ["model(", "module's", "model's own", "adapted parameters"],
          _src(H1 + "import torch.nn.functional as F\n", MAML_SIG, """
            losses = []
            for task in batch:
                theta = phi
                for _ in range(steps):
                    theta = inner_update(model, theta, task.x_support, task.y_support, alpha,
                                         create_graph=True)
                pred = model(task.x_query)
                if task.y_query.dtype == torch.long:
                    losses.append(F.cross_entropy(pred, task.y_query))
                else:
                    losses.append(F.mse_loss(pred, task.y_query))
            return torch.stack(losses).mean()
          """)))
add(_case("maml_return_in_loop", A1, "maml_meta_loss", False,
          "the return statement is indented inside the task loop, so only the first task's query loss is used (divided by B)",
          ["first task", "only one task", "inside the loop"],
          _src(H1, MAML_SIG, """
            total = 0.0
            for task in batch:
                theta = phi
                for _ in range(steps):
                    theta = inner_update(model, theta, task.x_support, task.y_support, alpha,
                                         create_graph=True)
                total = total + task_loss(model, theta, task.x_query, task.y_query)
                return total / len(batch)
          """)))
add(_case("maml_alpha_split", A1, "maml_meta_loss", False,
          "the inner learning rate is divided by the number of steps (α/steps per step), so each inner step uses the wrong step size",
          ["alpha", "α", "step size"],
          _src(H1, MAML_SIG, """
            losses = []
            for task in batch:
                theta = phi
                for _ in range(steps):
                    theta = inner_update(model, theta, task.x_support, task.y_support,
                                         alpha / steps, create_graph=True)
                losses.append(task_loss(model, theta, task.x_query, task.y_query))
            return torch.stack(losses).mean()
          """)))
add(_case("maml_ok_helper_stack", A1, "maml_meta_loss", True,
          "a small helper adapts one task; list comprehension and torch.stack(...).mean()",
          [],
          _src(H1, MAML_SIG, """
            def adapt(task):
                theta = phi
                for _ in range(steps):
                    theta = inner_update(model, theta, task.x_support, task.y_support, alpha,
                                         create_graph=True)
                return theta

            return torch.stack([task_loss(model, adapt(t), t.x_query, t.y_query)
                                for t in batch]).mean()
          """)))
add(_case("maml_ok_self_contained", A1, "maml_meta_loss", True,
          "self-contained (its own autograd.grad inner loop, no call to inner_update), iterates with zip over the batch tensors, sums then divides by len(batch)",
          [],
          _src(H1, MAML_SIG, """
            meta_loss = 0.0
            for x_s, y_s, x_q, y_q in zip(batch.x_support, batch.y_support, batch.x_query,
                                          batch.y_query):
                theta = dict(phi)
                for _ in range(steps):
                    loss = task_loss(model, theta, x_s, y_s)
                    grads = torch.autograd.grad(loss, list(theta.values()), create_graph=True)
                    theta = {k: w - alpha * g for (k, w), g in zip(theta.items(), grads)}
                meta_loss = meta_loss + task_loss(model, theta, x_q, y_q)
            return meta_loss / len(batch)
          """)))
add(_case("maml_ok_torch_func", A1, "maml_meta_loss", True,
          "inner gradients with torch.func.grad (differentiable w.r.t. φ through functorch), sum(losses)/len(losses)",
          [],
          _src(H1 + "from torch.func import grad\n", MAML_SIG, """
            support_grad = grad(lambda params, x, y: task_loss(model, params, x, y))
            losses = []
            for task in batch:
                theta = dict(phi)
                for _ in range(steps):
                    g = support_grad(theta, task.x_support, task.y_support)
                    theta = {k: theta[k] - alpha * g[k] for k in theta}
                losses.append(task_loss(model, theta, task.x_query, task.y_query))
            return sum(losses) / len(losses)
          """)))

# =====================================================================================
# Assignment 1 — fomaml_meta_loss
# =====================================================================================
add(_case("fo_second_order", A1, "fomaml_meta_loss", False,
          "the inner updates keep the graph (create_graph=True), so this is second-order MAML again, not the first-order approximation",
          ["create_graph", "first-order", "second-order"],
          _src(H1, FO_SIG, """
            losses = []
            for task in batch:
                theta = phi
                for _ in range(steps):
                    theta = inner_update(model, theta, task.x_support, task.y_support, alpha,
                                         create_graph=True)
                losses.append(task_loss(model, theta, task.x_query, task.y_query))
            return torch.stack(losses).mean()
          """)))
add(_case("fo_detached_theta", A1, "fomaml_meta_loss", False,
          "θ̂ is detached into new leaves before the query loss, so the loss has no path back to φ and the meta-gradient is zero (∂θ̂/∂φ ≈ I means keep the identity path, not cut it)",
          ["detach", "no gradient", "identity"],
          _src(H1, FO_SIG, """
            losses = []
            for task in batch:
                theta = phi
                for _ in range(steps):
                    theta = inner_update(model, theta, task.x_support, task.y_support, alpha)
                theta = {k: v.detach().requires_grad_(True) for k, v in theta.items()}  # first order
                losses.append(task_loss(model, theta, task.x_query, task.y_query))
            return torch.stack(losses).mean()
          """)))
add(_case("fo_surrogate_value", A1, "fomaml_meta_loss", False,
          "returns a surrogate Σ ⟨g_query, φ⟩ whose gradient is the first-order one but whose value is not MAML's meta-loss (the query loss at θ̂)",
          ["value", "same value", "surrogate"],
          _src(H1, FO_SIG, """
            total = 0.0
            for task in batch:
                theta = phi
                for _ in range(steps):
                    theta = inner_update(model, theta, task.x_support, task.y_support, alpha)
                q = task_loss(model, theta, task.x_query, task.y_query)
                grads = torch.autograd.grad(q, list(theta.values()))
                # d/dphi of <g, phi> is g: the first-order meta-gradient
                total = total + sum((g.detach() * phi[k]).sum() for k, g in zip(theta, grads))
            return total / len(batch)
          """)))
add(_case("fo_grad_once", A1, "fomaml_meta_loss", False,
          "the support gradient is computed once at φ and applied `steps` times (θ̂ = φ − steps·α∇l(φ)) instead of being recomputed at each θ",
          ["recomput", "at φ", "each step"],
          _src(H1, FO_SIG, """
            losses = []
            for task in batch:
                loss_s = task_loss(model, phi, task.x_support, task.y_support)
                grads = torch.autograd.grad(loss_s, list(phi.values()))
                theta = {k: p - steps * alpha * g for (k, p), g in zip(phi.items(), grads)}
                losses.append(task_loss(model, theta, task.x_query, task.y_query))
            return torch.stack(losses).mean()
          """)))
add(_case("fo_sum_tasks", A1, "fomaml_meta_loss", False,
          "the query losses are summed over tasks instead of averaged (missing 1/B)",
          ["sum", "mean", "average"],
          _src(H1, FO_SIG, """
            losses = []
            for task in batch:
                theta = phi
                for _ in range(steps):
                    theta = inner_update(model, theta, task.x_support, task.y_support, alpha)
                losses.append(task_loss(model, theta, task.x_query, task.y_query))
            return torch.stack(losses).sum()
          """)))
add(_case("fo_last_task_only", A1, "fomaml_meta_loss", False,
          "`loss` is overwritten in every iteration, so only the last task's query loss is returned",
          ["last task", "overwrit", "only one task"],
          _src(H1, FO_SIG, """
            for task in batch:
                theta = phi
                for _ in range(steps):
                    theta = inner_update(model, theta, task.x_support, task.y_support, alpha)
                loss = task_loss(model, theta, task.x_query, task.y_query)
            return loss
          """)))
add(_case("fo_swapped_sets", A1, "fomaml_meta_loss", False,
          "adapts on the query set and scores on the support set (the two sets are swapped)",
          ["swap", "support", "query"],
          _src(H1, FO_SIG, """
            losses = []
            for task in batch:
                theta = phi
                for _ in range(steps):
                    theta = inner_update(model, theta, task.x_query, task.y_query, alpha)
                losses.append(task_loss(model, theta, task.x_support, task.y_support))
            return torch.stack(losses).mean()
          """)))
add(_case("fo_ok_inner_update", A1, "fomaml_meta_loss", True,
          "reuses inner_update with create_graph=False explicitly; accumulates then divides",
          [],
          _src(H1, FO_SIG, """
            total = 0
            for task in batch:
                theta = phi
                for _ in range(steps):
                    theta = inner_update(model, theta, task.x_support, task.y_support, alpha,
                                         create_graph=False)
                total = total + task_loss(model, theta, task.x_query, task.y_query)
            return total / len(batch)
          """)))
add(_case("fo_ok_detach_trick", A1, "fomaml_meta_loss", True,
          "computes θ̂ entirely without a graph, then re-attaches it as φ + (θ̂ − φ).detach() (value θ̂, ∂θ̂/∂φ = I)",
          [],
          _src(H1, FO_SIG, """
            losses = []
            for task in batch:
                theta = {k: v.detach().requires_grad_(True) for k, v in phi.items()}
                for _ in range(steps):
                    l_s = task_loss(model, theta, task.x_support, task.y_support)
                    gs = torch.autograd.grad(l_s, list(theta.values()))
                    theta = {k: (v - alpha * g).detach().requires_grad_(True)
                             for (k, v), g in zip(theta.items(), gs)}
                theta_hat = {k: phi[k] + (theta[k] - phi[k]).detach() for k in phi}
                losses.append(task_loss(model, theta_hat, task.x_query, task.y_query))
            return torch.stack(losses).mean()
          """)))
add(_case("fo_ok_self_contained", A1, "fomaml_meta_loss", True,
          "self-contained: autograd.grad without create_graph and an explicit .detach() of the inner gradients, zip over the batch tensors",
          [],
          _src(H1, FO_SIG, """
            losses = []
            for xs, ys, xq, yq in zip(batch.x_support, batch.y_support, batch.x_query, batch.y_query):
                theta = phi
                for _ in range(steps):
                    loss = task_loss(model, theta, xs, ys)
                    grads = torch.autograd.grad(loss, list(theta.values()))
                    theta = {name: w - alpha * g.detach()
                             for (name, w), g in zip(theta.items(), grads)}
                losses.append(task_loss(model, theta, xq, yq))
            return sum(losses) / len(batch)
          """)))

# =====================================================================================
# Assignment 1 — anil_adapt
# =====================================================================================
ANIL_H = H1 + "from hwlib import split_body_head\n"
add(_case("anil_adapts_body", A1, "anil_adapt", False,
          "the inner loop updates every parameter, body included, instead of the head only",
          ["body", "head only", "all parameters"],
          _src(ANIL_H, ANIL_SIG, """
            body, head = split_body_head(phi)
            theta = {**body, **head}
            for _ in range(steps):
                loss = task_loss(model, theta, x, y)
                grads = torch.autograd.grad(loss, list(theta.values()), create_graph=create_graph)
                theta = {k: v - alpha * g for (k, v), g in zip(theta.items(), grads)}
            return theta
          """)))
add(_case("anil_create_graph_ignored", A1, "anil_adapt", False,
          "create_graph is not passed on to torch.autograd.grad, so with create_graph=True the graph through the head's gradient is lost (no second-order term)",
          ["create_graph", "graph", "second-order"],
          _src(ANIL_H, ANIL_SIG, """
            body, head = split_body_head(phi)
            for _ in range(steps):
                loss = task_loss(model, {**body, **head}, x, y)
                grads = torch.autograd.grad(loss, list(head.values()))
                head = {k: w - alpha * g for (k, w), g in zip(head.items(), grads)}
            return {**body, **head}
          """)))
add(_case("anil_body_detached", A1, "anil_adapt", False,
          "the body is returned detached (v.detach()), so the query loss has no gradient w.r.t. the body and the outer loop can never learn it",
          ["body", "detach", "outer loop"],
          _src(ANIL_H, ANIL_SIG, """
            body, head = split_body_head(phi)
            body = {k: v.detach() for k, v in body.items()}  # the body is frozen in the inner loop
            for _ in range(steps):
                loss = task_loss(model, {**body, **head}, x, y)
                grads = torch.autograd.grad(loss, list(head.values()), create_graph=create_graph)
                head = {k: w - alpha * g for (k, w), g in zip(head.items(), grads)}
            return {**body, **head}
          """)))
add(_case("anil_grad_at_phi", A1, "anil_adapt", False,
          "every step's gradient is taken at φ (task_loss(model, phi, ...)) instead of at the current head, so several steps just repeat the first gradient",
          ["current head", "at φ", "steps"],
          _src(ANIL_H, ANIL_SIG, """
            body, head = split_body_head(phi)
            new_head = dict(head)
            for _ in range(steps):
                loss = task_loss(model, phi, x, y)
                grads = torch.autograd.grad(loss, list(head.values()), create_graph=create_graph)
                new_head = {k: new_head[k] - alpha * g for k, g in zip(head, grads)}
            return {**body, **new_head}
          """)))
add(_case("anil_inplace", A1, "anil_adapt", False,
          "the head of φ is updated in place under torch.no_grad() and φ itself is returned: φ is overwritten and the adapted head has no graph",
          ["in place", "in-place", "overwrit"],
          _src(ANIL_H, ANIL_SIG, """
            body, head = split_body_head(phi)
            for _ in range(steps):
                loss = task_loss(model, phi, x, y)
                grads = torch.autograd.grad(loss, list(head.values()))
                with torch.no_grad():
                    for p, g in zip(head.values(), grads):
                        p.sub_(alpha * g)
            return phi
          """)))
add(_case("anil_sign", A1, "anil_adapt", False,
          "the head moves up the gradient (+α∇l) instead of down: sign error",
          ["sign", "ascent", "minus"],
          _src(ANIL_H, ANIL_SIG, """
            body, head = split_body_head(phi)
            for _ in range(steps):
                loss = task_loss(model, {**body, **head}, x, y)
                grads = torch.autograd.grad(loss, list(head.values()), create_graph=create_graph)
                head = {k: w + alpha * g for (k, w), g in zip(head.items(), grads)}
            return {**body, **head}
          """)))
add(_case("anil_off_by_one", A1, "anil_adapt", False,
          "the loop is range(1, steps): one inner step too few (no step at all for steps=1)",
          ["off-by-one", "one step too few", "steps"],
          _src(ANIL_H, ANIL_SIG, """
            body, head = split_body_head(phi)
            for step in range(1, steps):
                loss = task_loss(model, {**body, **head}, x, y)
                grads = torch.autograd.grad(loss, list(head.values()), create_graph=create_graph)
                head = {k: w - alpha * g for (k, w), g in zip(head.items(), grads)}
            return {**body, **head}
          """)))
add(_case("anil_weight_only", A1, "anil_adapt", False,
          "only head.weight is adapted; head.bias is left at φ although it is part of the head",
          ["bias", "head.bias", "every head parameter"],
          _src(ANIL_H, ANIL_SIG, """
            theta = dict(phi)
            for _ in range(steps):
                loss = task_loss(model, theta, x, y)
                (g_w,) = torch.autograd.grad(loss, [theta["head.weight"]], create_graph=create_graph)
                theta["head.weight"] = theta["head.weight"] - alpha * g_w
            return theta
          """)))
add(_case("anil_ok_comprehension", A1, "anil_adapt", True,
          "split_body_head, dict comprehensions and {**body, **head}",
          [],
          _src(ANIL_H, ANIL_SIG, """
            body, head = split_body_head(phi)
            for _ in range(steps):
                loss = task_loss(model, {**body, **head}, x, y)
                grads = dict(zip(head, torch.autograd.grad(loss, list(head.values()),
                                                           create_graph=create_graph)))
                head = {k: head[k] - alpha * grads[k] for k in head}
            return {**body, **head}
          """)))
add(_case("anil_ok_zero_body_rate", A1, "anil_adapt", True,
          "takes the full gradient but multiplies the body's by a learning rate of 0 (the Meta-SGD view of ANIL): same values and same meta-gradient, only slower",
          [],
          _src(ANIL_H, ANIL_SIG, """
            theta = dict(phi)
            for _ in range(steps):
                loss = task_loss(model, theta, x, y)
                grads = torch.autograd.grad(loss, list(theta.values()), create_graph=create_graph)
                theta = {k: v - (alpha if k.startswith("head.") else 0.0) * g
                         for (k, v), g in zip(theta.items(), grads)}
            return theta
          """)))
add(_case("anil_ok_key_list", A1, "anil_adapt", True,
          "selects the head by key prefix instead of split_body_head, updates a copy of the dict key by key",
          [],
          _src(H1, ANIL_SIG, """
            head_keys = [k for k in phi if k.startswith("head.")]
            theta = dict(phi)
            for _ in range(steps):
                loss = task_loss(model, theta, x, y)
                grads = torch.autograd.grad(loss, [theta[k] for k in head_keys],
                                            create_graph=create_graph)
                for k, g in zip(head_keys, grads):
                    theta[k] = theta[k] - alpha * g
            return theta
          """)))

# =====================================================================================
# Assignment 1 — reptile_meta_gradient
# =====================================================================================
add(_case("rep_sign", A1, "reptile_meta_gradient", False,
          "returns θ̂ − φ instead of φ − θ̂: the skeleton descends along the direction, so φ moves away from the adapted parameters",
          ["sign", "φ − θ̂", "away", "towards"],
          _src(H1, REP_SIG, """
            direction = {k: torch.zeros_like(v) for k, v in phi.items()}
            losses = []
            for task in batch:
                x = torch.cat([task.x_support, task.x_query])
                y = torch.cat([task.y_support, task.y_query])
                theta = phi
                for _ in range(steps):
                    theta = inner_update(model, theta, x, y, alpha)
                for k in phi:
                    direction[k] += (theta[k] - phi[k]).detach() / len(batch)
                losses.append(task_loss(model, theta, x, y).detach())
            return direction, torch.stack(losses).mean()
          """)))
add(_case("rep_sum_tasks", A1, "reptile_meta_gradient", False,
          "the directions φ − θ̂_i are summed over the tasks instead of averaged (missing 1/B)",
          ["sum", "mean", "average"],
          _src(H1, REP_SIG, """
            direction = {k: torch.zeros_like(v) for k, v in phi.items()}
            losses = []
            for task in batch:
                x = torch.cat([task.x_support, task.x_query])
                y = torch.cat([task.y_support, task.y_query])
                theta = phi
                for _ in range(steps):
                    theta = inner_update(model, theta, x, y, alpha)
                for k in phi:
                    direction[k] += (phi[k] - theta[k]).detach()
                losses.append(task_loss(model, theta, x, y).item())
            return direction, torch.tensor(sum(losses) / len(losses))
          """)))
add(_case("rep_support_only", A1, "reptile_meta_gradient", False,
          "the inner SGD runs on the support set only instead of on support ∪ query",
          ["support ∪ query", "union", "query"],
          _src(H1, REP_SIG, """
            direction = {k: torch.zeros_like(v) for k, v in phi.items()}
            losses = []
            for task in batch:
                theta = phi
                for _ in range(steps):
                    theta = inner_update(model, theta, task.x_support, task.y_support, alpha)
                for k in phi:
                    direction[k] += (phi[k] - theta[k]).detach() / len(batch)
                losses.append(task_loss(model, theta, task.x_support, task.y_support).detach())
            return direction, torch.stack(losses).mean()
          """)))
add(_case("rep_chained_tasks", A1, "reptile_meta_gradient", False,
          "each task's SGD starts from the previous task's θ̂ instead of from φ",
          ["from φ", "previous task", "restart"],
          _src(H1, REP_SIG, """
            direction = {k: torch.zeros_like(v) for k, v in phi.items()}
            losses = []
            theta = phi
            for task in batch:
                x = torch.cat([task.x_support, task.x_query])
                y = torch.cat([task.y_support, task.y_query])
                for _ in range(steps):
                    theta = inner_update(model, theta, x, y, alpha)
                for k in phi:
                    direction[k] += (phi[k] - theta[k]).detach() / len(batch)
                losses.append(task_loss(model, theta, x, y).detach())
            return direction, torch.stack(losses).mean()
          """)))
add(_case("rep_divided_by_alpha", A1, "reptile_meta_gradient", False,
          "the direction is divided by α·steps (turned into an 'average gradient'), so it is not (1/B) Σ (φ − θ̂_i)",
          ["α", "alpha", "scal"],
          _src(H1, REP_SIG, """
            direction = {k: torch.zeros_like(v) for k, v in phi.items()}
            losses = []
            for task in batch:
                x = torch.cat([task.x_support, task.x_query])
                y = torch.cat([task.y_support, task.y_query])
                theta = phi
                for _ in range(steps):
                    theta = inner_update(model, theta, x, y, alpha)
                for k in phi:
                    # (phi - theta) / (alpha * steps) is the average gradient of the inner loop
                    direction[k] += (phi[k] - theta[k]).detach() / (alpha * steps)
                losses.append(task_loss(model, theta, x, y).detach())
            return {k: d / len(batch) for k, d in direction.items()}, torch.stack(losses).mean()
          """)))
add(_case("rep_last_task_only", A1, "reptile_meta_gradient", False,
          "the direction is overwritten for every task instead of accumulated, so only the last task's φ − θ̂ (divided by B) is returned",
          ["last task", "overwrit", "accumulat"],
          _src(H1, REP_SIG, """
            losses = []
            for task in batch:
                x = torch.cat([task.x_support, task.x_query])
                y = torch.cat([task.y_support, task.y_query])
                theta = phi
                for _ in range(steps):
                    theta = inner_update(model, theta, x, y, alpha)
                direction = {k: (phi[k] - theta[k]).detach() / len(batch) for k in phi}
                losses.append(task_loss(model, theta, x, y).detach())
            return direction, torch.stack(losses).mean()
          """)))
add(_case("rep_support_then_query", A1, "reptile_meta_gradient", False,
          "takes `steps` steps on the support set and then `steps` more on the query set, instead of `steps` SGD steps on their union",
          ["union", "support ∪ query", "separately"],
          _src(H1, REP_SIG, """
            direction = {k: torch.zeros_like(v) for k, v in phi.items()}
            losses = []
            for task in batch:
                theta = phi
                for x, y in [(task.x_support, task.y_support), (task.x_query, task.y_query)]:
                    for _ in range(steps):
                        theta = inner_update(model, theta, x, y, alpha)
                for k in phi:
                    direction[k] += (phi[k] - theta[k]).detach() / len(batch)
                x_all = torch.cat([task.x_support, task.x_query])
                y_all = torch.cat([task.y_support, task.y_query])
                losses.append(task_loss(model, theta, x_all, y_all).detach())
            return direction, torch.stack(losses).mean()
          """)))
add(_case("rep_off_by_one", A1, "reptile_meta_gradient", False,
          "the inner loop runs range(steps + 1): one SGD step too many",
          ["off-by-one", "one step too many", "steps"],
          _src(H1, REP_SIG, """
            direction = {k: torch.zeros_like(v) for k, v in phi.items()}
            losses = []
            for task in batch:
                x = torch.cat([task.x_support, task.x_query])
                y = torch.cat([task.y_support, task.y_query])
                theta = phi
                for step in range(steps + 1):
                    theta = inner_update(model, theta, x, y, alpha)
                for k in phi:
                    direction[k] += (phi[k] - theta[k]).detach() / len(batch)
                losses.append(task_loss(model, theta, x, y).detach())
            return direction, torch.stack(losses).mean()
          """)))
add(_case("rep_loss_at_phi", A1, "reptile_meta_gradient", False,
          "the returned loss is the task loss at φ (before adaptation) instead of the mean task loss at θ̂",
          ["loss at θ̂", "before adaptation", "at φ"],
          _src(H1, REP_SIG, """
            direction = {k: torch.zeros_like(v) for k, v in phi.items()}
            losses = []
            for task in batch:
                x = torch.cat([task.x_support, task.x_query])
                y = torch.cat([task.y_support, task.y_query])
                losses.append(task_loss(model, phi, x, y).item())
                theta = phi
                for _ in range(steps):
                    theta = inner_update(model, theta, x, y, alpha)
                for k in phi:
                    direction[k] += (phi[k] - theta[k]).detach() / len(batch)
            return direction, torch.tensor(sum(losses) / len(losses))
          """)))
add(_case("rep_ok_inner_update", A1, "reptile_meta_gradient", True,
          "sums φ − θ̂ over the tasks and divides at the end; loss as a Python-float mean wrapped in a tensor",
          [],
          _src(H1, REP_SIG, """
            total = {k: torch.zeros_like(v) for k, v in phi.items()}
            task_losses = []
            for task in batch:
                x = torch.cat([task.x_support, task.x_query], dim=0)
                y = torch.cat([task.y_support, task.y_query], dim=0)
                theta = phi
                for _ in range(steps):
                    theta = inner_update(model, theta, x, y, alpha)
                for k in total:
                    total[k] = total[k] + (phi[k] - theta[k]).detach()
                task_losses.append(float(task_loss(model, theta, x, y)))
            B = len(batch)
            return {k: v / B for k, v in total.items()}, torch.tensor(sum(task_losses) / B)
          """)))
add(_case("rep_ok_nograd_sgd", A1, "reptile_meta_gradient", True,
          "plain SGD on detached copies updated in place under torch.no_grad (no graph to φ at all), direction via torch.stack(...).mean(0) per parameter",
          [],
          _src(H1, REP_SIG, """
            thetas, losses = [], []
            for task in batch:
                x = torch.cat([task.x_support, task.x_query])
                y = torch.cat([task.y_support, task.y_query])
                theta = {k: v.detach().clone().requires_grad_(True) for k, v in phi.items()}
                for _ in range(steps):
                    loss = task_loss(model, theta, x, y)
                    grads = torch.autograd.grad(loss, list(theta.values()))
                    with torch.no_grad():
                        for p, g in zip(theta.values(), grads):
                            p -= alpha * g
                with torch.no_grad():
                    losses.append(task_loss(model, theta, x, y))
                thetas.append(theta)
            direction = {k: torch.stack([phi[k].detach() - t[k].detach() for t in thetas]).mean(0)
                         for k in phi}
            return direction, torch.stack(losses).mean()
          """)))
add(_case("rep_ok_mean_of_thetas", A1, "reptile_meta_gradient", True,
          "computes the mean of the θ̂_i first and returns φ − mean(θ̂) (same thing, different summation order)",
          [],
          _src(H1, REP_SIG, """
            adapted, losses = [], []
            for task in batch:
                x = torch.cat((task.x_support, task.x_query))
                y = torch.cat((task.y_support, task.y_query))
                theta = dict(phi)
                for _ in range(steps):
                    theta = inner_update(model, theta, x, y, alpha)
                adapted.append({k: v.detach() for k, v in theta.items()})
                losses.append(task_loss(model, theta, x, y).detach())
            mean_theta = {k: sum(t[k] for t in adapted) / len(adapted) for k in phi}
            direction = {k: phi[k].detach() - mean_theta[k] for k in phi}
            return direction, sum(losses) / len(losses)
          """)))

# =====================================================================================
# Assignment 2 — metasgd_inner_update
# =====================================================================================
add(_case("msgd_scalar_per_tensor", A2, "metasgd_inner_update", False,
          "α is reduced to one scalar per tensor (alphas[k].mean()) instead of one learning rate per element (α ⊙ ∇)",
          ["per element", "scalar", "element-wise"],
          _src(H2, MSGD_SIG, """
            loss = task_loss(model, params, x, y)
            grads = torch.autograd.grad(loss, list(params.values()), create_graph=create_graph)
            new = {}
            for (name, p), g in zip(params.items(), grads):
                lr = alphas[name].mean()  # the learning rate of this layer
                new[name] = p - lr * g
            return new
          """)))
add(_case("msgd_alpha_detached", A2, "metasgd_inner_update", False,
          "α is detached (alphas[k].detach()), so θ' has no graph back to α and the rates can never be learned",
          ["detach", "w.r.t. α", "gradient of α", "alpha"],
          _src(H2, MSGD_SIG, """
            loss = task_loss(model, params, x, y)
            grads = torch.autograd.grad(loss, list(params.values()), create_graph=create_graph)
            return {k: p - alphas[k].detach() * g for (k, p), g in zip(params.items(), grads)}
          """)))
add(_case("msgd_create_graph_ignored", A2, "metasgd_inner_update", False,
          "create_graph is not passed on to torch.autograd.grad, so the path through ∇θ l(θ) is dropped (no second-order term w.r.t. φ)",
          ["create_graph", "second-order", "second order"],
          _src(H2, MSGD_SIG, """
            loss = task_loss(model, params, x, y)
            grads = torch.autograd.grad(loss, list(params.values()))
            return {k: p - alphas[k] * g for (k, p), g in zip(params.items(), grads)}
          """)))
add(_case("msgd_sign", A2, "metasgd_inner_update", False,
          "the step adds α ⊙ ∇l instead of subtracting it: sign error",
          ["sign", "ascent", "minus"],
          _src(H2, MSGD_SIG, """
            loss = task_loss(model, params, x, y)
            grads = torch.autograd.grad(loss, list(params.values()), create_graph=create_graph)
            return {k: p + alphas[k] * g for (k, p), g in zip(params.items(), grads)}
          """)))
add(_case("msgd_key_order", A2, "metasgd_inner_update", False,
          "pairs parameters and rates by position (zip over alphas.values()) instead of by name, so a rates dict in another key order gives each tensor someone else's rates",
          ["order", "by name", "key"],
          _src(H2, MSGD_SIG, """
            loss = task_loss(model, params, x, y)
            grads = torch.autograd.grad(loss, list(params.values()), create_graph=create_graph)
            out = {}
            for (name, p), a, g in zip(params.items(), alphas.values(), grads):
                out[name] = p - a * g
            return out
          """)))
add(_case("msgd_clamped_alpha", A2, "metasgd_inner_update", False,
          "α is clamped to be non-negative, but Meta-SGD's rates may be negative (a negative rate reverses that coordinate's step)",
          ["negative", "clamp", "sign of α"],
          _src(H2, MSGD_SIG, """
            loss = task_loss(model, params, x, y)
            grads = torch.autograd.grad(loss, list(params.values()), create_graph=create_graph)
            # a learning rate cannot be negative
            return {k: p - alphas[k].clamp(min=0.0) * g for (k, p), g in zip(params.items(), grads)}
          """)))
add(_case("msgd_grad_norm_clip", A2, "metasgd_inner_update", False,
          "each gradient is rescaled to norm at most 1 (gradient clipping) before the step, so θ' ≠ θ − α ⊙ ∇l(θ)",
          ["clip", "norm"],
          _src(H2, MSGD_SIG, """
            loss = task_loss(model, params, x, y)
            grads = torch.autograd.grad(loss, list(params.values()), create_graph=create_graph)
            new = {}
            for (k, p), g in zip(params.items(), grads):
                g = g / torch.clamp(g.norm(), min=1.0)  # clip the gradient norm
                new[k] = p - alphas[k] * g
            return new
          """)))
add(_case("msgd_backward_grad", A2, "metasgd_inner_update", False,
          "uses loss.backward() and p.grad, so gradients pile up in .grad from one call to the next (and are None for non-leaf θ) instead of fresh torch.autograd.grad gradients",
          [".backward", ".grad", "accumulat"],
          _src(H2, MSGD_SIG, """
            loss = task_loss(model, params, x, y)
            loss.backward(create_graph=create_graph)
            return {k: p - alphas[k] * p.grad for k, p in params.items()}
          """)))
add(_case("msgd_ok_by_name", A2, "metasgd_inner_update", True,
          "looks the rates up by name in an explicit loop over a list of names",
          [],
          _src(H2, MSGD_SIG, """
            names = list(params)
            loss = task_loss(model, params, x, y)
            grads = torch.autograd.grad(loss, [params[n] for n in names], create_graph=create_graph)
            new_params = {}
            for n, g in zip(names, grads):
                new_params[n] = params[n] - alphas[n] * g
            return new_params
          """)))
add(_case("msgd_ok_addcmul", A2, "metasgd_inner_update", True,
          "torch.addcmul(θ, α, g, value=-1) for the element-wise step",
          [],
          _src(H2, MSGD_SIG, """
            loss = task_loss(model, params, x, y)
            grads = dict(zip(params.keys(), torch.autograd.grad(loss, tuple(params.values()),
                                                                create_graph=create_graph)))
            return {k: torch.addcmul(params[k], alphas[k], grads[k], value=-1.0) for k in params}
          """)))
add(_case("msgd_ok_torch_func", A2, "metasgd_inner_update", True,
          "torch.func.grad for ∇θ l; the gradient is detached when create_graph is False (α keeps its graph)",
          [],
          _src(H2 + "from torch.func import grad\n", MSGD_SIG, """
            g = grad(lambda p: task_loss(model, p, x, y))(dict(params))
            if not create_graph:
                g = {k: v.detach() for k, v in g.items()}
            return {k: params[k] - alphas[k] * g[k] for k in params}
          """)))

# =====================================================================================
# Assignment 2 — metasgd_meta_loss
# =====================================================================================
add(_case("msml_chained_tasks", A2, "metasgd_meta_loss", False,
          "each task starts from the previous task's adapted parameters instead of from φ",
          ["from φ", "previous task", "restart"],
          _src(H2, MSML_SIG, """
            losses = []
            theta = phi
            for task in batch:
                for _ in range(steps):
                    theta = metasgd_inner_update(model, theta, alphas, task.x_support, task.y_support)
                losses.append(task_loss(model, theta, task.x_query, task.y_query))
            return torch.stack(losses).mean()
          """)))
add(_case("msml_first_order", A2, "metasgd_meta_loss", False,
          "calls metasgd_inner_update with create_graph=False, so the meta-gradient w.r.t. φ misses the second-order term (Meta-SGD is trained second order)",
          ["create_graph", "second-order", "second order"],
          _src(H2, MSML_SIG, """
            losses = []
            for task in batch:
                theta = phi
                for _ in range(steps):
                    theta = metasgd_inner_update(model, theta, alphas, task.x_support,
                                                 task.y_support, create_graph=False)
                losses.append(task_loss(model, theta, task.x_query, task.y_query))
            return torch.stack(losses).mean()
          """)))
add(_case("msml_sum_tasks", A2, "metasgd_meta_loss", False,
          "the query losses are summed over the tasks instead of averaged (missing 1/B)",
          ["sum", "mean", "average"],
          _src(H2, MSML_SIG, """
            total = 0
            for task in batch:
                theta = phi
                for _ in range(steps):
                    theta = metasgd_inner_update(model, theta, alphas, task.x_support, task.y_support)
                total = total + task_loss(model, theta, task.x_query, task.y_query)
            return total
          """)))
add(_case("msml_steps_ignored", A2, "metasgd_meta_loss", False,
          "`steps` is ignored: a single inner update is taken whatever steps is",
          ["steps", "one step", "ignor"],
          _src(H2, MSML_SIG, """
            losses = []
            for task in batch:
                theta = metasgd_inner_update(model, phi, alphas, task.x_support, task.y_support)
                losses.append(task_loss(model, theta, task.x_query, task.y_query))
            return torch.stack(losses).mean()
          """)))
add(_case("msml_alphas_detached", A2, "metasgd_meta_loss", False,
          "the rates are detached before the inner loop, so the meta-loss has no gradient w.r.t. α and the outer loop cannot learn them",
          ["detach", "w.r.t. α", "gradient of α"],
          _src(H2, MSML_SIG, """
            rates = {k: a.detach() for k, a in alphas.items()}  # alphas are learning rates, not weights
            losses = []
            for task in batch:
                theta = phi
                for _ in range(steps):
                    theta = metasgd_inner_update(model, theta, rates, task.x_support, task.y_support)
                losses.append(task_loss(model, theta, task.x_query, task.y_query))
            return torch.stack(losses).mean()
          """)))
add(_case("msml_fresh_alphas", A2, "metasgd_meta_loss", False,
          "builds new rates with init_alphas(phi, 0.4) inside the function instead of using the alphas passed in: the given α is ignored and gets no gradient",
          ["alphas passed", "init_alphas", "ignor"],
          _src(H2 + "from hwlib import init_alphas\n", MSML_SIG, """
            rates = init_alphas(phi, 0.4)
            losses = []
            for task in batch:
                theta = phi
                for _ in range(steps):
                    theta = metasgd_inner_update(model, theta, rates, task.x_support, task.y_support)
                losses.append(task_loss(model, theta, task.x_query, task.y_query))
            return torch.stack(losses).mean()
          """)))
add(_case("msml_scores_support", A2, "metasgd_meta_loss", False,
          "the adapted parameters are scored on the support set instead of the query set",
          ["query set", "support set", "score"],
          _src(H2, MSML_SIG, """
            losses = []
            for task in batch:
                theta = phi
                for _ in range(steps):
                    theta = metasgd_inner_update(model, theta, alphas, task.x_support, task.y_support)
                losses.append(task_loss(model, theta, task.x_support, task.y_support))
            return torch.stack(losses).mean()
          """)))
add(_case("msml_return_in_loop", A2, "metasgd_meta_loss", False,
          "the return is inside the task loop, so only the first task counts",
          ["first task", "only one task", "inside the loop"],
          _src(H2, MSML_SIG, """
            losses = []
            for task in batch:
                theta = phi
                for _ in range(steps):
                    theta = metasgd_inner_update(model, theta, alphas, task.x_support, task.y_support)
                losses.append(task_loss(model, theta, task.x_query, task.y_query))
                return torch.stack(losses).mean()
          """)))
add(_case("msml_ok_stack", A2, "metasgd_meta_loss", True,
          "helper function per task, torch.stack(...).mean()",
          [],
          _src(H2, MSML_SIG, """
            def query_loss(task):
                theta = phi
                for _ in range(steps):
                    theta = metasgd_inner_update(model, theta, alphas, task.x_support,
                                                 task.y_support, create_graph=True)
                return task_loss(model, theta, task.x_query, task.y_query)

            return torch.stack([query_loss(task) for task in batch]).mean()
          """)))
add(_case("msml_ok_zip_sum", A2, "metasgd_meta_loss", True,
          "iterates with zip over the batch tensors, accumulates, divides by B",
          [],
          _src(H2, MSML_SIG, """
            B = batch.x_support.shape[0]
            meta = 0.0
            for xs, ys, xq, yq in zip(batch.x_support, batch.y_support, batch.x_query, batch.y_query):
                theta = dict(phi)
                for _ in range(steps):
                    theta = metasgd_inner_update(model, theta, alphas, xs, ys)
                meta = meta + task_loss(model, theta, xq, yq)
            return meta / B
          """)))
add(_case("msml_ok_self_contained", A2, "metasgd_meta_loss", True,
          "self-contained inner loop (its own autograd.grad with create_graph=True and α ⊙ g), no call to metasgd_inner_update",
          [],
          _src(H2, MSML_SIG, """
            losses = []
            for task in batch:
                theta = phi
                for _ in range(steps):
                    l_s = task_loss(model, theta, task.x_support, task.y_support)
                    gs = torch.autograd.grad(l_s, list(theta.values()), create_graph=True)
                    theta = {k: w - alphas[k] * g for (k, w), g in zip(theta.items(), gs)}
                losses.append(task_loss(model, theta, task.x_query, task.y_query))
            return sum(losses) / len(losses)
          """)))

# =====================================================================================
# Assignment 2 — prototypes
# =====================================================================================
add(_case("proto_view_class_major", A2, "prototypes", False,
          "reshapes the embeddings to [n_way, K, d] and averages, assuming the support set is sorted by label; with labels in any other order the prototypes mix classes",
          ["label", "order", "sorted"],
          _src(H2, PROTO_SIG, """
            d = embeddings.shape[-1]
            return embeddings.view(n_way, -1, d).mean(dim=1)
          """)))
add(_case("proto_view_k_major", A2, "prototypes", False,
          "reshapes to [K, n_way, d] and averages over dim 0, mixing up N and K (it assumes labels cycle 0..N−1, 0..N−1, ...) instead of selecting each class by its label",
          ["reshape", "order", "n and k", "label"],
          _src(H2, PROTO_SIG, """
            return embeddings.reshape(-1, n_way, embeddings.shape[1]).mean(0)
          """)))
add(_case("proto_sum", A2, "prototypes", False,
          "sums the embeddings of each class instead of averaging them (missing 1/|S_k|)",
          ["sum", "mean", "|s_k|"],
          _src(H2, PROTO_SIG, """
            return torch.stack([embeddings[labels == k].sum(dim=0) for k in range(n_way)])
          """)))
add(_case("proto_tolist", A2, "prototypes", False,
          "builds the prototypes through .tolist() and torch.tensor(...), which breaks the graph: no gradient flows back to the embeddings",
          ["gradient", "tolist", "graph"],
          _src(H2, PROTO_SIG, """
            protos = []
            for k in range(n_way):
                protos.append(embeddings[labels == k].mean(0).tolist())
            return torch.tensor(protos, dtype=embeddings.dtype, device=embeddings.device)
          """)))
add(_case("proto_divide_total", A2, "prototypes", False,
          "divides each class's sum by the total number of support examples (N·K) instead of by that class's count |S_k|",
          ["|s_k|", "count", "divid"],
          _src(H2, PROTO_SIG, """
            onehot = F.one_hot(labels, n_way).to(embeddings.dtype)  # [n_support, n_way]
            return onehot.t() @ embeddings / len(labels)
          """)))
add(_case("proto_zeros_float32", A2, "prototypes", False,
          "writes the prototypes into torch.zeros(n_way, d), a float32 CPU tensor: float64 embeddings are rounded to float32 (and CUDA embeddings fail); use embeddings.new_zeros or torch.stack",
          ["dtype", "float32", "device"],
          _src(H2, PROTO_SIG, """
            protos = torch.zeros(n_way, embeddings.shape[1])
            for k in range(n_way):
                protos[k] = embeddings[labels == k].mean(dim=0)
            return protos
          """)))
add(_case("proto_normalised", A2, "prototypes", False,
          "L2-normalises each prototype (a cosine-style prototype) instead of returning the plain class mean",
          ["normalis", "normaliz", "mean"],
          _src(H2, PROTO_SIG, """
            protos = torch.stack([embeddings[labels == k].mean(0) for k in range(n_way)])
            return F.normalize(protos, dim=1)
          """)))
add(_case("proto_ok_onehot", A2, "prototypes", True,
          "one-hot matrix product divided by the per-class counts (vectorised, no loop)",
          [],
          _src(H2, PROTO_SIG, """
            onehot = F.one_hot(labels.long(), num_classes=n_way).to(embeddings.dtype)  # [n, N]
            counts = onehot.sum(dim=0).unsqueeze(1)                                     # [N, 1]
            return (onehot.T @ embeddings) / counts
          """)))
add(_case("proto_ok_index_add", A2, "prototypes", True,
          "index_add into embeddings.new_zeros, divided by torch.bincount counts",
          [],
          _src(H2, PROTO_SIG, """
            sums = embeddings.new_zeros(n_way, embeddings.shape[1]).index_add(0, labels, embeddings)
            counts = torch.bincount(labels, minlength=n_way).to(embeddings.dtype)
            return sums / counts[:, None]
          """)))
add(_case("proto_ok_loop", A2, "prototypes", True,
          "explicit loop with a boolean mask, sum / count, appended to a list and stacked",
          [],
          _src(H2, PROTO_SIG, """
            rows = []
            for k in range(n_way):
                mask = labels == k
                rows.append(embeddings[mask].sum(dim=0) / mask.sum())
            return torch.stack(rows, dim=0)
          """)))
add(_case("proto_ok_scatter_reduce", A2, "prototypes", True,
          "scatter_reduce with reduce='mean' on a zeros tensor (include_self=False)",
          [],
          _src(H2, PROTO_SIG, """
            d = embeddings.shape[1]
            index = labels.view(-1, 1).expand(-1, d)
            out = torch.zeros(n_way, d, dtype=embeddings.dtype, device=embeddings.device)
            return out.scatter_reduce(0, index, embeddings, reduce="mean", include_self=False)
          """)))

# =====================================================================================
# Assignment 2 — protonet_logits
# =====================================================================================
add(_case("logits_not_squared", A2, "protonet_logits", False,
          "uses minus the Euclidean distance (torch.cdist) instead of minus the SQUARED distance",
          ["squared", "square"],
          _src(H2, LOG_SIG, """
            return -torch.cdist(query_embeddings, prototypes)
          """)))
add(_case("logits_positive", A2, "protonet_logits", False,
          "returns +‖z − c‖² instead of −‖z − c‖²: the farthest prototype gets the highest logit (sign error)",
          ["sign", "minus", "negative"],
          _src(H2, LOG_SIG, """
            diff = query_embeddings[:, None, :] - prototypes[None, :, :]
            return (diff ** 2).sum(dim=-1)
          """)))
add(_case("logits_transposed", A2, "protonet_logits", False,
          "the output is [n_way, n_query] (prototypes broadcast on the first axis) instead of [n_query, n_way]",
          ["transpos", "shape", "[n_query, n_way]"],
          _src(H2, LOG_SIG, """
            return -((prototypes.unsqueeze(1) - query_embeddings.unsqueeze(0)) ** 2).sum(dim=2)
          """)))
add(_case("logits_mean_features", A2, "protonet_logits", False,
          "averages the squared differences over the features (.mean) instead of summing them: the logits are the squared distance divided by d",
          ["sum over", "mean", "features"],
          _src(H2, LOG_SIG, """
            return -((query_embeddings.unsqueeze(1) - prototypes.unsqueeze(0)) ** 2).mean(dim=2)
          """)))
add(_case("logits_softmax", A2, "protonet_logits", False,
          "returns softmax probabilities instead of the logits −‖z − c‖² (the cross-entropy then applies a second softmax)",
          ["softmax", "probabilit", "twice"],
          _src(H2, LOG_SIG, """
            dist = ((query_embeddings[:, None] - prototypes[None]) ** 2).sum(-1)
            return F.softmax(-dist, dim=1)
          """)))
add(_case("logits_dot_product", A2, "protonet_logits", False,
          "uses the dot product z·c (a similarity) instead of minus the squared Euclidean distance",
          ["dot product", "distance", "inner product"],
          _src(H2, LOG_SIG, """
            return query_embeddings @ prototypes.T
          """)))
add(_case("logits_missing_query_norm", A2, "protonet_logits", False,
          "computes 2 z·c − ‖c‖² (the linear-head form) and drops the −‖z‖² term, so the values are not −‖z − c‖² (same arg-max, wrong logits)",
          ["‖z‖²", "norm", "query"],
          _src(H2, LOG_SIG, """
            # -||z - c||^2 = 2 z.c - ||c||^2 - ||z||^2, and ||z||^2 is the same for every class
            return 2 * query_embeddings @ prototypes.t() - (prototypes ** 2).sum(dim=1)
          """)))
add(_case("logits_ok_cdist_squared", A2, "protonet_logits", True,
          "torch.cdist(...) ** 2",
          [],
          _src(H2, LOG_SIG, """
            return -torch.cdist(query_embeddings, prototypes) ** 2
          """)))
add(_case("logits_ok_expanded", A2, "protonet_logits", True,
          "expanded form −(‖z‖² − 2 z·c + ‖c‖²) with matrix products",
          [],
          _src(H2, LOG_SIG, """
            zz = (query_embeddings ** 2).sum(dim=1, keepdim=True)   # [Q, 1]
            cc = (prototypes ** 2).sum(dim=1).unsqueeze(0)           # [1, N]
            zc = query_embeddings @ prototypes.t()                   # [Q, N]
            return -(zz - 2 * zc + cc)
          """)))
add(_case("logits_ok_einsum", A2, "protonet_logits", True,
          "broadcast difference, squared norm with einsum",
          [],
          _src(H2, LOG_SIG, """
            diff = query_embeddings.unsqueeze(1) - prototypes.unsqueeze(0)  # [Q, N, d]
            return -torch.einsum("qnd,qnd->qn", diff, diff)
          """)))
add(_case("logits_ok_loop", A2, "protonet_logits", True,
          "loop over the prototypes, one column each, stacked on dim 1",
          [],
          _src(H2, LOG_SIG, """
            cols = [-(query_embeddings - c).pow(2).sum(dim=1) for c in prototypes]
            return torch.stack(cols, dim=1)
          """)))

# =====================================================================================
# Assignment 2 — protonet_loss
# =====================================================================================
add(_case("pl_joint_embed", A2, "protonet_loss", False,
          "support and query images are embedded in ONE embed call (concatenated), so BatchNorm normalises them with shared batch statistics; the notebook asks for two separate calls",
          ["separate", "batchnorm", "one call"],
          _src(H2, PL_SIG, """
            losses = []
            for task in batch:
                n_way = int(task.y_support.max()) + 1
                n_s = task.x_support.shape[0]
                z = embed(model, phi, torch.cat([task.x_support, task.x_query]))
                z_s, z_q = z[:n_s], z[n_s:]
                c = prototypes(z_s, task.y_support, n_way)
                losses.append(F.cross_entropy(protonet_logits(z_q, c), task.y_query))
            return torch.stack(losses).mean()
          """)))
add(_case("pl_sum_tasks", A2, "protonet_loss", False,
          "the task losses are summed over the meta-batch instead of averaged (missing 1/B)",
          ["sum", "mean", "average"],
          _src(H2, PL_SIG, """
            total = 0
            for task in batch:
                n_way = int(task.y_support.max()) + 1
                z_s = embed(model, phi, task.x_support)
                z_q = embed(model, phi, task.x_query)
                logits = protonet_logits(z_q, prototypes(z_s, task.y_support, n_way))
                total = total + F.cross_entropy(logits, task.y_query)
            return total
          """)))
add(_case("pl_nway_support_size", A2, "protonet_loss", False,
          "N is taken as the number of support examples (len(y_support) = N·K) instead of int(y_support.max()) + 1: wrong for K > 1 (empty classes, NaN prototypes)",
          ["n_way", "number of classes", "n·k"],
          _src(H2, PL_SIG, """
            losses = []
            for task in batch:
                n_way = len(task.y_support)
                z_s = embed(model, phi, task.x_support)
                z_q = embed(model, phi, task.x_query)
                c = prototypes(z_s, task.y_support, n_way)
                losses.append(F.cross_entropy(protonet_logits(z_q, c), task.y_query))
            return torch.stack(losses).mean()
          """)))
add(_case("pl_positive_distances", A2, "protonet_loss", False,
          "the cross-entropy is fed +‖z − c‖² (distances) instead of −‖z − c‖²: the farthest prototype is rewarded (sign error)",
          ["sign", "minus", "negative"],
          _src(H2, PL_SIG, """
            losses = []
            for task in batch:
                n_way = int(task.y_support.max()) + 1
                z_s = embed(model, phi, task.x_support)
                z_q = embed(model, phi, task.x_query)
                c = prototypes(z_s, task.y_support, n_way)
                dist = torch.cdist(z_q, c) ** 2
                losses.append(F.cross_entropy(dist, task.y_query))
            return torch.stack(losses).mean()
          """)))
add(_case("pl_softmax_twice", A2, "protonet_loss", False,
          "applies softmax to the logits before F.cross_entropy, which applies log-softmax itself: softmax twice",
          ["softmax", "twice", "probabilit"],
          _src(H2, PL_SIG, """
            losses = []
            for task in batch:
                n_way = int(task.y_support.max()) + 1
                z_s = embed(model, phi, task.x_support)
                z_q = embed(model, phi, task.x_query)
                probs = F.softmax(protonet_logits(z_q, prototypes(z_s, task.y_support, n_way)), dim=1)
                losses.append(F.cross_entropy(probs, task.y_query))
            return torch.stack(losses).mean()
          """)))
add(_case("pl_support_labels", A2, "protonet_loss", False,
          "the query logits are scored with the support labels (y_support) instead of the query labels",
          ["y_query", "support labels", "labels"],
          _src(H2, PL_SIG, """
            losses = []
            for task in batch:
                n_way = int(task.y_support.max()) + 1
                z_s = embed(model, phi, task.x_support)
                z_q = embed(model, phi, task.x_query)
                logits = protonet_logits(z_q, prototypes(z_s, task.y_support, n_way))
                losses.append(F.cross_entropy(logits, task.y_support))
            return torch.stack(losses).mean()
          """)))
add(_case("pl_protos_from_query", A2, "protonet_loss", False,
          "the prototypes are computed from the query embeddings and labels instead of the support set",
          ["support set", "query", "prototypes from"],
          _src(H2, PL_SIG, """
            losses = []
            for task in batch:
                n_way = int(task.y_support.max()) + 1
                z_s = embed(model, phi, task.x_support)
                z_q = embed(model, phi, task.x_query)
                c = prototypes(z_q, task.y_query, n_way)
                losses.append(F.cross_entropy(protonet_logits(z_q, c), task.y_query))
            return torch.stack(losses).mean()
          """)))
add(_case("pl_detach_prototypes", A2, "protonet_loss", False,
          "the prototypes are detached ('computed, not learned'), so no gradient flows through the support embeddings into φ",
          ["detach", "prototypes", "gradient"],
          _src(H2, PL_SIG, """
            losses = []
            for task in batch:
                n_way = int(task.y_support.max()) + 1
                z_s = embed(model, phi, task.x_support)
                z_q = embed(model, phi, task.x_query)
                c = prototypes(z_s, task.y_support, n_way).detach()  # prototypes are not learned
                losses.append(F.cross_entropy(protonet_logits(z_q, c), task.y_query))
            return torch.stack(losses).mean()
          """)))
add(_case("pl_nll_raw_logits", A2, "protonet_loss", False,
          "uses F.nll_loss on the raw logits (no log-softmax), which is not the cross-entropy",
          ["log_softmax", "nll", "cross_entropy"],
          _src(H2, PL_SIG, """
            losses = []
            for task in batch:
                n_way = int(task.y_support.max()) + 1
                z_s = embed(model, phi, task.x_support)
                z_q = embed(model, phi, task.x_query)
                logits = protonet_logits(z_q, prototypes(z_s, task.y_support, n_way))
                losses.append(F.nll_loss(logits, task.y_query))
            return torch.stack(losses).mean()
          """)))
add(_case("pl_sum_queries", A2, "protonet_loss", False,
          "cross_entropy with reduction='sum' sums over the query examples instead of averaging them",
          ["reduction", "sum", "mean over the queries"],
          _src(H2, PL_SIG, """
            losses = []
            for task in batch:
                n_way = int(task.y_support.max()) + 1
                z_s = embed(model, phi, task.x_support)
                z_q = embed(model, phi, task.x_query)
                logits = protonet_logits(z_q, prototypes(z_s, task.y_support, n_way))
                losses.append(F.cross_entropy(logits, task.y_query, reduction="sum"))
            return torch.stack(losses).mean()
          """)))
add(_case("pl_ok_stack", A2, "protonet_loss", True,
          "list comprehension over the tasks via a helper, torch.stack(...).mean()",
          [],
          _src(H2, PL_SIG, """
            def one_task(task):
                n_way = int(task.y_support.max()) + 1
                c = prototypes(embed(model, phi, task.x_support), task.y_support, n_way)
                return F.cross_entropy(protonet_logits(embed(model, phi, task.x_query), c),
                                       task.y_query)

            return torch.stack([one_task(t) for t in batch]).mean()
          """)))
add(_case("pl_ok_log_softmax_gather", A2, "protonet_loss", True,
          "self-contained: one-hot prototypes inline, log_softmax and gather of the true class (−mean log p), accumulated and divided by B",
          [],
          _src(H2, PL_SIG, """
            total = 0.0
            for x_s, y_s, x_q, y_q in zip(batch.x_support, batch.y_support, batch.x_query, batch.y_query):
                n_way = int(y_s.max()) + 1
                z_s, z_q = embed(model, phi, x_s), embed(model, phi, x_q)
                onehot = F.one_hot(y_s, n_way).to(z_s.dtype)
                protos = (onehot.t() @ z_s) / onehot.sum(0)[:, None]
                logits = -((z_q[:, None, :] - protos[None, :, :]) ** 2).sum(-1)
                log_p = F.log_softmax(logits, dim=1)
                total = total - log_p.gather(1, y_q[:, None]).mean()
            return total / len(batch)
          """)))
add(_case("pl_ok_cdist_inline", A2, "protonet_loss", True,
          "inline −cdist² logits and prototypes via the student's prototypes(), sum(...)/len(...) over a list",
          [],
          _src(H2, PL_SIG, """
            losses = []
            for task in batch:
                n_way = int(task.y_support.max().item()) + 1
                support = embed(model, phi, task.x_support)
                query = embed(model, phi, task.x_query)
                protos = prototypes(support, task.y_support, n_way)
                losses.append(F.cross_entropy(-torch.cdist(query, protos).pow(2), task.y_query))
            return sum(losses) / len(losses)
          """)))


def _check_unique():
    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names)), "duplicate case names"


_check_unique()
