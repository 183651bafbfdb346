"""Shared fixtures: a small synthetic Omniglot made here, and the real one when available.

The synthetic data has the original layout (``images_<set>/<Alphabet>/<characterNN>/*.png``,
105×105 1-bit PNGs, black strokes on white, 20 drawings per character), so the real loading
code path is exercised without Omniglot.  Each character is a few random line segments; its
20 drawings jitter them, so characters are learnable and distinguishable.

The real data is used when ``OMNIGLOT_ROOT`` points at it (``.ci/run`` sets it to
``../shared/data/omniglot``); tests marked ``omniglot`` skip otherwise.
"""

from __future__ import annotations

import io
import os
import random
import zipfile
from pathlib import Path

import pytest
from ordinary_user import ordinary_user  # noqa: F401 - the session fixture, for every test
from PIL import Image, ImageDraw

SYNTH_ALPHABETS = {"background": ["Alpha_Script", "Beta_Runes", "Gamma_Signs"],
                   "evaluation": ["Delta_Marks", "Epsilon_Glyphs"]}
SYNTH_CHARACTERS = 4  # per alphabet
DRAWINGS = 20


def synthetic_png(char_seed: int, drawing: int) -> bytes:
    """One 105×105 1-bit PNG: the strokes of character ``char_seed``, jittered per drawing."""
    rng = random.Random(char_seed)
    jitter = random.Random(char_seed * 1000 + drawing)
    image = Image.new("1", (105, 105), 1)
    draw = ImageDraw.Draw(image)
    for _ in range(3):
        pts = [(rng.randint(15, 90) + jitter.randint(-3, 3), rng.randint(15, 90) +
                jitter.randint(-3, 3)) for _ in range(2)]
        draw.line(pts, fill=0, width=4)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def synthetic_members(set_name: str, drawings: int = DRAWINGS,
                      characters: int = SYNTH_CHARACTERS) -> dict[str, bytes]:
    """``{path inside the zip: png bytes}`` for one synthetic set in the original layout
    (``characters`` per alphabet)."""
    members, seed = {}, 0 if set_name == "background" else 500
    for alphabet in SYNTH_ALPHABETS[set_name]:
        for c in range(1, characters + 1):
            seed += 1
            for d in range(1, drawings + 1):
                path = f"images_{set_name}/{alphabet}/character{c:02d}/{seed:04d}_{d:02d}.png"
                members[path] = synthetic_png(seed, d)
    return members


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def write_folder(root: Path, members: dict[str, bytes]) -> Path:
    for name, data in members.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return root


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory) -> Path:
    """A folder with synthetic ``images_background.zip`` and ``images_evaluation.zip``."""
    root = tmp_path_factory.mktemp("synthetic_omniglot")
    for set_name in SYNTH_ALPHABETS:
        write_zip(root / f"images_{set_name}.zip", synthetic_members(set_name))
    return root


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch) -> Path:
    """Every test gets the session's private cache folder, never the user's ~/.cache."""
    folder = tmp_path_factory.getbasetemp() / "hwlib-cache"
    monkeypatch.setenv("HWLIB_CACHE_DIR", str(folder))
    return folder


@pytest.fixture(scope="session")
def real_root() -> Path:
    """The real Omniglot from ``OMNIGLOT_ROOT``; skips the test when it is not provided."""
    value = os.environ.get("OMNIGLOT_ROOT")
    if not value or not (Path(value) / "images_background.zip").exists() and \
            not (Path(value) / "images_background").is_dir():
        pytest.skip("real Omniglot not available: set OMNIGLOT_ROOT (CI uses ../shared/data/omniglot)")
    return Path(value).resolve()  # a test may chdir: CI's root is relative (../shared/…)


@pytest.fixture(scope="session")
def real_splits(real_root, tmp_path_factory):
    from hwlib.splits import omniglot_splits

    cache = tmp_path_factory.getbasetemp() / "hwlib-cache"
    return omniglot_splits(real_root, cache_dir=cache, progress=False)


@pytest.fixture(scope="session")
def synthetic_splits(synthetic_root, tmp_path_factory):
    from hwlib.splits import omniglot_splits

    cache = tmp_path_factory.getbasetemp() / "hwlib-cache"
    return omniglot_splits(synthetic_root, val_characters=2, cache_dir=cache, progress=False)


@pytest.fixture
def grading_data(synthetic_root, monkeypatch) -> Path:
    """Real Omniglot when OMNIGLOT_ROOT is set, else the tests' synthetic zips.  Grading needs
    the worker sandbox (bubblewrap): without it the grading tests skip and say why (.ci/run
    installs it, so CI never skips them)."""
    from autograder.sandbox.boundary import boundary_problem

    problem = boundary_problem()
    if problem:
        pytest.skip(f"no grading sandbox here: {problem}")
    # absolute: a test may chdir (a notebook's kernel runs in a temporary folder), and CI's
    # root is relative (../shared/data/omniglot)
    root = str(Path(os.environ.get("OMNIGLOT_ROOT") or synthetic_root).resolve())
    monkeypatch.setenv("OMNIGLOT_ROOT", root)
    return Path(root)


@pytest.fixture(scope="session")
def _generated_assignments(tmp_path_factory):
    """nbgrader's generate_assignment, once per assignment for the session (the real one:
    ensure_template), made when first asked for."""
    from autograder.pipeline.course import ensure_template

    folder, made = tmp_path_factory.mktemp("nbgrader-template"), {}

    def generated(assignment: str) -> Path:
        if assignment not in made:
            made[assignment] = ensure_template(folder, assignment)
        return made[assignment]
    return generated


@pytest.fixture
def seed_template(_generated_assignments):
    """``seed(out, assignment="metalearning")``: put the session's generated assignment where
    ``grade``/``merge`` look for it in ``out`` (they check its SHA-256 and use it), so each
    grading folder does not pay nbgrader's generate_assignment (≈ 10 s) again.  Returns
    ``out``."""
    import shutil

    from autograder.pipeline.gradebook import TEMPLATE

    def seed(out: Path, assignment: str = "metalearning") -> Path:
        made = _generated_assignments(assignment)
        shutil.copytree(made, out / TEMPLATE / made.name, dirs_exist_ok=True)
        return out
    return seed


def shrink_tiers(monkeypatch, maml_steps: int) -> None:
    """The tiers of the ``tiny`` profile train for seconds: ``maml_steps`` MAML meta-steps of 2
    tasks, 4 ProtoNet and 4 in-context steps (5-way, 2 queries per class)."""
    import dataclasses

    from autograder.assignments import TierBudget
    from autograder.assignments.metalearning import tiers as maml_tiers
    from autograder.assignments.metasgd_protonet import tiers as protonet_tiers
    from autograder.assignments.hypergradients import tiers as incontext_tiers

    monkeypatch.setitem(maml_tiers.BUDGETS, "tiny", dataclasses.replace(
        maml_tiers.BUDGETS["tiny"], steps=maml_steps, meta_batch_size=2))
    monkeypatch.setitem(protonet_tiers.BUDGETS, "tiny",
                        TierBudget(4, 2, (0.25, 0.3, 0.35), train_ways=5, q_query=2))
    monkeypatch.setitem(incontext_tiers.BUDGETS, "tiny",
                        TierBudget(4, 2, (0.25, 0.3, 0.35), q_query=2))
