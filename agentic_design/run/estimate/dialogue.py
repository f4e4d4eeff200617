"""The design dialogue's calls: its prompts rendered from the real templates (propose,
reviews, re-ask, repairs, a retry when sent back), and what a design costs in them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agentic_design.config import RunConfig
from agentic_design.prompts import render
from agentic_design.records import Design, Proposal, Status
from agentic_design.run.estimate.costs import _PER_MESSAGE, _Cost, _dialogue, _mix
from agentic_design.run.estimate.learned import _learned, _retry
from agentic_design.run.estimate.prices import _price
from agentic_design.run.estimate.records import Call, ModelCost, Span
from agentic_design.run.estimate.standins import _ERROR, _THOUGHT, _design, _failed, _tiled

_ERROR_SHOWN = 3000  # the end of a failed design's error a repair prompt shows (meta_agent)
_PROBLEM = 200  # the length of a re-ask's problem text


_REASON = 2400  # the longest judge's reason a retry quotes: its capped answer, in characters


@dataclass(frozen=True)
class _Writer:
    """One configured model as a writer of designs: what the learning calls need of it."""

    model: str
    share: float | None
    sizes: _Sizes
    max_tokens: int
    prices: tuple[float, float] | None
    source: str


class _Sizes:
    """The token sizes of one model's prompts, low (the first, seeds as context) and high (the
    context at its bounds)."""

    def __init__(
        self,
        proposer: Any,
        config: RunConfig,
        model: str,
        seeds: list[Proposal],
        count: Callable[[str], int],
    ) -> None:
        s = config.search.meta_agent
        self.count = count
        task = proposer.task
        codes = [seed.code for seed in seeds] or ["pass\n"]
        shortest = min(codes, key=len)
        stand_in = "\n".join(codes)  # the seeds' code, tiled to a bound
        self.stand_in = stand_in
        designs = [_design(i + 1, p) for i, p in enumerate(seeds)]
        shown = s.context_best + s.context_diverse
        if config.search.proposer == "random_sampling":
            shown = max(2, shown)
        elif s.parents == "selection":
            shown = max(shown, config.search.evolution.population)
        edits_low = s.edit_format == "diff" or (
            s.edit_format == "auto" and min(c.count("\n") + 1 for c in codes) >= s.diff_min_lines
        )
        edits_high = s.edit_format != "full"
        parent_cap = s.max_parent_chars if edits_high else s.max_code_chars

        # What the run learned, shown in the propose prompt: no notes yet and the shortest
        # starting instruction (low); notes and an instruction at their bounds (high).
        learned_low, learned_high = _learned(s)

        def prompt(
            mode: str, parents: list[Design], context: dict[str, Any], edits: bool, high: bool
        ) -> int:
            from agentic_design.proposers.meta_agent import Plan

            notes, variant = learned_high if high else learned_low
            plan = Plan(1, mode, tuple(parents), context, model, edits, notes, variant)
            return count(proposer.propose_prompt(plan))

        # Low: the first proposal, the seeds as the archive, in the cheapest mode they allow.
        first = {
            "total": len(designs),
            "shown": "the best and some of the most different",
            "archive": [proposer._entry(d) for d in designs[:shown]],
            "failures": [],
            "best_id": designs[0].id if designs else None,
        }
        weights: dict[str, float] = {str(m): w for m, w in s.modes.items()}
        low = []
        for mode, parents in (("new", 0), ("mutate", 1), ("crossover", 2)):
            if weights.get(mode, 0) > 0 and len(designs) >= parents:
                best = proposer._code(designs[0].code) if designs and mode == "new" else ""
                context = {**first, "best_code": best}
                low.append(prompt(mode, designs[:parents], context, edits_low, False))
        # High: every bound reached, the seeds' text tiled to fill it.
        big = _design(1, seeds[0] if seeds else None, code=_tiled(stand_in, parent_cap))
        full = {
            "total": 10_000,
            "shown": "the best and some of the most different",
            "archive": [proposer._entry(_design(i + 2, None)) for i in range(shown)],
            "failures": [proposer._failure(_failed(i + 2)) for i in range(s.context_failures)],
            "best_id": 1,
            "best_code": proposer._code(_tiled(stand_in, s.max_code_chars)),
        }
        high = [
            prompt("new", [], full, False, True),
            prompt("mutate", [big], {**full, "best_code": ""}, edits_high, True),
            prompt("crossover", [big, big], {**full, "best_code": ""}, False, True),
        ]
        self.system = count(render("meta/system.j2", s.prompts_dir))
        self.propose = Span(min(low or high), max(high))
        formats = proposer._format(model, edits_high)
        self.reflect = count(
            render(
                "meta/reflect.j2",
                s.prompts_dir,
                mode="mutate",
                round=1,
                rounds=max(1, s.reflexion_rounds),
                checklist=list(task.reflect_checklist()),
                **formats,
            )
        )
        self.reask = count(
            render("meta/reask.j2", s.prompts_dir, problem=_tiled(_ERROR, _PROBLEM), **formats)
        )
        self.repair = Span(
            self._repair(proposer, shortest, _ERROR.splitlines()[-1], model, edits_low),
            self._repair(
                proposer, _tiled(stand_in, parent_cap), _tiled(_ERROR, _ERROR_SHOWN), model, True
            ),
        )
        # The least an answer holds: the module, as long as the shortest seed's (a fifth of it
        # where it may answer with edits), and not a word more.
        code = count(shortest)
        self.answer_low = max(1, code // 5) if edits_low else code
        # A proposal sent back as not new (`search.novelty`): the message that asks again,
        # naming a seed (low), or quoting a judge's reason as long as its answer (high).
        first_name = designs[0].name if designs else ""
        low_formats = proposer._format(model, edits_low)
        self.retry = Span(
            count(_retry(s, first_name, None, "", low_formats)),
            count(_retry(s, _tiled(_THOUGHT, 40), 0.99, _tiled(_THOUGHT, _REASON), formats)),
        )

    def _repair(self, proposer: Any, code: str, error: str, model: str, edits: bool) -> int:
        s = proposer.settings
        return self.count(
            render(
                "meta/repair.j2",
                s.prompts_dir,
                task_description=proposer._description,
                design={
                    "id": 7,
                    "name": "a failed design",
                    "thought": _tiled(_THOUGHT, 300),
                    "code": code,
                    "status": Status.ERROR.value,
                },
                error=error,
                attempt=1,
                attempts=max(1, s.repair_attempts),
                **proposer._format(model, edits),
            )
        )


def _per_design(
    model: str,
    share: float | None,
    sizes: _Sizes,
    max_tokens: int,
    settings: Any,
    prices: tuple[float, float] | None,
    source: str,
    counted_by: str,
) -> ModelCost:
    """The dialogues a design costs, in the cheaper and the dearer mix of proposals and
    repairs (a failed design's repairs, up to `repair_attempts`, are designs of their own)."""
    rounds, attempts = settings.reflexion_rounds, settings.repair_attempts
    low_answer, high_answer = sizes.answer_low, max_tokens
    proposal_low = _dialogue(
        sizes.system, [sizes.propose.low] + [sizes.reflect] * rounds, low_answer
    )
    proposal_high = _dialogue(
        sizes.system,
        [sizes.propose.high, sizes.reask] + [sizes.reflect] * rounds,
        high_answer,
        _PER_MESSAGE,
    )
    repair_low = _dialogue(sizes.system, [sizes.repair.low], low_answer)
    repair_high = _dialogue(
        sizes.system, [sizes.repair.high, sizes.reask], high_answer, _PER_MESSAGE
    )
    repaired = attempts / (1 + attempts)  # the most of the designs that can be repairs
    lows = [proposal_low, _mix(proposal_low, repair_low, repaired)]
    highs = [proposal_high, _mix(proposal_high, repair_high, repaired)]

    def usd(d: _Cost) -> float:
        return _price(prices, d.prompt, d.completion) if prices else 0.0

    low = min(lows, key=lambda d: (usd(d), d.tokens))
    high = max(highs, key=lambda d: (usd(d), d.tokens))
    kinds = [Call("propose", sizes.propose, Span(low_answer, high_answer))]
    if rounds:
        kinds.append(
            Call("reflect", Span(sizes.reflect, sizes.reflect), Span(low_answer, high_answer))
        )
    kinds.append(Call("reask", Span(sizes.reask, sizes.reask), Span(low_answer, high_answer)))
    if attempts:
        kinds.append(Call("repair", sizes.repair, Span(low_answer, high_answer)))
    return ModelCost(
        model=model,
        share=share,
        calls=Span(min(d.calls for d in lows), max(d.calls for d in highs)),
        tokens=Span(low.tokens, high.tokens),
        usd=Span(usd(low), usd(high)) if prices else None,
        prices=prices,
        price_source=source,
        counted_by=counted_by,
        kinds=tuple(kinds),
    )
