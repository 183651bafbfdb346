"""The worker runs in the judge's own Python environment, and grading refuses where it cannot.

* A broken worker environment — a hidden site-packages folder, a torch that fails to import,
  another torch — makes ``grade`` refuse before anyone is graded: the cause named, exit 2, no
  row written.
* A grader failure during a class is never a grade: status ``grader error``, no score, no
  gradebook entry, exit 1, and the next run grades those students again.
* Other kinds of environment: a ``--copies`` venv under a path with spaces, a
  ``pip install --user``, packages on ``PYTHONPATH``, a wheel (not editable) install of hwlib —
  the worker finds the same torch and hwlib and still sees nothing of the repository.  (The
  plain venv under ``/tmp`` is the whole suite's: ``.ci/run``; an ordinary user's ``--copies``
  venv: ``tests/test_ordinary_user.py``.)
* The mounts: a read folder under ``/tmp`` is not hidden by the scratch space; a private folder
  inside a read folder is hidden; a read folder inside a private one is visible alone.
* Where user namespaces are refused, ``grade`` refuses with the reason and the known fix.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import autograder.sandbox.isolation as isolation
import autograder.sandbox.python_env as python_env
from autograder.__main__ import main
from autograder.assignments import REPO
from autograder.sandbox.boundary import SETTINGS, boundary_problem, userns_refusal

PROBLEM = boundary_problem()
pytestmark = pytest.mark.skipif(PROBLEM is not None, reason=f"no sandbox here: {PROBLEM}")
TORCH_SITE = os.path.dirname(os.path.dirname(torch.__file__))
MISMATCH = '''import sys
here = __path__[0].rsplit("/", 1)[0]
sys.path.remove(here)
del sys.modules["torch"]
import torch as _real
_real.__version__ = "2.0.0+other"
sys.modules["torch"] = _real
'''


def _class(tmp_path: Path, *names: str, notebook: str = "notebooks") -> Path:
    subs = tmp_path / "subs"
    for name in names:
        (subs / name).mkdir(parents=True)
        shutil.copyfile(REPO / notebook / "metalearning" / "metalearning.ipynb",
                        subs / name / "metalearning.ipynb")
    return subs


def _shadow_torch(tmp_path: Path, monkeypatch, body: str) -> None:
    """A ``torch`` package first on the worker's path only (the judge keeps its own)."""
    folder = tmp_path / "shadow"
    (folder / "torch").mkdir(parents=True)
    (folder / "torch" / "__init__.py").write_text(body)
    read, variables = python_env.read_folders, python_env.python_variables
    monkeypatch.setattr(python_env, "read_folders", lambda p: sorted([*read(p), str(folder)]))
    monkeypatch.setattr(python_env, "python_variables", lambda p: {
        **variables(p), "PYTHONPATH": f"{variables(p)['PYTHONPATH']}:{folder}"})


