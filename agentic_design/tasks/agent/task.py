"""The agent task kind: a design is an LLM agent, `forward(self, task) -> answer`.

Inside the sandbox, `run` answers the split's questions with the design, several examples at
once (threads; their LLM calls share the broker channel). An example whose agent raises is
recorded with its error — it counts as not solved, and the error is kept, never turned into a
silent wrong answer — and the other examples go on. Outside, `score` compares the answers with
the labels (exact match after normalising) and bootstraps a seeded 95% interval; the broker's
metering of the evaluation's calls becomes calls, tokens and USD per example.

Datasets (`tasks/agent/datasets.py`): generated arithmetic word problems (`arithmetic`),
ARC-AGI grid puzzles (`arc`) and HumanEval functions (`humaneval`), whose code answers are
scored by running the problem's tests in the sandbox (`scoring_programs`). The simulated model
(`agent_llm: simulated`) answers any of them with a documented noise model.

A cheap evaluation (`fidelities`) answers the first quarter of the split's examples, and is
scored on those alone. Agents have no behavioural fingerprint: their model's replies vary.

The sandbox reads the questions it is asked from a file the search process writes (`prepare`),
never the answers. The arithmetic set is drawn with a secret salt (`task_params: {salt: ...}`,
else this machine's, `machine_salt`), kept in the run's configuration (`run_params`), and the
copy of the task sent to the sandbox holds only a digest naming the set, so a design that
imports the generator cannot make the questions it is asked, nor their answers.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import secrets
import threading
import types
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

from pydantic import Field

from agentic_design.mutations.operators import Operators
from agentic_design.records import Proposal
from agentic_design.resources import shipped_dir
from agentic_design.tasks.agent.data import Example
from agentic_design.tasks.agent.datasets import DATASETS, Dataset
from agentic_design.tasks.base import (
    SPLITS,
    InvalidDesign,
    InvalidOutputs,
    Programs,
    Score,
    Split,
    Task,
    TaskBudget,
    params_fingerprint,
)
from agentic_design.tasks.common import (
    CACHE_DIR,
    installed_paths,
    load_seed_designs,
    share_count,
)

#: The shortest salt a user may fix for the arithmetic set (`task_params: {salt: ...}`).
MIN_SALT_CHARS = 16
#: A cheap evaluation answers this share of the split's examples (at least one).
CHEAP_SHARE = 0.25


def machine_salt() -> str:
    """This machine's secret salt for the arithmetic set: made on first use and kept in the data
    cache, which no sandbox reads (only the questions' file in it). One salt per machine, not
    per run, so that the same configuration searches the same questions on this machine (a
    search run twice gives the same designs; a task built twice asks the same questions); each
    run records the salt it used, so that it replays and resumes anywhere. Where the cache
    cannot be written, a salt of this process's own."""
    path = CACHE_DIR / "arithmetic-salt"
    for _ in range(2):
        try:
            salt = path.read_text().strip()
        except FileNotFoundError:
            salt = ""
        except OSError:
            break
        if len(salt) >= MIN_SALT_CHARS:
            return salt
        try:  # written whole, then linked: another process reads all of it or nothing
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(secrets.token_hex(16))
            tmp.chmod(0o600)
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
            tmp.unlink()
        except OSError:
            break
    return _PROCESS_SALT


_PROCESS_SALT = secrets.token_hex(16)


class AgentBudget(TaskBudget):
    """One agent evaluation's limits."""

    examples: int = Field(40, ge=1, le=2000, description="validation examples per evaluation")
    test_examples: int = Field(100, ge=1, le=2000, description="examples of the final test")
    max_calls_per_example: int = Field(
        24, ge=1, description="the broker refuses calls beyond this times the examples"
    )
    concurrency: int = Field(8, ge=1, le=32, description="examples answered at once")
    program_timeout_s: float = Field(
        5.0, gt=0, le=60, description="code answers (humaneval): each one's test run limit"
    )


class AgentTask(Task):
    """An LLM agent scored by the share of a question set's examples it answers right."""

    name: ClassVar[str] = "arithmetic"
    kind: ClassVar[str] = "agent"
    budget_model: ClassVar[type[TaskBudget]] = AgentBudget
    preload: ClassVar[tuple[str, ...]] = ("agentic_design.agents",)
    fitness_name: ClassVar[str] = "accuracy"
    fitness_meaning: ClassVar[str] = (
        "the share of the split's examples answered right, as the data set defines it; a "
        "failed example counts as wrong"
    )
    interface: ClassVar[tuple[str, ...]] = ("forward",)
    uses_broker: ClassVar[bool] = True
    # Tokens, not USD: a local or simulated model costs nothing, yet its tokens still compare.
    cost_metric: ClassVar[str | None] = "tokens_per_example"
    accepted_params: ClassVar[frozenset[str] | None] = frozenset(
        {"dataset", "max_grid", "salt", "questions"}
    )

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        name = str(params.get("dataset", self.name))
        if name not in DATASETS:
            raise TypeError(f"dataset must be one of {sorted(DATASETS)}, not {name!r}")
        if "max_grid" in params and name != "arc":
            raise TypeError("max_grid is a parameter of the arc data set only")
        max_grid = params.get("max_grid", 10)
        if type(max_grid) is not int or not 1 <= max_grid <= 30:
            raise TypeError("max_grid must be an integer from 1 to 30")
        self._run_params = dict(params)
        if name == "arithmetic":
            self._salt(params)
        elif {"salt", "questions"} & set(params):
            raise TypeError("salt is a parameter of the arithmetic data set only")
        self.data: Dataset = DATASETS[name](self._run_params)
        self._examples: dict[tuple[str, int], list[Example]] = {}
        self._questions: dict[str, list[dict[str, str]]] | None = None

    def _salt(self, params: dict[str, Any]) -> None:
        """The arithmetic set's salt: the one given, else this machine's (`machine_salt`).
        `params`, the parameters sent to the sandbox, hold in its place `questions`, a digest
        naming the set, from which the sandbox's copy of the task finds the questions' file.
        Their fingerprint tells salted sets apart; the salt itself stays in the search
        process, and in the run's configuration (`run_params`)."""
        if "questions" in params:  # the sandbox's copy: it reads the questions it is asked
            if "salt" in params:
                raise TypeError("give salt or questions, not both")
            return
        salt = params["salt"] if "salt" in params else machine_salt()
        # "" is the unsalted set, which versions before the salt drew inside the sandbox: for
        # their runs (`earlier_params`), never a default — a design can recompute its labels.
        if type(salt) is not str or 0 < len(salt) < MIN_SALT_CHARS:
            raise TypeError(
                f"salt must be a string of at least {MIN_SALT_CHARS} characters: a design "
                "that can guess the salt can make the questions and their answers"
            )
        self._run_params = {**params, "salt": salt}
        digest = hashlib.sha256(f"arithmetic questions\n{salt}".encode()).hexdigest()[:16]
        self.params = {**{k: v for k, v in params.items() if k != "salt"}, "questions": digest}

    def run_params(self) -> dict[str, Any]:
        """The parameters given, with the arithmetic set's salt where it was not given."""
        return dict(self._run_params)

    def earlier_params(self) -> list[dict[str, Any]]:
        """A run started before the arithmetic set was salted keeps no salt: it read the
        unsalted set."""
        given = {k: v for k, v in self._run_params.items() if k != "salt"}
        if self.data.name != "arithmetic" or self._run_params.get("salt") == "":
            return []
        return [{**given, "salt": ""}]

    def fingerprint(self) -> str:
        """The unsalted set keeps the fingerprint it had before there were salts."""
        if self._run_params.get("salt") == "":
            unsalted = {k: v for k, v in self.params.items() if k != "questions"}
            return params_fingerprint(type(self).__qualname__, unsalted)
        return super().fingerprint()

    def check_budget(self) -> None:
        """ValueError when the budget asks for more examples than a split holds."""
        limits = self.budget
        assert isinstance(limits, AgentBudget)
        for split, n, key in (
            ("validation", limits.examples, "examples"),
            ("test", limits.test_examples, "test_examples"),
        ):
            if n > self.data.available(split):
                raise ValueError(
                    f"{key}: {n} is more than the {self.data.available(split)} examples of "
                    f"the {self.data.name} set's {split} split"
                )

    def examples(self, split: str) -> list[Example]:
        """The split's examples (this run's number of them), with their answers: search
        process only. Made once per task object: every evaluation asks twice (cap, score)."""
        n = self._size(split)
        if (split, n) not in self._examples:
            self._examples[split, n] = self.data.examples(split, n)
        return self._examples[split, n]

    def _size(self, split: str) -> int:
        budget = self.budget
        assert isinstance(budget, AgentBudget)
        return budget.test_examples if split == "test" else budget.examples

    def _inputs_path(self) -> Path:
        sizes = [(split, self._size(split)) for split in SPLITS]
        identity = repr([sorted(self.params.items()), sizes])
        key = hashlib.sha256(identity.encode()).hexdigest()[:12]
        return CACHE_DIR / f"agent-{self.data.name}-{key}.inputs.json"

    def prepare(self) -> None:
        """Write the questions the sandbox reads: those of this run's examples of each split,
        with their ids and without their answers."""
        path = self._inputs_path()
        if path.exists():
            return
        payload = {
            split: [{"id": e.id, "question": e.question} for e in self.examples(split)]
            for split in SPLITS
        }
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(json.dumps(payload))
            os.replace(tmp, path)
        except OSError as exc:
            raise OSError(
                f"cannot write the {self.data.name} questions in {CACHE_DIR} "
                f"({exc.strerror}); set AGENTIC_DESIGN_CACHE to a writable directory"
            ) from None

    def sandbox_readable(self) -> list[str]:
        """The questions' file, written first if it is not there yet (`prepare`)."""
        self.prepare()
        return [str(self._inputs_path())]

    def sandbox_hidden(self) -> list[str]:
        return installed_paths(self.data.sources)

    # -- for prompts (search side) --------------------------------------------------------------
    def describe(self) -> str:
        from agentic_design.prompts import render

        budget = self.budget
        assert isinstance(budget, AgentBudget)
        return render(
            "tasks/agent.j2",
            dataset=self.data.title,
            examples_per_split=budget.examples,
            example_task=json.dumps({"question": self.data.examples("train", 1)[0].question}),
            answer_form=self.data.answer_form,
            dataset_meaning=self.data.fitness_meaning,
            max_calls=budget.max_calls_per_example,
            fitness_name=self.fitness_name,
        )

    def seeds(self) -> list[Proposal]:
        return load_seed_designs(shipped_dir("archive") / "agent")

    def example_call_cap(self) -> int:
        budget = self.budget
        assert isinstance(budget, AgentBudget)
        return budget.max_calls_per_example

    def process_cap(self) -> int:
        """Example threads, each with up to 16 runs of `repeat`, and the channel's reader."""
        budget = self.budget
        assert isinstance(budget, AgentBudget)
        return 32 + budget.concurrency * 17

    def call_cap(self, split: Split, fidelity: float = 1.0) -> int:
        """The broker's cap on one evaluation's LLM calls: the per-example cap times the
        examples it answers (at a share: `fidelity`, when the caller says which)."""
        budget = self.budget
        assert isinstance(budget, AgentBudget)
        return budget.max_calls_per_example * share_count(len(self.examples(split)), fidelity)

    def fidelities(self) -> tuple[float, ...]:
        return (CHEAP_SHARE,)

    def simulation_answers(self) -> dict[str, str]:
        """Every question the simulated model may meet, with its answer (search side only)."""
        train = self.data.examples("train", min(self._size("train"), self.data.available("train")))
        return {
            e.question: e.answer
            for examples in (train, self.examples("validation"), self.examples("test"))
            for e in examples
        }

    def same_answer(self, answer: str, truth: str) -> bool:
        return self.data.same_answer(answer, truth)

    def questions(self, split: str) -> list[dict[str, str]]:
        """The split's questions without their answers: what a sandboxed run may see."""
        if self._questions is None:
            try:
                self._questions = json.loads(self._inputs_path().read_text())
            except OSError as exc:
                raise RuntimeError(
                    f"cannot read the {self.data.name} questions ({exc.strerror}): the search "
                    "process writes them before it evaluates (Task.prepare)"
                ) from None
        assert self._questions is not None
        return self._questions[split][: self._size(split)]

    # -- inside the sandbox ---------------------------------------------------------------------
    def run(
        self, design: ModuleType, split: Split, *, seed: int, budget: TaskBudget
    ) -> dict[str, Any]:
        from agentic_design.agents import adas, events
        from agentic_design.agents.channel import current_example

        forward = getattr(design, "forward", None)
        if not callable(forward):
            raise InvalidDesign("the design must define forward(self, task)")
        limits = (
            budget
            if isinstance(budget, AgentBudget)
            else AgentBudget.model_validate(budget.model_dump())
        )
        agent = types.SimpleNamespace()  # `self`: designs may keep what they like on it
        # An agent written for ADAS (forward(self, taskInfo) with LLMAgentBase and Info) runs
        # unmodified: its framework's names are provided, and its task comes as an Info.
        written_for_adas = _first_argument(forward) == "taskInfo"
        if written_for_adas:
            for name, value in adas.adas_names().items():
                design.__dict__.setdefault(name, value)

        def answer(example: dict[str, str]) -> dict[str, Any]:
            current_example.set(example["id"])
            task: Any = {"question": example["question"]}
            if written_for_adas:
                task = adas.task_info(example["question"])
            try:
                value = adas.answer_text(forward(agent, task))
            except Exception as exc:  # the example's failure, recorded with it
                result = {"id": example["id"], "error": f"{type(exc).__name__}: {exc}"[:500]}
            else:
                result = {"id": example["id"], "answer": value[: self.data.answer_chars]}
            # What the toolkit did on its own for this example (asked again, answered a bad
            # plan directly...), counted for the evaluation's metrics (`agent_events`).
            counted = events.take(example["id"])
            return {**result, "events": counted} if counted else result

        questions = self.questions(split)
        questions = questions[: share_count(len(questions), limits.fidelity)]
        with ThreadPoolExecutor(limits.concurrency) as pool:
            results = list(pool.map(lambda e: copy_context().run(answer, e), questions))
        return {"results": results}

    # -- outside the sandbox ----------------------------------------------------------------------
    def _results(
        self, outputs: dict[str, Any], split: Split, fidelity: float | None = 1.0
    ) -> list[tuple[Example, str | None, str | None]]:
        """(example, answer, error) per example, from the sandbox's untrusted outputs: one
        for each of the examples a run of share `fidelity` answers, the first ones; None: a
        caller not told the share, which takes as many of the first ones as there are
        results (`score`, which is told, then checks their number)."""
        examples = self.examples(split)
        results = outputs.get("results") if isinstance(outputs, dict) else None
        if not isinstance(results, list):
            raise InvalidOutputs("outputs must be a dict with a list of results")
        if fidelity is None:
            n = len(results) if 0 < len(results) <= len(examples) else len(examples)
        else:
            n = share_count(len(examples), fidelity)
        if len(results) != n:
            raise InvalidOutputs(f"expected one result per example ({n}), got {len(results)}")
        read: list[tuple[Example, str | None, str | None]] = []
        for example, result in zip(examples[:n], results, strict=True):
            if not isinstance(result, dict) or result.get("id") != example.id:
                raise InvalidOutputs("results must be {id, answer | error}, in the examples' order")
            answer, error = result.get("answer"), result.get("error")
            if isinstance(error, str):
                read.append((example, None, error[:200]))
            elif isinstance(answer, str):
                read.append((example, answer[: self.data.answer_chars], None))
            else:
                raise InvalidOutputs("each result needs an answer or an error (strings)")
        return read

    def scoring_programs(
        self, outputs: dict[str, Any], split: Split, fidelity: float | None = None
    ) -> Programs | None:
        # The evaluator does not say at which share it ran: any first examples are judged,
        # and `score`, which is told, rejects a number of them that is not the share's.
        results = self._results(outputs, split, fidelity)
        answers = {e.id: a for e, a, _ in results if a is not None}
        budget = self.budget
        assert isinstance(budget, AgentBudget)
        return self.data.scoring(answers, budget.program_timeout_s)

    def score(self, outputs: dict[str, Any], split: Split, fidelity: float = 1.0) -> Score:
        results = self._results(outputs, split, fidelity)
        checked: dict[str, Any] | None = None
        if self.data.runs_answers:
            checked = outputs.get("program_results")
            if not isinstance(checked, dict):
                raise InvalidOutputs("the answers' code was not run (no program_results)")
        right: list[int] = []
        errors: dict[str, int] = {}
        failures: dict[str, int] = {}  # why code answers failed their tests
        for example, answer, error in results:
            if answer is None:
                errors[str(error)] = errors.get(str(error), 0) + 1
                right.append(0)
            elif checked is not None:
                verdict = checked.get(example.id)
                if not isinstance(verdict, dict) or not isinstance(verdict.get("passed"), bool):
                    raise InvalidOutputs(f"no test result for {example.id}'s answer")
                right.append(int(verdict["passed"]))
                why = str(verdict.get("error") or "")[:120]
                if not verdict["passed"]:
                    failures[why] = failures.get(why, 0) + 1
            else:
                right.append(int(self.data.is_right(answer, example)))
        accuracy = sum(right) / len(right)
        low, high = bootstrap_interval(right, seed=0)
        metrics: dict[str, Any] = {
            "examples": len(right),
            "correct": sum(right),
            "failed_examples": sum(errors.values()),
        }
        if errors:
            metrics["errors"] = _most_common(errors)
        if failures:
            metrics["test_failures"] = _most_common(failures)
        if counted := _event_counts(outputs):
            metrics["agent_events"] = counted
        return Score(accuracy, low, high, metrics)

    def usage_metrics(self, usage: dict[str, Any], metrics: dict[str, Any]) -> dict[str, Any]:
        n = max(1, int(metrics.get("examples") or 1))
        return {
            **usage,
            "calls_per_example": usage.get("llm_calls", 0) / n,
            "tokens_per_example": usage.get("llm_tokens", 0) / n,
            "usd_per_example": usage.get("llm_usd", 0.0) / n,
        }

    def summarize(self, metrics: dict[str, Any]) -> str:
        line = (
            f"{metrics.get('correct', 0)}/{metrics.get('examples', 0)} right; "
            f"{metrics.get('calls_per_example', 0):.1f} calls, "
            f"{metrics.get('tokens_per_example', 0):,.0f} tokens, "
            f"${metrics.get('usd_per_example', 0):.5f} per example"
        )
        failed = metrics.get("failed_examples", 0)
        return line + (f"; {failed} failed" if failed else "")

    def descriptors(self, code: str, metrics: dict[str, Any]) -> dict[str, float]:
        return {"calls_per_example": float(metrics.get("calls_per_example", 0.0))}

    def evolution_operators(self) -> Operators:
        from agentic_design.tasks.agent.mutations import agent_operators

        return agent_operators()

    def design_parts(self) -> list[str]:
        return [
            "sub-skills: functions that each make one kind of LLM call with the toolkit "
            "(plan, solve, check, revise...) and return what it found",
            "forward(self, task), combining the sub-skills into the agent",
        ]

    def reflect_checklist(self) -> list[str]:
        return [
            "Does forward(self, task) return the final answer as a short string?",
            "Does it let AgentError propagate (no bare except that returns a guess)?",
            "Is every extra LLM call worth its cost (calls per example are metered and capped)?",
        ]


def _event_counts(outputs: dict[str, Any]) -> dict[str, int]:
    """The toolkit's events summed over the examples (`agents/events.py`). They come from the
    sandbox, untrusted, and only inform: entries that are not a short name with a count are
    left out rather than failing the evaluation; at most 10 names."""
    total: dict[str, int] = {}
    results = outputs.get("results")
    for result in results if isinstance(results, list) else []:
        counted = result.get("events") if isinstance(result, dict) else None
        for name, n in counted.items() if isinstance(counted, dict) else ():
            if isinstance(name, str) and len(name) <= 80 and type(n) is int and 0 < n <= 10**6:
                total[name] = total.get(name, 0) + n
    return dict(sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))[:10])


