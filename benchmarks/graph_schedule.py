"""The task graph's scheduler: its wall time against the critical path, and its cost per node.

    python benchmarks/graph_schedule.py [--sizes 200 500 1000 2000] [--slots 64] [--seed 0]

Each size is a random task graph: a random tree (2 to 8 subtasks a node, each node's children
drawn from the whole frontier, so depth varies) whose siblings depend on one another at random
(each pair with probability 0.1: a random DAG in every group). Every step sleeps a simulated
latency (asyncio.sleep): decompose and aggregate 10 to 40 ms, solve 50 to 200 ms.

1. Ample concurrency (a slot for every node): the measured wall time against the critical-path
   bound computed from the simulated latencies — the least any scheduler could take. In
   brackets, against the bound computed from each step's measured time instead: what is left
   is the scheduler's own gaps between steps, without asyncio.sleep oversleeping.
2. `--slots` slots: the wall time against the larger of the critical path and the total work
   divided by the slots (for information: the longest-remaining-path priority at work).
3. Zero latency: the scheduler's own cost, wall time per node.
Goals: (1) at most 1.1x the bound; (3) at most 1 ms a node.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Any

from agentic_design.graph import Subtask, TaskGraph
from agentic_design.graph.analysis import critical_path_s


@dataclass
class RandomGraph:
    """A random decomposition: each node's subtasks (with their sibling dependencies) and the
    latency of each of its steps."""

    children: dict[int, list[Subtask]] = field(default_factory=dict)
    latency: dict[tuple[int, str], float] = field(default_factory=dict)
    scale: float = 1.0  # 0: every step returns at once

    @classmethod
    def draw(cls, nodes: int, rng: random.Random) -> RandomGraph:
        graph, frontier, made = cls(), [0], 1
        while made < nodes:
            parent = frontier.pop(rng.randrange(len(frontier)))
            kids = list(range(made, made + min(rng.randint(2, 8), nodes - made)))
            made += len(kids)
            graph.children[parent] = [
                Subtask({"id": kid}, [j for j in range(i) if rng.random() < 0.1])
                for i, kid in enumerate(kids)
            ]
            frontier += kids
        for node in range(nodes):
            graph.latency[node, "decompose"] = rng.uniform(0.010, 0.040)
            graph.latency[node, "aggregate"] = rng.uniform(0.010, 0.040)
            graph.latency[node, "solve"] = rng.uniform(0.050, 0.200)
        return graph

    async def _wait(self, node: int, step: str) -> None:
        if self.scale:
            await asyncio.sleep(self.latency[node, step] * self.scale)

    async def decompose(self, task: dict[str, int]) -> list[Subtask] | None:
        await self._wait(task["id"], "decompose")
        return self.children.get(task["id"])

    async def solve(self, task: dict[str, int], inputs: list[Any]) -> int:
        await self._wait(task["id"], "solve")
        return task["id"]

    async def aggregate(self, task: dict[str, int], results: list[Any]) -> int:
        await self._wait(task["id"], "aggregate")
        return len(results)

    def nominal(self, attrs: dict[str, Any], step: str) -> float:
        return self.latency[attrs["task"]["id"], step] * self.scale

    def work_s(self) -> float:
        """Every step's latency, added up: what one slot would take."""
        nodes = {node for node, _ in self.latency}
        total = sum(
            self.latency[node, "decompose"]
            + self.latency[node, "aggregate" if node in self.children else "solve"]
            for node in nodes
        )
        return total * self.scale


def run(graph: RandomGraph, slots: int) -> tuple[TaskGraph, float]:
    g = TaskGraph(
        decompose=graph.decompose,
        solve=graph.solve,
        aggregate=graph.aggregate,
        max_depth=10_000,
        max_nodes=100_000,
        concurrency=slots,
    )
    started = time.perf_counter()
    g.run({"id": 0})
    return g, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 500, 1000, 2000])
    parser.add_argument("--slots", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(
        f"{'nodes':>6} {'depth':>5} {'width':>5} | {'ample: wall':>11} {'bound':>7} {'ratio':>6}"
        f" {'(steps)':>8} | {args.slots} slots: {'wall':>6} {'bound':>7} {'ratio':>6}"
        f" | {'0 latency':>9} {'per node':>9}"
    )
    for size in args.sizes:
        graph = RandomGraph.draw(size, random.Random(args.seed + size))
        g, ample = run(graph, size)
        bound = critical_path_s(g.graph, graph.nominal)
        _, limited = run(graph, args.slots)
        floor = max(bound, graph.work_s() / args.slots)
        graph.scale = 0.0
        _, instant = run(graph, size)
        stats = g.stats
        assert stats.nodes == size and stats.statuses == {"done": size}, stats
        print(
            f"{size:6d} {stats.depth:5d} {stats.width:5d} | {ample:9.3f} s {bound:6.3f}s "
            f"{ample / bound:5.3f}x ({ample / stats.critical_path_s:5.3f}x) | "
            f"{'':9}{limited:5.2f}s {floor:6.3f}s {limited / floor:5.3f}x"
            f" | {instant:7.3f} s {instant / size * 1000:6.3f} ms"
        )
    print("goals: ample wall <= 1.1x the critical-path bound; overhead <= 1 ms a node")


if __name__ == "__main__":
    main()
