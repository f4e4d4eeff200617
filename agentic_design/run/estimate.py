"""What an LLM search is expected to cost, before it starts: tokens and USD, as a range.

    estimate = estimate_cost(config)          # no network call, no sandbox
    for line in estimate.describe(): print(line)
    check_estimate(estimate, config.budget.usd, accept=False)   # EstimateExceedsBudget

The meta-agent's prompts are rendered from the real templates with the task's own description:
the first prompt with the seeds as the archive (the low end), and a prompt whose context is
filled to its configured bounds — `context_best` + `context_diverse` designs shown, the
failures, parents and best design cut at `max_code_chars` (`max_parent_chars` where edits
are asked) — with the seeds' own text as stand-ins (the high end). Answers are as long as the
shortest seed (low) or `max_tokens` (high). A proposal is a dialogue — propose, a re-ask at
most, `reflexion_rounds` reviews — and each call sends the whole conversation so far; a repair
is a design of its own (it costs an evaluation like any other), one call and a re-ask at most.
So the low end takes the cheaper mix of proposals and repairs with the low sizes, the high end
the dearer mix with the high sizes.

What the meta-agent learns costs calls of its own, each kind on a line of its own: the insight
notes (one call per `notes_every` designs, reading the improved and failed designs and the notes
so far), prompt variants (one call per `mutate_every` designs), and the novelty check — one
embedding of each checked proposal (two when sent back) and of each seed, the judge (none to
two calls a proposal with an embedding model, one to two without), and a proposal sent back
(one more call of its dialogue, which sends the whole conversation so far; the high end sends
every checked proposal back once). Their prompts are the real templates, the least they hold
(low) and filled to their bounds (high); notes and an instruction variant also lengthen the
propose prompt. Everything off, the estimate is what it was without them.

The agents' calls (a task whose designs call `agent_llm` through the broker) count against
`budget.usd` too: from one call per example (low) to the broker's cap per example (high), for
every evaluation and the final test.

Tokens are counted with litellm's tokenizer for the model where it has one on this machine
(otherwise its default, tiktoken's cl100k, and said so); prices are `llm.prices` where given,
else litellm's cost map; a model neither knows has no USD figure (and no refusal follows).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from agentic_design.config import ConfigError, LLMConfig, MetaAgentConfig, NoveltyConfig, RunConfig
from agentic_design.prompts import render
from agentic_design.records import Design, Note, Proposal, Status, Variant
from agentic_design.run.assemble import cheap_levels
from agentic_design.tasks import Task

#: litellm's tokenizers it would fetch from the Hugging Face Hub (a network call): counted with
#: its default tokenizer instead.
_DOWNLOADED_TOKENIZERS = frozenset({"cohere", "llama2", "llama3"})
#: What one message adds to a prompt beyond its text (role and separators, as OpenAI counts).
_PER_MESSAGE = 4
_ERROR_SHOWN = 3000  # the end of a failed design's error a repair prompt shows (meta_agent)
_PROBLEM = 200  # the length of a re-ask's problem text


class EstimateExceedsBudget(ConfigError):
    """The high end of a search's expected LLM spend is above `budget.usd`."""


@dataclass(frozen=True)
class Span:
    """A range, low to high."""

    low: float
    high: float

    def __add__(self, other: Span) -> Span:
        return Span(self.low + other.low, self.high + other.high)

    def times(self, low: float, high: float | None = None) -> Span:
        return Span(self.low * low, self.high * (low if high is None else high))


@dataclass(frozen=True)
class Call:
    """One kind of call, for the breakdown: prompt and answer tokens per call."""

    kind: str  # propose, reflect, reask, repair, agent
    prompt: Span
    completion: Span


@dataclass(frozen=True)
class ModelCost:
    """One model's cost per design it writes."""

    model: str
    share: float | None  # of the designs (None: chosen by a bandit, anywhere from 0 to all)
    calls: Span  # per design
    tokens: Span  # per design, prompts and answers
    usd: Span | None  # per design; None: no price known
    prices: tuple[float, float] | None  # USD per million prompt and answer tokens
    price_source: str
    counted_by: str
    kinds: tuple[Call, ...]


