"""Where hwlib keeps files, and how every file of the project is written: atomically.

* The cache folder (preprocessed Omniglot, downloads): ``cache_dir=...``, else
  ``$HWLIB_CACHE_DIR``, else ``$XDG_CACHE_HOME/hwlib``, else ``~/.cache/hwlib``.
* :func:`atomic_write` writes to a temporary file beside the target and renames it into place
  only when the write finished: a crash, an exception or a full disk leaves the old file (or no
  file), never half of one, and never a stray temporary file.  The cache, the downloads, the
  checkpoints and the grader's results all go through it.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

import torch

from .errors import CacheError

CACHE_ENV = "HWLIB_CACHE_DIR"


def resolve_cache_dir(path: str | os.PathLike | None = None) -> Path:
    """The cache folder: ``path``, else ``$HWLIB_CACHE_DIR``, else the user cache."""
    if path is not None:
        return Path(path).expanduser()
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "hwlib"


def writable_cache_dir(folder: Path) -> Path:
    """Create ``folder`` if needed and make sure files can be written in it (else :class:`CacheError`)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise CacheError(
            f"The cache folder {folder} is not writable ({e.strerror or e}). Set {CACHE_ENV} to a "
            "writable folder or pass cache_dir=... .") from e
    return folder


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", suffix: str = ".tmp",
                 **open_kwargs) -> Iterator[IO]:
    """``with atomic_write(path, "w") as f: ...`` — ``path`` appears, complete, only on success.

    The temporary file lives in ``path``'s folder (so the rename is atomic on one file system)
    and is removed on any error, including ``KeyboardInterrupt``.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write opens files for writing ('w' or 'wb'), got {mode!r}")
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    try:
        with os.fdopen(fd, mode, **open_kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def atomic_save(obj: object, path: str | os.PathLike) -> None:
    """``torch.save(obj)`` to ``path`` through :func:`atomic_write`."""
    with atomic_write(path, "wb") as f:
        torch.save(obj, f)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through :func:`atomic_write`."""
    with atomic_write(path, "w", encoding="utf-8") as f:
        f.write(text)
