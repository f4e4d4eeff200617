"""Circle packing in the unit square (AlphaEvolve, Novikov et al. 2025): place n disjoint
circles inside [0, 1] x [0, 1] so that the sum of their radii is as large as possible.

A design constructs one packing: `construct_packing(n)` returns the centres and radii (and, if
it likes, the sum it believes they make). `run`, inside the sandbox, calls it and hands back only
the numbers. `score`, outside, is the whole verifier and trusts none of them: exact JSON types,
exactly n centres of two numbers and n radii, all finite, every radius positive, every circle
inside the square and every pair disjoint, each up to one absolute tolerance (`TOLERANCE`).
It sums the radii itself; a claimed sum that differs from its own by more than the tolerance
makes the outputs invalid, for a design that reports what it did not compute scores nothing.

There are no held-out data: validation and test evaluate the same problem, and a design is
deterministic (one that draws random numbers seeds its own generator; the evaluation's seed is
not passed to it), so a score is exact and its interval is the point itself.

Published sums, as quoted in issue 23: n=26, AlphaEvolve 2.635863 (Novikov et al. 2025),
since then about 2.635983 (ShinkaEvolve, Lange et al. 2025, and others); n=32, AlphaEvolve
2.937944. (AlphaEvolve's paper gives the earlier bests as 2.634 and 2.936.) `RECORDS` keeps
AlphaEvolve's two, the reference each search is measured against.

Every check is up to `TOLERANCE` (`tasks/verified.py`, with the checks the autocorrelation task
shares): containment r <= x <= 1 - r (the same for y), disjointness (distance >= r_i + r_j), and
a claimed sum against the verifier's own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import ModuleType
from typing import Any, ClassVar

import numpy as np

from agentic_design.records import Proposal
from agentic_design.resources import shipped_dir
from agentic_design.tasks.base import (
    InvalidDesign,
    InvalidOutputs,
    Score,
    Split,
    Task,
    TaskBudget,
)
from agentic_design.tasks.common import ast_nodes, load_seed_designs
from agentic_design.tasks.verified import (
    TOLERANCE,
    ConstructionBudget,
    checked_claim,
    checked_numbers,
    construct,
    design_array,
    design_number,
)

DEFAULT_N = 26
#: The largest n the task accepts: the verifier checks every pair, n(n-1)/2 of them.
MAX_N = 1000
#: The key of the sum a design may claim beside its centres and radii.
CLAIM_KEY = "claimed_sum"


@dataclass(frozen=True)
class Record:
    """A published best sum of radii and where it comes from."""

    value: float
    source: str


RECORDS: dict[int, Record] = {
    26: Record(2.635863, "AlphaEvolve, Novikov et al. 2025"),
    32: Record(2.937944, "AlphaEvolve, Novikov et al. 2025"),
}
#: Later reports beyond the record kept, for prompts and people.
LATER_REPORTS: dict[int, str] = {
    26: "ShinkaEvolve (Lange et al. 2025) and others report about 2.635983",
}


def packing_gaps(centers: np.ndarray, radii: np.ndarray) -> float:
    """The verifier's geometry: the smallest gap of the packing (to a wall, or between two
    circles; negative when one overlaps, by at most TOLERANCE), or InvalidOutputs naming the
    first circle or pair that breaks a rule."""
    flat = np.flatnonzero(radii <= 0)
    if flat.size:
        i = flat[0]
        raise InvalidOutputs(f"circle {i} has radius {float(radii[i])!r}: every radius must be > 0")
    x, y = centers[:, 0], centers[:, 1]
    walls = np.minimum.reduce([x - radii, 1.0 - x - radii, y - radii, 1.0 - y - radii])
    outside = np.flatnonzero(walls < -TOLERANCE)
    if outside.size:
        i = outside[0]
        raise InvalidOutputs(
            f"circle {i} (centre {tuple(centers[i].tolist())}, radius {float(radii[i])!r}) leaves "
            f"the unit square by {-walls[i]:.3g}"
        )
    first, second = np.triu_indices(len(radii), 1)
    distance = np.hypot(x[first] - x[second], y[first] - y[second])
    pairs = distance - (radii[first] + radii[second])
    overlapping = np.flatnonzero(pairs < -TOLERANCE)
    if overlapping.size:
        i, j, k = first[overlapping[0]], second[overlapping[0]], overlapping[0]
        raise InvalidOutputs(
            f"circles {i} and {j} overlap by {-pairs[k]:.3g} (centres {float(distance[k])!r} "
            f"apart, radii {float(radii[i])!r} and {float(radii[j])!r})"
        )
    return float(min(walls.min(), pairs.min(initial=math.inf)))


class CirclePackingTask(Task):
    """Pack n circles in the unit square, maximising the sum of radii (AlphaEvolve)."""

    name: ClassVar[str] = "circle_packing"
    kind: ClassVar[str] = "heuristic"
    budget_model: ClassVar[type[TaskBudget]] = ConstructionBudget
    # scipy.optimize, for the optimiser seed and its descendants: imported once, before forking.
    preload: ClassVar[tuple[str, ...]] = ("numpy", "scipy.optimize")
    fitness_name: ClassVar[str] = "sum of radii"
    fitness_meaning: ClassVar[str] = (
        "the sum of the radii of the n circles, recomputed by the verifier from a packing it "
        "checked in full (inside the square, pairwise disjoint); higher is better"
    )
    accepted_params: ClassVar[frozenset[str] | None] = frozenset({"n"})
    interface: ClassVar[tuple[str, ...]] = ("construct_packing",)

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        n = params.get("n", DEFAULT_N)
        # TypeError, like an unknown parameter: load_task reports it as a bad task_params.
        if type(n) is not int or not 1 <= n <= MAX_N:
            raise TypeError(f"n must be an integer in [1, {MAX_N}], not {n!r}")
        self.n = n

    # -- the contract ---------------------------------------------------------------------------
    def describe(self) -> str:
        from agentic_design.prompts import render  # jinja: the search's side only

        budget = self.budget
        assert isinstance(budget, ConstructionBudget)
        record = RECORDS.get(self.n)
        return render(
            "tasks/circle_packing.j2",
            task=self.name,
            n=self.n,
            tolerance=TOLERANCE,
            max_seconds=budget.max_seconds,
            record=record.value if record else None,
            record_source=record.source if record else "",
            later=LATER_REPORTS.get(self.n, ""),
            fitness_meaning=self.fitness_meaning,
        )

    def seeds(self) -> list[Proposal]:
        return load_seed_designs(shipped_dir("archive") / "circle_packing")

    def run(
        self, design: ModuleType, split: Split, *, seed: int, budget: TaskBudget
    ) -> dict[str, Any]:
        returned = construct(design, "construct_packing", budget, self.n)
        if not isinstance(returned, (tuple, list)) or len(returned) not in (2, 3):
            raise InvalidDesign(
                "construct_packing(n) must return (centers, radii) or (centers, radii, sum)"
            )
        outputs: dict[str, Any] = {
            "centers": design_array(returned[0], (self.n, 2), "centers").tolist(),
            "radii": design_array(returned[1], (self.n,), "radii").tolist(),
        }
        if len(returned) == 3:
            outputs[CLAIM_KEY] = design_number(returned[2], "the claimed sum of radii")
        return outputs

    def score(self, outputs: dict[str, Any], split: Split) -> Score:
        centers, radii = self._checked_packing(outputs)
        gap = packing_gaps(centers, radii)
        total = math.fsum(radii.tolist())
        checked_claim(outputs, CLAIM_KEY, total, "a sum of radii")
        metrics: dict[str, Any] = {"sum_radii": total, "n": self.n, "min_gap": gap}
        record = RECORDS.get(self.n)
        if record is not None:
            metrics.update(record=record.value, ratio_to_record=total / record.value)
        return Score(fitness=total, ci_low=total, ci_high=total, metrics=metrics)

    def _checked_packing(self, outputs: Any) -> tuple[np.ndarray, np.ndarray]:
        """The untrusted outputs' centres (n x 2) and radii (n), every value a finite float."""
        if type(outputs) is not dict:
            raise InvalidOutputs(f"outputs must be a dict, not {type(outputs).__name__}")
        unknown = set(outputs) - {"centers", "radii", CLAIM_KEY}
        if unknown or not {"centers", "radii"} <= set(outputs):
            raise InvalidOutputs(
                f"outputs must hold centers, radii and optionally {CLAIM_KEY}; got keys "
                f"{sorted(map(str, outputs))}"
            )
        rows = outputs["centers"]
        if type(rows) is not list or len(rows) != self.n:
            got = len(rows) if type(rows) is list else type(rows).__name__
            raise InvalidOutputs(f"centers must be a list of {self.n} centres, got {got}")
        centers = np.array(
            [checked_numbers(row, f"centers[{i}]", length=2) for i, row in enumerate(rows)]
        )
        return centers, checked_numbers(outputs["radii"], "radii", length=self.n)

    # -- optional hooks -------------------------------------------------------------------------
    def summarize(self, metrics: dict[str, Any]) -> str:
        total = metrics.get("sum_radii")
        if not isinstance(total, (int, float)):
            return ""
        line = f"sum of radii {total:.6f} for n={metrics.get('n')}"
        ratio = metrics.get("ratio_to_record")
        if isinstance(ratio, (int, float)):
            line += f", {100 * ratio:.3f}% of the record {metrics.get('record')}"
        return line

    def reflect_checklist(self) -> list[str]:
        return [
            *super().reflect_checklist(),
            f"Is every constraint met to within {TOLERANCE:g}, after the optimiser? Optimisers "
            "stop a little outside their constraints: end with an exact repair that shrinks "
            "radii until every circle is inside the square and every pair disjoint.",
            "Is every radius strictly positive, and are no two centres the same?",
            "If it returns a claimed sum, is it the sum of the radii it returns, after the "
            "repair? A claim that differs makes the design invalid.",
            "Is it deterministic (its random generators seeded by constants), and does it return "
            f"within {self.budget.model_dump()['max_seconds']:g} seconds on one core?",
        ]

    def design_parts(self) -> list[str]:
        return [
            "a structured starting arrangement of n circles (a grid, rings, hexagonal rows)",
            "an optimiser of centres and radii under the containment and disjointness "
            "constraints, from several perturbed starts",
            "a final repair that shrinks radii until every constraint holds exactly",
            "construct_packing(n), built from the helpers",
        ]

    def descriptors(self, code: str, metrics: dict[str, Any]) -> dict[str, float]:
        total = metrics.get("sum_radii")
        return {
            "ast_nodes": ast_nodes(code),
            "sum_radii": float(total) if isinstance(total, (int, float)) else 0.0,
        }
