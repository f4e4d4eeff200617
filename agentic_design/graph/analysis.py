"""What a task graph cost and how well it was scheduled: calls, tokens, USD, shape, the
measured wall time and the critical-path lower bound."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from agentic_design.graph.model import children_of, describe, live_nodes

# How long a node's step took: (node attributes, step) -> seconds.
Durations = Callable[[dict[str, Any], str], float]


@dataclass(frozen=True)
class GraphStats:
    """One graph's figures. `calls` counts decompose, solve and aggregate calls, failed
    attempts included; `llm_calls` and the tokens and USD are what those steps reported.
    `depth`, `width` (most nodes at one depth) and `nodes` describe the current tree;
    `statuses` counts every node, pruned ones included. `wall_s` is the measured time of the
    runs; `critical_path_s` the least any schedule could take with unlimited concurrency,
    given the measured duration of each step."""

    calls: int
    llm_calls: int
    prompt_tokens: int
    completion_tokens: int
    usd: float
    depth: int
    width: int
    nodes: int
    wall_s: float
    critical_path_s: float
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def spend(graph: nx.DiGraph) -> tuple[int, float]:
    """Tokens and USD reported by every step of every node, pruned ones included."""
    tokens, usd = 0, 0.0
    for _, attrs in graph.nodes(data=True):
        for record in attrs["provenance"]:
            for call in record["calls"]:
                tokens += call["prompt_tokens"] + call["completion_tokens"]
                usd += call["usd"]
    return tokens, usd


def graph_stats(graph: nx.DiGraph) -> GraphStats:
    """The figures of `graph` as it stands (finished, failed or interrupted)."""
    records = [r for _, attrs in graph.nodes(data=True) for r in attrs["provenance"]]
    calls = [c for r in records for c in r["calls"]]
    live = live_nodes(graph)
    per_depth = Counter(graph.nodes[n]["depth"] for n in live)
    return GraphStats(
        calls=len(records),
        llm_calls=len(calls),
        prompt_tokens=sum(c["prompt_tokens"] for c in calls),
        completion_tokens=sum(c["completion_tokens"] for c in calls),
        usd=sum(c["usd"] for c in calls),
        depth=max(per_depth, default=0),
        width=max(per_depth.values(), default=0),
        nodes=len(live),
        wall_s=float(graph.graph.get("wall_s", 0.0)),
        critical_path_s=critical_path_s(graph),
        statuses=dict(Counter(attrs["status"] for _, attrs in graph.nodes(data=True))),
    )


def measured(attrs: dict[str, Any], step: str) -> float:
    """Every attempt at `step`, as timed by the scheduler (a retry is on the path too)."""
    return sum(r["seconds"] or 0.0 for r in attrs["provenance"] if r["step"] == step)


def critical_path_s(graph: nx.DiGraph, duration: Durations = measured) -> float:
    """The longest chain of steps that had to follow one another in the current tree: a node
    starts once its producers are done; its children once it is decomposed; it aggregates
    once they are done; a cached node finishes when the node it copies does."""
    live = set(live_nodes(graph))
    events = nx.DiGraph()  # ("s"|"d"|"f", node): started, decomposed, finished
    for node in live:
        attrs = graph.nodes[node]
        events.add_edge(("s", node), ("d", node), w=duration(attrs, "decompose"))
        kids = children_of(graph, node)
        if kids:
            for kid in kids:
                events.add_edge(("d", node), ("s", kid), w=0.0)
                events.add_edge(("f", kid), ("f", node), w=duration(attrs, "aggregate"))
        else:
            events.add_edge(("d", node), ("f", node), w=duration(attrs, "solve"))
        if attrs.get("same_as") in live:
            events.add_edge(("f", attrs["same_as"]), ("f", node), w=0.0)
        for producer in attrs["depends_on"]:
            events.add_edge(("f", producer), ("s", node), w=0.0)
    finish: dict[Any, float] = {}
    for event in nx.topological_sort(events):
        finish[event] = max(
            (finish[u] + events.edges[u, event]["w"] for u in events.predecessors(event)),
            default=0.0,
        )
    return max(finish.values(), default=0.0)


def outline(graph: nx.DiGraph, width: int = 70) -> list[str]:
    """The graph as an indented tree, one line a node: its task, status, tries, LLM calls and
    tokens, what it depends on among its siblings, and for a failed node its error."""
    lines: list[str] = []

    def visit(node: int, indent: str) -> None:
        attrs = graph.nodes[node]
        calls = [c for r in attrs["provenance"] for c in r["calls"]]
        tokens = sum(c["prompt_tokens"] + c["completion_tokens"] for c in calls)
        line = f"{indent}{describe(attrs['task'], width)}  {attrs['status']}"
        line += f", {attrs['attempts']} tries, {len(calls)} calls, {tokens:,} tokens"
        producers = [graph.nodes[p]["index"] for p in attrs.get("depends_on") or []]
        if producers:
            line += f", after {', '.join(f'#{i}' for i in producers)}"
        if attrs.get("same_as") is not None:
            line += f", same as node {attrs['same_as']}"
        if attrs["status"] == "failed" and attrs.get("error"):
            line += f": {str(attrs['error'])[:200]}"
        lines.append(line)
        for child in children_of(graph, node):
            visit(child, indent + "  ")

    root = graph.graph.get("root")
    if root is not None:
        visit(root, "")
    return lines
