"""Proposers: where new designs come from (code-level evolution; the LLM meta-agent elsewhere)."""

from agentic_design.proposers.evolution import (
    EvolutionError,
    EvolutionProposer,
    EvolutionSettings,
    NoNovelChildError,
    NoParentsError,
)
from agentic_design.proposers.mutations import Mutation, MutationError, crossover, mutate

__all__ = [
    "EvolutionError",
    "EvolutionProposer",
    "EvolutionSettings",
    "Mutation",
    "MutationError",
    "NoNovelChildError",
    "NoParentsError",
    "crossover",
    "mutate",
]
