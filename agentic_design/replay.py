"""Re-evaluate archived designs and take them away.

A replay rebuilds the run's task and trainer from the run's saved configuration, evaluates the
design with its recorded seed and step count, and says whether the recorded fitness came back
exactly. An export writes the design as a module that needs only PyTorch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agentic_design.archive import Archive, ArchiveError
from agentic_design.config import RunConfig
from agentic_design.evaluation import Evaluation, evaluator_for, sandbox_for
from agentic_design.records import Status
from agentic_design.search import load_run_task


@dataclass(frozen=True)
class Replay:
    """A design's recorded fitness beside the one measured again now."""

    design_id: int
    recorded: float | None
    measured: float | None
    matches: bool
    evaluation: Evaluation


def run_config(archive: Archive) -> RunConfig:
    """The configuration a run was made with, as saved in its store."""
    data = archive.meta("config")
    if data is None:
        raise ArchiveError(f"{archive.path} holds no run configuration")
    return RunConfig.from_dict(data, source=f"{archive.path} (saved config)")


def replay_design(archive: Archive, design_id: int) -> Replay:
    """Evaluate design `design_id` again exactly as it was evaluated during its search."""
    design = archive.get(design_id)
    if design.status is Status.PENDING:
        raise ArchiveError(f"design {design_id} was never evaluated (status pending)")
    config = run_config(archive)
    task = load_run_task(config)
    if design.task_fingerprint and task.fingerprint() != design.task_fingerprint:
        raise ArchiveError(
            f"the task's data or parameters differ from when design {design_id} was scored "
            "(fingerprint mismatch): a replay could not be compared"
        )
    with sandbox_for(config, workers=1) as sandbox:
        evaluation = evaluator_for(config, task, sandbox).evaluate(
            design.code,
            seed=design.eval_seed or 0,
            max_steps=design.metrics.get("steps"),
        )
    if not archive.readonly:
        archive.record_evaluation(design_id, "replay", evaluation)
    matches = evaluation.status is design.status and evaluation.fitness == design.fitness
    return Replay(design_id, design.fitness, evaluation.fitness, matches, evaluation)


def export_design(archive: Archive, design_id: int, output: str | Path) -> Path:
    """Write design `design_id` as a standalone module; return its path."""
    design = archive.get(design_id)
    task = load_run_task(run_config(archive))
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(task.export_module(design.code, design.name))
    return path
