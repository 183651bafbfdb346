"""The blind set: prototypes, protonet_logits."""

from autograder.student_code.blind import H2, LOG_SIG, PROTO_SIG, _case, _src

from . import A2, add

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
