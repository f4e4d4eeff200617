"""TaskGraph: recursive decomposition with plain Python functions, and with the LLM-backed
steps against the real OpenAI-protocol server on loopback."""

import asyncio
import heapq
import json
import random
import re
from collections import Counter

import networkx as nx
import pytest

from agentic_design import Subtask, TaskGraph
from agentic_design.config import LLMConfig
from agentic_design.graph import (
    BudgetExceeded,
    CycleError,
    DecompositionError,
    GraphError,
    MalformedReply,
    NodeFailed,
    llm_aggregator,
    llm_decomposer,
    llm_solver,
    report_call,
)
from agentic_design.llm import LLM

from .llm_server import ScriptedLLM

HANG_GUARD_S = 30  # only ever reached if a test hangs


# -- merge sort: sync steps, run in the graph's threads --------------------------------------------
def halves(items):
    return None if len(items) <= 1 else [items[: len(items) // 2], items[len(items) // 2 :]]


def sort_directly(items, inputs):
    return sorted(items)


def merge(items, sorted_halves):
    return list(heapq.merge(*sorted_halves))


def shuffled(n):
    return random.Random(n).sample(range(1000), n)


def test_merge_sort_splits_into_halves_and_merges_them_back():
    items = shuffled(64)
    g = TaskGraph(decompose=halves, solve=sort_directly, aggregate=merge, max_depth=10)
    assert g.run(items) == sorted(items)
    stats = g.stats
    assert (stats.nodes, stats.depth, stats.width) == (127, 6, 64)  # 64 leaves, 63 merges
    assert stats.statuses == {"done": 127}
    assert stats.calls == 2 * 127  # each node decomposed once, then solved or aggregated
    assert stats.llm_calls == 0 and stats.usd == 0
    assert 0 < stats.critical_path_s <= stats.wall_s  # a lower bound on the measured time
    leaves = [a["task"] for _, a in g.graph.nodes(data=True) if a["kind"] == "atomic"]
    assert sorted(len(leaf) for leaf in leaves) == [1] * 64


def test_a_task_at_max_depth_is_solved_directly_never_decomposed():
    asked = []

    def recorded_halves(items):
        asked.append(items)
        return halves(items)

    items = shuffled(16)
    g = TaskGraph(decompose=recorded_halves, solve=sort_directly, aggregate=merge, max_depth=2)
    assert g.run(items) == sorted(items)
    at_limit = [a for _, a in g.graph.nodes(data=True) if a["depth"] == 2]
    assert len(at_limit) == 4 and g.stats.depth == 2
    assert all(a["kind"] == "atomic" and len(a["task"]) == 4 for a in at_limit)
    assert all(len(items) > 4 for items in asked)  # nothing at depth 2 was offered for splitting


def test_max_nodes_caps_the_graph_and_the_rest_is_solved_directly():
    items = shuffled(64)
    g = TaskGraph(decompose=halves, solve=sort_directly, aggregate=merge, max_nodes=10)
    assert g.run(items) == sorted(items)
    assert 1 < len(g.graph) <= 10


# -- chunked counting: async steps, on the event loop ----------------------------------------------
async def chunks(task):
    words = task["words"]
    if len(words) <= 8:
        return None
    size = -(-len(words) // 4)
    return [
        {"word": task["word"], "words": words[i : i + size]} for i in range(0, len(words), size)
    ]


async def count(task, inputs):
    return task["words"].count(task["word"])


async def total(task, counts):
    return sum(counts)


def test_chunked_counting_sums_the_counts_of_its_chunks():
    words = ("the cat sat on the mat while the dog ate the log " * 10).split()
    g = TaskGraph(decompose=chunks, solve=count, aggregate=total)
    assert g.run({"word": "the", "words": words}) == 40
    # 120 words: four chunks of 30, each four of at most 8. The text repeats every 12 words,
    # so the third and fourth chunks equal the first two: copied, not counted again.
    chunk_status = [a["status"] for _, a in g.graph.nodes(data=True) if a["depth"] == 1]
    assert chunk_status == ["done", "done", "cached", "cached"]
    assert g.stats.statuses == {"done": 11, "cached": 2} and g.stats.depth == 2
    leaves = [a for _, a in g.graph.nodes(data=True) if a["kind"] == "atomic"]
    assert len(leaves) == 8 and all(len(a["task"]["words"]) <= 8 for a in leaves)
    assert sum(a["result"] for a in leaves) == 20


# -- a diamond: a, then b and c at once, then d ----------------------------------------------------
def test_a_diamond_of_dependencies_runs_in_order_and_passes_results_along():
    order = []
    both_started = asyncio.Event()
    middle = set()

    async def plan(task):
        if task != "diamond":
            return None
        return [Subtask("a"), Subtask("b", [0]), Subtask("c", [0]), Subtask("d", [1, 2])]

    async def solve(task, inputs):
        order.append(task)
        if task in ("b", "c"):  # each waits for the other: they must run at the same time
            middle.add(task)
            if middle == {"b", "c"}:
                both_started.set()
            await asyncio.wait_for(both_started.wait(), HANG_GUARD_S)
        return f"{task}({','.join(inputs)})" if inputs else task

    g = TaskGraph(decompose=plan, solve=solve)
    assert g.run("diamond") == ["a", "b(a)", "c(a)", "d(b(a),c(a))"]
    assert order[0] == "a" and set(order[1:3]) == {"b", "c"} and order[3] == "d"
    depends = {
        (g.graph.nodes[u]["task"], g.graph.nodes[v]["task"])
        for u, v, kind in g.graph.edges(data="kind")
        if kind == "depends"
    }
    assert depends == {("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")}
    assert nx.is_directed_acyclic_graph(g.graph)


def test_a_subtask_sees_what_its_parent_could_use_then_its_own_inputs():
    async def plan(task):
        return {"essay": [Subtask("outline"), Subtask("body", [0])], "body": ["p1", "p2"]}.get(task)

    async def write(task, inputs):
        return f"{task}<{'+'.join(inputs)}>"

    g = TaskGraph(decompose=plan, solve=write, aggregate=lambda task, parts: " ".join(parts))
    # p1 and p2 see the outline their parent "body" needed; "body" joins them, "essay" too.
    assert g.run("essay") == "outline<> p1<outline<>> p2<outline<>>"


# -- memoisation -----------------------------------------------------------------------------------
def test_identical_subtasks_are_solved_once_and_shared():
    calls = Counter()

    async def fib_parts(n):
        calls["decompose", n] += 1
        return None if n < 2 else [n - 1, n - 2]

    async def base(n, inputs):
        calls["solve", n] += 1
        return n

    async def add(n, parts):
        return sum(parts)

    g = TaskGraph(decompose=fib_parts, solve=base, aggregate=add, max_depth=30, concurrency=8)
    assert g.run(20) == 6765
    assert set(calls.values()) == {1} and len(calls) == 21 + 2  # each n decomposed once
    # Only the nodes that did the work have children: 19 pairs and the root, not the 21,891
    # nodes of the plain recursion tree.
    assert g.stats.nodes == 39
    cached = [a for _, a in g.graph.nodes(data=True) if a["status"] == "cached"]
    assert cached and all(g.graph.nodes[a["same_as"]]["task"] == a["task"] for a in cached)


# -- refused decompositions ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("plan", "error", "message"),
    [
        (
            [Subtask("wash", depends_on=[1]), Subtask("dry", depends_on=[0])],
            CycleError,
            "subtask 0 'wash' needs subtask 1 'dry' needs subtask 0 'wash'",
        ),
        (
            ["lemma", "laundry"],
            CycleError,
            "a task inside itself: node 0 'laundry' decomposes into subtask 1 'laundry'",
        ),
        ([Subtask("wash", depends_on=[5])], DecompositionError, "5, which is not the index"),
        ([], DecompositionError, "a non-empty list of subtasks"),
    ],
)
def test_an_unusable_decomposition_is_refused_before_it_is_applied(plan, error, message):
    offered = []

    def decompose(task):
        offered.append(task)
        return plan if task == "laundry" else None

    g = TaskGraph(decompose=decompose, solve=lambda task, inputs: task, retries=1)
    with pytest.raises(NodeFailed) as failed:
        g.run("laundry")
    assert type(failed.value.__cause__) is error and message in str(failed.value)
    assert offered == ["laundry", "laundry"]  # retried once
    assert list(g.graph.nodes) == [0]  # nothing of it entered the graph
    assert [r["error"].split(":")[0] for r in g.graph.nodes[0]["provenance"]] == [
        error.__name__
    ] * 2


def test_tasks_that_contain_each_other_through_shared_work_are_refused_not_deadlocked():
    # "ping" needs "pong" and "pong" needs "ping": sharing their work would have each wait
    # for the other. The scheduler sees it, lets one do its own work, and that one's
    # decomposition is then refused as a task inside itself.
    async def plan(task):
        return {"match": ["ping", "pong"], "ping": ["pong"], "pong": ["ping"]}.get(task)

    async def solve(task, inputs):
        return task

    g = TaskGraph(decompose=plan, solve=solve, retries=0, redecompositions=0)
    with pytest.raises(NodeFailed) as failed:
        g.run("match")
    assert isinstance(failed.value.__cause__, CycleError)
    inside_itself = r"inside itself: node \d+ '(p.ng)' decomposes into node \d+ 'p.ng' .* '\1'"
    assert re.search(inside_itself, str(failed.value))


# -- failures --------------------------------------------------------------------------------------
OUTLINE = {"report": ["intro", "body"], "body": ["figures", "text"]}


def test_a_failing_leaf_is_retried_then_reported_with_its_cause_chain():
    tries = Counter()

    def write(task, inputs):
        tries[task] += 1
        if task == "figures":
            raise ValueError("the plotting library is missing")
        return task

    g = TaskGraph(decompose=OUTLINE.get, solve=write, retries=2, redecompositions=0)
    with pytest.raises(NodeFailed) as failed:
        g.run("report")
    chain = failed.value.chain
    assert [c["task"] for c in chain] == ["report", "body", "figures"]
    assert chain[-1]["error"] == (
        "solve failed: ValueError: the plotting library is missing (3 attempts)"
    )
    assert isinstance(failed.value.__cause__, ValueError)
    assert tries["figures"] == 3
    assert "because node" in str(failed.value) and "plotting library" in str(failed.value)
    statuses = {a["task"]: a["status"] for _, a in g.graph.nodes(data=True)}
    assert statuses["report"] == statuses["body"] == statuses["figures"] == "failed"
    assert "running" not in statuses.values()


def test_a_flaky_leaf_succeeds_on_its_retry_and_the_failure_stays_on_record():
    tries = Counter()

    def flaky(task, inputs):
        tries[task] += 1
        if task == "figures" and tries[task] == 1:
            raise TimeoutError("slow disk")
        return task

    g = TaskGraph(decompose=OUTLINE.get, solve=flaky, retries=1)
    assert g.run("report") == ["intro", ["figures", "text"]]
    (figures,) = [a for _, a in g.graph.nodes(data=True) if a["task"] == "figures"]
    assert [r["error"] for r in figures["provenance"]][-2:] == ["TimeoutError: slow disk", None]


def test_a_parent_re_decomposes_once_a_child_fails_for_good():
    plans = iter([[Subtask("fetch from mirror"), Subtask("parse", [0])], ["fetch from origin"]])

    def plan(task):
        return next(plans) if task == "load data" else None

    def fetch(task, inputs):
        if task == "fetch from mirror":
            raise ConnectionError("mirror down")
        return task

    g = TaskGraph(decompose=plan, solve=fetch, retries=1, redecompositions=1)
    assert g.run("load data") == ["fetch from origin"]
    pruned = {a["task"]: a for _, a in g.graph.nodes(data=True) if a["status"] == "pruned"}
    assert set(pruned) == {"fetch from mirror", "parse"}
    tried = [r["error"] for r in pruned["fetch from mirror"]["provenance"] if r["step"] == "solve"]
    assert tried == ["ConnectionError: mirror down"] * 2  # retried once before the re-plan


def test_a_step_of_yours_reports_its_spend_and_the_usd_budget_stops_the_run():
    async def paid(items, inputs):
        report_call(model="my-model", prompt_tokens=10, completion_tokens=5, usd=0.01, latency_s=0)
        return items

    g = TaskGraph(decompose=halves, solve=paid, aggregate=merge, max_usd=0.03, concurrency=1)
    with pytest.raises(BudgetExceeded, match=r"\$0.0300 of the \$0.03 allowed"):
        g.run(shuffled(8))
    assert g.stats.llm_calls == 3 and g.stats.tokens == 45
    assert g.stats.usd == pytest.approx(0.03)


# -- interruption and resume -----------------------------------------------------------------------
def test_an_interrupted_graph_resumes_without_redoing_done_nodes():
    items = shuffled(32)
    solved = []
    stuck, all_stuck = [], asyncio.Event()

    async def hangs_after_eight(part, inputs):
        solved.append(part[0])
        if len(solved) > 8:  # from the ninth leaf on, hang until cancelled
            stuck.append(part[0])
            if len(stuck) == 4:
                all_stuck.set()
            await asyncio.Event().wait()
        return part

    async def interrupted():
        g = TaskGraph(decompose=halves, solve=hangs_after_eight, aggregate=merge, concurrency=4)
        run = asyncio.create_task(g.arun(items))
        await asyncio.wait_for(all_stuck.wait(), HANG_GUARD_S)
        run.cancel()  # as Ctrl-C does
        with pytest.raises(asyncio.CancelledError):
            await run
        assert asyncio.all_tasks() == {asyncio.current_task()}  # no step left running
        return g

    g = asyncio.run(interrupted())
    assert "running" not in {a["status"] for _, a in g.graph.nodes(data=True)}
    cancelled = [
        a
        for _, a in g.graph.nodes(data=True)
        if a["provenance"][-1:] and a["provenance"][-1]["error"] == "cancelled"
    ]
    assert len(cancelled) == 4 and all(a["status"] == "ready" for a in cancelled)
    done_leaves = {
        a["task"][0]
        for _, a in g.graph.nodes(data=True)
        if a["kind"] == "atomic" and a["status"] == "done"
    }
    assert len(done_leaves) == 8

    resolved = []

    def leaf(part, inputs):
        resolved.append(part[0])
        return part

    saved = json.loads(g.to_json())
    assert {"nodes", "edges", "graph"} <= set(saved)
    again = TaskGraph.from_json(g.to_json(), decompose=halves, solve=leaf, aggregate=merge)
    assert again.resume() == sorted(items)
    assert sorted(resolved + list(done_leaves)) == sorted(items)  # each leaf solved once
    assert again.stats.statuses == {"done": 63}


def test_a_finished_graph_round_trips_through_json_and_resumes_to_its_result():
    items = shuffled(8)
    g = TaskGraph(decompose=halves, solve=sort_directly, aggregate=merge)
    g.run(items)
    again = TaskGraph.from_json(g.to_json(), solve=sort_directly)
    assert nx.utils.graphs_equal(g.graph, again.graph)
    assert dict(again.graph.nodes(data=True)) == dict(g.graph.nodes(data=True))
    assert again.resume() == sorted(items)
    assert again.stats.calls == g.stats.calls  # nothing was done again


def test_loading_something_else_is_a_clear_error():
    with pytest.raises(GraphError, match="not a saved task graph"):
        TaskGraph.from_json('{"nodes": []}', solve=sort_directly)
    with pytest.raises(GraphError, match="nothing to resume"):
        TaskGraph(solve=sort_directly).resume()


# -- LLM-backed steps, against the loopback server -------------------------------------------------
def arithmetic(request):
    """A model that adds numbers: splits a long sum in two, adds a short one, sums results."""
    prompt = request["messages"][-1]["content"]
    numbers = [int(n) for n in re.search(r"sum of ([\d ]+)", prompt)[1].split()]
    if prompt.startswith("You plan work"):
        if len(numbers) <= 2:
            return '{"atomic": true}'
        half = len(numbers) // 2
        parts = [numbers[:half], numbers[half:]]
        subtasks = [{"task": "sum of " + " ".join(map(str, p)), "depends_on": []} for p in parts]
        return json.dumps({"atomic": False, "subtasks": subtasks})
    if prompt.startswith("Solve"):
        return f'I add them up.\n{{"result": {sum(numbers)}}}'
    results = re.findall(r"^\d+\. (-?\d+)$", prompt, re.MULTILINE)
    return json.dumps({"result": sum(int(r) for r in results)})


def llm_steps(server):
    config = LLMConfig(model="openai/gpt-4o-mini", api_base=server.url, timeout_s=10)
    llm = LLM(config)
    return {
        "decompose": llm_decomposer(llm),
        "solve": llm_solver(llm),
        "aggregate": llm_aggregator(llm),
    }


EIGHT = "sum of 1 2 3 4 5 6 7 8"


def test_llm_backed_steps_decompose_solve_and_aggregate_with_provenance():
    with ScriptedLLM(answer=arithmetic) as server:
        g = TaskGraph(**llm_steps(server), concurrency=4)
        assert g.run(EIGHT) == 36
        asked = len(server.requests)
    stats = g.stats
    assert asked == stats.llm_calls == stats.calls == 7 + 4 + 3  # decompose x7, solve, aggregate
    assert stats.prompt_tokens > 0 and stats.completion_tokens > 0 and stats.usd > 0
    root = g.graph.nodes[0]["provenance"]
    assert [r["step"] for r in root] == ["decompose", "aggregate"]
    (call,) = root[0]["calls"]
    assert call["template"] == "graph/decompose.j2" and call["model"] == "openai/gpt-4o-mini"
    assert call["prompt_tokens"] > 0 and call["usd"] > 0 and call["latency_s"] > 0
    leaf = next(a for _, a in g.graph.nodes(data=True) if a["task"] == "sum of 1 2")
    assert (
        leaf["result"] == 3 and leaf["provenance"][-1]["calls"][0]["template"] == "graph/solve.j2"
    )


def test_malformed_decompositions_are_recorded_retried_then_fail_cleanly():
    cycle = {
        "subtasks": [
            {"task": "sum of 1 2", "depends_on": [1]},
            {"task": "sum of 3 4", "depends_on": [0]},
        ]
    }
    with ScriptedLLM(answer=arithmetic) as server:
        server.queue("Let me think about how to split this.", json.dumps(cycle))
        g = TaskGraph(**llm_steps(server), retries=1)
        with pytest.raises(NodeFailed) as failed:
            g.run("sum of 1 2 3 4")
        prompts = [r["messages"][-1]["content"] for r in server.requests]
    assert len(prompts) == 2
    assert "Your previous answer could not be used: the answer holds no JSON object" in prompts[1]
    assert isinstance(failed.value.__cause__, MalformedReply)
    assert "needs subtask 1 'sum of 3 4' needs subtask 0" in str(failed.value)
    errors = [r["error"] for r in g.graph.nodes[0]["provenance"]]
    assert [e.split(":")[0] for e in errors] == ["MalformedReply", "MalformedReply"]
    assert list(g.graph.nodes) == [0]
    assert g.stats.llm_calls == 2 and g.stats.tokens > 0  # the bad answers were paid for


def test_a_malformed_decomposition_then_a_good_one_goes_on():
    with ScriptedLLM(answer=arithmetic) as server:
        server.queue('{"atomic": false, "subtasks": []}')
        g = TaskGraph(**llm_steps(server))
        assert g.run("sum of 1 2 3 4") == 10
    first = g.graph.nodes[0]["provenance"][0]
    assert "non-empty" in first["error"] and first["calls"]


def test_a_spent_budget_cancels_the_running_steps_and_the_graph_resumes():
    with ScriptedLLM(answer=arithmetic) as server:
        steps = llm_steps(server)
        g = TaskGraph(**steps, concurrency=4, max_tokens=600)
        with pytest.raises(BudgetExceeded, match="budget is spent"):
            g.run(EIGHT)
        assert g.stats.tokens >= 600
        assert g.stats.llm_calls == len(server.requests)  # every call's spend is on record
        statuses = Counter(a["status"] for _, a in g.graph.nodes(data=True))
        assert "running" not in statuses and statuses["done"] < len(g.graph)
        records = [r for _, a in g.graph.nodes(data=True) for r in a["provenance"]]
        redo = sum(1 for r in records if r["error"] == "cancelled" and r["calls"])

        again = TaskGraph.from_json(g.to_json(), **steps, concurrency=4)
        assert again.resume() == 36
        assert len(server.requests) == 14 + redo  # done steps were not asked again
