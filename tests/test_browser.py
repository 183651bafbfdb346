"""The student notebook in a real browser: JupyterLab on localhost, headless Chromium (Debian's
``chromium``) driven by Playwright.  Runs the whole generated notebook with the answers filled
in (what a student has at the end; ``HW_PROFILE=tiny`` on the tests' synthetic Omniglot),
watches the live training view update while training runs, moves sliders and clicks buttons of
the explorers, and checks that what they show changed.  Screenshots go to
``test-artifacts/browser/`` (or ``$HW_ARTIFACTS/browser``).

The second assignment's notebook (ProtoNet and Meta-SGD) gets the same treatment for its
embedding explorer once it is released (``notebooks/metasgd_protonet/``); until then that test
skips, or runs on a minimal notebook with ``HW_EXPLORER_NOTEBOOK=minimal``."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("HW_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("HW_ARTIFACTS", REPO / "test-artifacts")) / "browser"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install -e '.[dev]')")
if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (or set HW_CHROMIUM); "
                ".ci/run installs it", allow_module_level=True)


KERNEL_READY = ("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                " && window.jupyterapp.shell.currentWidget.sessionContext"
                " && window.jupyterapp.shell.currentWidget.sessionContext.session"
                " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel")
ALL_CELLS_RAN = (  # the last cell has an execution count, and no non-empty code cell lacks one
    "() => { const cells = window.jupyterapp.shell.currentWidget.content.widgets;"
    " const last = cells[cells.length - 1];"
    " return last.model.executionCount !== null && !cells.some(c => c.model.type === 'code'"
    " && c.model.executionCount === null && c.model.sharedModel.source.trim() !== ''); }")
TRACEBACKS = (".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
              " >> text=Traceback")
SECOND = "metasgd_protonet"  # the second assignment: ProtoNet and Meta-SGD


def finished_student_notebook(assignment: str = "metalearning") -> dict:
    """The generated student notebook of ``assignment`` with every answer cell taken from the
    solutions."""
    release = json.loads((REPO / f"notebooks/{assignment}/{assignment}.ipynb").read_text())
    solution = json.loads((REPO / f"solutions/{assignment}/{assignment}.ipynb").read_text())
    answers = {c["metadata"]["nbgrader"]["grade_id"]: c["source"] for c in solution["cells"]
               if c["metadata"].get("nbgrader", {}).get("solution")}
    for cell in release["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("solution"):
            cell["source"] = answers[meta["grade_id"]]
    return release


def lab_settings(folder: Path) -> Path:
    """JupyterLab user settings: render every cell (no windowing, so cells far from the
    viewport are in the page), and no "Jupyter news?" pop-up."""
    for name, value in (("notebook-extension/tracker", {"windowingMode": "none"}),
                        ("apputils-extension/notification", {"fetchNews": "false"})):
        path = folder / "@jupyterlab" / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def lab_server(tmp_path: Path, name: str, notebook: dict):
    """A JupyterLab server on localhost serving a folder with ``notebook`` as ``name``, on a
    synthetic Omniglot large enough for 5-way validation and 20-way test tasks; yields the
    notebook's URL and the folder."""
    from conftest import synthetic_members, write_zip

    synthetic_root = tmp_path / "omniglot"
    synthetic_root.mkdir()
    for set_name in ("background", "evaluation"):  # 36 background (6 for meta-val), 20 test
        write_zip(synthetic_root / f"images_{set_name}.zip",
                  synthetic_members(set_name, characters=12 if set_name == "background" else 10))
    work = tmp_path / "student"
    work.mkdir()
    (work / name).write_text(json.dumps(notebook))
    with jupyter_server(tmp_path, work, {"HW_PROFILE": "tiny",
                                         "OMNIGLOT_ROOT": str(synthetic_root)}) as (base, token):
        yield f"{base}/lab/tree/{name}?token={token}", work


