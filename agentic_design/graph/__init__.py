"""Recursive task decomposition: a task split into subtasks, solved concurrently, composed.

    from agentic_design import TaskGraph, Subtask
    g = TaskGraph(decompose=d, solve=s, aggregate=a, max_depth=6, concurrency=16)
    result = g.run(task)
    g.graph, g.stats

- `model`: subtasks, node states, errors, fingerprints, spend reporting, saved JSON;
- `scheduler`: one run — ready nodes by longest remaining path, memoisation, retries,
  re-decomposition, cancellation;
- `taskgraph`: the TaskGraph facade; `analysis`: its figures; `llm`: LLM-backed steps.
"""

from agentic_design.graph.analysis import GraphStats
from agentic_design.graph.llm import (
    LLMStep,
    MalformedReply,
    llm_aggregator,
    llm_decomposer,
    llm_solver,
)
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
