"""The Pareto front of a run: designs that no other design beats on both fitness (higher is
better) and the cost the task names (`Task.cost_metric`, lower is better)."""

from __future__ import annotations

from agentic_design.records import Design, Status


def cost_of(design: Design, metric: str) -> float | None:
    """The design's cost, or None when it was not measured (or is not a finite number)."""
    value = design.metrics.get(metric)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if value == value and abs(value) != float("inf") else None


def pareto_front(designs: list[Design], metric: str) -> list[Design]:
    """The non-dominated designs among those evaluated ok with a cost, cheapest first: each
    is strictly fitter than every cheaper one. Of designs equal in both, the first is kept."""
    scored = [
        (cost, d)
        for d in designs
        if d.status is Status.OK and d.fitness is not None
        if (cost := cost_of(d, metric)) is not None
    ]
    scored.sort(key=lambda pair: (pair[0], -(pair[1].fitness or 0.0), pair[1].id))
    front: list[Design] = []
    for _, design in scored:
        assert design.fitness is not None
        if not front or design.fitness > (front[-1].fitness or 0.0):
            front.append(design)
    return front