@contextmanager
def jupyter_server(tmp_path: Path, root: Path, extra_env: dict | None = None):
    """JupyterLab (and every server extension installed: nbgrader's formgrader) on localhost,
    serving ``root`` and started in it; yields its base URL and token."""
    port, token = free_port(), "hw-browser-test"
    env = {**os.environ, **(extra_env or {}),
           "HWLIB_CACHE_DIR": str(tmp_path / "cache"), "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "OMP_NUM_THREADS": "1",
           "JUPYTERLAB_SETTINGS_DIR": str(lab_settings(tmp_path / "settings"))}
    log = open(tmp_path / "jupyterlab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--ServerApp.port={port}",
         "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
         "--LabApp.news_url=", "--ServerApp.allow_root=True"],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None:
                    pytest.fail(f"JupyterLab exited: {(tmp_path / 'jupyterlab.log').read_text()}")
                time.sleep(0.5)
        yield base, token
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)
        log.close()


@pytest.fixture
def jupyterlab(tmp_path):
    """JupyterLab with the first assignment's finished notebook."""
    with lab_server(tmp_path, "metalearning.ipynb", finished_student_notebook()) as served:
        yield served


def shot(target, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    target.screenshot(path=str(path))
    return path


def drag_slider(page, slider, fraction: float) -> None:
    """Drag the slider's handle with the mouse to ``fraction`` of its track."""
    track = slider.locator(".noUi-target").bounding_box()
    handle = slider.locator(".noUi-handle").bounding_box()
    page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    page.mouse.down()
    page.mouse.move(track["x"] + fraction * track["width"], handle["y"] + handle["height"] / 2,
                    steps=12)
    page.mouse.up()


def text_changes(locator, old: str, timeout_s: float = 30) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        now = locator.inner_text()
        if now != old:
            return now
        time.sleep(0.2)
    raise AssertionError(f"still {old!r} after {timeout_s} s")


def wait_text(locator, part: str, timeout_s: float = 30) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        now = locator.inner_text()
        if part in now:
            return now
        time.sleep(0.2)
    raise AssertionError(f"{part!r} never shown; last: {locator.inner_text()!r}")


def test_widgets_in_jupyterlab(jupyterlab):
    url, work = jupyterlab
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        try:
            page.goto(url)
            page.wait_for_function(KERNEL_READY, timeout=120_000)
            page.locator(".jp-Notebook").first.wait_for(timeout=60_000)
            # record every text the live training view's status shows, from the page itself
            page.evaluate("""() => { window.hwLive = [];
                new MutationObserver(() => { const el = document.querySelector(
                    '.hw-live-training .widget-html-content');
                  const t = el && el.textContent;
                  if (t && window.hwLive[window.hwLive.length - 1] !== t) window.hwLive.push(t);
                }).observe(document.body, {childList: true, subtree: true, characterData: true});
                }""")
            # Run → Run All Cells, as a student would
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_text("Run All Cells", exact=True).click()
            live = page.locator(".hw-live-training").first
            live.wait_for(timeout=240_000)
            page.wait_for_function("() => document.querySelector('.hw-live-training"
                                   " .progress-bar').style.width === '100%'", timeout=120_000)
            live.scroll_into_view_if_needed()
            shot(live, "05-live-training.png")

            # it changed in place while MAML trained: waiting → step 1 → … → with validation
            texts = page.evaluate("() => window.hwLive")
            assert texts[0] == "waiting for the first meta-step" and len(texts) >= 3, texts
            assert any("val acc" in t for t in texts), texts
            # wait for the whole notebook: the last cell has an execution count
            page.wait_for_function(ALL_CELLS_RAN, timeout=600_000)
            failed = page.locator(TRACEBACKS)
            assert failed.count() == 0, failed.first.inner_text()

            # the episode browser: slider, button
            browser_box = page.locator(".hw-episode-browser").first
            browser_box.scroll_into_view_if_needed()
            caption = browser_box.locator(".widget-html-content").first
            image = browser_box.locator("img").first
            first = caption.inner_text()
            assert "episode 1: 5-way 1-shot" in first, first
            shot(browser_box, "01-episode-browser.png")
            src = image.get_attribute("src")
            drag_slider(page, browser_box.locator(".widget-slider").first, 0.02)  # N → its minimum, 2
            new = text_changes(caption, first)
            assert "2-way 1-shot" in new and "2 support" in new, new
            page.wait_for_function("([img, old]) => img.src !== old",
                                   arg=[image.element_handle(), src])
            shot(browser_box, "02-episode-browser-n2.png")
            src = image.get_attribute("src")
            browser_box.get_by_role("button", name="new episode").click()
            assert "episode 3" in text_changes(caption, new)
            page.wait_for_function("([img, old]) => img.src !== old",
                                   arg=[image.element_handle(), src])
            shot(browser_box, "03-episode-browser-new-episode.png")

            # the sine explorer: inner steps 0 → 10, MAML → pretrained
            sine = page.locator(".hw-sine-explorer").first
            sine.scroll_into_view_if_needed()
            caption = sine.locator(".widget-html-content").first
            before = caption.inner_text()
            assert "MAML initialisation after 0 inner steps" in before, before
            shot(sine, "04-sine-explorer-maml-0-steps.png")
            drag_slider(page, sine.locator(".widget-slider").first, 1.0)
            after = wait_text(caption, "after 10 inner steps")  # continuous: 1, 2, … 10
            sine.get_by_role("button", name="pretrained").click()
            assert "pretrained initialisation after 10" in text_changes(caption, after)
            shot(sine, "06-sine-explorer-pretrained-10-steps.png")
            page.screenshot(path=str(ARTIFACTS / "07-notebook.png"))
            assert not errors, errors
        except BaseException:
            page.screenshot(path=str(ARTIFACTS / "failure.png"), full_page=True)
            raise
        browser.close()
    figures = sorted(p.name for p in (work / "figures").glob("*.png"))
    assert figures == ["accuracy_vs_inner_steps.png", "accuracy_vs_tasks.png",
                       "accuracy_vs_time.png", "sine_adaptation.png"], figures


MINIMAL_EXPLORER_CELLS = [  # what the second assignment's notebook does, in three cells
    "%matplotlib inline\nimport torch\nimport hwlib\n"
    "from hwlib import Conv4, init_params, split_body_head\n"
    "from hwlib.embedding_explorer import embedding_explorer\n"
    "splits = hwlib.omniglot_splits()\nmodel = Conv4(n_way=5)\n"
    "phi, _ = split_body_head(init_params(model, seed=0))  # an untrained embedding",
    "def prototypes(embeddings, labels, n_way):\n"
    "    return torch.stack([embeddings[labels == k].mean(dim=0) for k in range(n_way)])\n\n\n"
    "def protonet_logits(query_embeddings, prototypes):\n"
    "    return -((query_embeddings[:, None, :] - prototypes[None, :, :]) ** 2).sum(dim=-1)",
    "embedding_explorer(model, phi, splits, prototypes, protonet_logits)",
]


def explorer_notebook() -> tuple[str, dict]:
    """``(file name, notebook)``: the second assignment's finished notebook once it is released;
    ``HW_EXPLORER_NOTEBOOK=minimal`` gives a three-cell notebook with the explorer instead."""
    if os.environ.get("HW_EXPLORER_NOTEBOOK") == "minimal":
        cells = [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                  "source": source} for source in MINIMAL_EXPLORER_CELLS]
        return "embedding_explorer.ipynb", {
            "cells": cells, "nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                        "language": "python"}}}
    missing = [f"{kind}/{SECOND}/{SECOND}.ipynb" for kind in ("notebooks", "solutions")
               if not (REPO / kind / SECOND / f"{SECOND}.ipynb").exists()]
    if missing:
        pytest.skip(f"the second assignment (ProtoNet and Meta-SGD) is not released yet: no "
                    f"{' and no '.join(missing)}; HW_EXPLORER_NOTEBOOK=minimal runs this test "
                    "on a three-cell notebook with the explorer")
    return f"{SECOND}.ipynb", finished_student_notebook(SECOND)


def run_whole_notebook(page) -> None:
    """Open the served notebook, Run → Run All Cells as a student would, wait until every cell
    ran or one failed (Run All stops at an error), and fail on any traceback."""
    page.wait_for_function(KERNEL_READY, timeout=120_000)
    page.locator(".jp-Notebook").first.wait_for(timeout=60_000)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_text("Run All Cells", exact=True).click()
    page.wait_for_function(
        f"() => ({ALL_CELLS_RAN})() || [...document.querySelectorAll("
        "'.jp-OutputArea-output[data-mime-type=\"application/vnd.jupyter.stderr\"]')]"
        ".some(e => e.textContent.includes('Traceback'))", timeout=600_000)
    failed = page.locator(TRACEBACKS)
    assert failed.count() == 0, failed.first.inner_text()


def test_embedding_explorer_in_jupyterlab(tmp_path):
    """The ProtoNet embedding explorer: the whole notebook runs, then "New episode" and the N
    slider each redraw the picture (``embedding_explorer_*.png``)."""
    name, notebook = explorer_notebook()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("embedding_explorer_*.png"):
        old.unlink()
    with lab_server(tmp_path, name, notebook) as (url, _), \
            playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        try:
            page.goto(url)
            run_whole_notebook(page)
            box = page.locator(".hw-embedding-explorer").first
            assert box.count() == 1, f"{name} shows no embedding_explorer"
            box.scroll_into_view_if_needed()
            status, image = box.locator(".widget-html-content").first, box.locator("img").first
            first = status.inner_text()
            assert "episode 1:" in first and "accuracy" in first, first
            shot(box, "embedding_explorer_1-episode.png")
            src = image.get_attribute("src")
            box.get_by_role("button", name="New episode").click()
            new = text_changes(status, first)
            assert "episode 2:" in new and "accuracy" in new, new
            page.wait_for_function("([img, old]) => img.src !== old",
                                   arg=[image.element_handle(), src])
            shot(box, "embedding_explorer_2-new-episode.png")
            src, n_before = image.get_attribute("src"), new.split("-way")[0].split()[-1]
            drag_slider(page, box.locator(".widget-slider").first,  # N → 2 (or to its max)
                        0.02 if n_before != "2" else 1.0)
            after = text_changes(status, new)
            assert "episode 3:" in after and f" {n_before}-way" not in after, after
            page.wait_for_function("([img, old]) => img.src !== old",
                                   arg=[image.element_handle(), src])
            shot(box, "embedding_explorer_3-n-changed.png")
            assert not errors, errors
        except BaseException:
            page.screenshot(path=str(ARTIFACTS / "embedding_explorer_failure.png"),
                            full_page=True)
            raise
        browser.close()


#: what the hostile submission's texts do if they ever run (tests/test_reports.py: XSS)
PWNED = "() => [window.__pwned === undefined ? null : window.__pwned, document.title]"
LIVE = "img[src='x'], [onerror], [onload], a[href^='javascript:']"


def _no_student_script_ran(page, shown: str, where: str) -> None:
    """Nothing of the payloads ran or became an element, and their text is shown as text."""
    page.wait_for_timeout(1500)  # an <img onerror> fires once its load fails
    pwned, title = page.evaluate(PWNED)
    assert pwned is None and title != "pwned", (where, pwned, title)
    assert page.locator(LIVE).count() == 0, (where, page.locator(LIVE).first.evaluate(
        "e => e.outerHTML"))
    assert shown in page.locator("body").inner_text(), where


def test_student_text_never_runs_in_feedback_formgrader_or_lab(tmp_path, grading_data,
                                                             seed_template):
    """A hostile submission (tests/test_reports.py: exception messages and notes holding
    ``<script>``, ``<img onerror>``, ``<svg onload>``, markdown and HTML ``javascript:`` links;
    a markdown cell of its own; an id that is HTML) is graded, then opened as the student
    gets it (the feedback HTML, file:// in Chromium) and as the TA does (the real formgrader's
    page of the submission, and the autograded notebook in JupyterLab): no script of the
    student's runs, the texts are shown as text."""
    from nbgrader.api import Gradebook
    from test_reports import submission

    from autograder.pipeline.grade import grade
    from autograder.pipeline.text import course_id

    student = "<img src=x onerror=window.__pwned=9> zoë"
    (tmp_path / "subs" / student).mkdir(parents=True)
    (tmp_path / "subs" / student / "metalearning.ipynb").write_text(
        json.dumps(submission("hostile")))
    out = seed_template(tmp_path / "out")
    (row,) = grade(tmp_path / "subs", out, "tiny", cell_timeout=60, progress=False,
                   canary=False)
    assert row.status == "graded" and row.student == student, row
    cid = course_id(student)
    feedback = out / "feedback" / cid / "metalearning" / "metalearning.html"
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
        submission_id = gb.find_submission_notebook("metalearning", "metalearning", cid).id
    shown = "<script>window.__pwned=1"
    with jupyter_server(tmp_path, out) as (base, token), \
            playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        try:
            page.goto(feedback.as_uri())
            _no_student_script_ran(page, shown, "feedback")
            assert "refused or failed in cell quiz_q1" in page.locator("body").inner_text()
            page.goto(f"{base}/formgrader/submissions/{submission_id}/?token={token}")
            page.locator("#notebook").first.wait_for(timeout=60_000)
            _no_student_script_ran(page, shown, "formgrader")
            shot(page, "hostile-formgrader.png")
            page.goto(f"{base}/lab/tree/autograded/{cid}/metalearning/metalearning.ipynb"
                      f"?token={token}")
            page.locator(".jp-OutputArea-output", has_text="window.__pwned").first.wait_for(
                timeout=120_000)
            _no_student_script_ran(page, shown, "JupyterLab")
            shot(page, "hostile-jupyterlab.png")
        except BaseException:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "hostile-failure.png"), full_page=True)
            raise
        browser.close()
    assert not dialogs, dialogs