def _refused(tmp_path: Path, capsys) -> str:
    out = tmp_path / "out"
    code = main(["grade", str(_class(tmp_path, "alice")), "--out", str(out), "--profile", "tiny"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "refusing to grade" in err and not out.exists(), err  # no row, no folder
    return err


def test_refuses_when_the_sandbox_hides_site_packages(tmp_path, grading_data, monkeypatch,
                                                      capsys):
    monkeypatch.setattr(isolation, "PRIVATE", {*isolation.PRIVATE, TORCH_SITE})
    err = _refused(tmp_path, capsys)
    assert "the sandboxed worker cannot import torch: ModuleNotFoundError" in err


def test_refuses_when_torch_fails_to_import(tmp_path, grading_data, monkeypatch, capsys):
    _shadow_torch(tmp_path, monkeypatch,
                  'raise ImportError("libtorch_cpu.so: cannot open shared object file")')
    err = _refused(tmp_path, capsys)
    assert "cannot import torch: ImportError: libtorch_cpu.so: cannot open" in err


def test_refuses_on_a_torch_version_mismatch(tmp_path, grading_data, monkeypatch, capsys):
    _shadow_torch(tmp_path, monkeypatch, MISMATCH)
    err = _refused(tmp_path, capsys)
    assert "does not run in the judge's Python environment" in err
    assert "its torch is version 2.0.0+other" in err and torch.__version__ in err


def test_refuses_when_the_reference_answers_lose_points(tmp_path, grading_data, monkeypatch,
                                                       capsys):
    """The canary: in an environment where the reference solution is not graded full marks
    (here: the reference itself is broken), the class is not graded, and the message says which
    test the reference lost and why."""
    from autograder.assignments import Assignment
    from autograder.assignments.metalearning.catalogue import MUTANTS
    from autograder.student_code.entries import mutate_notebook

    wrong_sign = next(m for m in MUTANTS if m.name == "inner-step-wrong-sign")
    reference = tmp_path / "reference.ipynb"
    reference.write_text(json.dumps(mutate_notebook(
        json.loads(Assignment("metalearning").source.read_text()), wrong_sign)))
    monkeypatch.setattr(Assignment, "source", property(lambda self: reference))
    err = _refused(tmp_path, capsys)
    assert "the reference answers got" in err and "not full marks" in err, err
    assert "test_inner_update: " in err and "wrong sign" in err, err


def test_a_grader_failure_is_never_a_grade(tmp_path, grading_data, seed_template, monkeypatch,
                                           capsys):
    """The canary passed (here: skipped), then the environment broke: every row says
    ``grader error`` with the cause, no score and no gradebook entry, and the command exits 1;
    once fixed, the same command grades exactly those students."""
    from nbgrader.api import Gradebook

    import autograder.pipeline.grade as grade_module

    subs, out = _class(tmp_path, "alice", "bob"), seed_template(tmp_path / "out")
    with monkeypatch.context() as broken:
        broken.setattr(grade_module, "run_canary", lambda *a, **k: None)
        _shadow_torch(tmp_path, broken, 'raise ImportError("torch is broken")')
        code = main(["grade", str(subs), "--out", str(out), "--profile", "tiny"])
    err = capsys.readouterr().err
    assert code == 1 and "the grader failed on 2 submission(s)" in err, err
    rows = list(csv.DictReader(open(out / "grades.csv")))
    assert [r["student"] for r in rows] == ["alice", "bob"]
    for r in rows:
        assert r["status"].startswith("grader error: the sandboxed worker cannot import torch")
        assert r["score"] == "" and r["max_score"] != ""
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
        assert gb.find_assignment("metalearning").submissions == []
    assert main(["grade", str(subs), "--out", str(out), "--profile", "tiny"]) == 0
    rows = list(csv.DictReader(open(out / "grades.csv")))
    assert [(r["student"], r["status"], float(r["score"])) for r in rows] == [
        ("alice", "graded", 0.0), ("bob", "graded", 0.0)]  # the blank release: graded, zero


# ----- other kinds of environment ------------------------------------------------------------
JUDGE = r'''
import json, os, sys
import torch
from autograder.sandbox.boundary import boundary_problem
from autograder.sandbox.isolation import Limits
from autograder.transport.client import WorkerClient
cell = "import os, torch, hwlib\nv = str(torch.__version__)\nf = torch.__file__\n" \
       "repo = os.path.exists(%r)\nh = hwlib.__file__" % sys.argv[1]
with WorkerClient([{"id": "a", "source": cell}], {}, Limits(), 120) as w:
    got = w.request({"op": "values", "names": ["v", "f", "repo", "h"]}).head["values"]
print(json.dumps({"problem": boundary_problem(), "torch": torch.__file__,
                  **{k: v.get("value") for k, v in got.items()}}))
'''


def _link_packages(target: Path, skip=()) -> None:
    """This environment's site-packages, hard-linked into ``target`` (a real copy of the
    packages in another place, without copying gigabytes)."""
    target.mkdir(parents=True, exist_ok=True)
    for entry in Path(TORCH_SITE).iterdir():
        if not any(entry.name.startswith(s) for s in skip) and not (target / entry.name).exists():
            subprocess.run(["cp", "-al", str(entry), str(target)], check=True)


def _judge_in(python: str, env: dict | None = None) -> dict:
    proc = subprocess.run([python, "-c", JUDGE, str(REPO)], cwd=REPO, capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})})
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["problem"] is None and got["v"] == torch.__version__, got
    assert got["f"] == got["torch"], got  # the worker imports the judge's own torch
    assert got["repo"] is False and got["h"] == "/opt/hw/hwlib/__init__.py", got
    return got


def _base_python() -> str:
    return getattr(sys, "_base_executable", None) or sys.executable


@pytest.fixture
def linkable(tmp_path):
    probe = tmp_path / "probe"
    try:
        os.link(torch.__file__, probe)
    except OSError as e:
        pytest.skip(f"cannot hard-link this environment's packages into {tmp_path}: {e}")
    probe.unlink()


def test_worker_runs_in_a_copies_venv_under_a_path_with_spaces(tmp_path, linkable):
    venv = tmp_path / "a TA's folder" / "venv copies"
    subprocess.run([_base_python(), "-m", "venv", "--copies", "--without-pip", str(venv)],
                   check=True)
    _link_packages(venv / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
                   / "site-packages")
    got = _judge_in(str(venv / "bin" / "python"))
    assert got["torch"].startswith(str(venv)), got


