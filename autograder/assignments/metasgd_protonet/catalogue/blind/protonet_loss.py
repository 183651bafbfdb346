"""The blind set: protonet_loss."""

from autograder.student_code.blind import H2, PL_SIG, _case, _src

from . import A2, add

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
