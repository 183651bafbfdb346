"""The entries of every assignment's catalogue (``autograder/assignments/<name>/catalogue/``): a
one-token mutant, a bug or a correct variant; the namespace a student's function runs in; and
the mutant builder (a mutated reference, a mutated solution notebook)."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from types import ModuleType

@dataclass(frozen=True)
class Mutant:
    name: str
    function: str
    edits: tuple[tuple[str, str], ...]  # (old, new) pairs, applied simultaneously
    check: str       # the graded check (grade_id suffix) that must fail
    message: str     # a phrase its message must contain

    def apply(self, source: str) -> str:
        """Apply the edits inside ``def <function>`` of ``source`` (each ``old`` exactly once)."""
        start = source.index(f"def {self.function}(")
        end = source.find("\ndef ", start + 1)
        end = len(source) if end == -1 else end
        body = source[start:end]
        for i, (old, _) in enumerate(self.edits):
            if body.count(old) != 1:
                raise ValueError(f"mutant {self.name}: {old!r} occurs {body.count(old)} times "
                                 f"in {self.function}")
            body = body.replace(old, f"\0MUTANT{i}\0")
        for i, (_, new) in enumerate(self.edits):
            body = body.replace(f"\0MUTANT{i}\0", new)
        return source[:start] + body + source[end:]


@dataclass(frozen=True)
class Bug:
    """A wrong answer: ``check_<check>`` must fail with a message containing ``message``."""

    name: str
    function: str
    check: str
    message: str
    source: str


@dataclass(frozen=True)
class Variant:
    """A correct answer, written differently from the reference: every check passes."""

    name: str
    function: str
    source: str


def namespace_of(answers: ModuleType, prelude: str, *entries: Bug | Variant) -> dict:
    """An assignment's reference answers and its notebook's imports (``prelude``) in one
    namespace, with each entry's ``source`` executed into it (replacing that one function)."""
    namespace: dict = {"__name__": "student_code"}
    exec(compile(inspect.getsource(answers), "<reference>", "exec"), namespace)  # noqa: S102
    exec(compile(prelude, "<imports>", "exec"), namespace)  # noqa: S102
    for entry in entries:
        exec(compile(entry.source, f"<student {entry.name}>", "exec"), namespace)  # noqa: S102
    return namespace


def mutated_namespace_of(answers: ModuleType, mutant: Mutant) -> dict:
    """The reference answers with ``mutant`` applied, as a namespace of functions."""
    namespace: dict = {"__name__": f"mutant_{mutant.name.replace('-', '_')}"}
    source = mutant.apply(inspect.getsource(answers))
    exec(compile(source, f"<mutant {mutant.name}>", "exec"), namespace)  # noqa: S102
    return namespace


def mutate_notebook(notebook: dict, *entries) -> dict:
    """A copy of the solution ``notebook`` (nbformat JSON) with each entry applied to the cell
    that defines its function: a :class:`Mutant` edits it, an entry with a ``source`` (a bug
    or a correct variant written as a student would) replaces it."""
    import copy

    nb = copy.deepcopy(notebook)
    for entry in entries:
        for cell in nb["cells"]:
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            if cell["cell_type"] == "code" and f"def {entry.function}(" in source and \
                    cell["metadata"].get("nbgrader", {}).get("solution"):
                cell["source"] = entry.apply(source) if isinstance(entry, Mutant) else entry.source
                break
        else:
            raise ValueError(f"no answer cell defines {entry.function}")
    return nb


def buckets(entries: list, graded_with: dict[str, tuple] | None = None) -> list[list]:
    """The entries split into groups with at most one per function: one notebook per group
    (each function is graded alone, so each entry is judged by its own test).  A function
    graded with the student's own other functions (``graded_with``: function → those it runs)
    never shares a notebook with an entry of those, so a bug of one cannot hide the other's."""
    graded_with = graded_with or {}

    def clash(a: str, b: str) -> bool:
        return a == b or b in graded_with.get(a, ()) or a in graded_with.get(b, ())
    groups: list[list] = []
    for entry in entries:
        group = next((g for g in groups if not any(clash(e.function, entry.function)
                                                   for e in g)), None)
        if group is None:
            groups.append(group := [])
        group.append(entry)
    return groups
