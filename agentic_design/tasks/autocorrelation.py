"""The first autocorrelation inequality (AlphaEvolve, Novikov et al. 2025): find a non-negative
function f on [-1/4, 1/4] whose autoconvolution peaks as little as possible for its mass, that
is with the least ratio max_t (f*f)(t) / (integral of f)^2. Every such f proves an upper bound
on the inequality's best constant; the constant function gives 2.

Bounds quoted in issue 23: the best known upper bound is 1.503164; AlphaEvolve reported 1.5053,
improving on the 1.50992 of Matolcsi and Vinuesa (2010). A lower ratio is better, while the
project's fitness is always higher-better: the fitness is minus the ratio.

A design returns the K heights of a step function with K equal steps on [-1/4, 1/4] (at most
`MAX_STEPS` of them), or the heights and the ratio it believes they make. `run`, inside the
sandbox, hands back only those numbers; `score`, outside, checks every one (a JSON number,
finite, >= 0, not all zero) and computes the ratio itself. With steps of width h = 1/(2K) the
autoconvolution is piecewise linear with knots at multiples of h, so its maximum is at a knot,
where it is h times a term of the discrete autoconvolution of the heights a:

    max_t (f*f)(t) = h * max_j sum_k a_k a_(j-k),   integral of f = h * sum_k a_k,
    ratio = 2K * max(np.convolve(a, a)) / (sum a)^2

(K=1: 2 * 1 / 1 = 2, the constant function's ratio). The ratio does not change when the
heights are scaled, so the verifier divides them by the largest first: no product can then
overflow or vanish. A claimed ratio more than `TOLERANCE` from the verifier's makes the outputs
invalid. There are no held-out data: validation and test evaluate the same problem, and a
design is deterministic (the evaluation's seed is not passed to it).
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any, ClassVar

import numpy as np

from agentic_design.records import Proposal
from agentic_design.resources import shipped_dir
from agentic_design.tasks.base import InvalidDesign, InvalidOutputs, Score, Split, Task, TaskBudget
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

#: The most steps a design may return; the verifier's convolution costs K^2 (0.1 s at this K).
MAX_STEPS = 10_000
#: The best known upper bound on the constant (lower is better), as quoted in issue 23.
RECORD = 1.503164
ALPHAEVOLVE = 1.5053
PREVIOUS = 1.50992  # Matolcsi and Vinuesa (2010), before AlphaEvolve
CLAIM_KEY = "claimed_ratio"


def autoconvolution_ratio(heights: np.ndarray) -> float:
    """max_t (f*f)(t) / (integral of f)^2 for the step function of non-negative `heights`
    (not all zero) with equal steps on [-1/4, 1/4]: 2K max(a * a) / (sum a)^2."""
    scaled = heights / heights.max()  # scale-free: nothing overflows or underflows
    return 2 * len(scaled) * float(np.convolve(scaled, scaled).max()) / math.fsum(scaled) ** 2


class AutocorrelationTask(Task):
    """Find a step function with a low autoconvolution peak (AlphaEvolve's first inequality)."""

    name: ClassVar[str] = "autocorrelation"
    kind: ClassVar[str] = "heuristic"
    budget_model: ClassVar[type[TaskBudget]] = ConstructionBudget
    preload: ClassVar[tuple[str, ...]] = ("numpy",)
    fitness_name: ClassVar[str] = "-ratio"
    fitness_meaning: ClassVar[str] = (
        "minus the ratio max_t (f*f)(t) / (integral of f)^2 of the step function the design "
        "returns, recomputed by the verifier (a lower ratio is better, and the fitness is always "
        "higher-better, hence the minus: the constant function scores -2)"
    )
    accepted_params: ClassVar[frozenset[str] | None] = frozenset()
    interface: ClassVar[tuple[str, ...]] = ("step_heights",)

    # -- the contract ---------------------------------------------------------------------------
    def describe(self) -> str:
        from agentic_design.prompts import render  # jinja: the search's side only

        budget = self.budget
        assert isinstance(budget, ConstructionBudget)
        return render(
            "tasks/autocorrelation.j2",
            task=self.name,
            max_steps=MAX_STEPS,
            tolerance=TOLERANCE,
            max_seconds=budget.max_seconds,
            record=RECORD,
            alphaevolve=ALPHAEVOLVE,
            previous=PREVIOUS,
            fitness_meaning=self.fitness_meaning,
        )

    def seeds(self) -> list[Proposal]:
        return load_seed_designs(shipped_dir("archive") / "autocorrelation")

    def run(
        self, design: ModuleType, split: Split, *, seed: int, budget: TaskBudget
    ) -> dict[str, Any]:
        returned = construct(design, "step_heights", budget)
        claim = None
        if (
            isinstance(returned, tuple)
            and len(returned) == 2
            and isinstance(returned[0], (list, tuple, np.ndarray))
        ):
            returned, claim = returned
        heights = design_array(returned, (None,), "the heights")
        if not 1 <= len(heights) <= MAX_STEPS:
            raise InvalidDesign(f"step_heights must return 1 to {MAX_STEPS:,} heights")
        outputs: dict[str, Any] = {"heights": heights.tolist()}
        if claim is not None:
            outputs[CLAIM_KEY] = design_number(claim, "the claimed ratio")
        return outputs

    def score(self, outputs: dict[str, Any], split: Split) -> Score:
        if type(outputs) is not dict:
            raise InvalidOutputs(f"outputs must be a dict, not {type(outputs).__name__}")
        if "heights" not in outputs or set(outputs) - {"heights", CLAIM_KEY}:
            raise InvalidOutputs(
                f"outputs must hold heights and optionally {CLAIM_KEY}; got keys "
                f"{sorted(map(str, outputs))}"
            )
        heights = checked_numbers(outputs["heights"], "heights", max_length=MAX_STEPS)
        negative = np.flatnonzero(heights < 0)
        if negative.size:
            raise InvalidOutputs(
                f"heights[{negative[0]}] is {float(heights[negative[0]])!r}: f must be non-negative"
            )
        if not heights.any():
            raise InvalidOutputs("every height is zero: f has no mass, and no ratio")
        ratio = autoconvolution_ratio(heights)
        if not math.isfinite(ratio):  # cannot happen once scaled; a bug, if it does
            raise InvalidOutputs(f"the ratio is not finite ({ratio!r})")
        checked_claim(outputs, CLAIM_KEY, ratio, "a ratio")
        metrics = {
            "ratio": ratio,
            "steps": len(heights),
            "record": RECORD,
            "over_record": ratio - RECORD,
        }
        return Score(fitness=-ratio, ci_low=-ratio, ci_high=-ratio, metrics=metrics)

    # -- optional hooks -------------------------------------------------------------------------
    def summarize(self, metrics: dict[str, Any]) -> str:
        ratio, steps = metrics.get("ratio"), metrics.get("steps")
        if not isinstance(ratio, (int, float)) or not isinstance(steps, int):
            return ""
        return f"ratio {ratio:.6f} with {steps:,} steps (best known {RECORD})"

    def reflect_checklist(self) -> list[str]:
        return [
            *super().reflect_checklist(),
            "Is every height finite and >= 0, and is at least one > 0?",
            f"Are there at most {MAX_STEPS:,} heights?",
            "If it returns a claimed ratio, is it the ratio of the heights it returns, by "
            "2K max(np.convolve(a, a)) / sum(a)^2? A claim that differs makes it invalid.",
            "Is it deterministic (its random generators seeded by constants), and does it "
            f"return within {self.budget.model_dump()['max_seconds']:g} seconds on one core?",
        ]

    def design_parts(self) -> list[str]:
        return [
            "a starting shape of the heights (constant, or an analytic profile)",
            "a local optimiser of the heights against a smooth stand-in for the peak",
            "step_heights(), built from the helpers",
        ]

    def descriptors(self, code: str, metrics: dict[str, Any]) -> dict[str, float]:
        steps = metrics.get("steps")
        ratio = metrics.get("ratio")
        return {
            "ast_nodes": ast_nodes(code),
            "log2_steps": math.log2(steps) if isinstance(steps, int) and steps > 0 else 0.0,
            "ratio": float(ratio) if isinstance(ratio, (int, float)) else 0.0,
        }
