"""How a design's score reads on the command line: its fitness with the 95% interval in words,
or why there is no interval."""

from __future__ import annotations

from typing import Any

from agentic_design.records import Design
from agentic_design.store.import_adas import INTERVAL_PROBLEM


def _scored(design: Design, fitness_name: str) -> str:
    """`#12 Wide CNN: accuracy 0.9470 (95% CI 0.9330 to 0.9610), 16,666 parameters`: the
    interval with words, since fitness may be negative."""
    fitness = "-" if design.fitness is None else f"{design.fitness:.4f}"
    interval = _interval(design.ci_low, design.ci_high, design.metrics)
    if design.fidelity < 1:
        fitness += f" at {design.fidelity:.0%} of a full evaluation"
    line = f"#{design.id} {design.name}: {fitness_name} {fitness} ({interval})"
    return f"{line}, {design.summary}" if design.summary else line


def _interval(low: float | None, high: float | None, metrics: dict[str, Any]) -> str:
    """`95% CI 0.9330 to 0.9610`, or why there is none: an imported score may come with an
    interval that could not be trusted (see `adas.INTERVAL_PROBLEM`)."""
    if low is not None and high is not None:
        return f"95% CI {low:.4f} to {high:.4f}"
    problem = metrics.get(INTERVAL_PROBLEM)
    return f"interval flagged: {problem}" if problem else "no interval"
