"""The modules import each other in layers: no cycle, and never from a lower layer up.

Every import counts, also those inside functions.  The layers are the README's module table,
bottom to top; a module may import its own layer and the layers below it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from autograder.assignments import NAMES
from autograder.pipeline.course import REPO

# (layer, module prefixes), bottom first.  A module belongs to the longest prefix that names it.
LAYERS = {
    "hwlib": [
        ("foundation", ["hwlib.errors", "hwlib.device", "hwlib.progress", "hwlib.cache",
                        "hwlib.profiles"]),
        ("data", ["hwlib.download", "hwlib.omniglot", "hwlib.splits"]),
        ("tasks and models", ["hwlib.tasks", "hwlib.models", "hwlib.sinusoid"]),
        ("skeleton", ["hwlib.evaluate", "hwlib.history", "hwlib.checkpoint", "hwlib.learner",
                      "hwlib.outer_loop"]),
        ("algorithms", ["hwlib.protonet", "hwlib.metasgd", "hwlib.learned_optimizer",
                        "hwlib.reweighting", "hwlib.darts", "hwlib.incontext"]),
        ("notebook", ["hwlib.selfcheck", "hwlib.plots", "hwlib.widgets",
                      "hwlib.embedding_explorer", "hwlib.selfcheck_metasgd",
                      "hwlib.selfcheck_protonet", "hwlib.selfcheck_hypergradients",
                      "hwlib.selfcheck_darts", "hwlib.selfcheck_incontext"]),
        ("package", ["hwlib"]),
    ],
    "autograder": [
        ("course and sandbox", ["autograder.pipeline", "autograder.pipeline.course",
                                "autograder.assignments", "autograder.pipeline.sanitize",
                                "autograder.pipeline.text", "autograder.pipeline.submissions",
                                "autograder.judge.grading_key", "autograder.sandbox",
                                "autograder.pipeline.preprocessors",
                                "autograder.pipeline.nbgrader_config",
                                "autograder.worker", "autograder.reference",
                                *[f"autograder.assignments.{n}.answers"
                                  for n in (*NAMES, "_template")]]),
        ("results and transport", ["autograder.pipeline.results", "autograder.transport",
                                   "autograder.transport.lending", "autograder.transport.local"]),
        ("checks", ["autograder.checks", "autograder.student_code"]),
        ("assignments", [f"autograder.assignments.{n}" for n in (*NAMES, "_template")]),
        ("judge", ["autograder.judge", "autograder.pipeline.gradebook"]),
        ("commands", ["autograder.pipeline.batch", "autograder.pipeline.jobs",
                      "autograder.pipeline.canary", "autograder.pipeline.grade",
                      "autograder.instructor", "autograder.research"]),
        ("command line", ["autograder.__main__", "autograder"]),
    ],
}


def _module(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, name: str) -> set[str]:
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            found |= {base} | {f"{base}.{a.name}" for a in node.names}
    return found


def _graph(package: str) -> dict[str, set[str]]:
    files = {_module(p): p for p in (REPO / package).rglob("*.py")}
    graph = {m: {i for i in _imports(p, m) if i in files and i != m} for m, p in files.items()}
    # a package's __init__ is imported by its modules implicitly: leave those edges out
    return {m: {i for i in deps if not m.startswith(i + ".")} for m, deps in graph.items()}


def _layer(package: str, module: str) -> int:
    best = (-1, -1)
    for rank, (_, prefixes) in enumerate(LAYERS[package]):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best[1]:
                best = (rank, len(p))
    assert best[0] >= 0, f"{module} is in no layer of tests/test_imports.py: add it"
    return best[0]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, state = [], {}

    def visit(m: str, path: list[str]) -> None:
        state[m] = "open"
        for d in sorted(graph[m]):
            if state.get(d) == "open":
                found.append(path[path.index(d):] + [d] if d in path else [m, d])
            elif d not in state:
                visit(d, path + [d])
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    return found


@pytest.mark.parametrize("package", ["hwlib", "autograder"])
def test_no_import_cycles(package):
    assert not cycles(_graph(package))


@pytest.mark.parametrize("package", ["hwlib", "autograder"])
def test_no_import_from_a_lower_layer_up(package):
    graph = _graph(package)
    upward = [f"{m} ({LAYERS[package][_layer(package, m)][0]}) imports {d} "
              f"({LAYERS[package][_layer(package, d)][0]})"
              for m, deps in sorted(graph.items()) for d in sorted(deps)
              if _layer(package, d) > _layer(package, m)]
    assert not upward, upward


def test_hwlib_never_imports_the_instructor_side_and_the_worker_only_itself():
    for path in (REPO / "hwlib").glob("*.py"):
        assert not {i for i in _imports(path, _module(path)) if i.startswith("autograder")}, path
    for path in (REPO / "autograder" / "worker").glob("*.py"):  # mounted alone in the sandbox
        outside = {i for i in _imports(path, _module(path))
                   if i.startswith("autograder") and not i.startswith("autograder.worker")}
        assert not outside, f"{path} imports {outside}: the sandbox holds only the worker"


def test_the_checker_finds_a_cycle_and_an_upward_import():
    """The tests above can fail: a made-up graph with a cycle and an upward edge."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert _layer("hwlib", "hwlib.models") < _layer("hwlib", "hwlib.learner")
    assert _layer("autograder", "autograder.checks.student") > \
        _layer("autograder", "autograder.transport.client")


