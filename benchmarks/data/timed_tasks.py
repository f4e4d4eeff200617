"""Tasks for `benchmarks/start_stop.py`: a built-in task and a torch-free user task whose
evaluations note, in their metrics, the wall-clock times their `run` began and ended inside the
sandbox, so that the benchmark can read from the store when the first evaluation ran and when
the last one finished."""

from __future__ import annotations

import time
from typing import Any

from agentic_design.tasks import Score
from agentic_design.tasks.architecture import DigitsTask
from agentic_design.tasks.binpack import BinPackingTask


def _timed(outputs: Any, began: float) -> dict[str, Any]:
    return {"outputs": outputs, "began": began, "ended": time.time()}


def _with_times(score: Score, outputs: dict[str, Any]) -> Score:
    metrics = {**score.metrics, "began_at": outputs["began"], "ended_at": outputs["ended"]}
    return Score(score.fitness, score.ci_low, score.ci_high, metrics)


class TimedBinPacking(BinPackingTask):
    """Online bin packing (no torch anywhere), timed."""

    def run(self, design: Any, split: Any, *, seed: int, budget: Any) -> Any:
        began = time.time()
        return _timed(super().run(design, split, seed=seed, budget=budget), began)

    def score(self, outputs: Any, split: Any, fidelity: float = 1.0) -> Score:
        return _with_times(super().score(outputs["outputs"], split, fidelity), outputs)


class TimedDigits(DigitsTask):
    """The digits architecture task (torch), timed."""

    def run(self, design: Any, split: Any, *, seed: int, budget: Any) -> Any:
        began = time.time()
        return _timed(super().run(design, split, seed=seed, budget=budget), began)

    def score(self, outputs: Any, split: Any, fidelity: float = 1.0) -> Score:
        return _with_times(super().score(outputs["outputs"], split, fidelity), outputs)
