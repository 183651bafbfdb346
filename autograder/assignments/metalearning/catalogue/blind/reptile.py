"""The blind set: reptile."""

from autograder.student_code.blind import H1, REP_SIG, _case, _src

from . import A1, add

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
