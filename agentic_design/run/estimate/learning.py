"""What the meta-agent learns, by kind over the whole budget: insight notes and prompt
variants here, the novelty check in `novelty`."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from agentic_design.config import MetaAgentConfig, RunConfig
from agentic_design.prompts import render
from agentic_design.records import Proposal
from agentic_design.run.estimate.costs import _calls
from agentic_design.run.estimate.dialogue import _Sizes, _Writer
from agentic_design.run.estimate.learned import _NOTES, _variant_texts
from agentic_design.run.estimate.novelty import _novelty_costs
from agentic_design.run.estimate.records import LearningCost, Span
from agentic_design.run.estimate.standins import _ERROR, _THOUGHT, _tiled
from agentic_design.tasks import Task

_DIFF_CHARS = 1500  # an improved design's diff, as the notes call shows it (notes_material)
_ERROR_CHARS = 400  # a failed design's error, as the notes call shows it (notes_material)


_SHORT_NOTES = "## What helped\n- a smaller step\n## What hurt\n- a crash\n## Untried\n- a new term"
_SHORT_VARIANT = "Change one thing at a time, guided by the scores so far."


def _learning_costs(
    config: RunConfig,
    task: Task,
    seeds: list[Proposal],
    designs: Span,
    writers: list[_Writer],
    notes: list[str],
) -> list[LearningCost]:
    """The learning calls of the whole budget, by kind (none when nothing is learned)."""
    s, novelty = config.search.meta_agent, config.search.novelty
    assert config.llm is not None
    # The pipeline plans design N from the designs up to N - lag: the snapshots a run's
    # planning crosses, which notes and variants are due on.
    lag = (s.in_flight or config.llm.concurrency) + config.sandbox.workers
    first = writers[0]  # notes and variants are written by the first configured model
    count = first.sizes.count
    describe = task.describe()
    costs = []
    if s.notes_every:
        calls = Span(
            _versions(s.notes_every, len(seeds), designs.low, lag),
            _versions(s.notes_every, len(seeds), designs.high, lag),
        )
        prompt = _notes_prompts(s, describe, seeds, first.sizes)
        answer = Span(count(_SHORT_NOTES), first.max_tokens)
        costs.append(
            _calls("insight notes", first.model, calls, prompt, answer, first.prices, first.source)
        )
    if s.variants.enabled:
        every, n = s.variants.mutate_every, len(seeds)
        # A mutation waits for designs written under a variant: none before design n + 1.
        calls = Span(
            max(0, _last(n, designs.low, lag) // every - (n + 1) // every),
            _last(n, designs.high, lag) // every,
        )
        prompt = _variant_prompts(s, describe, count)
        answer = Span(count(_SHORT_VARIANT), first.max_tokens)
        costs.append(
            _calls(
                "prompt variants", first.model, calls, prompt, answer, first.prices, first.source
            )
        )
    if novelty is not None:
        costs += _novelty_costs(config, novelty, task, seeds, designs, writers, notes)
    return costs


def _last(seeds: int, designs: float, lag: int) -> int:
    """The snapshot the last design's plan reads: the designs up to it."""
    return max(seeds + math.floor(designs) - lag, seeds)


def _versions(every: int, seeds: int, designs: float, lag: int) -> int:
    """How many notes versions a run asks for: one each time the snapshot crosses a multiple of
    `every`, the first plan's (the seeds) counting once however many it crosses."""
    last = _last(seeds, designs, lag)
    return last // every - seeds // every + (1 if seeds >= every else 0)


def _notes_prompts(s: MetaAgentConfig, describe: str, seeds: list[Proposal], sizes: _Sizes) -> Span:
    """The notes call's prompt: the first, nothing improved nor failed (low); the previous
    notes at `notes_chars`, as many improved and failed designs as one call reads (high)."""
    since = max(len(seeds), s.notes_every)  # the designs one call reads: those since the last
    improved = min(s.notes_designs, since)
    failed = min(s.notes_designs, since - improved)
    name = seeds[0].name if seeds else "a seed"
    low = render(
        "meta/notes.j2",
        s.prompts_dir,
        task_description=describe,
        previous="",
        limit=s.notes_chars,
        since=1,
        improved=[],
        improved_more=0,
        failed=[],
        failed_more=0,
        unchanged=1,
        best={"id": 1, "name": name, "summary": "score 0.1235"},
    )
    diff = "".join(f"+{line}\n" for line in sizes.stand_in.splitlines())
    entry = {
        "id": 10_000,
        "name": "a stand-in design of six words",
        "summary": f"score 0.1235, {_tiled(_THOUGHT, 60)}",
        "thought": _tiled(_THOUGHT, 300),
    }
    high = render(
        "meta/notes.j2",
        s.prompts_dir,
        task_description=describe,
        previous=_tiled(_NOTES, s.notes_chars),
        limit=s.notes_chars,
        since=since,
        improved=[
            {
                **entry,
                "gain": "+0.1235",
                "parent_id": 9_999,
                "parent_summary": f"#9999 a stand-in design of six words: {entry['summary']}",
                "diff": _tiled(diff, _DIFF_CHARS),
            }
        ]
        * improved,
        improved_more=since,
        failed=[{**entry, "status": "error", "error": _tiled(_ERROR, _ERROR_CHARS)}] * failed,
        failed_more=since,
        unchanged=since,
        best=entry,
    )
    return Span(sizes.count(low), sizes.count(high))


def _variant_prompts(s: MetaAgentConfig, describe: str, count: Callable[[str], int]) -> Span:
    """The variant call's prompt: the starting population at its shortest, no notes (low);
    every variant at `max_chars` and the notes at `notes_chars` (high)."""
    texts = _variant_texts(s)
    shortest = min(texts, key=len)
    longest = max(s.variants.max_chars, max(map(len, texts)))

    def variant(i: int, text: str, tried: int) -> dict[str, Any]:
        return {"id": i, "text": text, "proposals": tried, "improvements": tried, "mean": 0.1235}

    def prompt(parent: dict[str, Any], others: list[dict[str, Any]], notes: str) -> int:
        return count(
            render(
                "meta/variant.j2",
                s.prompts_dir,
                task_description=describe,
                parent=parent,
                others=others,
                notes=notes,
                limit=s.variants.max_chars,
            )
        )

    low = prompt(
        variant(1, shortest, 0), [variant(i, shortest, 0) for i in range(2, len(texts) + 1)], ""
    )
    stand_in = _tiled(_THOUGHT, longest)
    others = max(s.variants.population, len(texts)) - 1
    high = prompt(
        variant(1_000, stand_in, 10_000),
        [variant(1_000 + i, stand_in, 10_000) for i in range(others)],
        _tiled(_NOTES, s.notes_chars) if s.notes_every else "",
    )
    return Span(low, high)
