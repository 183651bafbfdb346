"""Part 4's catalogue, a learner that is a network: wrong answers written as students write
them (each rejected by its check with a message naming the cause) and correct answers written
differently (full marks).  ``incontext_logits`` may call ``query_mask`` by its global name (the
grader lends the reference one)."""

from __future__ import annotations

from autograder.student_code.entries import Bug, Variant

from .entries import LOGITS, MASK

BUGS: list[Bug] = [
    Bug("mask-inverted", "query_mask", "query_mask", "inverted",
        MASK + '''\
    L = n_support + n_query
    allowed = torch.zeros(L, L, dtype=torch.bool)
    allowed[:, :n_support] = True                      # everyone may read the supports
    allowed[range(n_support, L), range(n_support, L)] = True   # and a query itself
    return allowed
'''),
    Bug("mask-causal", "query_mask", "query_mask", "causal",
        MASK + '''\
    L = n_support + n_query
    return torch.triu(torch.ones(L, L, dtype=torch.bool), diagonal=1)   # as in a language model
'''),
    Bug("mask-queries-unmasked", "query_mask", "query_mask", "another query",
        MASK + '''\
    L = n_support + n_query
    mask = torch.zeros(L, L, dtype=torch.bool)
    mask[:n_support, n_support:] = True      # supports must not read the queries
    return mask
'''),
    Bug("mask-no-self", "query_mask", "query_mask", "itself",
        MASK + '''\
    L = n_support + n_query
    mask = torch.zeros(L, L, dtype=torch.bool)
    mask[:, n_support:] = True               # nobody reads a query
    return mask
'''),
    Bug("mask-supports-read-queries", "query_mask", "query_mask", "must not attend to any query",
        MASK + '''\
    L = n_support + n_query
    mask = torch.zeros(L, L, dtype=torch.bool)
    mask[n_support:, n_support:] = ~torch.eye(n_query, dtype=torch.bool)
    return mask
'''),
    Bug("mask-float-inf", "query_mask", "query_mask", "bool",
        MASK + '''\
    L = n_support + n_query
    mask = torch.zeros(L, L)
    mask[:, n_support:] = float("-inf")
    mask[range(n_support, L), range(n_support, L)] = 0.0
    return mask
'''),
    Bug("mask-query-rows-only", "query_mask", "query_mask", "[L, L]",
        MASK + '''\
    L = n_support + n_query
    mask = torch.ones(n_query, L, dtype=torch.bool)   # only the queries' rows matter
    mask[:, :n_support] = False
    mask[:, n_support:] = ~torch.eye(n_query, dtype=torch.bool)
    return mask
'''),
    Bug("mask-queries-first", "query_mask", "query_mask", "support",
        MASK + '''\
    L = n_support + n_query
    mask = torch.ones(L, L, dtype=torch.bool)
    mask[:, n_query:] = False                 # the supports (put last) are visible
    mask[:n_query, :n_query] = ~torch.eye(n_query, dtype=torch.bool)
    mask[n_query:, :n_query] = True
    return mask
'''),
    Bug("logits-no-mask", "incontext_logits", "incontext_logits", "not passed to the encoder",
        LOGITS + '''\
    n_s, n_q = len(x_support), len(x_query)
    z = apply(model, params, "body", torch.cat([x_support, x_query]))
    labels = torch.cat([F.one_hot(y_support, n_way).to(z.dtype), z.new_zeros(n_q, n_way)])
    flag = torch.cat([z.new_zeros(n_s, 1), z.new_ones(n_q, 1)])
    tokens = apply(model, params, "token", torch.cat([z, labels, flag], dim=1))
    out = apply(model, params, "encoder", tokens.unsqueeze(0))
    return apply(model, params, "head", out[0, n_s:])
'''),
    Bug("logits-mask-inverted", "incontext_logits", "incontext_logits", "inverted",
        LOGITS + '''\
    n_s, n_q = len(x_support), len(x_query)
    z = apply(model, params, "body", torch.cat([x_support, x_query]))
    labels = torch.cat([F.one_hot(y_support, n_way).to(z.dtype), z.new_zeros(n_q, n_way)])
    flag = torch.cat([z.new_zeros(n_s, 1), z.new_ones(n_q, 1)])
    tokens = apply(model, params, "token", torch.cat([z, labels, flag], dim=1))
    allowed = ~query_mask(n_s, n_q)           # "mask = where attention is allowed"
    out = apply(model, params, "encoder", tokens.unsqueeze(0), mask=allowed)
    return apply(model, params, "head", out[0, n_s:])
'''),
    Bug("logits-float-mask", "incontext_logits", "incontext_logits", "added",
        LOGITS + '''\
    n_s, n_q = len(x_support), len(x_query)
    z = apply(model, params, "body", torch.cat([x_support, x_query]))
    labels = torch.cat([F.one_hot(y_support, n_way).to(z.dtype), z.new_zeros(n_q, n_way)])
    flag = torch.cat([z.new_zeros(n_s, 1), z.new_ones(n_q, 1)])
    tokens = apply(model, params, "token", torch.cat([z, labels, flag], dim=1))
    mask = query_mask(n_s, n_q).to(z.dtype)   # the encoder wants the dtype of the tokens
    out = apply(model, params, "encoder", tokens.unsqueeze(0), mask=mask)
    return apply(model, params, "head", out[0, n_s:])
'''),
    Bug("logits-no-flag", "incontext_logits", "incontext_logits", "no query flag",
        LOGITS + '''\
    n_s, n_q = len(x_support), len(x_query)
    z = apply(model, params, "body", torch.cat([x_support, x_query]))
    labels = torch.cat([F.one_hot(y_support, n_way).to(z.dtype), z.new_zeros(n_q, n_way)])
    flag = z.new_zeros(n_s + n_q, 1)           # the zero label already marks the queries
    tokens = apply(model, params, "token", torch.cat([z, labels, flag], dim=1))
    out = apply(model, params, "encoder", tokens.unsqueeze(0), mask=query_mask(n_s, n_q))
    return apply(model, params, "head", out[0, n_s:])
'''),
    Bug("logits-flag-swapped", "incontext_logits", "incontext_logits", "wrong way round",
        LOGITS + '''\
    n_s, n_q = len(x_support), len(x_query)
    z = apply(model, params, "body", torch.cat([x_support, x_query]))
    labels = torch.cat([F.one_hot(y_support, n_way).to(z.dtype), z.new_zeros(n_q, n_way)])
    flag = torch.cat([z.new_ones(n_s, 1), z.new_zeros(n_q, 1)])   # 1 = "has a label"
    tokens = apply(model, params, "token", torch.cat([z, labels, flag], dim=1))
    out = apply(model, params, "encoder", tokens.unsqueeze(0), mask=query_mask(n_s, n_q))
    return apply(model, params, "head", out[0, n_s:])
'''),
    Bug("logits-label-first", "incontext_logits", "incontext_logits", "wrong order",
        LOGITS + '''\
    n_s, n_q = len(x_support), len(x_query)
    z = apply(model, params, "body", torch.cat([x_support, x_query]))
    labels = torch.cat([F.one_hot(y_support, n_way).to(z.dtype), z.new_zeros(n_q, n_way)])
    flag = torch.cat([z.new_zeros(n_s, 1), z.new_ones(n_q, 1)])
    tokens = apply(model, params, "token", torch.cat([labels, z, flag], dim=1))
    out = apply(model, params, "encoder", tokens.unsqueeze(0), mask=query_mask(n_s, n_q))
    return apply(model, params, "head", out[0, n_s:])
'''),
    Bug("logits-support-outputs", "incontext_logits", "incontext_logits", "own drawing",
        LOGITS + '''\
    n_s, n_q = len(x_support), len(x_query)
    z = apply(model, params, "body", torch.cat([x_support, x_query]))
    labels = torch.cat([F.one_hot(y_support, n_way).to(z.dtype), z.new_zeros(n_q, n_way)])
    flag = torch.cat([z.new_zeros(n_s, 1), z.new_ones(n_q, 1)])
    tokens = apply(model, params, "token", torch.cat([z, labels, flag], dim=1))
    out = apply(model, params, "encoder", tokens.unsqueeze(0), mask=query_mask(n_s, n_q))
    return apply(model, params, "head", out[0, :n_q])
'''),
    Bug("logits-softmax", "incontext_logits", "incontext_logits", "probabilities",
        LOGITS + '''\
    n_s, n_q = len(x_support), len(x_query)
    z = apply(model, params, "body", torch.cat([x_support, x_query]))
    labels = torch.cat([F.one_hot(y_support, n_way).to(z.dtype), z.new_zeros(n_q, n_way)])
    flag = torch.cat([z.new_zeros(n_s, 1), z.new_ones(n_q, 1)])
    tokens = apply(model, params, "token", torch.cat([z, labels, flag], dim=1))
    out = apply(model, params, "encoder", tokens.unsqueeze(0), mask=query_mask(n_s, n_q))
    return apply(model, params, "head", out[0, n_s:]).softmax(dim=-1)
'''),
    Bug("logits-query-labels-uniform", "incontext_logits", "incontext_logits", "label slots",
        LOGITS + '''\
    n_s, n_q = len(x_support), len(x_query)
    z = apply(model, params, "body", torch.cat([x_support, x_query]))
    unknown = torch.full((n_q, n_way), 1.0 / n_way, dtype=z.dtype)   # "any class"
    labels = torch.cat([F.one_hot(y_support, n_way).to(z.dtype), unknown])
    flag = torch.cat([z.new_zeros(n_s, 1), z.new_ones(n_q, 1)])
    tokens = apply(model, params, "token", torch.cat([z, labels, flag], dim=1))
    out = apply(model, params, "encoder", tokens.unsqueeze(0), mask=query_mask(n_s, n_q))
    return apply(model, params, "head", out[0, n_s:])
'''),
    Bug("logits-labels-assume-sorted", "incontext_logits", "incontext_logits", "stays with its drawing",
        LOGITS + '''\
    n_s, n_q = len(x_support), len(x_query)
    z = apply(model, params, "body", torch.cat([x_support, x_query]))
    y_sorted = torch.arange(n_s) % n_way        # supports come class by class
    labels = torch.cat([F.one_hot(y_sorted, n_way).to(z.dtype), z.new_zeros(n_q, n_way)])
    flag = torch.cat([z.new_zeros(n_s, 1), z.new_ones(n_q, 1)])
    tokens = apply(model, params, "token", torch.cat([z, labels, flag], dim=1))
    out = apply(model, params, "encoder", tokens.unsqueeze(0), mask=query_mask(n_s, n_q))
    return apply(model, params, "head", out[0, n_s:])
'''),
    Bug("logits-detached-embedding", "incontext_logits", "incontext_logits", "gradient",
        LOGITS + '''\
    n_s, n_q = len(x_support), len(x_query)
    with torch.no_grad():                     # the embedding is only an input here
        z = apply(model, params, "body", torch.cat([x_support, x_query]))
    labels = torch.cat([F.one_hot(y_support, n_way).to(z.dtype), z.new_zeros(n_q, n_way)])
    flag = torch.cat([z.new_zeros(n_s, 1), z.new_ones(n_q, 1)])
    tokens = apply(model, params, "token", torch.cat([z, labels, flag], dim=1))
    out = apply(model, params, "encoder", tokens.unsqueeze(0), mask=query_mask(n_s, n_q))
    return apply(model, params, "head", out[0, n_s:])
'''),
    Bug("logits-no-flag-feature", "incontext_logits", "incontext_logits", "d_embed + n_way + 1",
        LOGITS + '''\
    n_s, n_q = len(x_support), len(x_query)
    z = apply(model, params, "body", torch.cat([x_support, x_query]))
    labels = torch.cat([F.one_hot(y_support, n_way).to(z.dtype), z.new_zeros(n_q, n_way)])
    tokens = apply(model, params, "token", torch.cat([z, labels], dim=1))
    out = apply(model, params, "encoder", tokens.unsqueeze(0), mask=query_mask(n_s, n_q))
    return apply(model, params, "head", out[0, n_s:])
'''),
    Bug("logits-unsqueeze-wrong-dim", "incontext_logits", "incontext_logits", "batch of sequences",
        LOGITS + '''\
    n_s, n_q = len(x_support), len(x_query)
    z = apply(model, params, "body", torch.cat([x_support, x_query]))
    labels = torch.cat([F.one_hot(y_support, n_way).to(z.dtype), z.new_zeros(n_q, n_way)])
    flag = torch.cat([z.new_zeros(n_s, 1), z.new_ones(n_q, 1)])
    tokens = apply(model, params, "token", torch.cat([z, labels, flag], dim=1))
    out = apply(model, params, "encoder", tokens.unsqueeze(1), mask=query_mask(n_s, n_q))
    return apply(model, params, "head", out[n_s:, 0])
'''),
    Bug("logits-queries-first", "incontext_logits", "incontext_logits", "queries see each other",
        LOGITS + '''\
    n_s, n_q = len(x_support), len(x_query)
    z = apply(model, params, "body", torch.cat([x_query, x_support]))
    labels = torch.cat([z.new_zeros(n_q, n_way), F.one_hot(y_support, n_way).to(z.dtype)])
    flag = torch.cat([z.new_ones(n_q, 1), z.new_zeros(n_s, 1)])
    tokens = apply(model, params, "token", torch.cat([z, labels, flag], dim=1))
    out = apply(model, params, "encoder", tokens.unsqueeze(0), mask=query_mask(n_s, n_q))
    return apply(model, params, "head", out[0, :n_q])
'''),
]

