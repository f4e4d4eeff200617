"""The cost estimate before an LLM search: rendered from the real templates and the task's own
description, with no network call; a range that holds what a search spends; a refusal above
budget.usd unless accepted; no USD (and no refusal) for a model nobody prices; the calls of what
the meta-agent learns (notes, variants, novelty checks) on lines of their own, in the totals."""

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
from .learning_designs import LearningModel, learning_config
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


# -- what the meta-agent learns ------------------------------------------------------------------


def learning(
    evaluations: int = 40, novelty: dict[str, Any] | None = None, **meta: Any
) -> RunConfig:
    """curve() with the meta-agent's learning settings (and `search.novelty`)."""
    data = curve(evaluations).model_dump(mode="json")
    data["search"]["meta_agent"].update(meta)
    data["search"]["novelty"] = novelty
    return RunConfig.from_dict(data)


def kinds(estimate: Any) -> dict[str, Any]:
    return {cost.kind: cost for cost in estimate.learning}


def designs_alone(estimate: Any) -> tuple[float, float]:
    """The whole budget's tokens less the learning calls: the designs' dialogues."""
    [model] = estimate.models
    return estimate.designs.low * model.tokens.low, estimate.designs.high * model.tokens.high


def test_with_nothing_learned_the_estimate_is_the_designs_alone():
    data = curve(40).model_dump(mode="json")
    data["search"]["meta_agent"].update(notes_every=0, variants={"enabled": False})
    data["search"]["novelty"] = None
    off = estimate_cost(RunConfig.from_dict(data))
    default = estimate_cost(curve(40))
    assert off == default and off.learning == ()
    assert (off.tokens.low, off.tokens.high) == designs_alone(off)
    text = "\n".join(off.describe())
    assert "notes" not in text and "judge" not in text and "learns" not in off.summary()


def test_notes_every_five_on_forty_evaluations_add_about_eight_notes_calls():
    plain, noted = estimate_cost(curve(40)), estimate_cost(learning(40, notes_every=5))
    notes = kinds(noted)["insight notes"]
    # 38 designs after 2 seeds; the last is planned from the snapshot of designs 1..36 (the
    # lag: llm.concurrency 2 + sandbox.workers 2), which crossed 5, 10, ... 35: 7 versions.
    assert notes.calls.low == notes.calls.high == 7
    assert notes.model == "openai/scripted" and notes.usd is not None
    # Each call: the notes prompt, from the first (nothing to read) to one whose previous notes
    # and designs read are at their bounds; answered short (low) or max_tokens long (high).
    assert notes.prompt.low < notes.prompt.high and notes.completion.high == 4096
    assert notes.tokens.high == 7 * (notes.prompt.high + 4096)
    # The notes also lengthen later propose prompts, up to notes_chars (1500, ~300+ tokens).
    [before], [after] = plain.models, noted.models
    grown = after.kinds[0].prompt.high - before.kinds[0].prompt.high
    assert 1500 / 8 < grown < 1500
    assert after.kinds[0].prompt.low == before.kinds[0].prompt.low  # no notes yet at first
    # The whole budget: the designs' dialogues plus the notes calls, nothing else.
    low, high = designs_alone(noted)
    assert noted.tokens.low == pytest.approx(low + notes.tokens.low)
    assert noted.tokens.high == pytest.approx(high + notes.tokens.high)
    assert noted.tokens.high - plain.tokens.high > notes.tokens.high
    assert noted.usd is not None and plain.usd is not None and noted.usd.high > plain.usd.high
    line = next(x for x in noted.describe() if "insight notes" in x)
    assert line.startswith("  insight notes (openai/scripted): 7 calls")
    assert "learns" in noted.summary()


def test_prompt_variants_cost_one_call_per_mutate_every_designs():
    estimate = estimate_cost(
        learning(40, variants={"enabled": True, "mutate_every": 12, "max_chars": 1200})
    )
    variants = kinds(estimate)["prompt variants"]
    # Snapshots 2..36 cross 12, 24 and 36; a mutation waits for a design written under a
    # variant to be in the snapshot (design 3 on), which none of them precedes.
    assert (variants.calls.low, variants.calls.high) == (3, 3)
    # The prompt grows with the variants' length: four at max_chars at most (~300 tokens each).
    assert variants.prompt.high > 4 * 1200 / 8 > variants.prompt.low / 4
    # Every proposal is written under a variant: the propose prompt carries one.
    [model], [plain] = estimate.models, estimate_cost(curve(40)).models
    assert model.kinds[0].prompt.low > plain.kinds[0].prompt.low


