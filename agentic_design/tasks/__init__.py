"""Built-in tasks and the loader for a user's own (`task: path/to/file.py:ClassName`)."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

from agentic_design.tasks.architecture import task as architecture  # noqa: F401 - resolves its data cache at import
from agentic_design.tasks.base import InvalidDesign, InvalidOutputs, Score, Task, TaskBudget

BUILTIN_TASKS: dict[str, str] = {
    "mnist1d": "agentic_design.tasks.architecture:MNIST1DTask",
    "digits": "agentic_design.tasks.architecture:DigitsTask",
    "binpack": "agentic_design.tasks.binpack:BinPackingTask",
    "binpack_or": "agentic_design.tasks.binpack:ORBinPackingTask",
    "circle_packing": "agentic_design.tasks.circle_packing:CirclePackingTask",
    "autocorrelation": "agentic_design.tasks.autocorrelation:AutocorrelationTask",
    "arithmetic": "agentic_design.tasks.agent:AgentTask",
    "arc": "agentic_design.tasks.agent:ARCTask",
    "humaneval": "agentic_design.tasks.agent:HumanEvalTask",
    "problem_folder": "agentic_design.tasks.folder:ProblemFolderTask",
}


class TaskLoadError(ValueError):
    """The task named in a config cannot be found or built."""


def task_class(ref: str) -> type[Task]:
    """Resolve a built-in name, `package.module:Class` or `path/to/file.py:Class` to a class."""
    target = BUILTIN_TASKS.get(ref, ref)
    module_ref, sep, class_name = target.rpartition(":")
    if not sep or not module_ref or not class_name:
        raise TaskLoadError(
            f"unknown task {ref!r}: use a built-in task ({', '.join(sorted(BUILTIN_TASKS))}) "
            "or path/to/file.py:ClassName"
        )
    if module_ref.endswith(".py"):
        path = Path(module_ref)
        if not path.is_file():
            raise TaskLoadError(f"task file not found: {path} (from task {ref!r})")
        module_name = f"agentic_design_user_task_{abs(hash(str(path.resolve())))}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise TaskLoadError(f"cannot import task file {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:  # the user's own file: report it, do not crash on it
            del sys.modules[module_name]
            raise TaskLoadError(
                f"task file {path} failed to import: {type(exc).__name__}: {exc}"
            ) from exc
    else:
        try:
            module = importlib.import_module(module_ref)
        except ImportError as exc:
            raise TaskLoadError(f"cannot import task module {module_ref!r}: {exc}") from None
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Task)):
        raise TaskLoadError(f"{class_name!r} in {module_ref} is not a subclass of Task")
    return cls


def load_task(ref: str, params: dict[str, Any] | None = None) -> Task:
    """Build the task named `ref` with keyword arguments `params`."""
    cls = task_class(ref)
    try:
        return cls(**(params or {}))
    except TypeError as exc:
        raise TaskLoadError(f"task {ref!r} rejected its task_params: {exc}") from None


__all__ = [
    "BUILTIN_TASKS",
    "InvalidDesign",
    "InvalidOutputs",
    "Score",
    "Task",
    "TaskBudget",
    "TaskLoadError",
    "load_task",
    "task_class",
]