@dataclass(frozen=True)
class AgentCost:
    """The agents' calls through the broker, over the whole budget."""

    model: str
    calls: Span
    tokens: Span
    usd: Span | None
    price_source: str


@dataclass(frozen=True)
class LearningCost:
    """One kind of the meta-agent's learning calls, over the whole budget."""

    kind: str  # insight notes, prompt variants, embeddings, novelty judge, sent back
    model: str
    calls: Span
    prompt: Span  # tokens of one call's message (sent back: its dialogue is in `tokens`)
    completion: Span  # tokens of one answer (none for an embedding)
    tokens: Span
    usd: Span | None  # None: no price known
    price_source: str


@dataclass(frozen=True)
class CostEstimate:
    """The expected LLM spend of a search's whole budget, and of one design."""

    evaluations: int
    seeds: int
    designs: Span  # written by the meta-agent (0 without one)
    models: tuple[ModelCost, ...]
    agents: AgentCost | None
    tokens: Span
    usd: Span | None  # None: some model's price is unknown
    notes: tuple[str, ...] = field(default=())
    learning: tuple[LearningCost, ...] = field(default=())  # the meta-agent's learning calls

    @property
    def usd_high(self) -> float | None:
        return self.usd.high if self.usd is not None else None

    @property
    def free(self) -> bool:
        """No LLM is paid for: offline evolution, and agents (if any) on the simulated model."""
        return not self.models and self.agents is None

    def summary(self) -> str:
        """One line for the console before a search starts."""
        if self.free:
            return "no LLM cost (offline evolution, no agents' model)"
        usd = f", {_usd(self.usd)}" if self.usd is not None else ", USD unknown"
        what = f"{_count(self.designs)} LLM designs" if self.models else "the agents' calls"
        if self.learning:
            what += " and what the meta-agent learns"
        return f"{_tokens(self.tokens)} tokens{usd} for {what} ({self.evaluations} evaluations)"

    def describe(self) -> list[str]:
        """The estimate, line by line, for the console."""
        if self.free:
            return [f"LLM cost: none — {self.summary()[len('no LLM cost (') : -1]}"]
        lines = [f"LLM cost estimate for budget.evaluations {self.evaluations}:"]
        if self.models:
            lines.append(
                f"  {_count(self.designs)} designs written by the meta-agent "
                f"({self.evaluations} evaluations, {self.seeds} of them the seeds)"
            )
        for m in self.models:
            share = "chosen by the bandit" if m.share is None else f"{m.share:.0%} of designs"
            price = (
                f"${m.prices[0]:g} / ${m.prices[1]:g} per Mtok in/out ({m.price_source})"
                if m.prices is not None
                else f"price unknown ({m.price_source})"
            )
            lines.append(f"  {m.model} ({share}; {price}; tokens by {m.counted_by})")
            for k in m.kinds:
                lines.append(
                    f"    {k.kind:<8} message {_tokens(k.prompt)}, answer {_tokens(k.completion)} "
                    "tokens (each call also sends the conversation before it)"
                )
            usd = f", {_usd(m.usd)}" if m.usd is not None else ""
            lines.append(
                f"    per design: {_count(m.calls)} calls, {_tokens(m.tokens)} tokens{usd}"
            )
        for c in self.learning:
            usd = f", {_usd(c.usd)}" if c.usd is not None else f", USD unknown ({c.price_source})"
            answer = f", answer {_tokens(c.completion)}" if c.completion.high else ""
            lines.append(
                f"  {c.kind} ({c.model}): {_count(c.calls)} calls, message "
                f"{_tokens(c.prompt)}{answer} tokens each; {_tokens(c.tokens)} tokens{usd}"
            )
        if self.agents is not None:
            a = self.agents
            usd = f", {_usd(a.usd)}" if a.usd is not None else f", USD unknown ({a.price_source})"
            lines.append(
                f"  agents' calls ({a.model}): {_count(a.calls)} calls, "
                f"{_tokens(a.tokens)} tokens{usd}"
            )
        total_usd = _usd(self.usd) if self.usd is not None else "USD unknown"
        lines.append(f"  whole budget: {_tokens(self.tokens)} tokens, {total_usd}")
        lines += [f"  note: {note}" for note in self.notes]
        return lines


