"""The third assignment's notebook, run top to bottom as a student runs it (the `tiny` profile:
seconds per run): the solution's own functions in the skeleton of hwlib — the learned optimizer
meta-trained and compared with tuned SGD and Adam, the three trainings on noisy Omniglot, the
widget, the augmentation's hypergradient, the architecture search against random search, the
in-context learner against the measured curves and at more shots — without an error, the hidden
tests of the instructor's notebook passing in-process.

Marked ``slow`` (``.ci/run`` runs it on purpose): the default run executes the same notebook
whole, as a student does, in JupyterLab (``test_browser.py::
test_hypergradients_widgets_in_jupyterlab``), and grades the solution through the pipeline
(``test_grading.py``: full marks)."""

from __future__ import annotations

import json

import pytest

from autograder.assignments import REPO, assignment_named


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_solution_notebook_runs_top_to_bottom(tmp_path, grading_data, monkeypatch):
    import nbformat
    from nbconvert.preprocessors import ExecutePreprocessor

    monkeypatch.setenv("HW_PROFILE", "tiny")
    monkeypatch.setenv("HW_GRADING_PROFILE", "tiny")  # the hidden tiers train in-process
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the instructor's notebook runs the hidden tests
    monkeypatch.chdir(tmp_path)
    nb = nbformat.read(str(assignment_named("hypergradients").source), as_version=4)
    ExecutePreprocessor(timeout=600, kernel_name="python3").preprocess(
        nb, {"metadata": {"path": str(tmp_path)}})
    out = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                  for o in c.get("outputs", []))
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors, json.dumps(errors)[:2000]
    for said in ("✓ preprocess_gradient", "✓ unrolled_loss", "✓ example_weights",
                 "tuned on training problems", "learned weights", "∂L_val/∂strength"):
        assert said in out, said
    assert (tmp_path / "figures" / "learned_optimizer_curves.png").is_file()
