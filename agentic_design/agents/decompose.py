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

from agentic_design.agents import events
from agentic_design.agents.toolkit import Agent, AgentError, MissingFields
from agentic_design.lenient_json import values_in

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
    the question from its parts' answers. Calls per question: 1 plan, then 1 per part and 1 to
    combine (or 1 answer when it is not split).

    A plan never fails the question: one that cannot be read (even when the planner is asked
    again), an empty one or one of a single part, or one whose part restates the question it
    splits (or one above it) means that question is answered directly by `solver`; each such
    plan is counted in the example's events (`PLAN_EVENTS`). A failed call raises AgentError."""
    from agentic_design.graph import GraphError, NodeFailed, Subtask, TaskGraph
    from agentic_design.graph.model import DecompositionError

    planner = planner or Agent(
        "a planner who splits a problem into simple steps", outputs={"parts": PLAN_FIELD}
    )
    solver = solver or Agent("a careful problem solver")
    combiner = combiner or Agent("a careful problem solver who checks how the parts fit")
    above: dict[str, str | None] = {_fold(question): None}  # each question's parent's

    def decompose(task: dict[str, Any]) -> list[Subtask] | None:
        try:
            reply = planner(task["question"])["parts"]
        except MissingFields:
            events.count(PLAN_EVENTS["unreadable"])
            return None
        parts, unusable = _read_plan(reply, max_parts)
        lineage = _lineage(above, _fold(task["question"]))
        if not unusable and any(_restates(q, lineage) for q, _ in parts):
            unusable = "restated"
        if unusable:
            events.count(PLAN_EVENTS[unusable])
            return None
        for q, _ in parts:
            above.setdefault(_fold(q), _fold(task["question"]))
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
        if isinstance(exc.__cause__, AgentError):
            raise AgentError(f"a part failed: {exc.chain[-1].get('error')}") from exc
        if not isinstance(exc.__cause__, DecompositionError):
            raise AgentError(f"decomposition failed: {exc}") from exc
        # The graph refused a plan the checks above let through: answered directly too.
        events.count(PLAN_EVENTS["unusable"])
        return solver(question)["answer"]
    except GraphError as exc:
        raise AgentError(f"decomposition failed: {exc}") from exc
    return str(result["answer"])


#: The events (`events`) of a plan answered directly instead, by why.
PLAN_EVENTS = {
    "unreadable": "plan unreadable, answered directly",
    "empty": "plan empty, answered directly",
    "one part": "plan of one part, answered directly",
    "restated": "plan restates the question, answered directly",
    "unusable": "plan refused by the task graph, answered directly",
}


def _read_plan(text: str, max_parts: int) -> tuple[list[tuple[str, list[int]]], str]:
    """The sub-questions of a plan, with the earlier ones each uses, and "" — or [] and why
    the plan is not used (a key of PLAN_EVENTS)."""
    items = _first_list(text)
    if items is None:
        return [], "unreadable"
    parts: list[tuple[str, list[int]]] = []
    for item in items[:max_parts]:
        if isinstance(item, str):
            item = {"question": item}
        if not isinstance(item, dict):
            return [], "unreadable"
        item = {str(k).lower(): v for k, v in item.items()}
        if not str(item.get("question") or "").strip():
            return [], "unreadable"
        uses = item.get("uses", [])
        valid = isinstance(uses, list) and all(type(u) is int and 0 <= u < len(parts) for u in uses)
        parts.append((str(item["question"]), uses if valid else []))
    if not parts:
        return [], "empty"
    return (parts, "") if len(parts) > 1 else ([], "one part")


def _first_list(text: str) -> list[Any] | None:
    """The first JSON list in `text` (read leniently); None when there is none."""
    return next((v for v, _, _ in values_in(text, "[", 20) if isinstance(v, list)), None)


def _fold(question: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", question.lower()).split())


def _lineage(above: dict[str, str | None], question: str) -> list[str]:
    """`question` and every question above it in the plan."""
    chain: list[str] = []
    at: str | None = question
    while at is not None and at not in chain:
        chain.append(at)
        at = above.get(at)
    return chain


def _restates(part: str, lineage: list[str]) -> bool:
    """Whether a part asks a question it is part of (the same words, or all of them)."""
    folded = _fold(part)
    return any(folded == q or (q and q in folded) for q in lineage)


def _is_answer(value: Any) -> bool:
    return isinstance(value, dict) and "question" in value and "answer" in value


def _known(value: dict[str, str]) -> str:
    return f"Sub-question: {value['question']} Answer: {value['answer']}"