def check_estimate(estimate: CostEstimate, budget_usd: float | None, accept: bool = False) -> None:
    """Refuse (EstimateExceedsBudget, exit 2) a search whose expected spend may pass
    `budget.usd` before its evaluations are done, unless `accept`. No refusal without a cap,
    or where a price is unknown."""
    high = estimate.usd_high
    if accept or budget_usd is None or high is None or high <= budget_usd:
        return
    assert estimate.usd is not None
    raise EstimateExceedsBudget(
        f"this search's LLM spend is estimated at {_usd(estimate.usd)} for its "
        f"{estimate.evaluations} evaluations, above budget.usd ${budget_usd:g} at the high end: "
        "it may stop at the USD cap before its evaluations are done. Raise budget.usd (--usd), "
        "lower budget.evaluations (--evaluations), or pass --accept-estimate to start anyway "
        "(`agentic-design estimate CONFIG` shows the breakdown)."
    )


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
@dataclass(frozen=True)
class _Writer:
    """One configured model as a writer of designs: what the learning calls need of it."""

    model: str
    share: float | None
    sizes: _Sizes
    max_tokens: int
    prices: tuple[float, float] | None
    source: str


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


@dataclass(frozen=True)
class _Cost:
    calls: float
    prompt: float
    completion: float

    @property
    def tokens(self) -> float:
        return self.prompt + self.completion


def _dialogue(system: float, asks: list[float], answer: float, overhead: int = 0) -> _Cost:
    """A conversation: each call sends everything said so far, and is answered `answer` long;
    `overhead`: what each message adds beyond its text."""
    context, prompt = system + overhead, 0.0
    for ask in asks:
        context += ask + overhead
        prompt += context
        context += answer + overhead
    return _Cost(len(asks), prompt, len(asks) * answer)


def _mix(a: _Cost, b: _Cost, share_b: float) -> _Cost:
    def part(x: float, y: float) -> float:
        return (1 - share_b) * x + share_b * y

    return _Cost(part(a.calls, b.calls), part(a.prompt, b.prompt), part(a.completion, b.completion))


# -- what the meta-agent learns -------------------------------------------------------------------
_CHECKED = ("new", "mutate", "crossover")  # the modes whose proposals are checked for novelty
_DIFF_CHARS = 1500  # an improved design's diff, as the notes call shows it (notes_material)
_ERROR_CHARS = 400  # a failed design's error, as the notes call shows it (notes_material)
_JUDGE_TOKENS = 600  # the judge's answer is capped at this (gate)
_REASON = 2400  # the longest judge's reason a retry quotes: its capped answer, in characters
_NOTES = (
    "## What helped\n- Scoring each bin by the room left after the item helped every time.\n"
    "## What hurt\n- Penalties on nearly full bins broke on empty instances.\n"
    "## Untried\n- A soft threshold on the item's size.\n"
)
_SHORT_NOTES = "## What helped\n- a smaller step\n## What hurt\n- a crash\n## Untried\n- a new term"
_SHORT_VARIANT = "Change one thing at a time, guided by the scores so far."
_SHORT_VERDICT = "NOVEL\nIt changes the method."


def _learned(settings: MetaAgentConfig) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """(notes, variant) references for the propose prompt, low and high: none where off."""
    from agentic_design.learning.insights import NotesRef
    from agentic_design.learning.instructions import VariantRef

    def notes(text: str | None) -> NotesRef | None:
        if not settings.notes_every:
            return None
        note = Note(version=1, upto=0, text=text) if text else None
        return NotesRef(_done((note, None)), owner=False)

    def variant(text: str) -> VariantRef | None:
        if not settings.variants.enabled:
            return None
        return VariantRef(1, _done(Variant(id=1, text=text)))

    texts = _variant_texts(settings)
    longest = max(settings.variants.max_chars, max(map(len, texts)))
    low = (notes(None), variant(min(texts, key=len)))
    high = (notes(_tiled(_NOTES, settings.notes_chars)), variant(_tiled(_THOUGHT, longest)))
    return low, high


