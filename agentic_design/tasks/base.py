"""The Task contract: what a design problem must provide to be searched.

A task splits its work across the sandbox boundary:

- `run(design, split, seed=, budget=)` executes **inside** the sandbox. It may see the training
  data with its labels, but only the *inputs* of the validation and test splits.
- `score(outputs, split)` executes **outside**, in the search process. Only it sees the labels of
  the validation and test splits, so a design can never read or alter how it is scored.

Everything specific to a kind of design belongs to its task, so that the search, the archive,
the proposers and the command line name no metric, no library and no training recipe: the typed
budget of one evaluation (`budget_model`, validated from the config's `task_budget:` block), the
modules the sandbox preloads, the fitness's name and meaning, a one-line summary of a design's
metrics, the evolution operators, and the prompt fragments (interface and review checklist).
Every hook but the four abstract ones has a safe default.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from agentic_design.records import Proposal

if TYPE_CHECKING:
    from agentic_design.mutations.operators import Operators

Split = Literal["validation", "test"]
SPLITS: tuple[str, ...] = ("validation", "test")


class InvalidDesign(Exception):
    """The design does not meet the task's interface (missing function, wrong shape, too big).

    Raised inside the sandbox; the sandbox reports it with status `invalid` and this message.
    """

    sandbox_status = "invalid"


class InvalidOutputs(ValueError):
    """What came back from the sandbox cannot be scored (wrong length, type or range)."""


@dataclass(frozen=True)
class Score:
    """The scorer's verdict on one split: fitness with its 95% interval, plus other metrics."""

    fitness: float
    ci_low: float
    ci_high: float
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Programs:
    """Programs to run in the sandbox to score outputs (code a design wrote, and its tests).
    Each passes when it runs to its end, without an exception, within `timeout_s`; one that
    leaves JSON data in a global `RESULT` hands it back with its verdict ("value").

    Scoring may take several steps: `then`, called outside the sandbox with these programs'
    results (untrusted wherever a design's code ran among them), returns the programs of the
    next step. The results of the last step are the ones `score` reads.

    `reveal`: paths of `sandbox_hidden` these programs may read, for a step that runs no design
    code and reads its secrets itself (HumanEval's tests), so that they never pass through the
    sandbox's server, whose memory every later child inherits."""

    programs: dict[str, str]
    timeout_s: float = 5.0
    then: Callable[[dict[str, Any]], Programs] | None = None
    reveal: tuple[str, ...] = ()


class TaskBudget(BaseModel):
    """The limits of one evaluation, enforced inside the sandbox. A task extends it with its own
    fields; the config's `task_budget:` block is validated against the task's model."""

    # Unknown keys are typos more often than intentions; frozen: a budget travels by value.
    model_config = ConfigDict(extra="forbid", frozen=True)

    threads: int = Field(1, ge=1, le=64, description="CPU threads of one evaluation")
    fidelity: float = Field(
        1.0,
        gt=0,
        le=1,
        description="the share of a full evaluation to run (set by the search's cheap "
        "evaluations, `search.fidelity`, to one of the task's `fidelities()`; 1: all of it)",
    )


