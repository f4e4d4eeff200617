"""How a search starts and ends in its run directory: the store opened (or created, with the
resolved configuration beside it), the best design scored once on the test split, and the stop
recorded with its summary in one transaction. The search's loop lies between (`search`)."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentic_design.config import ConfigError, RunConfig
from agentic_design.records import ArchiveError, Design, Evaluation, Status, StopReason
from agentic_design.store.archive import Archive
from agentic_design.tasks import Task

if TYPE_CHECKING:
    from agentic_design.run.evaluation import Evaluator
    from agentic_design.run.ray_executor import RayEvaluator


def open_run(config: RunConfig, task: Task, run_dir: Path, *, resuming: bool) -> Archive:
    """The run's store, ready for this process to search in: a new one (with the resolved
    configuration beside it), or, when `resuming`, the one a stopped or killed search left —
    ConfigError (exit 2) where that cannot be: a run already there, a run never started, a
    task whose data or parameters changed since."""
    if resuming:
        archive = Archive.open(run_dir)
        if archive.meta("config") is None:
            raise ConfigError(f"{run_dir}: the run never got started; start it anew")
        if archive.meta("task_fingerprint") != task.fingerprint():
            raise ConfigError(
                f"{run_dir}: the task's data or parameters changed since the run "
                "started (fingerprint mismatch); resuming would mix incomparable scores"
            )
        restored = archive.restore_code_files()  # killed between a commit and its file
        archive.event("resumed", pid=os.getpid(), restored_code_files=restored)
    else:
        taken = run_already_in(run_dir)
        if taken is not None:
            raise ConfigError(taken)
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            (run_dir / "run.db").unlink(missing_ok=True)  # one killed before it started
            write_atomically(run_dir / "config.yaml", config.to_yaml())
        except OSError as exc:
            raise ConfigError(
                f"cannot create the run directory {run_dir}: {exc.strerror or exc}"
            ) from None
        archive = Archive.create(
            run_dir,
            meta={
                "name": config.name,
                "config": config.model_dump(mode="json"),
                "task": config.task,
                "task_kind": task.kind,
                "fitness_name": task.fitness_name,
                "fitness_meaning": task.fitness_meaning,
                "cost_metric": task.cost_metric,
                "task_fingerprint": task.fingerprint(),
                "seed": config.seed,
                "versions": versions(task),
                "started_at": time.time(),
                "searched_s": 0.0,
            },
        )
        archive.event("started", pid=os.getpid())
    # One transaction: once the store names this process, it is this process's to stop.
    archive.set_meta_many(
        {"state": "running", "pid": os.getpid(), "budget": config.budget.model_dump()}
    )
    return archive


def record_stop(
    archive: Archive, stopped_by: StopReason, reason: str, test: Evaluation | None
) -> Design | None:
    """Record how the search ended; return the best design. The state and the summary go
    in one transaction: a run is never finished without its summary."""
    interrupted = stopped_by is StopReason.INTERRUPTED
    best = archive.best()
    archive.set_meta_many(
        {
            "state": "interrupted" if interrupted else "finished",
            "stopped_by": stopped_by.value,
            "summary": summary(archive, best, stopped_by, reason, test),
        }
    )
    archive.event("stopped", reason=stopped_by.value, detail=reason)
    return best


def summary(
    archive: Archive,
    best: Design | None,
    stopped_by: StopReason,
    reason: str,
    test: Evaluation | None,
) -> dict[str, Any]:
    """What a stop leaves in the run's metadata, for whoever reads the run next."""
    return {
        "stopped_by": stopped_by.value,
        "reason": reason,
        "at": time.time(),
        "designs": archive.total(),
        "counts": archive.counts(),
        "spend": archive.spend(),
        "searched_s": archive.meta("searched_s", 0.0),
        "best": None
        if best is None
        else {"id": best.id, "name": best.name, "fitness": best.fitness, "ci": best.ci},
        "test": None if test is None else {"fitness": test.fitness, "status": test.status.value},
    }


def final_test(
    archive: Archive, evaluator: Evaluator | RayEvaluator, task: Task
) -> Evaluation | None:
    """Score the best design once on the test split, under the budget that repeats its
    recorded evaluation (`Task.replay_budget`)."""
    best = archive.best()
    if best is None:
        return None
    recorded = archive.meta("test")
    if recorded and recorded.get("design_id") == best.id:
        return None
    scored = [e for e in archive.evaluations(best.id) if e["purpose"] == "test"]
    if scored:  # a run stopped after scoring it, before its meta: one look at the test split
        evaluation = recorded_test(scored[-1], task)
    else:
        evaluation = evaluator.evaluate(
            best.code,
            seed=best.eval_seed or 0,
            split="test",
            recorded=best.metrics,
            design_id=best.id,
        )
        archive.record_evaluation(best.id, "test", evaluation)
    archive.set_meta(
        "test",
        {
            "design_id": best.id,
            "status": evaluation.status.value,
            "fitness": evaluation.fitness,
            "summary": evaluation.summary,
            "ci_low": evaluation.ci_low,
            "ci_high": evaluation.ci_high,
        },
    )
    return evaluation


def recorded_test(row: dict[str, Any], task: Task) -> Evaluation:
    """A test evaluation as the `evaluations` table holds it (which keeps no summary)."""
    status = Status(row["status"])
    return Evaluation(
        status=status,
        split=row["split"],
        seed=row["seed"],
        fitness=row["fitness"],
        ci_low=row["ci_low"],
        ci_high=row["ci_high"],
        metrics=row["metrics"],
        summary=task.summarize(row["metrics"]) if status is Status.OK else "",
        error=row["error"],
        wall_s=row["wall_s"] or 0.0,
    )


def versions(task: Task) -> dict[str, str]:
    """Python's version, this package's, and those of the packages the task preloads."""
    found = {"python": platform.python_version()}
    preloaded = [name.split(":")[0].split(".")[0] for name in task.preload]
    for package in dict.fromkeys(["agentic-design", *preloaded]):
        if package == "agentic_design":
            continue
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def run_already_in(run_dir: Path) -> str | None:
    """Why `run_dir` cannot take a new run (it holds a started or an imported one), or None."""
    try:
        with Archive.open(run_dir, readonly=True) as archive:
            config, imported = archive.meta("config"), archive.meta("imported_from")
            source = archive.meta("source")
    except ArchiveError:
        return None
    if imported is not None:  # an imported archive (ADAS's) has no config, and is a run too
        return (
            f"{run_dir} holds a run imported from {imported} ({source}): a new search would "
            "take it over; pass another --run-dir"
        )
    if config is not None:
        return (
            f"{run_dir} already holds a run: continue it with "
            f"`agentic-design resume {run_dir}`, or pass another --run-dir"
        )
    return None


def write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
