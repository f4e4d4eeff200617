"""The cost estimate before an LLM search: rendered from the real templates and the task's own
description, with no network call; a range that holds what a search spends; a refusal above
budget.usd unless accepted; no USD (and no refusal) for a model nobody prices."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentic_design import Archive, RunConfig, Search
from agentic_design.config import ConfigError
from agentic_design.llm import LLM
from agentic_design.prompts import render
from agentic_design.proposers.meta_agent import MetaAgentProposer, Plan
from agentic_design.run.assemble import build_task
from agentic_design.run.estimate import (
    EstimateExceedsBudget,
    check_estimate,
    estimate_cost,
)

from .conftest import cli
from .curve_designs import CURVE_TASK, ImprovingModel, curve_code, curve_config
from .llm_server import ScriptedLLM

PRICES = {"input_per_mtok": 3.0, "output_per_mtok": 15.0}


def closed_port() -> str:
    """An address on loopback where nothing listens: a call there would fail at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def curve(evaluations: int = 10, **llm: Any) -> RunConfig:
    data = curve_config(
        Path("unused"),
        evaluations,
        {"model": "openai/scripted", "api_base": closed_port(), "prices": PRICES, **llm},
    )
    data["search"]["meta_agent"] = {"reflexion_rounds": 0, "repair_attempts": 0}
    return RunConfig.from_dict(data)


