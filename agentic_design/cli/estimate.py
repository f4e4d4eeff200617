"""`estimate`: what a search's LLM budget is expected to cost, tokens and USD as a range, before
anything starts (no network call, no sandbox)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from agentic_design.cli.app import _user_errors, app, out
from agentic_design.cli.search import (
    AgentApiBase,
    AgentLlm,
    ApiBase,
    ConfigPath,
    Evaluations,
    Llm,
    Usd,
    _config,
    _with_options,
)


@app.command()
def estimate(
    config: ConfigPath,
    llm: Llm = None,
    api_base: ApiBase = None,
    evaluations: Evaluations = None,
    usd: Usd = None,
    proposer: Annotated[
        str | None,
        typer.Option(help="search.proposer: auto, evolution, meta_agent or random_sampling"),
    ] = None,
    agent_llm: AgentLlm = None,
    agent_api_base: AgentApiBase = None,
) -> None:
    """The expected tokens and USD of CONFIG's budget (a range), as `run` would spend it with
    the same options; says whether the high end passes budget.usd, where `run` refuses to
    start without --accept-estimate."""
    with _user_errors():
        from agentic_design.run.estimate import EstimateExceedsBudget, check_estimate, estimate_cost

        cfg = _with_options(
            _config(config),
            llm=llm,
            api_base=api_base,
            **{
                "search.proposer": proposer,
                "budget.evaluations": evaluations,
                "budget.usd": usd,
                "agent_llm.model": agent_llm,
                "agent_llm.api_base": agent_api_base,
            },
        )
        found = estimate_cost(cfg)
        for line in found.describe():
            out.print(escape(line), highlight=False, soft_wrap=True)
        cap = cfg.budget.usd
        try:
            check_estimate(found, cap)
        except EstimateExceedsBudget:
            out.print(
                f"[yellow]above budget.usd ${cap:g}:[/] `agentic-design run` refuses to start "
                "this search without --accept-estimate",
                highlight=False,
            )
            return
        if cap is not None and found.usd is not None:
            out.print(f"within budget.usd ${cap:g}", highlight=False)
