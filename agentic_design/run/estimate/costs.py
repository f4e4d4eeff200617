"""Costs from sizes: a dialogue's calls and tokens, and a kind of calls at its price (over
one model, or across the models that write the proposals)."""

from __future__ import annotations

from dataclasses import dataclass

from agentic_design.run.estimate.prices import _price
from agentic_design.run.estimate.records import LearningCost, Span

#: What one message adds to a prompt beyond its text (role and separators, as OpenAI counts).
_PER_MESSAGE = 4


@dataclass(frozen=True)
class _Cost:
    calls: float
    prompt: float
    completion: float

    @property
    def tokens(self) -> float:
        return self.prompt + self.completion


def _usd(prices: tuple[float, float] | None, low: _Cost, high: _Cost) -> Span | None:
    """What the low and the high cost come to in USD (None for a model without prices)."""
    if not prices:
        return None
    return Span(
        _price(prices, low.prompt, low.completion), _price(prices, high.prompt, high.completion)
    )


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
        usd=_usd(prices, low, high),
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
