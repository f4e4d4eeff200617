"""Re-evaluate archived designs and take them away.

A replay rebuilds the run's task from the configuration saved in its store, evaluates the design
with its recorded seed under the budget that repeats its recorded evaluation
(`Task.replay_budget`: the trainer's step count, say), and says whether the recorded fitness
came back exactly — or, where the task says why it cannot (`Task.replay_inexact`: a GPU's
nondeterministic kernels), whether it came back inside the recorded 95% interval. An export
writes the design as a module that runs without this package.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from agentic_design.records import ArchiveError, Design, Evaluation, Status
from agentic_design.run.assemble import build_task, local_evaluation

if TYPE_CHECKING:
    from agentic_design.config import RunConfig
    from agentic_design.store.archive import Archive


@dataclass(frozen=True)
class Replay:
    """A design's recorded fitness beside the one measured again now."""

    design_id: int
    recorded: float | None
    measured: float | None
    matches: bool
    evaluation: Evaluation
    #: The recorded 95% interval the measured fitness had to fall in, where exact replay is
    #: not possible (`inexact` says why); None: the same fitness exactly.
    tolerance: tuple[float, float] | None = None
    inexact: str | None = None

    @property
    def exact(self) -> bool:
        """Reproduced bit for bit: the same status and the same fitness."""
        return self.matches and self.measured == self.recorded


def replay_design(archive: Archive, design_id: int) -> Replay:
    """Evaluate design `design_id` again exactly as it was evaluated during its search."""
    design = archive.get(design_id)
    if design.status is Status.PENDING:
        raise ArchiveError(f"design {design_id} was never evaluated (status pending)")
    config = archive.run_config()
    task = build_task(config, design.task_fingerprint)
    if design.task_fingerprint and task.fingerprint() != design.task_fingerprint:
        raise ArchiveError(
            f"the task's data or parameters differ from when design {design_id} was scored "
            "(fingerprint mismatch): a replay could not be compared"
        )
    task.prepare()
    # An agent's calls are answered from the run's own recording: no network, no cost.
    with local_evaluation(config, task, workers=1, store=archive, replay=True) as (evaluator, _, _):
        evaluation = evaluator.evaluate(
            design.code, seed=design.eval_seed or 0, recorded=design.metrics, design_id=design_id
        )
    if not archive.readonly:
        archive.record_evaluation(design_id, "replay", evaluation)
    return judge_replay(design, evaluation, task.replay_inexact(design.metrics, evaluation.metrics))


def judge_replay(design: Design, evaluation: Evaluation, inexact: str | None) -> Replay:
    """Whether `evaluation` reproduces the recorded one: the same status and fitness exactly,
    or, where exact replay is not possible (`inexact` says why), the same status and a fitness
    inside the recorded 95% interval — a difference the evaluation itself cannot resolve."""
    same = evaluation.status is design.status
    measured = evaluation.fitness
    matches = same and measured == design.fitness
    tolerance = None
    if inexact is not None and design.ci_low is not None and design.ci_high is not None:
        tolerance = (design.ci_low, design.ci_high)
        inside = measured is not None and tolerance[0] <= measured <= tolerance[1]
        matches = matches or (same and inside)
    return Replay(design.id, design.fitness, measured, matches, evaluation, tolerance, inexact)


def rescore_design(archive: Archive, design_id: int, config: RunConfig) -> Replay:
    """Evaluate design `design_id` of an imported run (ADAS's, which holds no configuration of
    ours) under `config`: its task, budget and agents' model. The agents' calls are made live
    and recorded in the run under the design, and the evaluation is kept as a "rescore"; the
    recorded fitness is the one the original tool reported, on its own data, so the two are
    set side by side, not expected to match."""
    design = archive.get(design_id)
    task = build_task(config)
    task.prepare()
    with local_evaluation(config, task, workers=1, store=archive) as (evaluator, _, _):
        evaluation = evaluator.evaluate(design.code, seed=config.seed, design_id=design_id)
    archive.record_evaluation(design_id, "rescore", evaluation)
    matches = evaluation.status is design.status and evaluation.fitness == design.fitness
    return Replay(design_id, design.fitness, evaluation.fitness, matches, evaluation)


def export_design(archive: Archive, design_id: int, output: str | Path) -> Path:
    """Write design `design_id` as a standalone module; return its path."""
    design = archive.get(design_id)
    task = build_task(archive.run_config(), archive.meta("task_fingerprint"))
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(task.export_module(design.code, design.name))
    return path