def _most_common(counts: dict[str, int]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda kv: -kv[1])[:5])


def _first_argument(function: Any) -> str | None:
    """The name of the argument after `self` (ADAS's agents call it taskInfo)."""
    code = getattr(function, "__code__", None)
    names: tuple[str, ...] = code.co_varnames[: code.co_argcount] if code is not None else ()
    return names[1] if len(names) > 1 else None


def bootstrap_interval(hits: list[int], seed: int, rounds: int = 1000) -> tuple[float, float]:
    """A seeded percentile bootstrap 95% interval of the mean of `hits` (0/1 per example)."""
    rng = random.Random(seed)
    n = len(hits)
    means = sorted(sum(rng.choices(hits, k=n)) / n for _ in range(rounds))
    return means[int(0.025 * rounds)], means[int(0.975 * rounds) - 1]


class ARCTask(AgentTask):
    """ARC-AGI puzzles (task_params: `max_grid`, the largest grid side kept, default 10)."""

    name: ClassVar[str] = "arc"


class HumanEvalTask(AgentTask):
    """HumanEval: the agent writes each function; pass@1 by its tests, run in the sandbox."""

    name: ClassVar[str] = "humaneval"
    # The three steps of judging an answer each import it, in a fresh process per answer.
    preload: ClassVar[tuple[str, ...]] = (
        *AgentTask.preload,
        "agentic_design.tasks.agent.recorded_tests",
    )
