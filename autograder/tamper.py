"""Integrity of a grading kernel: student code cannot swap the code a graded cell relies on.

A submission runs in the same Python process as the tests that grade it, so it could replace
``torch.allclose``, ``numpy.testing``, an hwlib function or a check, shadow a builtin, make
IPython drop the test cells (input/AST transformers), swallow their errors (custom exception
handlers, a patched ``showtraceback``, a ``post_run_cell`` callback that clears the output),
or give a function a new ``__code__``.  The sandbox's audit hook — which student code cannot
remove — drives two defences:

* **refused at once** (:func:`refuse_patch`): setting or deleting an attribute of a trusted
  class (``torch.Tensor.__eq__ = …``) and replacing the ``__code__``/``__defaults__`` of a
  trusted function;
* **verified and restored** (:class:`Snapshot`): the namespaces of the trusted modules, the
  builtins, ``sys.modules``/import hooks and the IPython machinery are recorded once, before the
  first cell; they are compared before every statement of every cell runs and right after each
  call into student code inside the checks (:func:`autograder.checks.common.call_student`).
  A difference is put back and the cell fails with :class:`GradingEnvironmentModified`, whose
  message names what was changed — so the tampering costs the test that would have used it.

Same caveat as :mod:`autograder.sandbox`: defence in depth, not a boundary against native code.
"""

from __future__ import annotations

import builtins
import sys
from types import FunctionType
from typing import Any

#: modules whose names must keep their values; hwlib.* and autograder.* are added, and for those
#: (strict) no new name may appear either
WATCHED = ("builtins", "math", "torch", "torch.nn", "torch.nn.functional", "torch.func",
           "torch.autograd", "torch.testing", "torch.optim", "numpy", "numpy.testing", "tqdm", "tqdm.auto")
STRICT = ("hwlib", "autograder")
#: entries IPython/ipykernel legitimately change while running cells
VOLATILE = {"builtins": {"input", "getpass", "_", "__", "___", "exit", "quit"}}
SYS_KEYS = ("modules", "meta_path", "path_hooks", "audit", "addaudithook", "settrace",
            "setprofile", "_getframe")
SHELL_LISTS = ("input_transformers_cleanup", "input_transformers_post", "ast_transformers")
SHELL_ATTRS = ("custom_exceptions", "CustomTB", "input_transformer_manager", "compile",
               "display_pub", "displayhook", "events", "kernel", "user_ns")
MANAGER_LISTS = ("cleanup_transforms", "line_transforms", "token_transformers")
_MISSING = object()


class GradingEnvironmentModified(SyntaxError):
    """Raised in the cell that follows tampering.  A ``SyntaxError`` subclass because IPython
    shows those even when they come from compiling the cell (before anything of it ran)."""

    def __str__(self) -> str:
        return str(self.msg)


def _is_trusted_name(module: str | None) -> bool:
    return bool(module) and module.split(".")[0] in (*STRICT, "torch", "numpy", "IPython",
                                                     "ipykernel", "builtins", "tqdm")


def _is_watched_class(cls: type) -> bool:
    """A class whose attributes a graded cell relies on and student code could change: the
    mutable classes of hwlib, the checks and IPython, and torch's tensors, modules, optimizers
    (immutable built-in types cannot be changed at all)."""
    import torch

    if cls.__flags__ & (1 << 8):  # Py_TPFLAGS_IMMUTABLETYPE
        return False
    if cls.__module__.split(".")[0] in (*STRICT, "IPython", "ipykernel", "jupyter_client"):
        return True
    if cls in (torch.optim.Optimizer, torch.optim.Adam, torch.optim.SGD):
        return True  # the sandbox creates one of each first: the class patches its step then
    return cls is not object and issubclass(cls, (torch.Tensor, torch.nn.Module))


