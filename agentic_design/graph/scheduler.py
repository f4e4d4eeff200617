"""One run of a task graph: asyncio over the ready nodes, at most `concurrency` steps at once.

Each node goes pending -> ready -> running -> done. "Running" covers its step in flight and,
for a composite node, the wait for its children. A node becomes ready when its producers are
done (a child also once its parent is decomposed). Among ready nodes, the one with the longest
known path still to come before the root can finish runs first: its consumers, then its
parent's aggregation, then the parent's consumers, and so on up. That puts deep nodes first,
finishing subtrees before opening new ones.

Identical tasks are solved once: a node whose task and inputs match a node already done
copies its result (status cached); one matching a node still at work waits for it, unless that
node itself waits on this one (which would deadlock), in which case both do the work.

A step that raises is retried `retries` times; then the node fails, and its parent may
re-decompose (`redecompositions` times, its current children pruned), or fails in turn,
naming the child as its cause. Cancellation — Ctrl-C, a budget reached, the root failing —
cancels the steps in flight and waits for the threads running synchronous ones, so no step is
still running when the run returns.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections import Counter, defaultdict, deque
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from typing import Any, Protocol

import networkx as nx

from agentic_design.graph.analysis import spend
from agentic_design.graph.model import (
    DECOMPOSES,
    DEPENDS,
    FINISHED,
    BudgetExceeded,
    DecompositionError,
    NodeFailed,
    add_node,
    check_decomposition,
    children_of,
    collect_calls,
    consumers_of,
    inputs_of,
    live_nodes,
    memo_key,
    waits_on,
)


class Owner(Protocol):
    """What a run reads of the `TaskGraph` it runs: its graph, steps and limits (a protocol, so
    that the scheduler need not import the class that drives it)."""

    graph: nx.DiGraph
    decompose: Any
    solve: Any
    aggregate: Any
    max_depth: int
    max_nodes: int
    concurrency: int
    retries: int
    redecompositions: int
    max_tokens: int | None
    max_usd: float | None

    def is_async(self, fn: Any) -> bool: ...


# (node, step, value, exception, seconds), as a step's asyncio task reports it.
Completion = tuple[int, str, Any, "Exception | None", float]


class Run:
    """The state of one run over `owner.graph`: what is ready, what is running, who waits on
    whom. The graph itself holds everything worth keeping; this is rebuilt on resume."""

    def __init__(self, owner: Owner):
        self.tg = owner
        self.graph: nx.DiGraph = owner.graph
        self.heap: list[tuple[int, int, int]] = []  # (-remaining path, order, node)
        self.order = itertools.count()
        self.step_of: dict[int, str] = {}  # the step a ready or running node is at
        self.running: dict[int, asyncio.Task[None]] = {}
        self.cancelled: list[asyncio.Task[None]] = []
        self.started: dict[int, float] = {}
        self.in_flight_calls: dict[int, list[dict[str, Any]]] = {}
        self.completions: asyncio.Queue[Completion] = asyncio.Queue()
        self.activations: deque[int] = deque()
        self.memo: dict[str, int] = {}  # memo key -> a node holding its result
        self.owners: dict[str, int] = {}  # memo key -> the node at work on it
        self.followers: defaultdict[int, list[int]] = defaultdict(list)
        self.failures: Counter[tuple[int, str]] = Counter()
        self.redecomposed: Counter[int] = Counter()
        self.children_left: dict[int, int] = {}
        self.producers_left: dict[int, int] = {}
        self.remaining: dict[int, int] = {}  # steps known to come after the node, to the root
        self.exceptions: dict[int, BaseException] = {}
        self.tokens, self.usd = spend(self.graph)
        self.pool: ThreadPoolExecutor | None = None
        self.over = False

    # -- the loop ----------------------------------------------------------------------------------
    async def drive(self) -> Any:
        """Run until the root is done (its result) or failed (NodeFailed)."""
        started = time.perf_counter()
        try:
            self.prepare()
            while True:
                while self.activations:
                    self.activate(self.activations.popleft())
                if self.over:
                    break
                self.check_budget()
                while self.heap and len(self.running) < self.tg.concurrency:
                    self.start(heapq.heappop(self.heap)[2])
                if not self.running:
                    raise AssertionError(f"stalled: {Counter(self.statuses())}")
                self.handle(await self.completions.get())
        finally:
            await self.shutdown()
            self.graph.graph["wall_s"] = self.graph.graph.get("wall_s", 0.0) + (
                time.perf_counter() - started
            )
        return self.outcome()

    def prepare(self) -> None:
        """Rebuild the bookkeeping from the graph: finished nodes stay finished (and answer for
        identical tasks); every other node of the current tree starts again from pending."""
        g = self.graph
        for node, attrs in g.nodes(data=True):
            if "result" in attrs and attrs.get("memo_key"):
                self.memo.setdefault(attrs["memo_key"], node)
        root = g.graph["root"]
        self.remaining[root] = 0
        for node in live_nodes(g):
            attrs = g.nodes[node]
            kids = children_of(g, node)
            if kids:
                self.set_remaining(node, kids, list(nx.topological_sort(g.subgraph(kids))))
            if attrs["status"] in FINISHED:
                continue
            attrs["status"] = "pending"
            for stale in ("same_as", "error", "cause"):
                attrs.pop(stale, None)
            if attrs["kind"] == "composite" and not kids:
                attrs["kind"] = None  # interrupted between pruning and re-decomposing
            self.children_left[node] = sum(g.nodes[k]["status"] not in FINISHED for k in kids)
            self.producers_left[node] = sum(
                g.nodes[p]["status"] not in FINISHED for p in attrs["depends_on"]
            )
        if g.nodes[root]["status"] in FINISHED:
            self.over = True
        else:
            self.activations.append(root)

    def check_budget(self) -> None:
        tg = self.tg
        if tg.max_tokens is not None and self.tokens >= tg.max_tokens:
            spent = f"{self.tokens} tokens of the {tg.max_tokens} allowed"
        elif tg.max_usd is not None and self.usd >= tg.max_usd:
            spent = f"${self.usd:.4f} of the ${tg.max_usd} allowed"
        else:
            return
        raise BudgetExceeded(
            f"the budget is spent ({spent}); {len(self.running)} running steps were cancelled. "
            "The graph keeps what finished: resume it with a larger budget."
        )

    async def shutdown(self) -> None:
        """Cancel what is still running (an interruption: those nodes go back to ready) and
        wait until every step has stopped, threads included."""
        for node in list(self.running):
            self.cancel(node)
            self.graph.nodes[node]["status"] = "ready"
        for _, attrs in self.graph.nodes(data=True):
            if attrs["status"] == "running":  # composite, waiting for its children
                attrs["status"] = "pending"
        await asyncio.gather(*self.cancelled, return_exceptions=True)
        if self.pool is not None:
            # A thread cannot be interrupted: wait for the synchronous steps already running.
            self.pool.shutdown(wait=True, cancel_futures=True)

    def outcome(self) -> Any:
        root = self.graph.nodes[self.graph.graph["root"]]
        if root["status"] in FINISHED:
            return root["result"]
        chain, node = [], self.graph.graph["root"]
        while node is not None:
            attrs = self.graph.nodes[node]
            chain.append({"node": node, "task": attrs["task"], "error": attrs.get("error")})
            node = attrs.get("cause")
        raise NodeFailed(chain) from self.exceptions.get(chain[-1]["node"])

    def statuses(self) -> list[str]:
        return [attrs["status"] for _, attrs in self.graph.nodes(data=True)]

    # -- steps -------------------------------------------------------------------------------------
    def push(self, node: int, step: str) -> None:
        self.graph.nodes[node]["status"] = "ready"
        self.step_of[node] = step
        heapq.heappush(self.heap, (-self.remaining[node], next(self.order), node))

    def start(self, node: int) -> None:
        attrs = self.graph.nodes[node]
        if attrs["status"] != "ready":  # pruned or blocked while it waited
            return
        step = self.step_of[node]
        attrs["status"] = "running"
        attrs["attempts"] += 1
        fn: Any
        args: tuple[Any, ...]
        if step == "decompose":
            fn, args = self.tg.decompose, (attrs["task"],)
        elif step == "solve":
            fn, args = self.tg.solve, (attrs["task"], inputs_of(self.graph, node))
        else:
            results = [self.graph.nodes[k]["result"] for k in children_of(self.graph, node)]
            fn, args = self.tg.aggregate, (attrs["task"], results)
        self.started[node] = time.perf_counter()
        self.running[node] = asyncio.create_task(self.work(node, step, fn, args))

    async def work(self, node: int, step: str, fn: Any, args: tuple[Any, ...]) -> None:
        self.in_flight_calls[node] = collect_calls()
        started = time.perf_counter()
        try:
            if self.tg.is_async(fn):
                value = await fn(*args)
            else:
                loop = asyncio.get_running_loop()
                value = await loop.run_in_executor(self.threads(), copy_context().run, fn, *args)
            error = None
        except Exception as exc:  # the step failed: retried or reported, never lost
            value, error = None, exc
        self.completions.put_nowait((node, step, value, error, time.perf_counter() - started))

    def threads(self) -> ThreadPoolExecutor:
        if self.pool is None:
            self.pool = ThreadPoolExecutor(self.tg.concurrency, thread_name_prefix="taskgraph")
        return self.pool

    def handle(self, completion: Completion) -> None:
        node, step, value, error, seconds = completion
        if self.running.pop(node, None) is None:
            return  # cancelled after it had finished
        calls = self.in_flight_calls.pop(node)
        record = {"step": step, "seconds": seconds, "error": None, "calls": calls}
        self.graph.nodes[node]["provenance"].append(record)
        self.tokens += sum(c["prompt_tokens"] + c["completion_tokens"] for c in calls)
        self.usd += sum(c["usd"] for c in calls)
        if error is None and step == "decompose":
            error = self.expand(node, value)
        if error is not None:
            record["error"] = f"{type(error).__name__}: {error}"
            self.retry_or_fail(node, step, error)
        elif step != "decompose":
            self.finish(node, value, "done")

    def cancel(self, node: int) -> None:
        """Stop the node's step; what it had spent stays on record."""
        task = self.running.pop(node)
        task.cancel()
        self.cancelled.append(task)
        self.graph.nodes[node]["provenance"].append(
            {
                "step": self.step_of[node],
                "seconds": time.perf_counter() - self.started[node],
                "error": "cancelled",
                "calls": self.in_flight_calls.pop(node, []),
            }
        )

    # -- decomposition -----------------------------------------------------------------------------
    def expand(self, node: int, value: Any) -> Exception | None:
        """Apply a decomposition (None: atomic), or return why it is refused."""
        g, attrs = self.graph, self.graph.nodes[node]
        if value is None:
            attrs["kind"] = "atomic"
            self.push(node, "solve")
            return None
        try:
            subtasks, prints, order = check_decomposition(g, node, value)
        except DecompositionError as exc:
            return exc
        if len(g) + len(subtasks) > self.tg.max_nodes:
            attrs["kind"] = "atomic"  # no room for the subtasks: solved directly
            self.push(node, "solve")
            return None
        first = g.graph["next_id"]
        g.graph["next_id"] += len(subtasks)
        kids = list(range(first, first + len(subtasks)))
        for i, (sub, kid) in enumerate(zip(subtasks, kids, strict=True)):
            producers = [kids[j] for j in dict.fromkeys(sub.depends_on)]
            add_node(g, kid, sub.task, prints[i], attrs["depth"] + 1, node, i, producers)
            g.add_edge(node, kid, kind=DECOMPOSES)
            self.producers_left[kid] = len(producers)
        for kid in kids:
            for producer in g.nodes[kid]["depends_on"]:
                g.add_edge(producer, kid, kind=DEPENDS)
        attrs["kind"] = "composite"
        self.children_left[node] = len(kids)
        self.set_remaining(node, kids, [kids[i] for i in order])
        self.activations.extend(k for k in kids if not self.producers_left[k])
        return None

    def set_remaining(self, parent: int, kids: list[int], order: list[int]) -> None:
        """Steps known to come after each child: its consumers', then its parent's."""
        after_parent = 1 + self.remaining[parent]  # the parent's aggregation, then its own path
        for kid in reversed(order):
            self.remaining[kid] = max(
                [after_parent] + [1 + self.remaining[c] for c in consumers_of(self.graph, kid)]
            )

    # -- memoisation -------------------------------------------------------------------------------
    def activate(self, node: int) -> None:
        """The node's producers are done: copy an identical node's result, wait for an
        identical node at work, or go to work."""
        attrs = self.graph.nodes[node]
        if attrs["status"] != "pending":
            return
        key = memo_key(self.graph, node)
        attrs["memo_key"] = key
        if key is not None:
            twin = self.memo.get(key)
            if twin is not None:
                self.finish(node, self.graph.nodes[twin]["result"], "cached", same_as=twin)
                return
            owner = self.owners.setdefault(key, node)
            if owner != node and not waits_on(self.graph, owner, node):
                attrs["same_as"] = owner
                self.followers[owner].append(node)
                return
        self.advance(node)

    def advance(self, node: int) -> None:
        """Queue the node's next step: decompose, solve, or — resumed with its children —
        wait for them and aggregate."""
        attrs, tg = self.graph.nodes[node], self.tg
        if attrs["kind"] is None:
            if (
                tg.decompose is not None
                and attrs["depth"] < tg.max_depth
                and len(self.graph) < tg.max_nodes
            ):
                self.push(node, "decompose")
                return
            attrs["kind"] = "atomic"
        if attrs["kind"] == "atomic":
            self.push(node, "solve")
        elif self.children_left[node] == 0:
            self.push(node, "aggregate")
        else:
            attrs["status"] = "running"
            for kid in children_of(self.graph, node):
                if self.graph.nodes[kid]["status"] == "pending" and not self.producers_left[kid]:
                    self.activations.append(kid)

    # -- finishing and failing ---------------------------------------------------------------------
    def finish(self, node: int, result: Any, status: str, same_as: int | None = None) -> None:
        g, attrs = self.graph, self.graph.nodes[node]
        attrs["status"], attrs["result"] = status, result
        if same_as is not None:
            attrs["same_as"] = same_as
        key = attrs.get("memo_key")
        if key is not None:
            self.memo.setdefault(key, node)
            if self.owners.get(key) == node:
                del self.owners[key]
        for follower in self.followers.pop(node, []):
            if g.nodes[follower]["status"] == "pending":
                self.finish(follower, result, "cached", same_as=node)
        for consumer in consumers_of(g, node):
            if g.nodes[consumer]["status"] == "pending":
                self.producers_left[consumer] -= 1
                if not self.producers_left[consumer]:
                    self.activations.append(consumer)
        parent = attrs["parent"]
        if parent is None:
            self.over = True
        elif g.nodes[parent]["status"] == "running":
            self.children_left[parent] -= 1
            if not self.children_left[parent]:
                self.push(parent, "aggregate")

    def retry_or_fail(self, node: int, step: str, error: Exception) -> None:
        self.failures[node, step] += 1
        tries = self.failures[node, step]
        if tries <= self.tg.retries:
            self.push(node, step)
            return
        self.exceptions[node] = error
        plural = "s" if tries > 1 else ""
        self.fail(node, f"{step} failed: {type(error).__name__}: {error} ({tries} attempt{plural})")

    def fail(self, node: int, error: str, cause: int | None = None) -> None:
        """The node failed for good: stop its subtree, fail the nodes waiting for its result,
        and let its parent re-decompose or fail in turn."""
        attrs = self.graph.nodes[node]
        attrs.update(status="failed", error=error, cause=cause)
        self.stop_subtree(node, "blocked")
        self.release(node, failed=True)
        parent = attrs["parent"]
        if parent is None:
            self.over = True
        elif self.graph.nodes[parent]["status"] != "running":
            return  # already failed, or re-decomposing for another child
        elif self.redecomposed[parent] < self.tg.redecompositions:
            self.redecomposed[parent] += 1
            self.stop_subtree(parent, "pruned")
            self.graph.nodes[parent]["kind"] = None
            self.push(parent, "decompose")
        else:
            self.fail(parent, f"its subtask node {node} failed", cause=node)

    def stop_subtree(self, node: int, status: str) -> None:
        """Mark the node's descendants `pruned` (all of them: a discarded decomposition) or
        `blocked` (the unfinished ones: their result is no longer wanted)."""
        subtree, stack = [], children_of(self.graph, node)
        while stack:
            at = stack.pop()
            subtree.append(at)
            stack.extend(children_of(self.graph, at))
        for at in subtree:
            attrs = self.graph.nodes[at]
            if status == "blocked" and attrs["status"] in FINISHED | {"failed"}:
                continue
            if at in self.running:
                self.cancel(at)
            attrs["status"] = status
        for at in subtree:
            self.release(at, failed=False)

    def release(self, node: int, failed: bool) -> None:
        """The node will not produce a result: its followers fail with it or, when it was
        merely stopped, the first of them takes over the work."""
        key = self.graph.nodes[node].get("memo_key")
        if key is not None and self.owners.get(key) == node:
            del self.owners[key]
        waiting = [
            f for f in self.followers.pop(node, []) if self.graph.nodes[f]["status"] == "pending"
        ]
        if failed:
            for f in waiting:
                self.fail(f, f"the same task as node {node}, which failed", cause=node)
        elif waiting:
            heir, rest = waiting[0], waiting[1:]
            del self.graph.nodes[heir]["same_as"]
            if key is not None:
                self.owners[key] = heir
            for f in rest:
                self.graph.nodes[f]["same_as"] = heir
            self.followers[heir] = rest
            self.advance(heir)