def _readme_layers() -> list[tuple[str, list[str]]]:
    text = (REPO / "README.md").read_text()
    rows = []
    for line in text.split("| layer | module | what it holds |")[1].splitlines()[2:]:
        if not line.startswith("|"):
            break
        layer, modules = (c.strip() for c in line.strip("|").split("|")[:2])
        rows.append((layer, [m.strip(" `") for m in modules.split(",")]))
    return rows


def test_readme_module_table_and_layout_match_the_tree():
    on_disk = {p.stem for p in (REPO / "hwlib").glob("*.py")} - {"__init__"}
    table = _readme_layers()
    assert sorted(m for _, ms in table for m in ms) == sorted(on_disk)
    assert table == [(name, [p.split(".")[1] for p in prefixes])
                     for name, prefixes in LAYERS["hwlib"][:-1]], "README table ≠ LAYERS"
    layout = (REPO / "README.md").read_text().split("## Layout")[1].split("## ")[0]
    for path in (REPO / "autograder").iterdir():
        name = path.name if path.is_dir() else path.stem
        if path.suffix == ".py" and name != "__init__" or path.is_dir() and (
                path / "__init__.py").exists():
            assert name in layout, f"autograder/{path.name} is missing from the README layout"
    for mentioned in {w.strip(",()") for w in layout.split() if w.strip(",()").endswith(".py")}:
        assert list((REPO / "autograder").rglob(mentioned)), f"README names {mentioned}"


@pytest.mark.parametrize("package", ["hwlib", "autograder"])
def test_no_module_is_over_300_lines(package):
    """One concept per module, each fits on a few screens (DEVELOPERS.md: ~300 lines)."""
    long = {str(p.relative_to(REPO)): n for p in (REPO / package).rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 300}
    assert not long, long


def test_no_list_or_branch_names_an_assignment_outside_its_folder():
    """An assignment is one folder plus its registry line: no other module of the grader names
    one (the tests and the registry may)."""
    named = []
    for path in (REPO / "autograder").rglob("*.py"):
        if path.parent.name in NAMES or any(p.name in NAMES for p in path.parents) or \
                path == REPO / "autograder" / "assignments" / "__init__.py":
            continue
        text = path.read_text()
        named += [f"{path.relative_to(REPO)}: {n}" for n in NAMES
                  if f'"{n}"' in text or f"'{n}'" in text]
    assert not named, named
