"""Every file of the project is written through hwlib.cache.atomic_write: all or nothing."""

from __future__ import annotations

import json
import os

import pytest

from autograder.pipeline.results import Row, save_result
from hwlib.cache import atomic_save, atomic_write, atomic_write_text, resolve_cache_dir


def test_atomic_write_replaces_only_when_complete(tmp_path):
    target = tmp_path / "grades.csv"
    atomic_write_text(target, "old\n")
    with pytest.raises(RuntimeError):
        with atomic_write(target, "w") as f:
            f.write("half of the new ")
            raise RuntimeError("crash in the middle")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grades.csv"]  # no temporary left
    with atomic_write(target, "w") as f:
        f.write("new\n")
    assert target.read_text() == "new\n"
    with pytest.raises(ValueError, match="for writing"):
        with atomic_write(target, "a"):
            pass


def test_atomic_save_round_trips_and_cleans_up_on_error(tmp_path):
    import torch

    atomic_save({"x": torch.arange(3)}, tmp_path / "c.pt")
    assert torch.equal(torch.load(tmp_path / "c.pt")["x"], torch.arange(3))
    with pytest.raises(Exception):
        atomic_save({"f": lambda: 0}, tmp_path / "bad.pt")  # a lambda cannot be pickled
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pt"]


def test_save_result_leaves_nothing_behind_when_the_rename_fails(tmp_path, monkeypatch):
    row = Row("ada", 3.0, 5.0, "graded", 1.0)
    save_result(tmp_path, row, "sha", "tiny", "metalearning")
    first = json.loads((tmp_path / "results" / "ada.json").read_text())
    assert first["score"] == 3.0 and first["profile"] == "tiny"

    def broken(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError):
        save_result(tmp_path, Row("ada", 5.0, 5.0, "graded", 1.0), "sha", "tiny", "metalearning")
    assert [p.name for p in (tmp_path / "results").iterdir()] == ["ada.json"]
    assert json.loads((tmp_path / "results" / "ada.json").read_text())["score"] == 3.0


def test_cache_dir_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv("HWLIB_CACHE_DIR", str(tmp_path / "c"))
    assert resolve_cache_dir() == tmp_path / "c"
    assert resolve_cache_dir(tmp_path / "given") == tmp_path / "given"
    monkeypatch.delenv("HWLIB_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert resolve_cache_dir() == tmp_path / "xdg" / "hwlib"
