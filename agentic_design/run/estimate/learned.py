"""What the run learned as the propose prompt shows it (notes, an instruction variant), and the
message that sends a proposal back as not new: the parts of the dialogue learning adds."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

from agentic_design.config import MetaAgentConfig
from agentic_design.prompts import render
from agentic_design.records import Note, Variant
from agentic_design.run.estimate.standins import _THOUGHT, _tiled

_NOTES = (
    "## What helped\n- Scoring each bin by the room left after the item helped every time.\n"
    "## What hurt\n- Penalties on nearly full bins broke on empty instances.\n"
    "## Untried\n- A soft threshold on the item's size.\n"
)


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
