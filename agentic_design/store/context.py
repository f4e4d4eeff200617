"""The bounded context a proposer sees of the archive: the best designs, a few far from them in
descriptor space (farthest-point sampling), and the recent failures. Its size and its cost never
grow with the run; `Archive.select_context` is the way in."""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass

from agentic_design.records import Design
from agentic_design.store.rows import NO_LIMIT, design_from_row

# The fittest designs scanned for the most different ones: a fixed number, so a proposal's
# context costs the same however long the run.
DIVERSITY_CANDIDATES = 200


@dataclass(frozen=True)
class Context:
    """A bounded selection of the archive for a proposer: its size never grows with the archive."""

    best: list[Design]
    diverse: list[Design]
    failures: list[Design]

    def all(self) -> list[Design]:
        return [*self.best, *self.diverse, *self.failures]


def bounded_context(
    db: sqlite3.Connection, best: list[Design], n_diverse: int, n_failures: int, upto: int | None
) -> Context:
    """The context around `best` (the k best, read by `Archive.top`): a few designs far from
    them, and the recent failures.

    Diversity is farthest-point sampling in descriptor space among ok designs outside the
    best-k; the candidates scanned are capped too, so the cost stays flat as the run grows.
    `upto` restricts everything to designs with ids up to it (a fixed snapshot).
    """
    limit = NO_LIMIT if upto is None else upto
    chosen = {d.id for d in best}
    rows = db.execute(
        "SELECT * FROM designs WHERE status = 'ok' AND +id <= ? ORDER BY fitness DESC, id LIMIT ?",
        (limit, DIVERSITY_CANDIDATES),
    ).fetchall()
    candidates = [d for d in map(design_from_row, rows) if d.id not in chosen and d.descriptors]
    diverse = farthest_points(best, candidates, n_diverse)
    failed = db.execute(
        # Neither a duplicate nor a design screened out by its cheap evaluation failed.
        "SELECT * FROM designs WHERE status NOT IN ('ok', 'pending', 'duplicate', "
        "'screened_out', 'not_novel') AND id <= ? "
        "ORDER BY id DESC LIMIT ?",
        (limit, n_failures),
    ).fetchall()
    return Context(best=best, diverse=diverse, failures=[design_from_row(r) for r in failed])


def farthest_points(anchors: list[Design], candidates: list[Design], n: int) -> list[Design]:
    """Greedy farthest-point selection of n candidates, away from the anchors and each other."""
    keys = sorted({k for d in [*anchors, *candidates] for k in d.descriptors})
    if not keys or n <= 0:
        return []

    def vector(d: Design) -> list[float]:
        return [float(d.descriptors.get(k, 0.0)) for k in keys]

    # Scale each descriptor by its spread so that no single unit dominates the distance.
    columns = list(zip(*(vector(d) for d in [*anchors, *candidates]), strict=True))
    spread = [(max(c) - min(c)) or 1.0 for c in columns]

    def distance(a: list[float], b: list[float]) -> float:
        return math.sqrt(sum(((x - y) / s) ** 2 for x, y, s in zip(a, b, spread, strict=True)))

    picked: list[Design] = []
    placed = [vector(d) for d in anchors]
    remaining = list(candidates)
    while remaining and len(picked) < n:
        if placed:
            far = max(remaining, key=lambda d: min(distance(vector(d), p) for p in placed))
        else:
            far = remaining[0]
        picked.append(far)
        placed.append(vector(far))
        remaining.remove(far)
    return picked
