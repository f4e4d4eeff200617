"""One learning call (notes, a judgement, a variant): asked once, recorded with its purpose,
and let go when it fails — what the run learns is a saving, never a reason to stop it."""

from __future__ import annotations

from typing import Any

from agentic_design.llm import LLM, LLMError, LLMReply, ReplayMiss


def ask(
    llm: LLM, prompt: str, *, design_id: int, sample: int, purpose: str, **params: Any
) -> LLMReply | None:
    """The reply to `prompt`, or None when the call failed (its error is in the run's calls).
    A replay asking what its recording never held raises ReplayMiss: the replay diverged."""
    try:
        return llm.complete(
            [{"role": "user", "content": prompt}],
            sample=sample,
            design_id=design_id,
            purpose=purpose,
            **params,
        )
    except ReplayMiss:
        raise
    except LLMError:
        return None
