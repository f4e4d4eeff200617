"""The estimate's records — a range, one kind of call, one model's, the agents' and the
learning calls' costs, the whole estimate — and how they print; the refusal above budget."""

from __future__ import annotations

from dataclasses import dataclass, field

from agentic_design.config import ConfigError


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
