"""Loading Omniglot: sources, preprocessing, cache, splits and clear errors."""

from __future__ import annotations

import os
import shutil
import zipfile

import pytest
import torch

from hwlib import omniglot
from hwlib.errors import CacheError, CorruptDataError, DataNotFoundError
from hwlib.omniglot import load_set, locate
from hwlib.splits import omniglot_splits, split_background

from conftest import SYNTH_ALPHABETS, SYNTH_CHARACTERS, synthetic_members, write_folder, write_zip


def test_zip_loads_to_uint8_tensor_with_bright_strokes(synthetic_root, tmp_path):
    data = load_set("background", synthetic_root, cache_dir=tmp_path, progress=False)
    n_chars = len(SYNTH_ALPHABETS["background"]) * SYNTH_CHARACTERS
    assert data.images.shape == (n_chars, 20, 28, 28) and data.images.dtype == torch.uint8
    assert data.images.max() == 255 and data.images.float().mean() < 0.3 * 255  # strokes = bright
    assert data.characters[0] == "Alpha_Script/character01"
    assert data.alphabets == tuple(sorted(SYNTH_ALPHABETS["background"]))
    # 20 drawings of one character are alike; two characters differ more
    imgs = data.images.float()
    within = (imgs[0, 0] - imgs[0, 1]).abs().mean()
    between = (imgs[0, 0] - imgs[5, 0]).abs().mean()
    assert within < between


def test_extracted_folder_and_torchvision_layout_equal_the_zip(synthetic_root, tmp_path):
    from_zip = load_set("evaluation", synthetic_root, cache_dir=tmp_path / "a", progress=False)
    folder = write_folder(tmp_path / "extracted", synthetic_members("evaluation"))
    src = locate("evaluation", folder)
    assert not src.is_zip
    from_dir = load_set("evaluation", folder, cache_dir=tmp_path / "b", progress=False)
    tv = tmp_path / "tv"
    shutil.copytree(folder, tv / "omniglot-py")
    from_tv = load_set("evaluation", tv, cache_dir=tmp_path / "c", progress=False)
    assert torch.equal(from_zip.images, from_dir.images) and torch.equal(from_zip.images, from_tv.images)
    assert from_zip.characters == from_dir.characters


def test_image_size_option_and_cache_key(synthetic_root, tmp_path):
    small = load_set("background", synthetic_root, image_size=20, cache_dir=tmp_path, progress=False)
    assert small.images.shape[-2:] == (20, 20)
    load_set("background", synthetic_root, image_size=28, cache_dir=tmp_path, progress=False)
    names = sorted(p.name for p in tmp_path.glob("omniglot-background-*.pt"))
    assert len(names) == 2 and "20px" in names[0] and "28px" in names[1]
    with pytest.raises(ValueError, match="image_size"):
        load_set("background", synthetic_root, image_size=0, cache_dir=tmp_path)


def test_warm_load_uses_cache_without_decoding(synthetic_root, tmp_path, monkeypatch):
    first = load_set("background", synthetic_root, cache_dir=tmp_path, progress=False)

    def fail(*a, **k):
        raise AssertionError("decoded again although a valid cache exists")

    monkeypatch.setattr(omniglot, "read_source", fail)
    again = load_set("background", synthetic_root, cache_dir=tmp_path, progress=False)
    assert torch.equal(first.images, again.images) and first.characters == again.characters


def test_changed_source_invalidates_cache(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    members = synthetic_members("background")
    write_zip(root / "images_background.zip", members)
    a = load_set("background", root, cache_dir=tmp_path / "cache", progress=False)
    first = next(iter(members))
    members[first] = synthetic_members("evaluation")[next(iter(synthetic_members("evaluation")))]
    write_zip(root / "images_background.zip", members)
    b = load_set("background", root, cache_dir=tmp_path / "cache", progress=False)
    assert not torch.equal(a.images, b.images)
    assert len(list((tmp_path / "cache").glob("*.pt"))) == 2


def test_corrupt_cache_file_is_rebuilt(synthetic_root, tmp_path):
    load_set("background", synthetic_root, cache_dir=tmp_path, progress=False)
    (cache_file,) = tmp_path.glob("*.pt")
    cache_file.write_bytes(b"garbage")
    data = load_set("background", synthetic_root, cache_dir=tmp_path, progress=False)
    assert data.images.shape[1] == 20


def test_root_argument_env_variable_and_missing_data(synthetic_root, tmp_path, monkeypatch):
    monkeypatch.setenv("OMNIGLOT_ROOT", str(synthetic_root))
    assert locate("background").path == synthetic_root / "images_background.zip"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataNotFoundError) as err:
        locate("background", empty)  # an explicit root wins over the environment
    monkeypatch.delenv("OMNIGLOT_ROOT")
    with pytest.raises(DataNotFoundError) as err:
        load_set("evaluation", cache_dir=tmp_path / "c")
    msg = str(err.value)
    assert "root=" in msg and "OMNIGLOT_ROOT" in msg and "download" in msg
    with pytest.raises(ValueError, match="set_name"):
        locate("training", synthetic_root)


