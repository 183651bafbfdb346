"""Download the official Omniglot zips, verified against their official md5 sums.

The URLs and checksums are the ones torchvision's ``Omniglot`` dataset uses (the authors'
repository, github.com/brendenlake/omniglot).  Each file is streamed to a temporary file in
the target folder, its md5 is checked, and only then is it renamed into place: an interrupted
or corrupted download never leaves a file that looks complete.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from pathlib import Path

from .cache import atomic_write, resolve_cache_dir
from .errors import DownloadError
from .progress import progress_bar

URL_PREFIX = "https://raw.githubusercontent.com/brendenlake/omniglot/master/python"
OFFICIAL_MD5 = {
    "background": "68d2efa1b9178cc56df9314c21c6e718",
    "evaluation": "6b91aef0f799c5bb55b94e3f2daec811",
}


def md5sum(path: str | os.PathLike) -> str:
    """The md5 hex digest of a file."""
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch_verified(url: str, dest: Path, md5: str, progress: bool = True,
                   timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest`` atomically, raising :class:`DownloadError` on a bad md5."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    h = hashlib.md5()
    try:
        with atomic_write(dest, "wb", suffix=".part") as out, \
                urllib.request.urlopen(url, timeout=timeout) as resp:
            total = int(resp.headers.get("Content-Length") or 0) or None
            with progress_bar(total=total, desc=f"Downloading {dest.name}", unit="B",
                              unit_scale=True, disable=not progress) as bar:
                for block in iter(lambda: resp.read(1 << 16), b""):
                    out.write(block)
                    h.update(block)
                    bar.update(len(block))
            if h.hexdigest() != md5:  # raised inside: the temporary file is removed, not renamed
                raise DownloadError(
                    f"{url} downloaded with md5 {h.hexdigest()}, expected the official {md5}. "
                    "The download was corrupted or the file changed upstream; nothing was kept. "
                    "Try again, or download the zip yourself and point OMNIGLOT_ROOT at its "
                    "folder.")
    except DownloadError:
        raise
    except OSError as e:
        raise DownloadError(
            f"Could not download {url}: {e}. Check your internet connection, or download the zip "
            "yourself and set OMNIGLOT_ROOT to the folder holding it.") from e
    return dest


def download_omniglot(root: str | os.PathLike | None = None,
                      sets: tuple[str, ...] = ("background", "evaluation"),
                      progress: bool = True, url_prefix: str | None = None) -> Path:
    """Put the official ``images_<set>.zip`` files into ``root`` (default ``<cache>/omniglot``).

    A zip already present with the official md5 is kept; anything else is (re)downloaded.
    Returns the folder, ready for ``OMNIGLOT_ROOT`` or ``root=``.
    """
    folder = Path(root).expanduser() if root is not None else resolve_cache_dir() / "omniglot"
    url_prefix = url_prefix or URL_PREFIX
    for name in sets:
        if name not in OFFICIAL_MD5:
            raise ValueError(f"unknown Omniglot set {name!r}; choose from {tuple(OFFICIAL_MD5)}")
        dest = folder / f"images_{name}.zip"
        if dest.is_file() and md5sum(dest) == OFFICIAL_MD5[name]:
            continue
        fetch_verified(f"{url_prefix}/images_{name}.zip", dest, OFFICIAL_MD5[name], progress)
    return folder
