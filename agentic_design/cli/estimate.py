"""`estimate`: what a search's LLM budget is expected to cost, tokens and USD as a range, before
anything starts (no network call, no sandbox)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from agentic_design.cli.app import _user_errors, app, out
from agentic_design.cli.search import _config, _with_options


@app.command()
def estimate(
    config: Annotated[
        Path,
        typer.Argument(
            help="the run's YAML configuration, or an OpenEvolve or ShinkaEvolve problem folder"
        ),
    ],
    llm: Annotated[str | None, typer.Option(help="litellm model string for the meta-agent")] = None,
    api_base: Annotated[str | None, typer.Option(help="OpenAI-compatible server URL")] = None,
    evaluations: Annotated[int | None, typer.Option(help="budget: designs evaluated")] = None,
    usd: Annotated[float | None, typer.Option(help="budget: LLM spend in USD")] = None,
    proposer: Annotated[
        str | None,
        typer.Option(help="search.proposer: auto, evolution, meta_agent or random_sampling"),
    ] = None,
    agent_llm: Annotated[
        str | None, typer.Option(help="the model agents call (litellm string, or simulated)")
    ] = None,
    agent_api_base: Annotated[
        str | None, typer.Option(help="an OpenAI-compatible server for --agent-llm")
    ] = None,
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