def test_truncated_zip_is_reported_and_nothing_is_cached(synthetic_root, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    blob = (synthetic_root / "images_background.zip").read_bytes()
    (root / "images_background.zip").write_bytes(blob[: len(blob) // 2])
    cache = tmp_path / "cache"
    with pytest.raises(CorruptDataError, match="truncated or corrupted"):
        load_set("background", root, cache_dir=cache, progress=False)
    assert not cache.exists() or not any(cache.iterdir())


def test_corrupted_png_names_the_member(tmp_path):
    members = synthetic_members("background")
    bad = sorted(members)[7]
    members[bad] = b"\x89PNG not really"
    write_zip(tmp_path / "images_background.zip", members)
    with pytest.raises(CorruptDataError) as err:
        load_set("background", tmp_path, cache_dir=tmp_path / "cache", progress=False)
    assert bad.split("/", 1)[1] in str(err.value)
    assert not any((tmp_path / "cache").glob("*.pt"))


def test_wrong_layout_names_the_path(tmp_path):
    with zipfile.ZipFile(tmp_path / "images_background.zip", "w") as z:
        z.writestr("images_background/flat_file.png", b"x")
    with pytest.raises(CorruptDataError, match="flat_file.png"):
        load_set("background", tmp_path, cache_dir=tmp_path / "cache", progress=False)
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as z:
        z.writestr("something/else.txt", b"x")
    os.replace(tmp_path / "other.zip", tmp_path / "images_background.zip")
    with pytest.raises(CorruptDataError, match="images_background/<Alphabet>"):
        load_set("background", tmp_path, cache_dir=tmp_path / "cache", progress=False)


def test_missing_drawings_name_the_character(tmp_path):
    members = synthetic_members("background")
    del members[sorted(members)[0]]
    write_zip(tmp_path / "images_background.zip", members)
    with pytest.raises(CorruptDataError, match="Alpha_Script/character01.*19 drawings"):
        load_set("background", tmp_path, cache_dir=tmp_path / "cache", progress=False)


def test_unwritable_cache_folder_is_a_clear_error(synthetic_root, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(CacheError, match="HWLIB_CACHE_DIR"):
        load_set("background", synthetic_root, cache_dir=blocker / "cache", progress=False)


def test_character_split_is_seeded_and_disjoint(synthetic_splits, synthetic_root, tmp_path):
    train, val, test = synthetic_splits.train, synthetic_splits.val, synthetic_splits.test
    assert len(val) == 2 and len(train) == 10 and len(test) == 8
    assert not set(train.characters) & set(val.characters)
    assert set(test.alphabets) == set(SYNTH_ALPHABETS["evaluation"])
    again = omniglot_splits(synthetic_root, val_characters=2, cache_dir=tmp_path, progress=False)
    assert again.val.characters == val.characters
    other = omniglot_splits(synthetic_root, val_characters=2, seed=5, cache_dir=tmp_path,
                            progress=False)
    assert other.val.characters != val.characters
    with pytest.raises(ValueError, match="val_characters"):
        split_background(train, val_characters=len(train))


@pytest.mark.omniglot
def test_real_omniglot_sizes_and_splits(real_splits):
    s = real_splits
    assert len(s.train) + len(s.val) == 964 and len(s.val) == 100
    assert len(s.test) == 659 and s.test.images.shape == (659, 20, 28, 28)
    assert len(set(s.train.alphabets) | set(s.val.alphabets)) == 30 and len(s.test.alphabets) == 20
    assert not set(s.train.alphabets) & set(s.test.alphabets)
    assert not set(s.train.characters) & set(s.val.characters)
    # strokes are bright and sparse: about 8% ink after resizing
    ink = s.test.images.float().mean().item() / 255
    assert 0.04 < ink < 0.15
