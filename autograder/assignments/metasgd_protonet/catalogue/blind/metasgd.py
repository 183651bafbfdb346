"""The blind set: metasgd_inner_update, metasgd_meta_loss."""

from autograder.student_code.blind import H2, MSGD_SIG, MSML_SIG, _case, _src

from . import A2, add

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
