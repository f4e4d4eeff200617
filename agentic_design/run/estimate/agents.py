"""The agents' calls through the broker (a task whose designs call `agent_llm`)."""

from __future__ import annotations

from agentic_design.config import RunConfig
from agentic_design.run.estimate.costs import _Cost, _usd
from agentic_design.run.estimate.prices import _counter, _prices
from agentic_design.run.estimate.records import AgentCost, Span
from agentic_design.tasks import Task


def _agent_cost(config: RunConfig, task: Task, notes: list[str]) -> AgentCost | None:
    """Every evaluation (seeds and cheap ones included, at their share) and the final test:
    one call per example at least, the broker's cap per example at most."""
    agent_llm = config.agent_llm
    if not task.uses_broker or agent_llm is None or agent_llm.model == "simulated":
        return None
    endpoint = agent_llm.endpoints()[0]
    model = endpoint.model or ""
    count, _ = _counter(model)
    per_example = task.example_call_cap() or 1
    capped = (task.call_cap("validation") or per_example, task.call_cap("test") or per_example)
    examples = sum(cap // per_example for cap in (capped[0] * config.budget.evaluations, capped[1]))
    cap = capped[0] * config.budget.evaluations + capped[1]
    questions = [count(q) for q in task.simulation_answers()] or [count(task.describe())]
    mean = sum(questions) / len(questions)
    answer = endpoint.max_tokens
    # A call's prompt: the question and the agent's instructions (low); with earlier answers
    # quoted, as a debate or a critique does, up to one answer's worth more (high).
    low = _Cost(examples, examples * (mean + _AGENT_FRAME), examples * _AGENT_ANSWER)
    high = _Cost(cap, cap * (max(questions) + _AGENT_FRAME + answer), cap * answer)
    prices, source = _prices(endpoint)
    notes.append(
        f"agents' calls: {examples:,} (one per example) to {cap:,} (the broker's cap of "
        f"{per_example} per example) over every evaluation and the final test"
    )
    return AgentCost(
        model=model,
        calls=Span(low.calls, high.calls),
        tokens=Span(low.tokens, high.tokens),
        usd=_usd(prices, low, high),
        price_source=source,
    )


_AGENT_FRAME = 60  # tokens of an agent's instructions around a question (the toolkit's fields)
_AGENT_ANSWER = 32  # tokens of the shortest useful answer (a field or two)
