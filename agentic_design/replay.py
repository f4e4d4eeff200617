"""Re-evaluate archived designs and take them away.

A replay rebuilds the run's task from the configuration saved in its store, evaluates the design
with its recorded seed under the budget that repeats its recorded evaluation
(`Task.replay_budget`: the trainer's step count, say), and says whether the recorded fitness
came back exactly. An export writes the design as a module that runs without this package.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from agentic_design.evaluation import evaluator_for, sandbox_for
from agentic_design.records import ArchiveError, Evaluation, Status

if TYPE_CHECKING:
    from agentic_design.archive import Archive


@dataclass(frozen=True)
class Replay:
    """A design's recorded fitness beside the one measured again now."""

    design_id: int
    recorded: float | None
    measured: float | None
    matches: bool
    evaluation: Evaluation


def replay_design(archive: Archive, design_id: int) -> Replay:
    """Evaluate design `design_id` again exactly as it was evaluated during its search."""
    design = archive.get(design_id)
    if design.status is Status.PENDING:
        raise ArchiveError(f"design {design_id} was never evaluated (status pending)")
    config = archive.run_config()
    task = config.build_task()
    if design.task_fingerprint and task.fingerprint() != design.task_fingerprint:
        raise ArchiveError(
            f"the task's data or parameters differ from when design {design_id} was scored "
            "(fingerprint mismatch): a replay could not be compared"
        )
    task.prepare()
    with sandbox_for(config, task, workers=1) as sandbox:
        # An agent's calls are answered from the run's own recording: no network, no cost.
        evaluator = evaluator_for(config, task, sandbox, store=archive, replay=True)
        evaluation = evaluator.evaluate(
            design.code, seed=design.eval_seed or 0, recorded=design.metrics, design_id=design_id
        )
    if not archive.readonly:
        archive.record_evaluation(design_id, "replay", evaluation)
    matches = evaluation.status is design.status and evaluation.fitness == design.fitness
    return Replay(design_id, design.fitness, evaluation.fitness, matches, evaluation)


def export_design(archive: Archive, design_id: int, output: str | Path) -> Path:
    """Write design `design_id` as a standalone module; return its path."""
    design = archive.get(design_id)
    task = archive.run_config().build_task()
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(task.export_module(design.code, design.name))
    return path
