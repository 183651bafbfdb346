"""Meta-train / meta-validation / meta-test splits of Omniglot, defined at the character level.

* **meta-train**: the background characters (30 alphabets, 964 characters) minus meta-val;
* **meta-val**: ``val_characters`` background characters (default 100) drawn with ``seed``
  (default 0) — used to choose hyper-parameters and for early stopping.  On a small
  Omniglot-like dataset (fewer than 500 background characters, e.g. the tests' synthetic one)
  the default is a sixth of the characters (at least 2) instead;
* **meta-test**: all 659 characters of the 20 evaluation alphabets, never seen in training.

A character is in exactly one split, so every episode at test time is made of characters
(and alphabets) the meta-learner has never seen.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from .omniglot import CharacterSet, load_set


@dataclass(frozen=True)
class Splits:
    """The three character sets of the homework."""

    train: CharacterSet
    val: CharacterSet
    test: CharacterSet

    def __getitem__(self, name: str) -> CharacterSet:
        if name not in ("train", "val", "test"):
            raise KeyError(f"split must be 'train', 'val' or 'test', got {name!r}")
        return getattr(self, name)


DEFAULT_VAL_CHARACTERS = 100


def default_val_characters(n: int) -> int:
    """100 for Omniglot (964 background characters); a sixth (≥ 2) for a small dataset."""
    return DEFAULT_VAL_CHARACTERS if n >= 5 * DEFAULT_VAL_CHARACTERS else max(2, n // 6)


def split_background(background: CharacterSet, val_characters: int | None = None,
                     seed: int = 0) -> tuple[CharacterSet, CharacterSet]:
    """Split background characters into (meta-train, meta-val) with a seeded permutation."""
    n = len(background)
    if val_characters is None:
        val_characters = default_val_characters(n)
    if not 0 < val_characters < n:
        raise ValueError(f"val_characters must be in 1..{n - 1} (there are {n} background "
                         f"characters), got {val_characters}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    val_idx = sorted(perm[:val_characters].tolist())
    train_idx = sorted(perm[val_characters:].tolist())
    return background.subset(train_idx), background.subset(val_idx)


def omniglot_splits(root: str | os.PathLike | None = None, image_size: int = 28,
                    val_characters: int | None = None, seed: int = 0,
                    cache_dir: str | os.PathLike | None = None, download: bool = False,
                    progress: bool = True) -> Splits:
    """Load Omniglot (see :mod:`hwlib.omniglot` for where from) and split it by character."""
    kw = dict(root=root, image_size=image_size, cache_dir=cache_dir, download=download,
              progress=progress)
    train, val = split_background(load_set("background", **kw), val_characters, seed)
    return Splits(train, val, load_set("evaluation", **kw))
