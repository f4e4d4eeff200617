"""Cascade evaluator for minimising Himmelblau's function (its minimum is 0, at four points).

The program is imported into this process. Stage 1 is one cheap search (200 calls); stage 2,
run only when stage 1 passes the first threshold, averages five searches of 2,000 calls. A
search's score is 1 / (1 + f(best point)): 1 at a minimum.
"""

import importlib.util
import math

import numpy as np
from openevolve.evaluation_result import EvaluationResult


def himmelblau(x, y):
    return (x * x + y - 11) ** 2 + (x + y * y - 7) ** 2


class CountedFunction:
    """f, refusing calls past the budget."""

    def __init__(self, budget):
        self.budget, self.calls = budget, 0

    def __call__(self, x, y):
        self.calls += 1
        if self.calls > self.budget:
            raise RuntimeError(f"more than {self.budget} calls of f")
        return himmelblau(float(x), float(y))


def load(program_path):
    spec = importlib.util.spec_from_file_location("candidate", program_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def one_search(module, budget, seed):
    """The best value one search reaches, and its point."""
    point = module.run_search(CountedFunction(budget), budget, seed)
    x, y = (float(v) for v in point)
    if not (math.isfinite(x) and math.isfinite(y)) or max(abs(x), abs(y)) > 5:
        raise ValueError(f"the point {point!r} is not inside [-5, 5] x [-5, 5]")
    return himmelblau(x, y), (x, y)


def evaluate_stage1(program_path):
    value, point = one_search(load(program_path), budget=200, seed=0)
    score = 1.0 / (1.0 + value)
    return EvaluationResult(
        metrics={"stage1_value": value, "combined_score": score},
        artifacts={"stage1": f"best point ({point[0]:.4f}, {point[1]:.4f}), f = {value:.6g}"},
    )


def evaluate_stage2(program_path):
    module = load(program_path)
    values, points = zip(
        *(one_search(module, budget=2000, seed=s) for s in range(1, 6)), strict=True
    )
    scores = [1.0 / (1.0 + v) for v in values]
    return EvaluationResult(
        metrics={
            "stage2_mean_value": np.float32(np.mean(values)),  # numpy numbers, as evaluators send
            "worst_score": np.float64(min(scores)),
            "combined_score": float(np.mean(scores)),
            "best_points": np.array(points),
        },
        artifacts={"stage2": f"values over five seeds: {', '.join(f'{v:.3g}' for v in values)}"},
    )


def evaluate(program_path):
    """Without cascade: both stages' metrics together."""
    first = evaluate_stage1(program_path)
    second = evaluate_stage2(program_path)
    return EvaluationResult(
        metrics={**first.metrics, **second.metrics},
        artifacts={**first.artifacts, **second.artifacts},
    )
