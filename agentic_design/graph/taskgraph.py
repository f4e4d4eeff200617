"""TaskGraph: solve a task by recursive decomposition, as a graph of subtasks run concurrently."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

import networkx as nx

from agentic_design.graph.analysis import GraphStats, graph_stats
from agentic_design.graph.model import FORMAT, GraphError, add_node, dumps, fingerprint, loads
from agentic_design.graph.scheduler import Run

# Each may be a plain or an async function (or an object with such a __call__).
Decompose = Callable[[Any], Any]  # task -> None (atomic) | list[Subtask]
Solve = Callable[[Any, list[Any]], Any]  # (task, inputs) -> result
Aggregate = Callable[[Any, list[Any]], Any]  # (task, child results) -> result


async def children_as_list(task: Any, child_results: list[Any]) -> list[Any]:
    """The default aggregation: the children's results, in subtask order."""
    return child_results


class TaskGraph:
    """Solve a task by recursive decomposition.

        g = TaskGraph(decompose=d, solve=s, aggregate=a, max_depth=6, concurrency=16)
        result = g.run(task)          # or: await g.arun(task)
        g.graph, g.stats              # the networkx.DiGraph; calls, tokens, USD, depth, timing

    - `decompose(task)` returns None (the task is atomic) or a list of
      `Subtask(task, depends_on=[sibling indices])` (a bare task stands for a Subtask with no
      dependencies). Without it every task is atomic.
    - `solve(task, inputs)` solves an atomic task. `inputs` are what its parent could use,
      then the results of its own dependencies, in the order named.
    - `aggregate(task, child_results)` composes a task from its children's results, in
      subtask order (default: that list itself).

    Each may be sync — run in a thread pool of `concurrency` threads, so a blocking call does
    not stall the rest — or async, run on the event loop. Tasks and results are JSON data (the
    graph is saved as JSON; tasks are told apart by their JSON fingerprint).

    Limits: a task at depth `max_depth` (the root is at 0) is solved directly, never
    decomposed, as is one whose subtasks would take the graph past `max_nodes`. A step that
    raises is retried `retries` times; then its parent re-decomposes, up to
    `redecompositions` times, before the failure goes up the tree. Reaching `max_tokens` or
    `max_usd` (what steps report through `report_call`, as the LLM-backed defaults do)
    cancels the running steps and raises BudgetExceeded.

    A finished, failed or interrupted graph can be saved (`to_json`) and resumed
    (`from_json(...).resume()`, or `resume()` on this object): done nodes keep their results;
    every other node of the tree starts again.
    """

    def __init__(
        self,
        *,
        solve: Solve,
        decompose: Decompose | None = None,
        aggregate: Aggregate = children_as_list,
        max_depth: int = 6,
        max_nodes: int = 10_000,
        concurrency: int = 16,
        retries: int = 1,
        redecompositions: int = 1,
        max_tokens: int | None = None,
        max_usd: float | None = None,
    ):
        for name, value, least in (
            ("max_depth", max_depth, 0),
            ("max_nodes", max_nodes, 1),
            ("concurrency", concurrency, 1),
            ("retries", retries, 0),
            ("redecompositions", redecompositions, 0),
        ):
            if value < least:
                raise ValueError(f"{name} must be at least {least}, not {value}")
        self.decompose, self.solve, self.aggregate = decompose, solve, aggregate
        self.max_depth, self.max_nodes, self.concurrency = max_depth, max_nodes, concurrency
        self.retries, self.redecompositions = retries, redecompositions
        self.max_tokens, self.max_usd = max_tokens, max_usd
        self.graph = nx.DiGraph()
        self._running = False

    # -- running ----------------------------------------------------------------------------------
    def run(self, task: Any) -> Any:
        """Solve `task` from scratch; its result, or NodeFailed / BudgetExceeded."""
        return asyncio.run(self.arun(task))

    async def arun(self, task: Any) -> Any:
        """`run`, on the running event loop."""
        try:
            task_print = fingerprint(task)
        except (TypeError, ValueError) as exc:
            raise GraphError(f"the task is not JSON data: {exc}") from None
        graph = nx.DiGraph(root=0, next_id=1, format=FORMAT, wall_s=0.0)
        add_node(graph, 0, task, task_print, 0, None, 0, [])
        self.graph = graph
        return await self.aresume()

    def resume(self) -> Any:
        """Carry on with the graph held (interrupted, failed or loaded): done nodes are kept,
        the rest of the tree runs again."""
        return asyncio.run(self.aresume())

    async def aresume(self) -> Any:
        """`resume`, on the running event loop."""
        if "root" not in self.graph.graph:
            raise GraphError("nothing to resume: run a task, or load a saved graph")
        if self._running:
            raise GraphError("this graph is already running")
        self._running = True
        try:
            return await Run(self).drive()
        finally:
            self._running = False

    @staticmethod
    def is_async(fn: Any) -> bool:
        """Whether calling `fn` gives an awaitable (else it runs in a thread)."""
        return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
            getattr(fn, "__call__", None)  # noqa: B004 - an object whose __call__ is async
        )

    # -- what it did ------------------------------------------------------------------------------
    @property
    def stats(self) -> GraphStats:
        """Calls, tokens, USD, depth, width, nodes, wall time and the critical-path bound."""
        return graph_stats(self.graph)

    def to_json(self) -> str:
        """The graph as node-link JSON, to resume with `from_json`."""
        return dumps(self.graph)

    @classmethod
    def from_json(cls, text: str, **settings: Any) -> TaskGraph:
        """A TaskGraph holding a saved graph, with the steps and limits in `settings` (as for
        the constructor); `resume()` carries on with it."""
        graph = cls(**settings)
        graph.graph = loads(text)
        return graph
