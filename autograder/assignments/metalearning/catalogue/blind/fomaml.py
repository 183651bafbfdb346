"""The blind set: fomaml_meta_loss."""

from autograder.student_code.blind import FO_SIG, H1, _case, _src

from . import A1, add

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
