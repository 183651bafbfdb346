"""Progress bars that render as widgets in Jupyter and as text in a terminal (tqdm.auto)."""

from __future__ import annotations

from typing import Any

from tqdm.auto import tqdm


def progress_bar(*, total: int | None = None, desc: str = "", disable: bool = False,
                 **kwargs: Any) -> tqdm:
    """A tqdm bar; ``disable=True`` (or a non-interactive CI log) keeps output quiet."""
    return tqdm(total=total, desc=desc, disable=disable, leave=kwargs.pop("leave", False),
                dynamic_ncols=True, **kwargs)
