"""The blind set: anil_adapt."""

from autograder.student_code.blind import ANIL_SIG, H1, _case, _src

from . import A1, add

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
