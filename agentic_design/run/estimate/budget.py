"""The estimate of a search's whole budget: how many designs, each model's cost per design,
what the meta-agent learns and the agents' calls, summed."""

from __future__ import annotations

import math

from agentic_design.config import LLMConfig, RunConfig
from agentic_design.records import Proposal
from agentic_design.run.assemble import cheap_levels
from agentic_design.run.estimate.agents import _agent_cost
from agentic_design.run.estimate.dialogue import _per_design, _Sizes, _Writer
from agentic_design.run.estimate.learning import _learning_costs
from agentic_design.run.estimate.prices import _counter, _prices
from agentic_design.run.estimate.records import (
    AgentCost,
    CostEstimate,
    LearningCost,
    ModelCost,
    Span,
)
from agentic_design.tasks import Task


def estimate_cost(config: RunConfig, task: Task | None = None) -> CostEstimate:
    """The expected tokens and USD of `config`'s budget; `task`: the built task, if at hand
    (else built here: ConfigError for a bad one). Makes no network call and starts nothing."""
    from agentic_design.run.assemble import build_task  # the search's side: only now

    task = task or build_task(config)
    seeds = task.seeds()
    meta = config.llm is not None and config.search.proposer != "evolution"
    notes: list[str] = []
    designs = _designs(config, task, len(seeds), notes) if meta else Span(0, 0)
    models: list[ModelCost] = []
    learning: list[LearningCost] = []
    if meta and config.llm is not None:
        models, learning = _model_costs(config, config.llm, task, seeds, designs, notes)
    agents = _agent_cost(config, task, notes)
    tokens, usd = _totals(config.llm, designs, models, agents, learning)
    return CostEstimate(
        evaluations=config.budget.evaluations,
        seeds=len(seeds),
        designs=designs,
        models=tuple(models),
        agents=agents,
        tokens=tokens,
        usd=usd,
        notes=tuple(notes),
        learning=tuple(learning),
    )


# -- how many designs ---------------------------------------------------------------------------
def _designs(config: RunConfig, task: Task, seeds: int, notes: list[str]) -> Span:
    """The designs the meta-agent writes: the evaluations left after the seeds; with cheap
    evaluations first, from every design climbing to a full one to every one stopping at the
    cheapest share."""

    left = max(0, config.budget.evaluations - seeds)
    levels = cheap_levels(config, task)
    low, high = float(left), float(left)
    if levels:
        low, high = math.floor(left / (1 + sum(levels))), math.ceil(left / min(levels))
    if config.search.behaviour:
        notes.append(
            "a design that behaves as an earlier one costs no evaluation: a run that writes "
            "many duplicates writes more designs than counted here (4 per evaluation at most)"
        )
    if config.search.meta_agent.modes.get("decompose", 0) > 0:
        notes.append("designs written part by part (mode decompose) are counted as proposals")
    return Span(low, high)


# -- the meta-agent's calls -----------------------------------------------------------------------
def _model_costs(
    config: RunConfig,
    llm: LLMConfig,
    task: Task,
    seeds: list[Proposal],
    designs: Span,
    notes: list[str],
) -> tuple[list[ModelCost], list[LearningCost]]:
    from agentic_design.proposers.meta_agent import MetaAgentProposer
    from agentic_design.run.assemble import llms_for

    settings = config.search.meta_agent
    # The real proposer renders the real prompts; its clients are built, never called.
    proposer = MetaAgentProposer(llms_for(llm, None, replay=False), task, settings, config.seed)
    weights = llm.weights()
    total = sum(weights.values())
    costs, writers = [], []
    try:
        for endpoint in llm.endpoints():
            model = endpoint.model or ""
            count, counted_by = _counter(model)
            sizes = _Sizes(proposer, config, model, seeds, count)
            share = weights[model] / total if llm.choice == "weights" or len(weights) == 1 else None
            prices, source = _prices(endpoint)
            costs.append(
                _per_design(
                    model, share, sizes, endpoint.max_tokens, settings, prices, source, counted_by
                )
            )
            writers.append(_Writer(model, share, sizes, endpoint.max_tokens, prices, source))
            if prices is None:
                notes.append(f"{model}: no price in llm.prices or litellm's cost map: USD unknown")
    finally:
        proposer.close()
    return costs, _learning_costs(config, task, seeds, designs, writers, notes)


# -- the whole budget -----------------------------------------------------------------------------
def _totals(
    llm: LLMConfig | None,
    designs: Span,
    models: list[ModelCost],
    agents: AgentCost | None,
    learning: list[LearningCost],
) -> tuple[Span, Span | None]:
    """The whole budget: the designs at their models' shares (a bandit's choice: anywhere
    between the cheapest and the dearest model), the learning calls and the agents' calls."""
    tokens, usd = Span(0, 0), Span(0, 0)
    priced = True
    if models:
        if all(m.share is not None for m in models):
            per = Span(
                sum((m.share or 0) * m.tokens.low for m in models),
                sum((m.share or 0) * m.tokens.high for m in models),
            )
            per_usd = Span(
                sum((m.share or 0) * (m.usd.low if m.usd else 0) for m in models),
                sum((m.share or 0) * (m.usd.high if m.usd else 0) for m in models),
            )
        else:
            per = Span(min(m.tokens.low for m in models), max(m.tokens.high for m in models))
            per_usd = Span(
                min(m.usd.low if m.usd else 0 for m in models),
                max(m.usd.high if m.usd else 0 for m in models),
            )
        tokens += Span(designs.low * per.low, designs.high * per.high)
        usd += Span(designs.low * per_usd.low, designs.high * per_usd.high)
        priced = all(m.usd is not None for m in models)
    for cost in learning:
        tokens += cost.tokens
        usd += cost.usd or Span(0, 0)
        priced = priced and cost.usd is not None
    if agents is not None:
        tokens += agents.tokens
        usd += agents.usd or Span(0, 0)
        priced = priced and agents.usd is not None
    return tokens, (usd if priced else None)
