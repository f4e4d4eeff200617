"""Module paths from before the package was arranged in folders (release 0.1.0, flat).

A run directory's configuration (`task: agentic_design.tasks.training:...`, `sandbox.preload`),
a user's task file (`from agentic_design.proposers.operators import generic_operators`) or a
script may still name them. Importing an old path gives the module that now holds its code —
the very same module object, so that classes and state are shared — or, where one module's
code now lives in several, a module that re-exports all their names (and the old names of
renamed functions). `agentic_design/__init__.py` installs the finder, so this works in every
process that imports the package, sandboxed children included.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from typing import Any

P = "agentic_design"

#: old module -> the modules that now hold its code (the first holds most of it).
MOVED: dict[str, tuple[str, ...]] = {
    f"{P}.{old}": tuple(f"{P}.{new}" for new in news)
    for old, news in {
        "sandbox_server": ("sandbox.server",),
        "framing": ("sandbox.framing",),
        "confinement": ("sandbox.confinement", "sandbox.probe"),
        "cgroups": ("sandbox.cgroups",),
        "landlock": ("sandbox.landlock",),
        "userns": ("sandbox.userns",),
        "seccomp": ("sandbox.seccomp",),
        "devices": ("sandbox.devices",),
        "archive": ("store.archive",),
        "adas": ("store.import_adas",),
        "pareto": ("store.pareto",),
        "proposers.lenient_json": ("lenient_json",),
        "proposers.operators": ("mutations.operators", "mutations.generic"),
        "proposers.code_ast": ("mutations.code_ast",),
        "proposers.point_mutations": ("mutations.point",),
        "proposers.term_mutations": ("mutations.term",),
        "proposers.crossover": ("mutations.crossover",),
        "selection": ("proposers.selection",),
        "search": ("run.search",),
        "pipeline": ("run.pipeline",),
        "evaluation": ("run.evaluation", "run.assemble"),
        "program_check": ("run.program_check",),
        "broker": ("run.broker",),
        "ray_executor": ("run.ray_executor",),
        "replay": ("run.replay",),
        "simulated": ("tasks.agent.simulated",),
        "tasks.training": ("tasks.architecture.training",),
        "tasks.architecture_ast": ("tasks.architecture.torch_ast",),
        "tasks.architecture_mutations": ("tasks.architecture.mutations",),
        "tasks.agent_data": ("tasks.agent.data", "normalise"),
        "tasks.agent_datasets": ("tasks.agent.datasets",),
        "tasks.agent_mutations": ("tasks.agent.mutations",),
    }.items()
}

#: old module -> {old name: new name} for functions renamed in the move.
RENAMED: dict[str, dict[str, str]] = {f"{P}.evaluation": {"limits_for": "sandbox_limits"}}


class _OldPaths(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers imports of `MOVED`'s old paths; every other import passes it by."""

    def __init__(self) -> None:
        self._own: dict[str, importlib.machinery.ModuleSpec | None] = {}

    def find_spec(
        self, fullname: str, path: Any = None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        holders = [importlib.import_module(name) for name in MOVED[spec.name]]
        if len(holders) == 1:
            self._own[spec.name] = holders[0].__spec__
            return holders[0]
        merged = types.ModuleType(spec.name, f"{spec.name}: moved to {', '.join(MOVED[spec.name])}")
        for holder in reversed(holders):  # the first holder's names win
            merged.__dict__.update(
                {k: v for k, v in vars(holder).items() if not k.startswith("__")}
            )
        for old, new in RENAMED.get(spec.name, {}).items():
            merged.__dict__[old] = merged.__dict__[new]
        return merged

    def exec_module(self, module: types.ModuleType) -> None:
        # The import system stamped the old path's spec on the module it was given: a module
        # that moved keeps its own (its name, its file), for pickling and reloads.
        spec = module.__spec__
        own = self._own.pop(spec.name, None) if spec is not None else None
        if own is not None:
            module.__spec__ = own


def install() -> None:
    """Put the finder on `sys.meta_path`, once."""
    if not any(isinstance(finder, _OldPaths) for finder in sys.meta_path):
        sys.meta_path.append(_OldPaths())
