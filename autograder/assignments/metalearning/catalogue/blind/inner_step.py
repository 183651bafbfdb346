"""The blind set: inner_update, outer_step."""

from autograder.student_code.blind import H1, IU_SIG, OS_SIG, _case, _src

from . import A1, add

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
