"""The novelty check's calls: the embeddings, the judge and the proposals sent back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agentic_design.config import MetaAgentConfig, NoveltyConfig, RunConfig
from agentic_design.prompts import render
from agentic_design.records import Proposal
from agentic_design.run.estimate.costs import _PER_MESSAGE, _across, _calls, _Cost, _dialogue
from agentic_design.run.estimate.dialogue import _Writer
from agentic_design.run.estimate.prices import _counter, _price, _prices
from agentic_design.run.estimate.records import LearningCost, Span
from agentic_design.run.estimate.standins import _THOUGHT, _tiled
from agentic_design.tasks import Task

_CHECKED = ("new", "mutate", "crossover")  # the modes whose proposals are checked for novelty


_JUDGE_TOKENS = 600  # the judge's answer is capped at this (gate)


_SHORT_VERDICT = "NOVEL\nIt changes the method."


def _novelty_costs(
    config: RunConfig,
    novelty: NoveltyConfig,
    task: Task,
    seeds: list[Proposal],
    designs: Span,
    writers: list[_Writer],
    notes: list[str],
) -> list[LearningCost]:
    """The embeddings, the judge and the proposals sent back, for the checked proposals: those
    of modes new, mutate and crossover (a repair is meant to stay close to what it repairs)."""
    s = config.search.meta_agent
    weights = {str(m): w for m, w in s.modes.items()}
    checked_share = sum(weights.get(m, 0) for m in _CHECKED) / (sum(weights.values()) or 1)
    # The fewest: each proposal followed by all its repairs; the most: every design.
    checked = Span(designs.low * checked_share / (1 + s.repair_attempts), designs.high)
    codes = [seed.code for seed in seeds] or ["pass\n"]
    stand_in = "\n".join(codes)
    costs = []
    endpoint = novelty.endpoint()
    if endpoint is not None:
        model = endpoint.model or ""
        count, _ = _counter(model)
        prices, source = _prices(endpoint, "novelty.prices")
        if prices is None:
            notes.append(f"{model}: no price in novelty.prices or litellm's cost map: USD unknown")
        # Each checked proposal embedded once (twice when sent back), each other design (a
        # seed, a repair) once: every design at most twice, and the seeds once.
        calls = Span(checked.low + len(seeds), 2 * designs.high + len(seeds))
        size = Span(
            count(min(codes, key=len)[: novelty.max_chars]),
            count(_tiled(stand_in, novelty.max_chars)),
        )
        costs.append(_calls("embeddings", model, calls, size, Span(0, 0), prices, source))
    judge_low = 0.0 if endpoint is not None else checked.low
    judged, sent_back = [], []
    for w in writers:
        prompt = _judge_prompts(novelty, s.prompts_dir, task.describe(), seeds, w.sizes.count)
        answer = Span(w.sizes.count(_SHORT_VERDICT), min(w.max_tokens, _JUDGE_TOKENS))
        if novelty.judge:
            calls = Span(judge_low, 2 * checked.high)
            judged.append(
                _calls("novelty judge", w.model, calls, prompt, answer, w.prices, w.source)
            )
        sent_back.append(_sent_back(w, s, checked))
    if judged:
        costs.append(_across(judged, [w.share for w in writers]))
    costs.append(_across(sent_back, [w.share for w in writers]))
    notes.append(
        "a proposal recorded not_novel costs no evaluation: a run that writes many writes "
        "more designs than counted here (4 per evaluation at most)"
    )
    return costs


def _judge_prompts(
    novelty: NoveltyConfig,
    prompts_dir: str | None,
    describe: str,
    seeds: list[Proposal],
    count: Callable[[str], int],
) -> Span:
    """The judge's prompt: the shortest seed against one design like it (low); a proposal
    and `closest` designs at `max_chars` (high)."""
    codes = [seed.code for seed in seeds] or ["pass\n"]
    shortest = min(codes, key=len)[: novelty.max_chars]
    stand_in = _tiled("\n".join(codes), novelty.max_chars)
    name = seeds[0].name if seeds else "a seed"

    def prompt(code: str, thought: str, closest: list[dict[str, Any]]) -> int:
        return count(
            render(
                "meta/novelty_judge.j2",
                prompts_dir,
                task_description=describe,
                proposal={"name": name, "thought": thought, "code": code},
                closest=closest,
                mode="mutate",
            )
        )

    near = {"id": 1, "name": name, "summary": "score 0.1235", "similarity": None}
    far = {**near, "name": "a stand-in design of six words", "similarity": 0.99}
    far["summary"] = f"score 0.1235, {_tiled(_THOUGHT, 60)}"
    return Span(
        prompt(shortest, "", [{**near, "code": shortest}]),
        prompt(stand_in, _tiled(_THOUGHT, 300), [{**far, "code": stand_in}] * novelty.closest),
    )


def _sent_back(w: _Writer, s: MetaAgentConfig, checked: Span) -> LearningCost:
    """A proposal sent back as not new: one more call of its dialogue, the retry message after
    the whole dialogue so far (at its dearest: asked again and reviewed, every answer
    `max_tokens` long). None at the low end; every checked proposal once at the high end."""
    sizes, answer = w.sizes, w.max_tokens
    before = [sizes.propose.high, sizes.reask] + [sizes.reflect] * s.reflexion_rounds
    dialogue = _dialogue(sizes.system, before, answer, _PER_MESSAGE)
    retried = _dialogue(sizes.system, [*before, sizes.retry.high], answer, _PER_MESSAGE)
    extra = _Cost(
        checked.high * (retried.calls - dialogue.calls),
        checked.high * (retried.prompt - dialogue.prompt),
        checked.high * (retried.completion - dialogue.completion),
    )
    return LearningCost(
        kind="sent back",
        model=w.model,
        calls=Span(0, extra.calls),
        prompt=sizes.retry,
        completion=Span(sizes.answer_low, answer),
        tokens=Span(0, extra.tokens),
        usd=Span(0, _price(w.prices, extra.prompt, extra.completion)) if w.prices else None,
        price_source=w.source,
    )
