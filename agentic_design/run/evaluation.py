"""Evaluate a design: run the task inside the sandbox, score the outputs outside it.

The sandboxed half (`evaluate_in_sandbox`) rebuilds the task from its reference and parameters,
loads the design's code as a module and calls `task.run`. The outer half (`Evaluator.evaluate`)
turns whatever came back — outputs, a crash, a timeout — into an `Evaluation` with a final status
and, for status ok, the score computed against labels the sandbox never saw.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import linecache
import time
import types
from typing import TYPE_CHECKING, Any

from agentic_design.records import Evaluation, Status
from agentic_design.run import program_check  # noqa: F401 - preloaded with this module
from agentic_design.sandbox import Sandbox, SandboxLimits, SandboxResult
from agentic_design.tasks import InvalidDesign, InvalidOutputs, Task, TaskBudget, load_task
from agentic_design.tasks.base import Programs

if TYPE_CHECKING:
    from agentic_design.run.broker import Broker

DESIGN_FILENAME = "<design>"

#: A fingerprint is meant to cost a small share of an evaluation: it may take this share of
#: the sandbox's wall-clock limit (at least BEHAVIOUR_MIN_S), so that a design that hangs costs
#: little more than its own timeout.
BEHAVIOUR_WALL_SHARE = 0.25
BEHAVIOUR_MIN_S = 5.0

#: How long an agent evaluation waits, once its design stopped, for the LLM calls still being
#: answered (their cost counts, though nobody reads them).
BROKER_FINISH_S = 60.0

# The sandbox runs this code; everything else it needs arrives as JSON arguments.
_ENTRY_CODE = "from agentic_design.run.evaluation import evaluate_in_sandbox as main\n"
# ...and this to score outputs that are programs (an agent's code against hidden tests).
_CHECK_CODE = "from agentic_design.run.program_check import check_programs as main\n"
# ...and this for a design's behavioural fingerprint (`Task.behaviour`).
_BEHAVIOUR_CODE = "from agentic_design.run.evaluation import behaviour_in_sandbox as main\n"
# ...and this to check one part of a design written part by part (the meta-agent's decompose).
_PART_CODE = "from agentic_design.run.program_check import check_module as main\n"


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
    task_obj, module = _task_and_design(task, task_params, code, budget)
    return task_obj.run(module, split, seed=seed, budget=task_obj.budget)  # type: ignore[arg-type]


def _task_and_design(
    task: str, task_params: dict[str, Any], code: str, budget: dict[str, Any]
) -> tuple[Task, types.ModuleType]:
    """Inside the sandbox: the task, built and given its budget, and the design's module."""
    task_obj = load_task(task, task_params)
    task_obj.configure(budget)  # validated in the search process already
    if not task_obj.loads_design:
        source = types.ModuleType("design")
        source.SOURCE = code  # type: ignore[attr-defined]
        return task_obj, source
    return task_obj, load_design_module(code)


def behaviour_in_sandbox(
    task: str,
    task_params: dict[str, Any],
    code: str,
    seed: int,
    budget: dict[str, Any],
) -> Any:
    """The sandbox entry point of a fingerprint: build the task, load the design, probe it."""
    task_obj, module = _task_and_design(task, task_params, code, budget)
    return task_obj.behaviour(module, seed=seed, budget=task_obj.budget)


def has_behaviour(task: Task) -> bool:
    """Whether the task fingerprints behaviour (overrides `Task.behaviour`)."""
    return type(task).behaviour is not Task.behaviour


def behaviour_hash(value: Any) -> str | None:
    """The fingerprint of what `Task.behaviour` returned (None stays None)."""
    if value is None:
        return None
    payload = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


