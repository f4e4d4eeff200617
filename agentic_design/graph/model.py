"""The task graph's data: subtasks, node states, errors, fingerprints, the record of each step's
calls, and the node-link JSON a graph is saved as.

A node is a task. Its attributes, all JSON data (so a graph saves and resumes):

    task         what to do (JSON data)           fingerprint  sha256 of the task
    status       one of STATUSES                  depth        the root is 0
    kind         None until decomposed, then "atomic" (solved directly) or "composite"
    parent       the node it is part of (None for the root)
    index        its position among its siblings  depends_on   the sibling nodes it needs, in order
    attempts     steps tried, failures included   provenance   one record per step tried (below)
    memo_key     the task with its inputs, once they are known: equal keys, equal results
    result       set once solved (done, cached)   same_as      for cached: the node it copies
    error/cause  why it failed, and the node whose failure caused it (the cause chain)

Edges: `decomposes` (parent -> child) and `depends` (producer -> consumer, among siblings).

A provenance record: {"step": "decompose" | "solve" | "aggregate", "seconds", "error",
"calls": [{"template", "model", "prompt_tokens", "completion_tokens", "usd", "latency_s"}]} —
`calls` holds what the step reported through `report_call` (the LLM-backed defaults do).
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import networkx as nx

STATUSES = ("pending", "ready", "running", "done", "failed", "blocked", "pruned", "cached")
FINISHED = frozenset({"done", "cached"})
DECOMPOSES, DEPENDS = "decomposes", "depends"
FORMAT = 1  # the saved graph's format version


@dataclass(frozen=True)
class Subtask:
    """One part of a decomposition: a task, and the indices of the siblings whose results it
    needs (earlier or later in the list; the dependencies must not form a cycle)."""

    task: Any
    depends_on: Sequence[int] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "depends_on", tuple(self.depends_on))


class GraphError(Exception):
    """A task graph could not be built or run as asked."""


class DecompositionError(GraphError):
    """A decomposition is unusable (not a list, empty, a bad index, a task that is not JSON
    data); it is refused before anything is added to the graph."""


class CycleError(DecompositionError):
    """A decomposition would make the graph cyclic; `cycle` names the tasks around it."""

    def __init__(self, message: str, cycle: list[str]):
        super().__init__(message)
        self.cycle = cycle


class BudgetExceeded(GraphError):
    """The token or USD budget is spent. Running steps were cancelled; the graph keeps what
    finished and can be resumed with a larger budget."""


class NodeFailed(GraphError):
    """The root task failed. `chain` runs from the root down to the first failure: one entry
    per node, {"node", "task", "error"}; the original exception, where there is one in this
    process, is the `__cause__`."""

    def __init__(self, chain: list[dict[str, Any]]):
        lines = [f"node {c['node']} {describe(c['task'])}: {c['error']}" for c in chain]
        super().__init__("the task failed:\n  " + "\n  because ".join(lines))
        self.chain = chain


def canonical(value: Any) -> str:
    """`value` as canonical JSON; ValueError or TypeError if it is not JSON data."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def fingerprint(value: Any) -> str:
    """The identity of a task: the same fingerprint means the same task."""
    return hashlib.sha256(canonical(value).encode()).hexdigest()


def describe(task: Any, width: int = 60) -> str:
    """A task, short enough for a message."""
    text = task if isinstance(task, str) else json.dumps(task, default=repr)
    return repr(text if len(text) <= width else text[: width - 3] + "...")


def sibling_order(subtasks: list[Subtask]) -> list[int]:
    """The subtasks' indices in an order that respects their dependencies. Raises
    DecompositionError for an index out of range and CycleError, naming it, for a cycle."""
    n = len(subtasks)
    deps = nx.DiGraph()
    deps.add_nodes_from(range(n))
    for i, sub in enumerate(subtasks):
        for j in sub.depends_on:
            if isinstance(j, bool) or not isinstance(j, int) or not 0 <= j < n:
                raise DecompositionError(
                    f"subtask {i} depends on {j!r}, which is not the index of a subtask "
                    f"(0 to {n - 1})"
                )
            deps.add_edge(j, i)
    try:
        cycle = nx.find_cycle(deps)
    except nx.NetworkXNoCycle:
        return list(nx.topological_sort(deps))
    # find_cycle gives producer -> consumer edges; name them as "i needs j".
    names = [f"subtask {v} {describe(subtasks[v].task)}" for _, v in reversed(cycle)]
    names.append(names[0])
    raise CycleError("the subtasks' dependencies form a cycle: " + " needs ".join(names), names)


# -- what a step spends ----------------------------------------------------------------------------
_calls: ContextVar[list[dict[str, Any]] | None] = ContextVar("graph_step_calls", default=None)


def report_call(
    *,
    model: str,
    prompt_tokens: int,
    completion_tokens: int,
    usd: float,
    latency_s: float,
    template: str | None = None,
) -> None:
    """Record one model call made by the step now running (a decomposer, solver or
    aggregator of a TaskGraph), for its node's provenance and the graph's budget. Outside a
    step it does nothing. The LLM-backed defaults call it; a callable of yours may too."""
    calls = _calls.get()
    if calls is not None:
        calls.append(
            {
                "template": template,
                "model": model,
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "usd": usd,
                "latency_s": latency_s,
            }
        )