def test_novelty_with_an_embedding_model_and_a_judge():
    novelty = {
        "embedding": "openai/embed",
        "api_base": closed_port(),
        "prices": {"input_per_mtok": 0.02, "output_per_mtok": 0.0},
        "judge": True,
        "closest": 2,
        "max_chars": 2000,
    }
    estimate = estimate_cost(learning(20, novelty=novelty))
    found = kinds(estimate)
    assert set(found) == {"embeddings", "novelty judge", "sent back"}
    embeddings, judge, sent_back = found["embeddings"], found["novelty judge"], found["sent back"]
    # 18 designs: each checked proposal embedded once (twice when sent back), the 2 seeds once.
    assert embeddings.calls.high == 2 * 18 + 2 and embeddings.calls.low >= 2
    assert embeddings.completion.high == 0 and embeddings.price_source == "novelty.prices"
    assert embeddings.usd is not None
    assert embeddings.usd.high == pytest.approx(embeddings.tokens.high * 0.02 / 1e6)
    # Embedded code is cut at max_chars: ~2000 characters at most.
    assert 2000 / 8 < embeddings.prompt.high < 2000
    # With an embedding model the judge is asked only above the threshold: none to two calls
    # a proposal, each answer at most 600 tokens; its prompt shows `closest` designs.
    assert (judge.calls.low, judge.calls.high) == (0, 36) and judge.completion.high == 600
    assert judge.prompt.high > 3 * 2000 / 8
    # Sent back: nothing at the low end, one more dialogue call per proposal at the high end,
    # which sends the whole dialogue so far (more than the propose message alone).
    [model] = estimate.models
    assert sent_back.calls.low == sent_back.tokens.low == 0 and sent_back.calls.high == 18
    assert sent_back.tokens.high > 18 * (model.kinds[0].prompt.high + sent_back.prompt.high)
    low, high = designs_alone(estimate)
    learned = [
        sum(c.tokens.low for c in estimate.learning),
        sum(c.tokens.high for c in estimate.learning),
    ]
    assert estimate.tokens.low == pytest.approx(low + learned[0])
    assert estimate.tokens.high == pytest.approx(high + learned[1])


def test_a_judge_without_an_embedding_model_is_asked_at_least_once_a_proposal():
    data = curve(20).model_dump(mode="json")
    data["search"]["meta_agent"].update(repair_attempts=1)
    data["search"]["novelty"] = {"judge": True}
    found = kinds(estimate_cost(RunConfig.from_dict(data)))
    assert "embeddings" not in found
    # 18 designs, each proposal followed by its one repair at the fewest: 9 proposals judged.
    assert (found["novelty judge"].calls.low, found["novelty judge"].calls.high) == (9, 36)


def test_an_embedding_model_nobody_prices_gets_tokens_but_no_usd():
    novelty = {"embedding": "openai/an-embedding-model-nobody-prices", "threshold": 0.9}
    estimate = estimate_cost(learning(20, novelty=novelty))
    embeddings = kinds(estimate)["embeddings"]
    assert embeddings.usd is None and embeddings.tokens.low > 0
    assert estimate.usd is None and estimate.tokens.low > 0  # as for a completion model
    check_estimate(estimate, 0.000001)  # no refusal on an unknown price
    text = "\n".join(estimate.describe())
    assert "embeddings (openai/an-embedding-model-nobody-prices)" in text
    assert "USD unknown (not in novelty.prices nor in litellm's cost map)" in text
    # A model litellm prices is priced from its cost map.
    known = {"embedding": "openai/text-embedding-3-small", "threshold": 0.9}
    priced = kinds(estimate_cost(learning(20, novelty=known)))["embeddings"]
    assert priced.price_source == "litellm's cost map" and priced.usd is not None


@pytest.mark.slow
def test_a_loopback_search_that_learns_spends_within_the_estimate(tmp_path):
    with ScriptedLLM(answer=LearningModel()) as server:
        data = learning_config(tmp_path / "run", server, 20).model_dump(mode="json")
        data["llm"]["prices"] = PRICES
        data["search"]["novelty"]["prices"] = {"input_per_mtok": 0.02, "output_per_mtok": 0.0}
        data["search"]["report"] = False
        config = RunConfig.from_dict(data)
        estimate = estimate_cost(config)
        Search(config, progress=False).run()
    with Archive.open(tmp_path / "run", readonly=True) as archive:
        spent = archive.spend()
        by_purpose = archive.spend_by_purpose()
    assert {"notes", "variant", "embedding", "judge"} <= set(by_purpose), by_purpose
    assert estimate.usd is not None
    assert estimate.tokens.low <= spent["tokens"] <= estimate.tokens.high
    assert estimate.usd.low <= spent["usd"] <= estimate.usd.high
    # Each kind of learning call within its own range (the notes' and the embeddings' counts
    # are near exact: one version per 4 designs; one embedding per proposal or design).
    found = kinds(estimate)
    for purpose, kind in (("notes", "insight notes"), ("embedding", "embeddings")):
        calls, tokens = by_purpose[purpose]["calls"], by_purpose[purpose]["tokens"]
        assert found[kind].calls.low <= calls <= found[kind].calls.high + 1, (kind, calls)
        assert found[kind].tokens.low <= tokens <= found[kind].tokens.high, (kind, tokens)
