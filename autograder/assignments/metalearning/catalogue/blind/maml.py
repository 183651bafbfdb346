"""The blind set: maml_meta_loss."""

from autograder.student_code.blind import H1, MAML_SIG, _case, _src

from . import A1, add

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
