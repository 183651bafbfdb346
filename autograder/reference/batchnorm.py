"""BatchNorm with batch statistics, differentiable twice in few passes over memory.

Second-order MAML differentiates BatchNorm's backward.  PyTorch's own double backward
(``batchnorm_double_backward``) spends about 45 full-size element-wise passes per layer; on
the fast path's first layer (``[n, B·64, 28, 28]``) those passes, not the convolutions, were
a third of a meta-step (docs/benchmarks.md).  Here the same derivatives come from a closed
form with ~15 passes.  Per channel, over its M = n·H·W values, with r = (σ² + ε)^-½ and
x̂ = (x − μ) r:

    forward         y  = γ x̂ + β
    backward        gβ = Σ gy,   gγ = Σ gy x̂,   gx = γ r (gy − gβ/M − x̂ gγ/M)   (ATen's kernel)

and the backward of that backward, for cotangents (a, b, c) of (gx, gγ, gβ):

    ∂/∂gy = γ r (a − Sₐ/M − x̂ Sₐₓ/M) + b x̂ + c
    ∂/∂γ  = r (Σ a·gy − Sₐ gβ/M − Sₐₓ gγ/M)
    ∂/∂x  = Cₓ x̂ + C_g gy + Cₐ a + C₀, with per-channel
            C_g = b r − γ r² Sₐₓ/M,   Cₐ = −γ r² gγ/M,
            Cₓ  = −γ r² K/M + 3 γ r² gγ Sₐₓ/M² − b r gγ/M,   K = Σ a·gy − gβ Sₐ/M,
            C₀  = γ r² (Sₐₓ gβ + gγ Sₐ)/M² − b r gβ/M,

where Sₐ = Σ a and Sₐₓ = Σ a x̂.  ``tests/test_fast_path.py`` checks both derivatives against
``F.batch_norm`` in float64 (``gradgradcheck``).  Third derivatives raise an error.
"""

from __future__ import annotations

import torch


def _per_channel(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A ``[C]`` tensor shaped to broadcast over ``like`` (``[n, C, ...]``)."""
    return t.view(1, -1, *([1] * (like.dim() - 2)))


def _dims(x: torch.Tensor) -> tuple[int, ...]:
    return (0, *range(2, x.dim()))


class _Backward(torch.autograd.Function):
    """``(gy, x, γ) → (gx, gγ, gβ)``: BatchNorm's backward, itself differentiable once."""

    @staticmethod
    def forward(ctx, gy, x, gamma, mean, invstd, eps):
        gx, ggamma, gbeta = torch.ops.aten.native_batch_norm_backward(
            gy, x, gamma, None, None, mean, invstd, True, eps, [True, True, True])
        ctx.save_for_backward(gy, x, gamma, mean, invstd, ggamma, gbeta)
        return gx, ggamma, gbeta

    @staticmethod
    def backward(ctx, a, b, c):  # an unused output's cotangent arrives as zeros
        if torch.is_grad_enabled():  # create_graph=True here would need third derivatives
            raise RuntimeError("autograder.reference.batchnorm: third derivatives of BatchNorm "
                               "are not implemented; use F.batch_norm for them")
        gy, x, gamma, mean, invstd, g_gamma, g_beta = ctx.saved_tensors
        dims, m = _dims(x), x.numel() / x.shape[1]
        shape = lambda t: _per_channel(t, x)
        xhat = (x - shape(mean)) * shape(invstd)
        s_a, s_ax, s_ag = a.sum(dims), (a * xhat).sum(dims), (a * gy).sum(dims)
        r, gr = invstd, gamma * invstd
        d_gy = a * shape(gr)
        d_gy.addcmul_(xhat, shape(b - gr * s_ax / m)).add_(shape(c - gr * s_a / m))
        d_gamma = r * (s_ag - s_a * g_beta / m - s_ax * g_gamma / m)
        k = s_ag - g_beta * s_a / m
        gr2 = gr * r
        c_x = -gr2 * k / m + 3 * gr2 * g_gamma * s_ax / m ** 2 - b * r * g_gamma / m
        c_g = b * r - gr2 * s_ax / m
        c_a = -gr2 * g_gamma / m
        c_0 = gr2 * (s_ax * g_beta + g_gamma * s_a) / m ** 2 - b * r * g_beta / m
        d_x = xhat * shape(c_x)
        d_x.addcmul_(gy, shape(c_g)).addcmul_(a, shape(c_a)).add_(shape(c_0))
        return d_gy, d_x, d_gamma, None, None, None


class _BatchNorm(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, gamma, beta, eps):
        y, mean, invstd = torch.native_batch_norm(x, gamma, beta, None, None, True, 0.0, eps)
        ctx.save_for_backward(x, gamma, mean, invstd)
        ctx.eps = eps
        return y

    @staticmethod
    def backward(ctx, gy):
        x, gamma, mean, invstd = ctx.saved_tensors
        gx, ggamma, gbeta = _Backward.apply(gy, x, gamma, mean, invstd, ctx.eps)
        return gx, ggamma, gbeta, None


def batch_norm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
               eps: float = 1e-5) -> torch.Tensor:
    """``F.batch_norm(x, None, None, weight, bias, training=True, eps=eps)`` — each channel of
    ``x [n, C, ...]`` normalised with its own batch statistics — whose second derivative
    is the closed form above.  Same values and first and second derivatives as ``F.batch_norm``."""
    if weight is None or bias is None:
        raise ValueError("batch_norm needs the affine weight and bias (γ, β)")
    return _BatchNorm.apply(x, weight, bias, eps)
