"""The verified download path, exercised offline with file:// URLs."""

from __future__ import annotations

import pytest
import torch

from hwlib import download
from hwlib.download import OFFICIAL_MD5, URL_PREFIX, download_omniglot, fetch_verified, md5sum
from hwlib.errors import DownloadError
from hwlib.omniglot import load_set


def test_official_sources_are_the_authors_zips():
    assert URL_PREFIX == "https://raw.githubusercontent.com/brendenlake/omniglot/master/python"
    assert OFFICIAL_MD5 == {"background": "68d2efa1b9178cc56df9314c21c6e718",
                            "evaluation": "6b91aef0f799c5bb55b94e3f2daec811"}


def test_good_checksum_is_kept(synthetic_root, tmp_path):
    src = synthetic_root / "images_background.zip"
    dest = fetch_verified(src.as_uri(), tmp_path / "out" / "images_background.zip", md5sum(src),
                          progress=False)
    assert dest.read_bytes() == src.read_bytes()
    assert [p.name for p in dest.parent.iterdir()] == ["images_background.zip"]


def test_bad_checksum_leaves_nothing(synthetic_root, tmp_path):
    src = synthetic_root / "images_background.zip"
    with pytest.raises(DownloadError, match="expected the official"):
        fetch_verified(src.as_uri(), tmp_path / "images_background.zip", "0" * 32, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_unreachable_url_is_a_clear_error(tmp_path):
    with pytest.raises(DownloadError, match="OMNIGLOT_ROOT"):
        fetch_verified((tmp_path / "missing.zip").as_uri(), tmp_path / "x.zip", "0" * 32,
                       progress=False)
    assert list(tmp_path.iterdir()) == []


def test_download_then_load(synthetic_root, tmp_path, monkeypatch):
    sums = {s: md5sum(synthetic_root / f"images_{s}.zip") for s in ("background", "evaluation")}
    monkeypatch.setattr(download, "OFFICIAL_MD5", sums)
    monkeypatch.setattr(download, "URL_PREFIX", synthetic_root.as_uri())
    monkeypatch.delenv("OMNIGLOT_ROOT", raising=False)
    cache = tmp_path / "cache"
    data = load_set("evaluation", cache_dir=cache, download=True, progress=False)
    assert (cache / "omniglot" / "images_evaluation.zip").is_file()
    reference = load_set("evaluation", synthetic_root, cache_dir=tmp_path / "c2", progress=False)
    assert torch.equal(data.images, reference.images)
    # a second call finds the verified file and does not fetch again
    folder = download_omniglot(cache / "omniglot", sets=("evaluation",),
                               url_prefix="file:///nonexistent", progress=False)
    assert folder == cache / "omniglot"
    with pytest.raises(ValueError, match="unknown Omniglot set"):
        download_omniglot(tmp_path, sets=("training",))
