"""Omniglot: find the original data, decode it once, and cache it as a uint8 tensor.

Omniglot (Lake et al., 2015) has 1623 handwritten characters from 50 alphabets, each
drawn by 20 different people.  The original release is two zips:

* ``images_background.zip`` — 30 alphabets, 964 characters (used for meta-train/val);
* ``images_evaluation.zip`` — 20 alphabets, 659 characters (used for meta-test).

Where the data comes from (first match wins):

1. ``root=`` passed to :func:`load_set` / :func:`hwlib.splits.omniglot_splits`;
2. the environment variable ``OMNIGLOT_ROOT``;
3. the download folder ``<cache>/omniglot`` filled by :func:`hwlib.download.download_omniglot`
   (or by ``download=True``).

In each root, a set is read from ``images_<set>.zip`` or from the extracted folder
``images_<set>/`` (``omniglot-py/`` from torchvision is accepted too).

Preprocessing (done once, then cached): each 105×105 1-bit PNG is converted to grey,
inverted so that **strokes are bright** (255, i.e. 1.0 after scaling) on a black background,
and resized to ``image_size``×``image_size`` with Pillow's **Lanczos** filter (as in the MAML
reference code).  The result is a ``uint8`` tensor ``[characters, 20, H, W]``.

The cache file lives in ``HWLIB_CACHE_DIR`` (default ``$XDG_CACHE_HOME/hwlib`` or
``~/.cache/hwlib``) and its name holds the set, the image size and the SHA-256 of the source
zip (for a folder: of its file list with sizes and modification times), so a changed source or
size never reuses a stale cache.  It is written atomically: a crash leaves no partial file.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from .cache import atomic_save, resolve_cache_dir, writable_cache_dir
from .download import download_omniglot
from .errors import CorruptDataError, DataNotFoundError
from .progress import progress_bar

SETS = ("background", "evaluation")
ROOT_ENV = "OMNIGLOT_ROOT"
CACHE_FORMAT = 1
RESIZE_FILTER = "lanczos"


@dataclass(frozen=True)
class CharacterSet:
    """Characters of Omniglot as a tensor: ``images[c, d]`` is drawing ``d`` of character ``c``.

    ``images`` is ``uint8 [C, D, H, W]`` (D = 20 drawings, strokes = 255); ``characters[c]`` is
    ``"<Alphabet>/<characterNN>"``.
    """

    images: torch.Tensor
    characters: tuple[str, ...]

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def alphabets(self) -> tuple[str, ...]:
        """Sorted names of the alphabets present."""
        return tuple(sorted({c.split("/")[0] for c in self.characters}))

    def subset(self, indices: list[int] | torch.Tensor) -> "CharacterSet":
        """The characters at ``indices`` (in that order)."""
        idx = torch.as_tensor(indices, dtype=torch.long)
        return CharacterSet(self.images[idx], tuple(self.characters[i] for i in idx.tolist()))


@dataclass(frozen=True)
class Source:
    """Where one set (background/evaluation) is read from: a zip file or a folder."""

    set_name: str
    path: Path

    @property
    def is_zip(self) -> bool:
        return self.path.suffix == ".zip"


def candidate_roots(root: str | os.PathLike | None = None,
                    cache: str | os.PathLike | None = None) -> list[Path]:
    """The folders searched for Omniglot, in order (see the module docstring)."""
    if root is not None:
        return [Path(root).expanduser()]
    roots = []
    if os.environ.get(ROOT_ENV):
        roots.append(Path(os.environ[ROOT_ENV]).expanduser())
    roots.append(resolve_cache_dir(cache) / "omniglot")
    return roots


def _not_found_message(set_name: str, roots: list[Path]) -> str:
    looked = "\n".join(f"  - {r}" for r in roots)
    return (
        f"Omniglot '{set_name}' set not found. Looked for images_{set_name}.zip or the folder "
        f"images_{set_name}/ in:\n{looked}\n"
        "Provide the data in one of three ways:\n"
        "  1. pass root='/path/to/omniglot' (the folder holding images_background.zip and "
        "images_evaluation.zip, or the extracted folders);\n"
        f"  2. set the environment variable {ROOT_ENV}=/path/to/omniglot;\n"
        "  3. download it: hwlib.download_omniglot() or load with download=True "
        "(official URLs, verified md5)."
    )


def locate(set_name: str, root: str | os.PathLike | None = None,
           cache: str | os.PathLike | None = None) -> Source:
    """Find ``images_<set_name>`` as a zip or folder; raise :class:`DataNotFoundError` if absent."""
    if set_name not in SETS:
        raise ValueError(f"set_name must be one of {SETS}, got {set_name!r}")
    roots = candidate_roots(root, cache)
    for r in roots:
        for base in (r, r / "omniglot-py"):
            zip_path, folder = base / f"images_{set_name}.zip", base / f"images_{set_name}"
            if folder.is_dir():
                return Source(set_name, folder)
            if zip_path.is_file():
                return Source(set_name, zip_path)
    raise DataNotFoundError(_not_found_message(set_name, roots))


def fingerprint(source: Source) -> str:
    """SHA-256 of the zip's bytes, or of a folder's (relative path, size, mtime) listing."""
    h = hashlib.sha256()
    if source.is_zip:
        with open(source.path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    else:
        for p in sorted(source.path.rglob("*.png")):
            st = p.stat()
            h.update(f"{p.relative_to(source.path)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _decode(data: bytes, image_size: int) -> np.ndarray:
    """One PNG → uint8 ``[image_size, image_size]``, strokes bright (see module docstring)."""
    image = ImageOps.invert(Image.open(io.BytesIO(data)).convert("L"))
    if image.size != (image_size, image_size):
        image = image.resize((image_size, image_size), Image.Resampling.LANCZOS)
    return np.asarray(image, dtype=np.uint8)


def _group_drawings(paths: list[str], where: str) -> dict[str, list[str]]:
    """Group ``<alphabet>/<character>/<drawing>.png`` paths by character, checking the layout."""
    groups: dict[str, list[str]] = {}
    for p in paths:
        parts = p.split("/")
        if len(parts) != 3:
            raise CorruptDataError(
                f"Unexpected layout in {where}: '{p}' is not <Alphabet>/<characterNN>/<drawing>.png "
                "(the original Omniglot layout). Point to the original zip or its extracted folder.")
        groups.setdefault(f"{parts[0]}/{parts[1]}", []).append(p)
    if not groups:
        raise CorruptDataError(
            f"No drawings found in {where}: expected images_<set>/<Alphabet>/<characterNN>/*.png.")
    counts = {c: len(v) for c, v in groups.items()}
    expected = max(set(counts.values()), key=list(counts.values()).count)
    bad = [c for c, n in counts.items() if n != expected]
    if bad:
        raise CorruptDataError(
            f"Character '{bad[0]}' in {where} has {counts[bad[0]]} drawings, the others have "
            f"{expected}; the data is incomplete. Replace it with the original files.")
    return {c: sorted(v) for c, v in sorted(groups.items())}


def _read_members(source: Source) -> tuple[list[str], callable]:
    """List the PNG paths (relative to ``images_<set>/``) and return a reader for their bytes."""
    prefix = f"images_{source.set_name}/"
    if not source.is_zip:
        paths = [p.relative_to(source.path).as_posix() for p in source.path.rglob("*.png")]
        return paths, lambda rel: (source.path / rel).read_bytes()
    try:
        archive = zipfile.ZipFile(source.path)
        names = archive.namelist()
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise CorruptDataError(
            f"{source.path} is not a readable zip ({e}); it is probably truncated or corrupted. "
            "Delete it and download it again (hwlib.download_omniglot()).") from e
    pngs = [n[len(prefix):] for n in names if n.startswith(prefix) and n.endswith(".png")]
    if not pngs:
        raise CorruptDataError(
            f"{source.path} holds no '{prefix}<Alphabet>/<characterNN>/*.png' files: wrong zip? "
            f"Expected the original images_{source.set_name}.zip.")
    return pngs, lambda rel: archive.read(prefix + rel)


def read_source(source: Source, image_size: int = 28, progress: bool = True) -> CharacterSet:
    """Decode every drawing of ``source`` (no cache).  Raises :class:`CorruptDataError`."""
    paths, read = _read_members(source)
    groups = _group_drawings(paths, str(source.path))
    n_draw = len(next(iter(groups.values())))
    images = np.empty((len(groups), n_draw, image_size, image_size), dtype=np.uint8)
    bar = progress_bar(total=len(groups) * n_draw, desc=f"Preparing Omniglot {source.set_name}",
                       disable=not progress)
    with bar:
        for c, members in enumerate(groups.values()):
            for d, rel in enumerate(members):
                try:
                    images[c, d] = _decode(read(rel), image_size)
                except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
                    raise CorruptDataError(
                        f"Cannot decode {source.path}/{rel}: {e}. The file is corrupted or "
                        "truncated; replace it with the original data.") from e
            bar.update(n_draw)
    return CharacterSet(torch.from_numpy(images), tuple(groups))


def load_set(set_name: str, root: str | os.PathLike | None = None, image_size: int = 28,
             cache_dir: str | os.PathLike | None = None, download: bool = False,
             progress: bool = True) -> CharacterSet:
    """Load one Omniglot set ('background' or 'evaluation') as a :class:`CharacterSet`.

    The first call decodes the PNGs (a few seconds) and caches the tensor; later calls load the
    cache (well under a second).  ``download=True`` fetches the official zip if it is missing.
    """
    if not isinstance(image_size, int) or not 4 <= image_size <= 105:
        raise ValueError(f"image_size must be an int in [4, 105], got {image_size!r}")
    folder = resolve_cache_dir(cache_dir)
    try:
        source = locate(set_name, root, cache_dir)
    except DataNotFoundError:
        if not download:
            raise
        target = Path(root).expanduser() if root is not None else folder / "omniglot"
        download_omniglot(target, sets=(set_name,), progress=progress)
        source = locate(set_name, target)
    key = fingerprint(source)
    path = folder / f"omniglot-{set_name}-{image_size}px-{key[:16]}.pt"
    if path.is_file():
        try:
            blob = torch.load(path, weights_only=True)
            if blob.get("format") == CACHE_FORMAT and blob.get("fingerprint") == key:
                return CharacterSet(blob["images"], tuple(blob["characters"]))
        except Exception:  # an unreadable cache is rebuilt, never trusted
            pass
    writable_cache_dir(folder)
    data = read_source(source, image_size, progress)
    atomic_save({"format": CACHE_FORMAT, "fingerprint": key, "image_size": image_size,
                 "resize_filter": RESIZE_FILTER, "source": str(source.path),
                 "images": data.images, "characters": list(data.characters)}, path)
    return data