def _variant_texts(settings: MetaAgentConfig) -> list[str]:
    from agentic_design.learning.variants import DEFAULT_VARIANTS

    return [text.strip() for text in settings.variants.texts or DEFAULT_VARIANTS]


def _done(value: Any) -> Future[Any]:
    future: Future[Any] = Future()
    future.set_result(value)
    return future


def _retry(
    settings: MetaAgentConfig,
    name: str,
    similarity: float | None,
    reason: str,
    formats: dict[str, Any],
) -> str:
    return render(
        "meta/novelty_retry.j2",
        settings.prompts_dir,
        closest={"id": 1, "name": name, "similarity": similarity},
        reason=reason,
        **formats,
    )


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


def _calls(
    kind: str,
    model: str,
    calls: Span,
    prompt: Span,
    completion: Span,
    prices: tuple[float, float] | None,
    source: str,
) -> LearningCost:
    """`calls` calls of one prompt each, answered `completion` long."""
    low = _Cost(calls.low, calls.low * prompt.low, calls.low * completion.low)
    high = _Cost(calls.high, calls.high * prompt.high, calls.high * completion.high)
    return LearningCost(
        kind=kind,
        model=model,
        calls=calls,
        prompt=prompt,
        completion=completion,
        tokens=Span(low.tokens, high.tokens),
        usd=Span(
            _price(prices, low.prompt, low.completion), _price(prices, high.prompt, high.completion)
        )
        if prices
        else None,
        price_source=source,
    )


def _across(costs: list[LearningCost], shares: list[float | None]) -> LearningCost:
    """One kind of call made by whichever model wrote the proposal: at the models' shares, or
    (a bandit's choice) from the cheapest to the dearest."""
    if len(costs) == 1:
        return costs[0]

    def spread(spans: list[Span]) -> Span:
        if all(share is not None for share in shares):
            return Span(
                sum((share or 0) * x.low for share, x in zip(shares, spans, strict=True)),
                sum((share or 0) * x.high for share, x in zip(shares, spans, strict=True)),
            )
        return Span(min(x.low for x in spans), max(x.high for x in spans))

    def bounds(spans: list[Span]) -> Span:
        return Span(min(x.low for x in spans), max(x.high for x in spans))

    priced = all(c.usd is not None for c in costs)
    return LearningCost(
        kind=costs[0].kind,
        model=", ".join(c.model for c in costs),
        calls=spread([c.calls for c in costs]),
        prompt=bounds([c.prompt for c in costs]),
        completion=bounds([c.completion for c in costs]),
        tokens=spread([c.tokens for c in costs]),
        usd=spread([c.usd or Span(0, 0) for c in costs]) if priced else None,
        price_source="; ".join(dict.fromkeys(c.price_source for c in costs)),
    )


# -- the agents' calls ----------------------------------------------------------------------------
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
        usd=Span(
            _price(prices, low.prompt, low.completion), _price(prices, high.prompt, high.completion)
        )
        if prices
        else None,
        price_source=source,
    )


_AGENT_FRAME = 60  # tokens of an agent's instructions around a question (the toolkit's fields)
_AGENT_ANSWER = 32  # tokens of the shortest useful answer (a field or two)


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


