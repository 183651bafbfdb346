"""Exceptions raised by hwlib with messages that say what was wrong and what to do."""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch


class HwlibError(Exception):
    """Base class for hwlib's own errors."""


class DataNotFoundError(HwlibError, FileNotFoundError):
    """Omniglot could not be found in any of the documented places."""


class CorruptDataError(HwlibError, ValueError):
    """A data file exists but is truncated, corrupted or has the wrong layout."""


class CacheError(HwlibError, OSError):
    """The preprocessing cache folder cannot be used."""


class DownloadError(HwlibError, OSError):
    """A download failed or did not match its official checksum."""


class OutOfMemoryHint(torch.OutOfMemoryError, HwlibError):
    """The device ran out of memory; the message says which knob to turn."""


@contextlib.contextmanager
def out_of_memory_hint(what: str, knob: str) -> Iterator[None]:
    """Re-raise an out-of-memory error inside the block with what to lower (``knob``)."""
    try:
        yield
    except torch.OutOfMemoryError as e:
        if isinstance(e, OutOfMemoryHint):
            raise
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        raise OutOfMemoryHint(
            f"out of memory on a {what}. Lower it ({knob}, e.g. to half), or use fewer inner "
            f"steps or first-order MAML (no graph through the inner loop); on a shared GPU, "
            f"restart the kernel to free memory held by earlier cells.\n(from torch: "
            f"{str(e).splitlines()[0] if str(e) else type(e).__name__})") from e
