"""What the report reads from a run, kept small whatever the run's size: every design as a few
numbers (`Point`), and bounded selections of it (the best so far, the Pareto front, the
ancestry of the best designs); and what the search learned, recomputed from the designs as the
search computed it (the credit of its prompt variants, the islands it spawned)."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from agentic_design.config import SearchConfig
from agentic_design.learning.variants import VariantCredit, VariantStats
from agentic_design.proposers.selection import make_strategy
from agentic_design.records import Design, Status, Variant
from agentic_design.store.archive import Archive
from agentic_design.store.pareto import pareto_front


@dataclass(frozen=True)
class Point:
    """One design as the plots see it: no code, no thought."""

    id: int
    status: Status
    fitness: float | None
    cost: float | None  # the task's cost metric, when finite
    parents: tuple[int, ...]
    generation: int
    finished_at: float | None

    @property
    def scored(self) -> bool:
        return self.status is Status.OK and self.fitness is not None


def load_points(archive: Archive, cost_metric: str | None) -> list[Point]:
    """Every design of the run as a Point, in id order."""
    return [
        Point(
            id=int(row["id"]),
            status=Status(row["status"]),
            fitness=_finite(row["fitness"]),
            cost=_finite(row["cost"]),
            parents=tuple(int(p) for p in row["parents"]),
            generation=int(row["generation"] or 0),
            finished_at=row["finished_at"],
        )
        for row in archive.outlines(cost_metric)
    ]


def _finite(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def finished_in_order(points: list[Point]) -> list[Point]:
    """The evaluated designs (any final status) in the order their evaluations finished."""
    done = [p for p in points if p.status.final]
    return sorted(done, key=lambda p: (p.finished_at or 0.0, p.id))


def best_so_far(finished: list[Point]) -> list[float | None]:
    """For each finished design in turn, the best fitness reached by then (None before any)."""
    best: float | None = None
    curve = []
    for p in finished:
        if p.scored and (best is None or (p.fitness or 0.0) > best):
            best = p.fitness
        curve.append(best)
    return curve


def front_ids(points: list[Point], cost_metric: str) -> list[int]:
    """The ids of the Pareto front of fitness against cost, cheapest first: the project's one
    definition (`pareto.pareto_front`), applied to stand-ins that carry only the numbers."""
    stand_ins = [
        Design(
            id=p.id,
            run="",
            name="",
            thought="",
            code="",
            code_hash="",
            status=p.status,
            fitness=p.fitness,
            metrics={cost_metric: p.cost},
        )
        for p in points
        if p.scored and p.cost is not None
    ]
    return [d.id for d in pareto_front(stand_ins, cost_metric)]


@dataclass(frozen=True)
class Ancestry:
    """The ancestors of some designs, nearest first, cut at a size the report can show."""

    ids: list[int]  # the designs themselves first, then their ancestors breadth first
    omitted: int  # ancestors beyond the cut


def ancestry(by_id: dict[int, Point], roots: list[int], limit: int) -> Ancestry:
    """The designs in `roots` and their ancestors (parents, their parents, ...), breadth
    first so that the nearest survive the cut at `limit`. Parents not in the run are skipped."""
    seen: dict[int, None] = {}
    queue = deque(r for r in roots if r in by_id)
    while queue:
        design_id = queue.popleft()
        if design_id in seen:
            continue
        seen[design_id] = None
        queue.extend(p for p in by_id[design_id].parents if p in by_id and p not in seen)
    ids = list(seen)
    return Ancestry(ids=ids[:limit], omitted=max(0, len(ids) - limit))


@dataclass(frozen=True)
class VariantRecord:
    """A prompt variant with what the designs written under it brought (`VariantCredit`)."""

    variant: Variant
    stats: VariantStats
    active: bool  # still in the population: no later variant replaced it
    copied: bool  # the meta-agent's mutation gave nothing usable: its parent's text, copied


def variant_records(archive: Archive, variants: list[Variant]) -> list[VariantRecord]:
    """Every variant with its credit, computed as the search computes it: the finished
    designs fed to `VariantCredit` in id order."""
    credit = VariantCredit(seed=0)  # the seed only draws choices; the credit does not use it
    credit.observe(d for d in archive.designs(outline=True) if d.status is not Status.PENDING)
    stats = credit.stats()
    retired = {v.replaces for v in variants if v.replaces is not None}
    texts = {v.id: v.text for v in variants}
    return [
        VariantRecord(
            variant=v,
            stats=stats.get(v.id, VariantStats()),
            active=v.id not in retired,
            copied=v.parent is not None and not v.model and texts.get(v.parent) == v.text,
        )
        for v in variants
    ]


def winning_variant(records: list[VariantRecord]) -> VariantRecord | None:
    """The variant with the highest mean reward among those tried (the older of equals)."""
    tried = [r for r in records if r.stats.proposals > 0]
    return min(tried, key=lambda r: (-r.stats.mean, r.variant.id)) if tried else None


def variant_history(records: list[VariantRecord], variant_id: int) -> list[VariantRecord]:
    """A variant and its parents, back to a starting variant (the variant first)."""
    by_id = {r.variant.id: r for r in records}
    chain: list[VariantRecord] = []
    current: int | None = variant_id
    while current is not None and current in by_id and all(r.variant.id != current for r in chain):
        chain.append(by_id[current])
        current = by_id[current].variant.parent
    return chain


@dataclass(frozen=True)
class Spawn:
    """A stagnation island: the design whose arrival spawned it, its index, its seed design."""

    at: int
    island: int
    seed: int


def island_spawns(archive: Archive, config: Any) -> list[Spawn]:
    """The islands a run's stagnation spawned, recomputed by feeding its selection strategy
    the finished designs in id order, as the search did (`selection.Islands`). None unless the
    run's saved configuration (`config`, the raw mapping) has islands with `stagnation` set."""
    search = config.get("search") if isinstance(config, dict) else None
    if not isinstance(search, dict):
        return []
    try:
        settings = SearchConfig.model_validate(search)
    except ValidationError:  # a configuration this version no longer reads
        return []
    selection = settings.selection
    if selection.strategy != "islands" or getattr(selection, "stagnation", None) is None:
        return []
    strategy = make_strategy(
        selection, settings.evolution.population, settings.evolution.tournament
    )
    for design in archive.skeletons():
        strategy.add(design)
    return [Spawn(*spawn) for spawn in getattr(strategy, "spawned", [])]