def test_worker_runs_with_a_user_install(tmp_path, linkable):
    """``pip install --user``: the packages are in the user's site folder, which the worker
    (whose HOME is /tmp) finds through PYTHONUSERBASE."""
    base = tmp_path / "home" / ".local"
    _link_packages(Path(site.getusersitepackages().replace(site.getuserbase(), str(base))))
    got = _judge_in(_base_python(), {"PYTHONUSERBASE": str(base)})
    assert got["torch"].startswith(str(base)), got


def test_worker_runs_with_packages_on_pythonpath(tmp_path, linkable):
    """Packages in a folder named by PYTHONPATH (a cluster's module system, a shared disk)."""
    folder = tmp_path / "shared disk" / "packages"
    _link_packages(folder)
    got = _judge_in(_base_python(), {"PYTHONPATH": str(folder)})
    assert got["torch"].startswith(str(folder)), got


def test_worker_runs_with_a_wheel_install_of_hwlib(tmp_path, linkable):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", "-w", str(wheels), str(REPO)], check=True,
                   capture_output=True)
    venv = tmp_path / "venv"
    subprocess.run([_base_python(), "-m", "venv", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    _link_packages(Path(subprocess.check_output(
        [py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
        ).strip()), skip=("__editable__", "hwlib", "_hwlib", "pip"))
    subprocess.run([py, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    *map(str, wheels.glob("hwlib-*.whl"))], check=True, capture_output=True)
    _judge_in(py)


# ----- the mounts --------------------------------------------------------------------------
def test_mount_plan_puts_folders_before_what_lies_inside_them():
    plan = isolation.mount_plan(["/tmp/venv", "/home/ta/course/.venv", "/home/ta"],
                                ["/home/ta/course", "/srv/grading"])
    assert plan == ["--ro-bind", "/home/ta", "/home/ta", "--tmpfs", "/home/ta/course",
                    "--ro-bind", "/home/ta/course/.venv", "/home/ta/course/.venv",
                    "--ro-bind", "/tmp/venv", "/tmp/venv"]


def test_what_the_worker_reads_is_visible_and_what_is_private_is_not(tmp_path, monkeypatch):
    """Data under /tmp stays visible over the scratch space; a private folder inside a read
    folder is hidden; a read folder inside a private folder is visible, its siblings not."""
    from autograder.transport.client import WorkerClient

    data, private = tmp_path / "data", tmp_path / "private"
    for path in (data / "images.zip", data / "secret" / "key", private / "gradebook.db",
                 private / "omniglot" / "images.zip"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    monkeypatch.setattr(isolation, "data_folders", lambda: [str(data), str(private / "omniglot")])
    monkeypatch.setattr(isolation, "PRIVATE", {*isolation.PRIVATE, str(data / "secret"),
                                               str(private)})
    paths = [data / "images.zip", data / "secret" / "key", private / "gradebook.db",
             private / "omniglot" / "images.zip"]
    cell = "import os\nseen = ','.join(str(os.path.exists(p)) for p in %r)" % list(map(str, paths))
    with WorkerClient([{"id": "a", "source": cell}], {}, isolation.Limits(), 60) as w:
        seen = w.request({"op": "values", "names": ["seen"]}).head["values"]["seen"]["value"]
    assert seen == "True,False,False,True"


# ----- user namespaces refused -------------------------------------------------------------
@pytest.mark.parametrize("setting,value,fix", [(s[0], s[1], s[3][:30]) for s in SETTINGS])
def test_each_kernel_refusal_is_named_with_its_fix(tmp_path, setting, value, fix):
    (tmp_path / setting).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / setting).write_text(value + "\n")
    said = userns_refusal("bwrap: setting up uid map: Permission denied", tmp_path)
    assert said and setting.split("/")[-1] in said and fix in said


def test_grade_refuses_with_the_reason_where_user_namespaces_are_refused(tmp_path):
    """A judge that may not create user namespaces (here: inside a sandbox that forbids
    nesting them — as a container or a restricted kernel would) refuses with the reason."""
    subs = _class(tmp_path, "alice")
    outer = [shutil.which("bwrap"), "--unshare-user", "--disable-userns", "--bind", "/", "/",
             "--dev", "/dev", "--proc", "/proc", "--"]
    proc = subprocess.run([*outer, sys.executable, "-m", "autograder", "grade", str(subs),
                           "--out", str(tmp_path / "out"), "--profile", "tiny"], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "bubblewrap cannot create its namespaces here" in proc.stderr
    assert "Fix:" in proc.stderr and not (tmp_path / "out").exists()
