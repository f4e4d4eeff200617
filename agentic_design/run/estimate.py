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
from dataclasses import dataclass, field
from typing import Any

from agentic_design.config import ConfigError, LLMConfig, RunConfig
from agentic_design.prompts import render
from agentic_design.records import Design, Proposal, Status
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
    if meta and config.llm is not None:
        models = _model_costs(config, config.llm, task, seeds, notes)
    agents = _agent_cost(config, task, notes)
    tokens, usd = _totals(config.llm, designs, models, agents)
    return CostEstimate(
        evaluations=config.budget.evaluations,
        seeds=len(seeds),
        designs=designs,
        models=tuple(models),
        agents=agents,
        tokens=tokens,
        usd=usd,
        notes=tuple(notes),
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
    config: RunConfig, llm: LLMConfig, task: Task, seeds: list[Proposal], notes: list[str]
) -> list[ModelCost]:
    from agentic_design.proposers.meta_agent import MetaAgentProposer
    from agentic_design.run.assemble import llms_for

    settings = config.search.meta_agent
    # The real proposer renders the real prompts; its clients are built, never called.
    proposer = MetaAgentProposer(llms_for(llm, None, replay=False), task, settings, config.seed)
    weights = llm.weights()
    total = sum(weights.values())
    costs = []
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
        if prices is None:
            notes.append(f"{model}: no price in llm.prices or litellm's cost map: USD unknown")
    return costs


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

        def prompt(mode: str, parents: list[Design], context: dict[str, Any], edits: bool) -> int:
            from agentic_design.proposers.meta_agent import Plan

            plan = Plan(1, mode, tuple(parents), context, model, edits)
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
                low.append(prompt(mode, designs[:parents], {**first, "best_code": best}, edits_low))
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
            prompt("new", [], full, False),
            prompt("mutate", [big], {**full, "best_code": ""}, edits_high),
            prompt("crossover", [big, big], {**full, "best_code": ""}, False),
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
    llm: LLMConfig | None, designs: Span, models: list[ModelCost], agents: AgentCost | None
) -> tuple[Span, Span | None]:
    """The whole budget: the designs at their models' shares (a bandit's choice: anywhere
    between the cheapest and the dearest model), and the agents' calls."""
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


def _prices(endpoint: LLMConfig) -> tuple[tuple[float, float] | None, str]:
    """USD per million prompt and answer tokens, and where they come from."""
    if endpoint.prices is not None:
        return (endpoint.prices.input_per_mtok, endpoint.prices.output_per_mtok), "llm.prices"
    try:
        from agentic_design.llm import load_litellm

        load_litellm()
        import litellm

        prompt, _ = litellm.cost_per_token(model=endpoint.model, prompt_tokens=1_000_000)
        _, answer = litellm.cost_per_token(model=endpoint.model, completion_tokens=1_000_000)
    except Exception:  # litellm raises several types for a model it cannot price
        return None, "not in llm.prices nor in litellm's cost map"
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