# -- tokens and prices ----------------------------------------------------------------------------
def _counter(model: str) -> tuple[Callable[[str], int], str]:
    """How to count this model's tokens, and a word on how: litellm's tokenizer for the model
    where it is on this machine, else its default (tiktoken's cl100k); characters / 4 without
    litellm."""
    try:
        from agentic_design.llm import load_litellm

        load_litellm()
        import litellm
    except ImportError:
        return (lambda text: max(1, len(text) // 4)), "characters / 4 (no litellm)"
    kind_of = getattr(litellm.utils, "huggingface_tokenizer_kind", None)
    if kind_of is None or kind_of(model) in _DOWNLOADED_TOKENIZERS:
        encoding: Any = litellm.encoding  # bundled with litellm: no download
        return (lambda text: len(encoding.encode(text, disallowed_special=()))), (
            "litellm's default tokenizer (cl100k; the model's own is not on this machine)"
        )
    cache: dict[str, int] = {}

    def count(text: str) -> int:
        if text not in cache:
            cache[text] = int(litellm.token_counter(model=model, text=text))
        return cache[text]

    return count, "litellm's tokenizer for the model"


def _prices(
    endpoint: LLMConfig, given: str = "llm.prices"
) -> tuple[tuple[float, float] | None, str]:
    """USD per million prompt and answer tokens, and where they come from (`given`: the
    setting that prices it, where it does)."""
    if endpoint.prices is not None:
        return (endpoint.prices.input_per_mtok, endpoint.prices.output_per_mtok), given
    try:
        from agentic_design.llm import load_litellm

        load_litellm()
        import litellm

        prompt, _ = litellm.cost_per_token(model=endpoint.model, prompt_tokens=1_000_000)
        _, answer = litellm.cost_per_token(model=endpoint.model, completion_tokens=1_000_000)
    except Exception:  # litellm raises several types for a model it cannot price
        return None, f"not in {given} nor in litellm's cost map"
    return (float(prompt), float(answer)), "litellm's cost map"


def _price(prices: tuple[float, float] | None, prompt: float, completion: float) -> float:
    if prices is None:
        return 0.0
    return (prompt * prices[0] + completion * prices[1]) / 1e6


# -- stand-ins -----------------------------------------------------------------------------------
_THOUGHT = (
    "The parent packs well on the common sizes but wastes room on the large items; scoring each "
    "bin by the space left after the item, with a penalty for nearly full bins, should help. "
)
_ERROR = (
    "Traceback (most recent call last):\n"
    '  File "design.py", line 12, in priority\n'
    "    scores = np.where(bins - item >= 0, -(bins - item), -np.inf)\n"
    "ValueError: operands could not be broadcast together with shapes (17,) (18,)\n"
)


def _tiled(text: str, length: int) -> str:
    """`text` repeated and cut to `length` characters: a stand-in of realistic density."""
    text = text or " "
    return (text * (length // len(text) + 1))[:length]


def _design(number: int, seed: Proposal | None, code: str | None = None) -> Design:
    """An archived design as a prompt shows it: a seed's, or a stand-in at the bounds."""
    return Design(
        id=number,
        run="estimate",
        name=seed.name if seed else "a stand-in design of six words",
        thought=seed.thought if seed else _tiled(_THOUGHT, 300),
        code=code if code is not None else (seed.code if seed else ""),
        code_hash="",
        status=Status.OK,
        fitness=0.123456,
        ci_low=0.1,
        ci_high=0.2,
        summary="" if seed else _tiled(_THOUGHT, 60),
    )


def _failed(number: int) -> Design:
    return Design(
        id=number,
        run="estimate",
        name="a stand-in design of six words",
        thought="",
        code="",
        code_hash="",
        status=Status.ERROR,
        error=_tiled(_ERROR, 400),
    )


# -- numbers, for people --------------------------------------------------------------------------
def _tokens(span: Span) -> str:
    low, high = _short(span.low), _short(span.high)
    return low if low == high else f"{low}–{high}"


def _count(span: Span) -> str:
    low, high = f"{span.low:,.0f}", f"{span.high:,.0f}"
    return low if low == high else f"{low}–{high}"


def _usd(span: Span) -> str:
    return f"${_money(span.low)}–${_money(span.high)}"


def _short(n: float) -> str:
    if n >= 1e6:
        return f"{n / 1e6:.2f}M"
    if n >= 1e4:
        return f"{n / 1e3:.0f}k"
    if n >= 1e3:
        return f"{n / 1e3:.1f}k"
    return f"{n:.0f}"


def _money(x: float) -> str:
    return f"{x:.2f}" if x >= 10 else f"{x:.3g}" if x >= 0.001 else f"{x:.2g}"