VARIANTS: list[Variant] = [
    Variant("mask-eye-blocks", "query_mask", MASK + '''\
    L = n_support + n_query
    mask = torch.ones(L, L, dtype=torch.bool)
    mask[:, :n_support] = False
    mask[n_support:, n_support:] = ~torch.eye(n_query, dtype=torch.bool)
    return mask
'''),
    Variant("mask-loops", "query_mask", MASK + '''\
    L = n_support + n_query
    rows = []
    for i in range(L):
        rows.append([not (j < n_support or i == j) for j in range(L)])
    return torch.tensor(rows, dtype=torch.bool)
'''),
    Variant("logits-unbatched-eye-separate", "incontext_logits", LOGITS + '''\
    n_s, n_q = x_support.shape[0], x_query.shape[0]
    z_s = apply(model, params, "body", x_support)          # per-image norm: two calls are fine
    z_q = apply(model, params, "body", x_query)
    eye = torch.eye(n_way, dtype=z_s.dtype, device=z_s.device)
    sup = torch.cat([z_s, eye[y_support], torch.zeros(n_s, 1, dtype=z_s.dtype)], dim=1)
    qry = torch.cat([z_q, torch.zeros(n_q, n_way + 1, dtype=z_q.dtype)], dim=1)
    qry[:, -1] = 1.0
    tokens = apply(model, params, "token", torch.cat([sup, qry]))        # unbatched [L, d]
    out = apply(model, params, "encoder", tokens, mask=query_mask(n_s, n_q))
    return apply(model, params, "head", out[-n_q:])
'''),
    Variant("logits-log-softmax-float-inf-mask", "incontext_logits", LOGITS + '''\
    n_s, n_q = len(x_support), len(x_query)
    z = apply(model, params, "body", torch.cat([x_support, x_query]))
    labels = torch.cat([F.one_hot(y_support, n_way).to(z.dtype), z.new_zeros(n_q, n_way)])
    flag = torch.cat([z.new_zeros(n_s, 1), z.new_ones(n_q, 1)])
    tokens = apply(model, params, "token", torch.cat([z, labels, flag], dim=1))
    blocked = query_mask(n_s, n_q)
    additive = torch.zeros(blocked.shape, dtype=z.dtype).masked_fill(blocked, float("-inf"))
    out = apply(model, params, "encoder", tokens[None], mask=additive)
    return F.log_softmax(apply(model, params, "head", out[0, n_s:]), dim=-1)
'''),
]