class Evaluator:
    """Evaluates designs of one task in a sandbox pool; safe to call from several threads."""

    def __init__(
        self,
        task: Task,
        task_ref: str,
        sandbox: Sandbox,
        *,
        limits: SandboxLimits,
        broker: Broker | None = None,
    ) -> None:
        self.task = task
        self.task_ref = task_ref
        self.sandbox = sandbox
        self.limits = limits
        self.broker = broker

    def evaluate(
        self,
        code: str,
        *,
        seed: int,
        split: str = "validation",
        recorded: dict[str, Any] | None = None,
        design_id: int | None = None,
        fidelity: float = 1.0,
    ) -> Evaluation:
        """Run and score one design. With the `recorded` metrics of an earlier evaluation it
        runs under the budget that repeats that evaluation exactly (`Task.replay_budget`).
        An agent's LLM calls are served by the broker, recorded under `design_id`. A
        `fidelity` below 1 runs the task's cheap evaluation of that share (`Task.fidelities`)."""
        budget: TaskBudget = self.task.budget
        if recorded is not None:
            budget = self.task.replay_budget(budget, recorded)
        if fidelity != budget.fidelity:
            budget = budget.model_copy(update={"fidelity": fidelity})
        cheap: dict[str, Any] = {"fidelity": budget.fidelity} if budget.fidelity < 1 else {}
        session = None
        if self.broker is not None:
            session = self.broker.session(
                design_id,
                self.task.call_cap(split, **cheap),  # type: ignore[arg-type]
                self.task.example_call_cap(),
            )
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
            on_channel=session,
        )
        usage: dict[str, Any] = {}
        if session is not None:
            session.finish(timeout=BROKER_FINISH_S)
            usage = session.metrics()
        if result.ok:
            result = self._run_programs(result, split, cheap)
        wall_s = time.monotonic() - started
        evaluation = self._judge(result, code, split, seed, wall_s, usage, cheap)
        return dataclasses.replace(evaluation, fidelity=budget.fidelity)

    def behaviour(self, code: str, *, seed: int) -> str | None:
        """The design's behavioural fingerprint (`Task.behaviour`, run in the sandbox), or None
        when the task has none or the probe failed (the full evaluation then says why)."""
        if not has_behaviour(self.task):
            return None
        result = self.sandbox.run(
            _BEHAVIOUR_CODE,
            entry="main",
            args={
                "task": self.task_ref,
                "task_params": self.task.params,
                "code": code,
                "seed": seed,
                "budget": self.task.budget.model_dump(mode="json"),
            },
            limits=dataclasses.replace(
                self.limits,
                wall_s=min(
                    self.limits.wall_s,
                    max(BEHAVIOUR_MIN_S, self.limits.wall_s * BEHAVIOUR_WALL_SHARE),
                ),
            ),
        )
        return behaviour_hash(result.value) if result.ok else None

    def _run_programs(
        self, result: SandboxResult, split: str, cheap: dict[str, Any]
    ) -> SandboxResult:
        """When scoring means running the outputs (code answers), run them in the sandbox, step
        after step (`Programs.then`), and add the last step's results to the outputs; a failure
        of such a run is the design's failure."""
        try:
            programs = self.task.scoring_programs(result.value, split, **cheap)  # type: ignore[arg-type]
        except InvalidOutputs:
            return result  # reported as unscorable by _judge, with the same message
        if programs is None:
            return result
        checked = run_programs(self.sandbox, programs, self.limits)
        if not checked.ok:
            error = f"running the design's answers against their tests failed: {checked.error}"
            return dataclasses.replace(checked, error=error)
        return dataclasses.replace(result, value={**result.value, "program_results": checked.value})

    def _judge(
        self,
        result: SandboxResult,
        code: str,
        split: str,
        seed: int,
        wall_s: float,
        usage: dict[str, Any],
        cheap: dict[str, Any],
    ) -> Evaluation:
        if not result.ok:
            metrics = {"stderr_tail": result.stderr[-2000:]} if result.stderr else {}
            return Evaluation(
                status=Status(result.status),
                split=split,
                seed=seed,
                error=_error_text(result),
                wall_s=wall_s,
                metrics={**metrics, **usage},
            )
        try:
            # A cheap evaluation's share, as `call_cap` and `scoring_programs` were given it.
            score = self.task.score(result.value, split, **cheap)  # type: ignore[arg-type]
        except InvalidOutputs as exc:
            return Evaluation(
                status=Status.INVALID,
                split=split,
                seed=seed,
                error=f"outputs could not be scored: {exc}",
                wall_s=wall_s,
                metrics=usage,
            )
        metrics = score.metrics
        if usage:
            metrics = {**metrics, **self.task.usage_metrics(usage, metrics)}
        return Evaluation(
            status=Status.OK,
            split=split,
            seed=seed,
            fitness=score.fitness,
            ci_low=score.ci_low,
            ci_high=score.ci_high,
            metrics=metrics,
            descriptors=self.task.descriptors(code, metrics),
            summary=self.task.summarize(metrics),
            wall_s=wall_s,
        )


def run_programs(sandbox: Sandbox, programs: Programs, limits: SandboxLimits) -> SandboxResult:
    """Run scoring programs in the sandbox, step after step (`Programs.then`), each under
    `limits` less the hidden paths it may read (`Programs.reveal`): the last step's run, whose
    value is {key: {"passed", "error"}}, or the first run that failed."""
    while True:
        hidden = tuple(path for path in limits.hidden if path not in programs.reveal)
        checked = sandbox.run(
            _CHECK_CODE,
            entry="main",
            args={"programs": programs.programs, "timeout_s": programs.timeout_s},
            limits=dataclasses.replace(limits, hidden=hidden),
        )
        if not checked.ok or programs.then is None:
            return checked
        programs = programs.then(checked.value)


class PartChecker:
    """Checks one part of a design in the sandbox: its code runs as a module, defines the
    names it should, and passes the statements that exercise it. Returns None when it does,
    else what went wrong (for the part's author to read). Safe to call from several threads."""

    def __init__(self, sandbox: Sandbox, limits: SandboxLimits, wall_s: float) -> None:
        self.sandbox = sandbox
        self.limits = dataclasses.replace(limits, wall_s=min(limits.wall_s, wall_s))

    def __call__(self, code: str, names: list[str], check: str = "") -> str | None:
        result = self.sandbox.run(
            _PART_CODE,
            entry="main",
            args={"code": code, "names": names, "check": check},
            limits=self.limits,
        )
        return None if result.ok else f"{result.status}: {_error_text(result)}"[-2000:]


def _error_text(result: SandboxResult) -> str:
    text = result.error or result.status
    if result.traceback:
        text = f"{text}\n{result.traceback}"
    return text
