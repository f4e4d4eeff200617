"""Tokens and prices: how a model's tokens are counted, and what it costs per million."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agentic_design.config import LLMConfig

#: litellm's tokenizers it would fetch from the Hugging Face Hub (a network call): counted with
#: its default tokenizer instead.
_DOWNLOADED_TOKENIZERS = frozenset({"cohere", "llama2", "llama3"})


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
