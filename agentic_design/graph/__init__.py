"""Recursive task decomposition: a task split into subtasks, solved concurrently, composed.

    from agentic_design import TaskGraph, Subtask
    g = TaskGraph(decompose=d, solve=s, aggregate=a, max_depth=6, concurrency=16)
    result = g.run(task)
    g.graph, g.stats

- `model`: subtasks, node states, errors, fingerprints, spend reporting, saved JSON;
- `scheduler`: one run — ready nodes by longest remaining path, memoisation, retries,
  re-decomposition, cancellation;
- `taskgraph`: the TaskGraph facade; `analysis`: its figures; `llm`: LLM-backed steps.

The engine (model, scheduler, taskgraph, analysis) needs networkx alone, and runs inside the
sandbox too (`agents.solve_in_parts`). The LLM-backed steps bring jinja2, tenacity and pydantic
with them, so their names are loaded from `llm` only when first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from agentic_design.graph.analysis import GraphStats
from agentic_design.graph.model import (
    STATUSES,
    BudgetExceeded,
    CycleError,
    DecompositionError,
    GraphError,
    NodeFailed,
    Subtask,
    report_call,
)
from agentic_design.graph.taskgraph import TaskGraph

if TYPE_CHECKING:
    from agentic_design.graph.llm import (
        LLMStep,
        MalformedReply,
        llm_aggregator,
        llm_decomposer,
        llm_solver,
    )

_FROM_LLM = frozenset(
    {"LLMStep", "MalformedReply", "llm_aggregator", "llm_decomposer", "llm_solver"}
)


def __getattr__(name: str) -> Any:
    if name in _FROM_LLM:
        return getattr(importlib.import_module("agentic_design.graph.llm"), name)
    raise AttributeError(f"module 'agentic_design.graph' has no attribute {name!r}")


__all__ = [
    "STATUSES",
    "BudgetExceeded",
    "CycleError",
    "DecompositionError",
    "GraphError",
    "GraphStats",
    "LLMStep",
    "MalformedReply",
    "NodeFailed",
    "Subtask",
    "TaskGraph",
    "llm_aggregator",
    "llm_decomposer",
    "llm_solver",
    "report_call",
]