def test_the_range_brackets_a_hand_computed_spend_without_a_network_call():
    config = curve(evaluations=10)
    estimate = estimate_cost(config)  # its api_base is a closed port: any call would fail
    task = build_task(config)
    assert estimate.seeds == 2 and estimate.designs.low == estimate.designs.high == 8
    # By hand: each design one call (no reviews, no repairs) — the system message and the
    # first prompt as the search sends it, answered by a module like the seeds', header and
    # all; at chars / 4, as a server counts, and the configured prices.
    endpoint = config.llm.endpoints()[0]  # type: ignore[union-attr]
    proposer = MetaAgentProposer(LLM(endpoint), task, config.search.meta_agent, 0)
    seeds = [
        {"id": 1, "name": "zero", "summary": "-RMSE -2.0000", "thought": ""},
        {"id": 2, "name": "line", "summary": "-RMSE -1.5000", "thought": ""},
    ]
    context = {"total": 2, "shown": "the best", "archive": seeds, "failures": [], "best_id": 2}
    first = Plan(1, "new", (), {**context, "best_code": seeds_code(task)}, "openai/scripted")
    prompt = render("meta/system.j2") + proposer.propose_prompt(first)
    answer = (
        "NAME: curve 1\nTHOUGHT: move a to 2.1 and b to 0.5\n```python\n"
        + curve_code(2.1, 0.5)
        + "```"
    )
    by_hand = 8 * (len(prompt) // 4 * 3.0 + len(answer) // 4 * 15.0) / 1e6
    assert estimate.usd is not None
    assert estimate.usd.low <= by_hand <= estimate.usd.high
    # The high end: every answer max_tokens long, and asked again once.
    assert estimate.usd.high >= 8 * 2 * 4096 * 15.0 / 1e6
    [model] = estimate.models
    assert model.prices == (3.0, 15.0) and model.price_source == "llm.prices"
    assert model.share == 1.0 and model.calls.low == 1 and model.calls.high == 2
    assert "whole budget" in "\n".join(estimate.describe())


def seeds_code(task: Any) -> str:
    return str(task.seeds()[1].code)


def test_reviews_and_repairs_change_the_calls_a_design_costs():
    plain = estimate_cost(curve())
    data = curve().model_dump(mode="json")
    data["search"]["meta_agent"] = {"reflexion_rounds": 2, "repair_attempts": 3}
    reviewed = estimate_cost(RunConfig.from_dict(data))
    [one], [three] = plain.models, reviewed.models
    # A proposal: propose and two reviews (and a re-ask at most); a repair is a design of its
    # own, one call — so the cheap end, most designs being repairs, is below a proposal's.
    assert three.calls.high == 4 and three.calls.low < 3
    assert three.tokens.high > one.tokens.high
    # Each review sends the conversation so far: dearer than the propose call alone.
    assert reviewed.tokens.high > 2 * plain.tokens.high
    assert {k.kind for k in three.kinds} == {"propose", "reflect", "reask", "repair"}


def test_above_budget_usd_the_search_is_refused_unless_accepted():
    estimate = estimate_cost(curve())
    assert estimate.usd is not None
    with pytest.raises(EstimateExceedsBudget) as refused:
        check_estimate(estimate, estimate.usd.high / 2)
    assert isinstance(refused.value, ConfigError)  # the CLI's exit 2, one message
    message = str(refused.value)
    assert "--accept-estimate" in message and "budget.usd" in message
    assert f"${estimate.usd.high / 2:g}" in message
    check_estimate(estimate, estimate.usd.high / 2, accept=True)
    check_estimate(estimate, estimate.usd.high * 2)
    check_estimate(estimate, None)


def test_a_model_nobody_prices_gets_tokens_but_no_usd_and_no_refusal():
    config = curve(model="openai/a-local-model-nobody-prices", prices=None)
    estimate = estimate_cost(config)
    assert estimate.usd is None and estimate.tokens.low > 0
    check_estimate(estimate, 0.000001)  # no refusal on an unknown price
    text = "\n".join(estimate.describe())
    assert "USD unknown" in text and "price unknown" in text


def test_offline_evolution_has_no_llm_cost():
    data = curve().model_dump(mode="json")
    data["search"]["proposer"] = "evolution"
    estimate = estimate_cost(RunConfig.from_dict(data))
    assert estimate.free and estimate.usd is not None and estimate.usd.high == 0
    assert estimate.describe()[0].startswith("LLM cost: none")


def test_several_models_are_counted_at_their_weights():
    data = curve().model_dump(mode="json")
    cheap = {"model": "openai/cheap", "prices": {"input_per_mtok": 0.1, "output_per_mtok": 0.4}}
    dear = {"model": "openai/dear", "prices": PRICES, "weight": 3.0}
    data["llm"] = {"models": [cheap, dear], "choice": "weights"}
    estimate = estimate_cost(RunConfig.from_dict(data))
    shares = {m.model: m.share for m in estimate.models}
    assert shares == {"openai/cheap": 0.25, "openai/dear": 0.75}
    alone = estimate_cost(curve())
    assert estimate.usd is not None and alone.usd is not None
    assert estimate.usd.high == pytest.approx(
        0.75 * alone.usd.high + 0.25 * alone.usd.high * 0.4 / 15, rel=0.02
    )


def test_the_agents_calls_count_from_one_per_example_to_the_brokers_cap():
    config = RunConfig.from_dict(
        {
            "task": "arithmetic",
            "budget": {"evaluations": 5},
            "task_budget": {"examples": 4, "test_examples": 4, "max_calls_per_example": 3},
            "agent_llm": {"model": "openai/agent", "api_base": closed_port(), "prices": PRICES},
        }
    )
    estimate = estimate_cost(config)
    assert not estimate.models  # offline evolution writes the agents
    assert estimate.agents is not None
    assert (estimate.agents.calls.low, estimate.agents.calls.high) == (24, 72)
    assert estimate.usd is not None and estimate.usd.low > 0


@pytest.mark.slow
def test_a_loopback_search_spends_within_the_estimate(tmp_path):
    with ScriptedLLM(answer=ImprovingModel()) as server:
        data = curve_config(
            tmp_path / "run", 8, {"model": "openai/scripted", "api_base": server.url}
        )
        data["llm"]["prices"] = PRICES
        data["search"].update(report=False, meta_agent={"reflexion_rounds": 1})
        config = RunConfig.from_dict(data)
        estimate = estimate_cost(config)
        Search(config, progress=False).run()
    with Archive.open(tmp_path / "run", readonly=True) as archive:
        spent = archive.spend()
    assert estimate.usd is not None
    assert estimate.tokens.low <= spent["tokens"] <= estimate.tokens.high
    assert estimate.usd.low <= spent["usd"] <= estimate.usd.high


@pytest.mark.slow
def test_the_estimate_command(tmp_path):
    config = tmp_path / "config.yaml"
    data = curve().model_dump(mode="json")
    data["task"] = f"{CURVE_TASK}:CurveFit"
    config.write_text(yaml.safe_dump(data))
    shown = cli("estimate", str(config), "--usd", "0.000001", "--evaluations", "30")
    assert shown.returncode == 0, shown.stderr
    assert "28 designs written by the meta-agent" in shown.stdout
    assert "whole budget" in shown.stdout and "--accept-estimate" in shown.stdout
    offline = cli("estimate", str(config), "--proposer", "evolution")
    assert offline.returncode == 0 and "LLM cost: none" in offline.stdout
    bad = cli("estimate", str(config), "--evaluations", "0")
    assert bad.returncode == 2 and "budget.evaluations" in bad.stderr