class Snapshot:
    """Everything a graded cell relies on, recorded once (:meth:`take`), then :meth:`verify`."""

    def __init__(self) -> None:
        self.dicts: list[tuple[str, dict, dict, bool]] = []  # label "…{}", live dict, copy, strict
        self.lists: list[tuple[str, list, tuple]] = []
        self.instances: list[tuple[str, Any, dict]] = []  # methods overridden on instances
        self.classes: set[type] = set()
        self.functions: set[Any] = set()

    def take(self, shell: Any = None) -> "Snapshot":
        names = [*WATCHED, *(m for m in list(sys.modules) if m.split(".")[0] in STRICT)]
        for name in names:
            module = sys.modules.get(name)
            if module is None:
                continue
            keep = {k: v for k, v in vars(module).items()
                    if k not in VOLATILE.get(name, ()) and not k.startswith("__")}
            self.dicts.append((f"{name}.{{}}", vars(module), keep, name.split(".")[0] in STRICT))
            for value in keep.values():
                if isinstance(value, type) and _is_watched_class(value):
                    self.classes.update(c for c in value.__mro__ if _is_watched_class(c))
                    if value.__module__.split(".")[0] in STRICT:
                        self.functions.update(f for f in vars(value).values()
                                              if type(f) is FunctionType)
                elif type(value) is FunctionType:
                    self.functions.add(value)
        self.dicts.append(("sys.{}", vars(sys), {k: vars(sys)[k] for k in SYS_KEYS
                                               if k in vars(sys)}, False))
        self.dicts.append(("sys.modules['{}']", sys.modules,
                           {n: sys.modules[n] for n in names if n in sys.modules}, False))
        self.lists += [("sys.meta_path", sys.meta_path, tuple(sys.meta_path)),
                       ("sys.path_hooks", sys.path_hooks, tuple(sys.path_hooks))]
        if shell is not None:
            self._take_shell(shell)
        self.class_dicts = [(c, dict(vars(c))) for c in self.classes]
        return self

    def watch(self, module: Any, names: list[str]) -> None:
        """Record more names of a module (values set after :meth:`take`)."""
        self.dicts.append((f"{module.__name__}.{{}}", vars(module),
                           {n: getattr(module, n) for n in names}, False))

    def _take_shell(self, shell: Any) -> None:
        self.dicts.append(("the notebook's {}", shell.user_ns,
                           {"__builtins__": shell.user_ns.get("__builtins__", builtins)}, False))
        for name in SHELL_LISTS:
            self.lists.append((f"IPython {name}", getattr(shell, name), tuple(getattr(shell, name))))
        manager = shell.input_transformer_manager
        for name in MANAGER_LISTS:
            self.lists.append((f"IPython input_transformer_manager.{name}", getattr(manager, name),
                               tuple(getattr(manager, name))))
        self.dicts.append(("IPython events.callbacks['{}']", shell.events.callbacks,
                           dict(shell.events.callbacks), False))
        for event, callbacks in shell.events.callbacks.items():
            self.lists.append((f"IPython events['{event}']", callbacks, tuple(callbacks)))
        self.attrs = [(shell, a, getattr(shell, a)) for a in SHELL_ATTRS]
        kernel = getattr(shell, "kernel", None)
        objects = {"shell": shell, "kernel": kernel, "kernel.session": getattr(kernel, "session", None),
                   "shell.display_pub": shell.display_pub, "shell.displayhook": shell.displayhook,
                   "input_transformer_manager": manager}
        for label, obj in objects.items():
            if obj is None:
                continue
            self.instances.append((label, obj, _overrides(obj)))
            self.classes.update(c for c in type(obj).__mro__ if _is_watched_class(c))

    def verify(self) -> list[str]:
        """Put back every recorded entry that changed; return what changed (empty: intact)."""
        changed: list[str] = []
        for label, live, keep, strict in self.dicts:
            for k, v in keep.items():
                if live.get(k, _MISSING) is not v:
                    changed.append(label.format(k))
                    live[k] = v
            if strict and len(live) != len(keep) + sum(k.startswith("__") for k in live):
                for k in [k for k in live if k not in keep and not k.startswith("__")]:
                    changed.append(label.format(k) + " (added)")
                    del live[k]
        for label, live, items in self.lists:
            if len(live) != len(items) or any(a is not b for a, b in zip(live, items)):
                changed.append(label)
                live[:] = items
        for obj, attr, value in getattr(self, "attrs", ()):
            if getattr(obj, attr, _MISSING) is not value:
                changed.append(f"IPython shell.{attr}")
                setattr(obj, attr, value)
        for cls, keep in getattr(self, "class_dicts", ()):
            changed += _restore_class(cls, keep)
        for label, obj, callables in self.instances:
            now = _overrides(obj)
            for k in set(now) | set(callables):
                if now.get(k, _MISSING) is not callables.get(k, _MISSING):
                    changed.append(f"{label}.{k}")
                    if k in callables:
                        setattr(obj, k, callables[k])
                    else:
                        delattr(obj, k)
        return changed

    def refuse_patch(self, obj: Any, name: str) -> str | None:
        """For an ``object.__setattr__``/``__delattr__`` audit event: why it is refused, if it is."""
        if isinstance(obj, type) and obj in self.classes and name in ("__bases__", "__class__"):
            return f"changing {obj.__module__}.{obj.__qualname__}.{name}"
        if type(obj) is FunctionType and name in ("__code__", "__defaults__", "__kwdefaults__") \
                and obj in self.functions:
            return f"replacing the {name} of {getattr(obj, '__module__', '?')}.{obj.__qualname__}"
        return None


def _restore_class(cls: type, keep: dict) -> list[str]:
    """Put back the attributes of a class recorded in ``keep``; remove dunders added since."""
    live = vars(cls)
    changed = [k for k, v in keep.items() if live.get(k, _MISSING) is not v]
    if len(live) != len(keep):
        changed += [k for k in live if k not in keep and k.startswith("__") and k.endswith("__")]
    for k in changed:
        if k in keep:
            setattr(cls, k, keep[k])
        else:
            delattr(cls, k)
    return [f"{cls.__module__}.{cls.__qualname__}.{k}" for k in changed]


def _overrides(obj: Any) -> dict[str, Any]:
    """Callables set on an instance over a method of its class (``shell.showtraceback = f``)."""
    cls = type(obj)
    return {k: v for k, v in vars(obj).items() if callable(v) and hasattr(cls, k)}


def failure(changed: list[str]) -> GradingEnvironmentModified:
    shown = ", ".join(sorted(set(changed))[:6]) + (" …" if len(set(changed)) > 6 else "")
    return GradingEnvironmentModified(
        f"the grading environment was modified ({shown}) by code that ran before this point; "
        "it has been restored, and this cell fails. Do not replace library, hwlib, IPython or "
        "test code.")
