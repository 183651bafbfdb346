"""Learning to reweight examples (Ren et al., 2018): the skeleton around the student's
``example_weights``.

Training labels are noisy (a fraction of them flipped to another class); a small clean
validation set is trusted.  At every step the weights of the batch's examples are learned
on the fly: φ = the weights ε, their hypergradient is ∂L_val(θ̂(ε))/∂ε at ε = 0 after one
virtual SGD step θ̂(ε) = θ − lr ∇θ Σ_i ε_i l_i(θ), and the weights are max(0, −·), normalised.
The real step then descends Σ_i w_i l_i(θ).

What lives here: the data (:func:`noisy_omniglot`: characters as classes, flipped labels, a
clean validation set, a test set), and one training loop (:func:`train_classifier`) for the
three runs the notebook compares: plain training on the noisy labels, training on the clean
validation set alone, and the reweighted training.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import nn

from .models import Params, forward
from .omniglot import CharacterSet


@dataclass
class NoisyData:
    """Noisy training labels (``corrupted`` marks the flipped ones), a clean validation set
    and a clean test set, all on one device."""

    x: torch.Tensor
    y: torch.Tensor
    corrupted: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def noisy_omniglot(characters: CharacterSet, classes: int = 20, train: int = 14,
                   val: int = 1, noise: float = 0.4, seed: int = 0) -> NoisyData:
    """``classes`` characters drawn from ``characters``: ``train`` drawings each with their
    labels flipped to another class with probability ``noise``, ``val`` clean drawings each
    (the trusted set), and the other drawings for the test."""
    if not 0 <= noise < 1 or train + val >= characters.images.shape[1]:
        raise ValueError(f"need 0 <= noise < 1 and train + val < {characters.images.shape[1]} "
                         f"drawings, got noise={noise}, train={train}, val={val}")
    gen = torch.Generator().manual_seed(seed)
    chosen = torch.randperm(len(characters), generator=gen)[:classes]
    classes = len(chosen)  # a small set (the tests' synthetic one) gives all it has
    images = characters.images[chosen].float().div(255).unsqueeze(2)  # [C, D, 1, H, W]
    order = torch.randperm(images.shape[1], generator=gen)
    images = images[:, order]

    def part(a: int, b: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = images[:, a:b].reshape(-1, *images.shape[2:])
        return x, torch.arange(classes).repeat_interleave(b - a)

    x, y = part(0, train)
    flip = torch.rand(len(y), generator=gen) < noise
    shift = torch.randint(1, classes, y.shape, generator=gen)
    noisy = torch.where(flip, (y + shift) % classes, y)
    x_val, y_val = part(train, train + val)
    x_test, y_test = part(train + val, images.shape[1])
    return NoisyData(x, noisy, flip, x_val, y_val, x_test, y_test)


WeightsFn = Callable[..., torch.Tensor]


@dataclass
class Outcome:
    """Test accuracy, and the weights the batches got (with which examples were corrupted)."""

    accuracy: float
    weights: list[torch.Tensor] = field(default_factory=list)
    corrupted: list[torch.Tensor] = field(default_factory=list)

    @property
    def weight_on_corrupted(self) -> float:
        """The share of all the weight that went to examples with a flipped label."""
        if not self.weights:
            return float("nan")
        total = sum(w.sum() for w in self.weights)
        bad = sum((w * c).sum() for w, c in zip(self.weights, self.corrupted))
        return float(bad / total) if total > 0 else float("nan")


def train_classifier(model: nn.Module, params: Params, x: torch.Tensor, y: torch.Tensor,
                     data: NoisyData, example_weights: Optional[WeightsFn] = None,
                     steps: int = 500, lr: float = 0.1, batch_size: int = 64,
                     corrupted: Optional[torch.Tensor] = None, seed: int = 0) -> Outcome:
    """SGD (learning rate ``lr``) on (x, y) for ``steps`` batches, then the accuracy on the
    test set.  With ``example_weights`` each batch's loss is Σ_i w_i l_i with the learned
    weights of the batch (the clean validation set of ``data``); otherwise the mean loss."""
    params = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    opt = torch.optim.SGD(list(params.values()), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    out = Outcome(0.0)
    for _ in range(steps):
        idx = torch.randint(0, len(y), (min(batch_size, len(y)),), generator=gen)
        xb, yb = x[idx], y[idx]
        losses = F.cross_entropy(forward(model, params, xb), yb, reduction="none")
        if example_weights is None:
            loss = losses.mean()
        else:
            w = example_weights(model, params, xb, yb, data.x_val, data.y_val, lr).detach()
            loss = (w * losses).sum()
            out.weights.append(w)
            out.corrupted.append(corrupted[idx].float() if corrupted is not None
                                 else torch.zeros_like(w))
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        out.accuracy = (forward(model, params, data.x_test).argmax(-1) == data.y_test) \
            .float().mean().item()
    return out
