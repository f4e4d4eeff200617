"""Decomposition for agents: split a question into sub-questions, answer them concurrently
(each given the answers it needs), combine — on the project's task-graph engine, every call
through the broker like any other.

    from agentic_design.agents import solve_in_parts

    def forward(self, task):
        return solve_in_parts(task["question"])
"""

from __future__ import annotations

import re
from typing import Any

from agentic_design.agents.toolkit import Agent, AgentError
from agentic_design.lenient_json import loads

PLAN_FIELD = (
    'a JSON list of sub-questions, each {"question": "...", "uses": [indices of earlier '
    "sub-questions whose answers it needs]}, in order; [] when the question is simple enough "
    "to answer at once"
)


def solve_in_parts(
    question: str,
    *,
    planner: Agent | None = None,
    solver: Agent | None = None,
    combiner: Agent | None = None,
    max_depth: int = 1,
    max_parts: int = 5,
    concurrency: int = 4,
) -> str:
    """Answer `question` by decomposition: `planner` splits it into at most `max_parts`
    sub-questions (recursively, to `max_depth`), `solver` answers each one given the answers
    of those it uses (independent ones at once, up to `concurrency`), and `combiner` answers
    the question from its parts' answers. A plan that cannot be read, or an empty one, means
    the question is answered directly. Calls per question: 1 plan, then 1 per part and 1 to
    combine (or 1 answer when it is not split). A failed call raises AgentError."""
    from agentic_design.graph import GraphError, NodeFailed, Subtask, TaskGraph

    planner = planner or Agent(
        "a planner who splits a problem into simple steps", outputs={"parts": PLAN_FIELD}
    )
    solver = solver or Agent("a careful problem solver")
    combiner = combiner or Agent("a careful problem solver who checks how the parts fit")

    def decompose(task: dict[str, Any]) -> list[Subtask] | None:
        parts = _read_plan(planner(task["question"])["parts"], max_parts)
        if not parts:
            return None
        return [Subtask({"question": q}, uses) for q, uses in parts]

    def solve(task: dict[str, Any], inputs: list[Any]) -> dict[str, str]:
        reply = solver(task["question"], context=[_known(i) for i in inputs if _is_answer(i)])
        return {"question": task["question"], "answer": reply["answer"]}

    def aggregate(task: dict[str, Any], parts: list[Any]) -> dict[str, str]:
        reply = combiner(
            task["question"],
            context=[_known(p) for p in parts],
            instruction="Answer the question from the answers to its parts above.",
        )
        return {"question": task["question"], "answer": reply["answer"]}

    graph = TaskGraph(
        decompose=decompose,
        solve=solve,
        aggregate=aggregate,
        max_depth=max_depth,
        concurrency=concurrency,
        retries=0,  # a failed call is the broker's verdict (cap, model error): not retried
        redecompositions=0,
    )
    try:
        result = graph.run({"question": question})
    except NodeFailed as exc:
        raise AgentError(f"a part failed: {exc.chain[-1].get('error')}") from exc
    except GraphError as exc:
        raise AgentError(f"decomposition failed: {exc}") from exc
    return str(result["answer"])


def _read_plan(text: str, max_parts: int) -> list[tuple[str, list[int]]]:
    """The sub-questions of a plan, with the earlier ones each uses; [] when unreadable."""
    match = re.search(r"\[.*\]", text, re.DOTALL)
    try:
        items = loads(match.group()) if match else []
    except ValueError:
        return []
    parts: list[tuple[str, list[int]]] = []
    for item in items[:max_parts] if isinstance(items, list) else []:
        if isinstance(item, str):
            item = {"question": item}
        if not isinstance(item, dict) or not str(item.get("question", "")).strip():
            return []
        uses = item.get("uses", [])
        valid = isinstance(uses, list) and all(type(u) is int and 0 <= u < len(parts) for u in uses)
        parts.append((str(item["question"]), uses if valid else []))
    return parts if len(parts) > 1 else []


def _is_answer(value: Any) -> bool:
    return isinstance(value, dict) and "question" in value and "answer" in value


def _known(value: dict[str, str]) -> str:
    return f"Sub-question: {value['question']} Answer: {value['answer']}"