def test_hypergradients_widgets_in_jupyterlab(tmp_path):
    """The third assignment's notebook, finished, run whole in JupyterLab (tiny profile); then
    the learned weights' step slider (Part 2) and the architecture weights' step slider (Part
    3) each redraw their picture (``hypergradients_*.png``)."""
    notebook = finished_student_notebook("hypergradients")
    with lab_server(tmp_path, "hypergradients.ipynb", notebook) as (url, _), \
            playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        try:
            page.goto(url)
            run_whole_notebook(page)
            for name, fraction in (("hw-learned-weights", 1.0), ("hw-architecture-weights", 0.3)):
                box = page.locator(f".{name}").first
                assert box.count() == 1, f"no {name} widget"
                box.scroll_into_view_if_needed()
                image = box.locator("img").first
                image.wait_for(timeout=60_000)
                src = image.get_attribute("src")
                shot(box, f"hypergradients_{name}_before.png")
                readout = box.locator(".widget-readout").first
                before = readout.inner_text()
                drag_slider(page, box.locator(".widget-slider").first, fraction)
                assert text_changes(readout, before) != before
                page.wait_for_function(  # redrawn, or a traceback in the widget's output
                    "([box, old]) => { const img = box.querySelector('img');"
                    " return img && img.src !== old || box.textContent.includes('Traceback'); }",
                    arg=[box.element_handle(), src], timeout=60_000)
                assert "Traceback" not in box.inner_text(), box.inner_text()[-2000:]
                shot(box, f"hypergradients_{name}_after.png")
            assert not errors, errors
        except BaseException:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "hypergradients_failure.png"), full_page=True)
            raise
        browser.close()