def collect_calls() -> list[dict[str, Any]]:
    """Start collecting the calls reported in this context (one step's asyncio task); the
    list fills as they are reported, from threads the step's context was copied into too."""
    calls: list[dict[str, Any]] = []
    _calls.set(calls)
    return calls


# -- the graph's shape -----------------------------------------------------------------------------
def children_of(graph: nx.DiGraph, node: int) -> list[int]:
    """The node's current children (not pruned), in subtask order."""
    kids = [
        c
        for c in graph.successors(node)
        if graph.edges[node, c]["kind"] == DECOMPOSES and graph.nodes[c]["status"] != "pruned"
    ]
    return sorted(kids, key=lambda c: graph.nodes[c]["index"])


def consumers_of(graph: nx.DiGraph, node: int) -> list[int]:
    return [c for c in graph.successors(node) if graph.edges[node, c]["kind"] == DEPENDS]


def live_nodes(graph: nx.DiGraph) -> list[int]:
    """The root and its current descendants, top down (pruned branches left out)."""
    root = graph.graph.get("root")
    if root is None:
        return []
    order, queue = [], deque([root])
    while queue:
        node = queue.popleft()
        order.append(node)
        queue.extend(children_of(graph, node))
    return order


def lineage(graph: nx.DiGraph, node: int) -> list[int]:
    """The node, its parent, and so on up to the root."""
    chain = [node]
    while (parent := graph.nodes[chain[-1]]["parent"]) is not None:
        chain.append(parent)
    return chain


def add_node(
    graph: nx.DiGraph,
    node: int,
    task: Any,
    task_print: str,
    depth: int,
    parent: int | None,
    index: int,
    depends_on: list[int],
) -> None:
    """A new pending node (see the module's docstring for its attributes)."""
    graph.add_node(
        node,
        task=task,
        fingerprint=task_print,
        status="pending",
        depth=depth,
        kind=None,
        parent=parent,
        index=index,
        depends_on=depends_on,
        attempts=0,
        provenance=[],
    )


def check_decomposition(
    graph: nx.DiGraph, node: int, value: Any
) -> tuple[list[Subtask], list[str], list[int]]:
    """The subtasks `node` decomposes into, their fingerprints and an order that respects
    their dependencies; DecompositionError (CycleError for a cycle) if it is unusable."""
    if not isinstance(value, list | tuple) or not value:
        raise DecompositionError(
            "a decomposition is None (atomic) or a non-empty list of subtasks, "
            f"not {describe(value)}"
        )
    subtasks = [v if isinstance(v, Subtask) else Subtask(v) for v in value]
    order = sibling_order(subtasks)
    prints = []
    for i, sub in enumerate(subtasks):
        try:
            prints.append(fingerprint(sub.task))
        except (TypeError, ValueError) as exc:
            raise DecompositionError(f"subtask {i} is not JSON data: {exc}") from None
    above = lineage(graph, node)  # a subtask equal to one of these would contain itself
    for at, ancestor in enumerate(above):
        if graph.nodes[ancestor]["fingerprint"] in prints:
            i = prints.index(graph.nodes[ancestor]["fingerprint"])
            names = [f"node {n} {describe(graph.nodes[n]['task'])}" for n in above[at::-1]]
            names.append(f"subtask {i} {describe(subtasks[i].task)}")
            raise CycleError(
                "the decomposition would make a cycle, a task inside itself: "
                + " decomposes into ".join(names),
                names,
            )
    return subtasks, prints, order


def inputs_of(graph: nx.DiGraph, node: int) -> list[Any]:
    """What a node may use: what its parent could, then its own producers' results."""
    parts = [
        [graph.nodes[p]["result"] for p in graph.nodes[at]["depends_on"]]
        for at in lineage(graph, node)
    ]
    return [value for part in reversed(parts) for value in part]


def memo_key(graph: nx.DiGraph, node: int) -> str | None:
    """The node's task with its inputs: equal keys, equal results. None where an input is not
    JSON data (no sharing then: its identity cannot be told)."""
    try:
        return fingerprint([graph.nodes[node]["task"], inputs_of(graph, node)])
    except (TypeError, ValueError):
        return None


def waits_on(graph: nx.DiGraph, owner: int, node: int) -> bool:
    """Whether `owner` cannot finish before `node` (or an ancestor of it) does: through its
    children, its producers and the nodes it copies, transitively."""
    targets = set(lineage(graph, node))
    seen, stack = {owner}, [owner]
    while stack:
        at = stack.pop()
        if at in targets:
            return True
        attrs = graph.nodes[at]
        following = [attrs["same_as"]] if "same_as" in attrs else []
        for nxt in children_of(graph, at) + attrs["depends_on"] + following:
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return False


# -- node-link JSON --------------------------------------------------------------------------------
def dumps(graph: nx.DiGraph) -> str:
    """The graph as node-link JSON (tasks and results must be JSON data)."""
    return json.dumps(nx.node_link_data(graph, edges="edges"), allow_nan=False)


def loads(text: str) -> nx.DiGraph:
    """A graph saved by `dumps`."""
    try:
        data = json.loads(text)
        graph = nx.node_link_graph(data, edges="edges")
    except (ValueError, KeyError, TypeError, nx.NetworkXError) as exc:
        raise GraphError(f"not a saved task graph: {exc}") from None
    if graph.graph.get("format") != FORMAT or graph.graph.get("root") not in graph:
        raise GraphError(f"not a saved task graph of format {FORMAT}")
    return graph
