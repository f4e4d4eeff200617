"""agentic-design: automated design of neural architectures and LLM agents.

from agentic_design import RunConfig, Search, Archive
result = Search(RunConfig.from_yaml("examples/digits.yaml")).run()
best = Archive.open(result.run_dir).best()

The names below are imported on first use: a sandboxed evaluation imports this package's
modules (the task, the framing) and must not pay for — or expose — the orchestrator's (rich,
jinja, litellm) just because this file names them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from agentic_design import moved

moved.install()  # module paths from before the package's folders (run directories name them)

if TYPE_CHECKING:
    from agentic_design.config import RunConfig
    from agentic_design.graph import Subtask, TaskGraph
    from agentic_design.records import Design, Proposal, Status
    from agentic_design.run.search import Search, SearchResult
    from agentic_design.store.archive import Archive
    from agentic_design.tasks import Task, TaskBudget

_LAZY = {
    "Archive": "agentic_design.store.archive",
    "Design": "agentic_design.records",
    "Proposal": "agentic_design.records",
    "RunConfig": "agentic_design.config",
    "Search": "agentic_design.run.search",
    "SearchResult": "agentic_design.run.search",
    "Status": "agentic_design.records",
    "Subtask": "agentic_design.graph",
    "Task": "agentic_design.tasks",
    "TaskBudget": "agentic_design.tasks",
    "TaskGraph": "agentic_design.graph",
}

__all__ = [
    "Archive",
    "Design",
    "Proposal",
    "RunConfig",
    "Search",
    "SearchResult",
    "Status",
    "Subtask",
    "Task",
    "TaskBudget",
    "TaskGraph",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'agentic_design' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