class Task(ABC):
    """A design problem. Subclass it for your own task and name it in the config as
    `task: path/to/file.py:ClassName` (keyword arguments come from `task_params`).

    Subclasses are built twice: once in the search process (to describe, seed and score) and
    once in each sandboxed evaluation (to run), from the same `params` and budget, so
    constructors must be cheap and deterministic; load data lazily.
    """

    name: ClassVar[str] = "task"
    kind: ClassVar[str] = "generic"
    #: The pydantic model of one evaluation's limits (the config's `task_budget:` block).
    budget_model: ClassVar[type[TaskBudget]] = TaskBudget
    #: Modules the sandbox's servers import once, before forking (`"torch"`), or
    #: `"module:function"` to import and call a function (process-wide set-up).
    preload: ClassVar[tuple[str, ...]] = ()
    #: What the fitness measures, for people and prompts ("accuracy"); higher is always better.
    fitness_name: ClassVar[str] = "fitness"
    #: One sentence on how the fitness is computed, for prompts and the README of a run.
    fitness_meaning: ClassVar[str] = "higher is better"
    #: The `task_params` the task understands; any other is a typo to report, not ignore
    #: (None: the task checks its parameters itself).
    accepted_params: ClassVar[frozenset[str] | None] = None
    #: The top-level names a design must define (`"build_model"`): the meta-agent refuses an
    #: answer that lacks them before paying for an evaluation, and picks the code block that
    #: defines them when a model offers several.
    interface: ClassVar[tuple[str, ...]] = ()
    #: Whether designs call an LLM (agents): the sandbox then opens the broker channel, and
    #: the run needs `agent_llm`.
    uses_broker: ClassVar[bool] = False
    #: The metric that is a design's cost, lower being better ("params"), for the Pareto
    #: front of fitness against cost (`show --pareto`); None: the task names no cost.
    cost_metric: ClassVar[str | None] = None
    #: Whether the sandbox executes a design's code as a module before `run`. False: `run`
    #: gets a module that holds only the code, as `SOURCE`, and runs it its own way (a
    #: problem folder's evaluator imports the program from a file).
    loads_design: ClassVar[bool] = True

    def __init__(self, **params: Any) -> None:
        unknown = set(params) - self.accepted_params if self.accepted_params is not None else ()
        if unknown:  # TypeError: the loader reports it as task_params the task rejected
            raise TypeError(
                f"unknown parameters {sorted(unknown)}; {self.name} accepts "
                f"{sorted(self.accepted_params or ())}"
            )
        self.params = params
        self._budget: TaskBudget | None = None

    # -- the budget ------------------------------------------------------------------------------
    @property
    def budget(self) -> TaskBudget:
        """This run's limits of one evaluation (the model's defaults until `configure`)."""
        if getattr(self, "_budget", None) is None:
            self._budget = self.budget_model()
        assert self._budget is not None
        return self._budget

    def configure(self, budget: dict[str, Any] | TaskBudget) -> None:
        """Set the run's budget; raises pydantic's ValidationError for a malformed one."""
        self._budget = (
            budget
            if isinstance(budget, self.budget_model)
            else self.budget_model.model_validate(
                budget.model_dump() if isinstance(budget, BaseModel) else budget
            )
        )

    def run_params(self) -> dict[str, Any]:
        """Outside, when a search starts: the `task_params` its configuration keeps, which
        build this very task again on resume, replay and every Ray worker. A task that settles
        something itself that the sandbox must not see (the arithmetic set's secret salt,
        when none is given) adds it here; the default is the parameters it was given."""
        return dict(self.params)

    def earlier_params(self) -> list[dict[str, Any]]:
        """Outside: other `task_params` that older versions of this task read the same
        configuration as — for a run one of them started (its recorded fingerprint is one of
        theirs), so that it still resumes and replays. None by default."""
        return []

    def check_budget(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Outside, once the budget is set: ValueError (a message naming the budget's field)
        when the task's data cannot meet it, e.g. more examples than a split holds."""

    # -- the contract ----------------------------------------------------------------------------
    @abstractmethod
    def describe(self) -> str:
        """Text for prompts: the goal, the code interface a design must define, the limits of
        this run (as numbers, from `self.budget`) and the metric."""

    @abstractmethod
    def seeds(self) -> list[Proposal]:
        """The hand-designed starting designs."""

    @abstractmethod
    def run(
        self, design: ModuleType, split: Split, *, seed: int, budget: TaskBudget
    ) -> dict[str, Any]:
        """Run the design on `split` inside the sandbox; return JSON-serialisable outputs.

        `budget` is this run's budget, or on a replay the one `replay_budget` made from the
        recorded metrics (so that a run cut short by a time limit is repeated step for step).
        """

    @abstractmethod
    def score(self, outputs: dict[str, Any], split: Split) -> Score:
        """Score outputs against the held-out labels of `split`; InvalidOutputs if malformed.

        Runs outside the sandbox; `outputs` is untrusted data: check every field before use.
        A task with `fidelities()` is also called as `score(outputs, split, fidelity=f)` for a
        cheap evaluation (f < 1), whose outputs cover only what `run` did at that fidelity."""

    # -- optional hooks, each with a safe default --------------------------------------------------
    def prepare(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Make data available before any evaluation (generate and cache it); idempotent."""

    def behaviour(self, design: ModuleType, *, seed: int, budget: TaskBudget) -> Any:
        """Inside the sandbox: a cheap fingerprint of what the design does — JSON data that two
        designs share when they would score the same (a heuristic's decisions on a small probe
        set; an architecture's built structure, parameter count and recipe). A child whose
        fingerprint equals an evaluated design's is recorded as its duplicate (`behaviour_of`)
        and not evaluated. It must cost a small fraction of `run` and be deterministic. A task
        that does not override it has no fingerprint (agents, whose calls to a model vary)."""
        return None

    def fidelities(self) -> tuple[float, ...]:
        """The cheap evaluations this task offers, as shares of a full one, lowest first
        (`(0.2,)`: a fifth of the instances, examples or training steps); `run` reads the share
        asked for in `budget.fidelity`, and `score` gets it as `fidelity=`. Cheap evaluations
        only rank designs against each other at the same share, so a share must rank them
        much as the full evaluation would. () by default: every evaluation is a full one."""
        return ()

    def summarize(self, metrics: dict[str, Any]) -> str:
        """One line on a design's metrics beside its fitness ("16,666 parameters, 900 steps"),
        for the console, `show`, `status` and prompts. Only numbers that do not depend on the
        machine's speed: prompts built from them must be the same on a replay."""
        return ""

    def reflect_checklist(self) -> list[str]:
        """What the meta-agent should check in its own proposal before it is evaluated."""
        return [
            "Will the code run as it is? Check every import and every name it uses.",
            "Does it define the interface exactly as described, within this run's limits?",
        ]

    def evolution_operators(self) -> Operators:
        """The mutation operators (with weights) and the crossover of offline evolution.
        The default works on any Python code; tasks add their own (torch layers, recipes)."""
        from agentic_design.mutations.generic import generic_operators

        return generic_operators()

    def scoring_programs(
        self, outputs: dict[str, Any], split: Split, fidelity: float = 1.0
    ) -> Programs | None:
        """Outside: when scoring means running what the design produced (an agent's code
        answers against hidden tests), the programs to run, by key. The evaluator runs them in
        the sandbox — never in the search process — step after step (`Programs.then`), and
        `score` then finds the last step's results in `outputs["program_results"]`:
        {key: {"passed": bool, "error": str}}, only as trustworthy as the code those programs
        ran. Raises InvalidOutputs for outputs it cannot read. None: nothing to run."""
        return None

    def complete(self, code: str) -> str:
        """Outside, before a proposal is recorded: the design its code stands for (a problem
        folder's program, its fixed frame restored around the evolve blocks a proposer may
        change). InvalidDesign when it stands for none; the default keeps the code as it is."""
        return code

    def same_answer(self, answer: str, truth: str) -> bool:
        """Outside: whether an answer says the same as the truth, for the simulated model's
        critic (`simulation_answers`)."""
        return answer.strip() == truth.strip()

    def design_parts(self) -> list[str]:
        """For the meta-agent's decompose mode: the parts a design of this task is usually
        made of, as hints for splitting one (FunCoder-style helper functions by default)."""
        return [
            "helper functions, each small enough to write and test on its own",
            f"the interface ({', '.join(self.interface) or 'what the task asks'}), built from "
            "the helpers",
        ]

    def example_call_cap(self) -> int | None:
        """Outside: the most LLM calls one example may make (uses_broker); None: no cap of
        its own, only the evaluation's (`call_cap`)."""
        return None

    def process_cap(self) -> int | None:
        """The processes and threads one evaluation may need at once (None: the sandbox's
        default cap); a fork bomb still stops there."""
        return None

    def call_cap(self, split: Split, fidelity: float = 1.0) -> int | None:
        """Outside: the most LLM calls one evaluation on `split` may make (uses_broker), at
        `fidelity` (a task with `fidelities()` is asked with the share of a cheap one)."""
        return None

    def simulation_answers(self) -> dict[str, str]:
        """Outside: question -> answer for the simulated model (`agent_llm: simulated`)."""
        return {}

    def usage_metrics(self, usage: dict[str, Any], metrics: dict[str, Any]) -> dict[str, Any]:
        """Outside: the broker's metering of an evaluation (`llm_calls`, `llm_tokens`,
        `llm_usd`...) as metrics; a task may add per-example figures."""
        return usage

    def replay_budget(self, budget: TaskBudget, metrics: dict[str, Any]) -> TaskBudget:
        """The budget that repeats a recorded evaluation exactly, given the metrics it
        recorded (a trainer stopped by its time limit is given the step count it reached)."""
        return budget

    def replay_inexact(self, recorded: dict[str, Any], measured: dict[str, Any]) -> str | None:
        """Outside: why a replay cannot repeat a recorded evaluation bit for bit, given the
        metrics of both (a GPU's nondeterministic kernels, another model of GPU); a replay then
        matches when its fitness falls inside the recorded 95% interval. None, the default:
        the same fitness exactly, or it did not reproduce."""
        return None

    def sandbox_readable(self) -> list[str]:
        """Files or folders a sandboxed `run` must read (its inputs). Everything else outside
        the interpreter and its libraries is unreadable there, held-out labels above all."""
        return []

    def sandbox_hidden(self) -> list[str]:
        """Paths to keep unreadable in the sandbox even inside readable folders: held-out
        labels, and anything they could be rebuilt from (a dataset file an installed package
        ships, the generator of synthetic data)."""
        return []

    def fingerprint(self) -> str:
        """A hash of everything that decides a design's score: task, parameters, data."""
        return params_fingerprint(type(self).__qualname__, self.params)

    def descriptors(self, code: str, metrics: dict[str, Any]) -> dict[str, float]:
        """Numbers that place a design in a space of behaviours, for diverse selection. They
        choose what the meta-agent is shown and which parents are drawn, so they must not
        depend on the machine's speed (no wall-clock times): a replay must ask the same."""
        return {}

    def export_module(self, code: str, name: str) -> str:
        """A standalone module for `agentic-design export`; tasks may add a runnable footer."""
        return code


def params_fingerprint(task: str, params: dict[str, Any]) -> str:
    """The fingerprint of a task class's name and its parameters (`Task.fingerprint`)."""
    payload = json.dumps({"task": task, "params": params}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
