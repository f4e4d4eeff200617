"""Evaluate a design: run the task inside the sandbox, score the outputs outside it.

The sandboxed half (`evaluate_in_sandbox`) rebuilds the task from its reference and parameters,
loads the design's code as a module and calls `task.run`. The outer half (`Evaluator.evaluate`)
turns whatever came back — outputs, a crash, a timeout — into an `Evaluation` with a final status
and, for status ok, the score computed against labels the sandbox never saw.
"""

from __future__ import annotations

import inspect
import linecache
import time
import types
from typing import TYPE_CHECKING, Any

from agentic_design.records import Evaluation, Status
from agentic_design.sandbox import Sandbox, SandboxLimits, SandboxResult
from agentic_design.tasks import InvalidDesign, InvalidOutputs, Task, TaskBudget, load_task

if TYPE_CHECKING:
    from agentic_design.config import RunConfig

DESIGN_FILENAME = "<design>"

# The sandbox runs this code; everything else it needs arrives as JSON arguments.
_ENTRY_CODE = "from agentic_design.evaluation import evaluate_in_sandbox as main\n"


def load_design_module(code: str) -> types.ModuleType:
    """Execute a design's code as a fresh module. Only ever called inside the sandbox."""
    try:
        compiled = compile(code, DESIGN_FILENAME, "exec")
    except SyntaxError as exc:
        raise InvalidDesign(f"syntax error at line {exc.lineno}: {exc.msg}") from None
    # Let tracebacks quote the design's own lines.
    linecache.cache[DESIGN_FILENAME] = (len(code), None, code.splitlines(True), DESIGN_FILENAME)
    module = types.ModuleType("design")
    module.__file__ = DESIGN_FILENAME
    exec(compiled, module.__dict__)
    return module


def evaluate_in_sandbox(
    task: str,
    task_params: dict[str, Any],
    code: str,
    split: str,
    seed: int,
    budget: dict[str, Any],
) -> dict[str, Any]:
    """The sandbox entry point: build the task, load the design, run it on `split`."""
    task_obj = load_task(task, task_params)
    task_obj.configure(budget)  # validated in the search process already
    module = load_design_module(code)
    return task_obj.run(module, split, seed=seed, budget=task_obj.budget)  # type: ignore[arg-type]


class Evaluator:
    """Evaluates designs of one task in a sandbox pool; safe to call from several threads."""

    def __init__(
        self, task: Task, task_ref: str, sandbox: Sandbox, *, limits: SandboxLimits
    ) -> None:
        self.task = task
        self.task_ref = task_ref
        self.sandbox = sandbox
        self.limits = limits

    def evaluate(
        self,
        code: str,
        *,
        seed: int,
        split: str = "validation",
        recorded: dict[str, Any] | None = None,
    ) -> Evaluation:
        """Run and score one design. With the `recorded` metrics of an earlier evaluation it
        runs under the budget that repeats that evaluation exactly (`Task.replay_budget`)."""
        budget: TaskBudget = self.task.budget
        if recorded is not None:
            budget = self.task.replay_budget(budget, recorded)
        started = time.monotonic()
        result = self.sandbox.run(
            _ENTRY_CODE,
            entry="main",
            args={
                "task": self.task_ref,
                "task_params": self.task.params,
                "code": code,
                "split": split,
                "seed": seed,
                "budget": budget.model_dump(mode="json"),
            },
            limits=self.limits,
        )
        wall_s = time.monotonic() - started
        return self._judge(result, code, split, seed, wall_s)

    def _judge(
        self, result: SandboxResult, code: str, split: str, seed: int, wall_s: float
    ) -> Evaluation:
        if not result.ok:
            return Evaluation(
                status=Status(result.status),
                split=split,
                seed=seed,
                error=_error_text(result),
                wall_s=wall_s,
                metrics={"stderr_tail": result.stderr[-2000:]} if result.stderr else {},
            )
        try:
            score = self.task.score(result.value, split)  # type: ignore[arg-type]
        except InvalidOutputs as exc:
            return Evaluation(
                status=Status.INVALID,
                split=split,
                seed=seed,
                error=f"outputs could not be scored: {exc}",
                wall_s=wall_s,
            )
        return Evaluation(
            status=Status.OK,
            split=split,
            seed=seed,
            fitness=score.fitness,
            ci_low=score.ci_low,
            ci_high=score.ci_high,
            metrics=score.metrics,
            descriptors=self.task.descriptors(code, score.metrics),
            summary=self.task.summarize(score.metrics),
            wall_s=wall_s,
        )


def _error_text(result: SandboxResult) -> str:
    text = result.error or result.status
    if result.traceback:
        text = f"{text}\n{result.traceback}"
    return text


def sandbox_for(config: RunConfig, task: Task, workers: int | None = None) -> Sandbox:
    """An (unstarted) sandbox pool for a run's evaluations: its servers preload the task's
    modules (and the evaluation entry point) once, for every forked evaluation to inherit."""
    return Sandbox(
        workers=workers or config.sandbox.workers,
        preload=[*task.preload, *config.sandbox.preload, "agentic_design.evaluation"],
        limits=limits_for(config, task),
        disable=config.sandbox.disable,
    )


def limits_for(config: RunConfig, task: Task) -> SandboxLimits:
    return SandboxLimits(
        wall_s=config.sandbox.wall_s,
        memory_mb=config.sandbox.memory_mb,
        gpu_memory_fraction=config.sandbox.gpu_memory_fraction,
        threads=task.budget.threads,
        readable=sandbox_readable(task),
        hidden=tuple(task.sandbox_hidden()),
    )


def evaluator_for(config: RunConfig, task: Task, sandbox: Sandbox) -> Evaluator:
    return Evaluator(task, config.task, sandbox, limits=limits_for(config, task))


def sandbox_readable(task: Task) -> tuple[str, ...]:
    """What the sandbox may read for this task: its data, and the file that defines it (a
    user's task lives outside the package and its import path)."""
    source = inspect.getsourcefile(type(task))
    return (*task.sandbox_readable(), *([source] if source else []))
