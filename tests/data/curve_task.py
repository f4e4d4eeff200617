"""A user's own task, written against the public Task API alone, with no torch in it: fit a
curve. A design defines `predict(x) -> float`; the fitness is minus the root-mean-square error
on held-out points, which only the scorer (outside the sandbox) computes."""

import math
import random

from agentic_design import Proposal, Task
from agentic_design.tasks import InvalidDesign, InvalidOutputs, Score


def target(x):
    return 2.5 * x + math.sin(3 * x)


def points(split):
    rng = random.Random({"train": 0, "validation": 1, "test": 2}[split])
    return [rng.uniform(-2, 2) for _ in range(200)]


class CurveFit(Task):
    name = "curve"
    kind = "heuristic"
    fitness_name = "-RMSE"
    interface = ("predict",)
    fitness_meaning = "minus the root-mean-square error of predict(x) on held-out points"

    def describe(self):
        return "Define predict(x: float) -> float approximating an unknown smooth function."

    def seeds(self):
        return [
            Proposal(name="zero", thought="", code="def predict(x):\n    return 0.0 * x\n"),
            Proposal(name="line", thought="", code="def predict(x):\n    return 1.0 * x\n"),
        ]

    def run(self, design, split, *, seed, budget):
        predict = getattr(design, "predict", None)
        if not callable(predict):
            raise InvalidDesign("the design defines no predict(x)")
        return {"predictions": [float(predict(x)) for x in points(split)]}

    def score(self, outputs, split):
        predictions = outputs.get("predictions") if isinstance(outputs, dict) else None
        xs = points(split)
        if not isinstance(predictions, list) or len(predictions) != len(xs):
            raise InvalidOutputs("expected one prediction per point")
        if not all(type(p) is float and math.isfinite(p) for p in predictions):
            raise InvalidOutputs("predictions must be finite floats")
        errors = [(p - target(x)) ** 2 for p, x in zip(predictions, xs, strict=True)]
        rmse = math.sqrt(sum(errors) / len(errors))
        rng = random.Random(0)
        resampled = sorted(
            -math.sqrt(sum(rng.choice(errors) for _ in errors) / len(errors)) for _ in range(200)
        )
        return Score(-rmse, resampled[5], resampled[194], {"rmse": rmse})

    def summarize(self, metrics):
        return f"RMSE {metrics['rmse']:.3f}"
