"""The agent task kind: a design is an LLM agent, `forward(self, task) -> answer`.

Inside the sandbox, `run` answers the split's questions with the design, several examples at
once (threads; their LLM calls share the broker channel). An example whose agent raises is
recorded with its error — it counts as not solved, and the error is kept, never turned into a
silent wrong answer — and the other examples go on. Outside, `score` compares the answers with
the labels (exact match after normalising) and bootstraps a seeded 95% interval; the broker's
metering of the evaluation's calls becomes calls, tokens and USD per example.

Datasets: `arithmetic` (generated word problems; `tasks/agent_data.py`). The simulated model
(`agent_llm: simulated`) answers this set's questions with a documented noise model.
"""

from __future__ import annotations

import random
import types
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from types import ModuleType
from typing import Any, ClassVar

from pydantic import Field

from agentic_design.proposers.operators import Operators
from agentic_design.records import Proposal
from agentic_design.resources import shipped_dir
from agentic_design.tasks.agent_data import Example, arithmetic_examples, normalise_answer
from agentic_design.tasks.architecture import load_seed_designs
from agentic_design.tasks.base import InvalidDesign, InvalidOutputs, Score, Split, Task, TaskBudget

DATASETS = {"arithmetic": "arithmetic word problems"}


class AgentBudget(TaskBudget):
    """One agent evaluation's limits."""

    examples: int = Field(40, ge=1, le=2000, description="validation examples per evaluation")
    test_examples: int = Field(100, ge=1, le=2000, description="examples of the final test")
    max_calls_per_example: int = Field(
        24, ge=1, description="the broker refuses calls beyond this times the examples"
    )
    concurrency: int = Field(8, ge=1, le=32, description="examples answered at once")


class AgentTask(Task):
    """An LLM agent scored by exact-match accuracy on a question/answer set."""

    name: ClassVar[str] = "arithmetic"
    kind: ClassVar[str] = "agent"
    budget_model: ClassVar[type[TaskBudget]] = AgentBudget
    preload: ClassVar[tuple[str, ...]] = ("agentic_design.agents",)
    fitness_name: ClassVar[str] = "accuracy"
    fitness_meaning: ClassVar[str] = (
        "the share of the split's questions answered exactly right (after normalising: "
        "spaces, case, $, thousands commas, a trailing .0); a failed example counts as wrong"
    )
    interface: ClassVar[tuple[str, ...]] = ("forward",)
    uses_broker: ClassVar[bool] = True
    accepted_params: ClassVar[frozenset[str] | None] = frozenset({"dataset"})

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.dataset = str(params.get("dataset", "arithmetic"))
        if self.dataset not in DATASETS:
            raise TypeError(f"dataset must be one of {sorted(DATASETS)}, not {self.dataset!r}")
        self._examples: dict[tuple[str, int], list[Example]] = {}

    def examples(self, split: str) -> list[Example]:
        """The split's examples (this run's number of them), generated once per task object:
        every evaluation asks for them twice (its call cap, its score)."""
        budget = self.budget
        assert isinstance(budget, AgentBudget)
        n = budget.test_examples if split == "test" else budget.examples
        if (split, n) not in self._examples:
            self._examples[split, n] = arithmetic_examples(split, n)
        return self._examples[split, n]

    # -- for prompts (search side) --------------------------------------------------------------
    def describe(self) -> str:
        import json

        from agentic_design.prompts import render

        budget = self.budget
        assert isinstance(budget, AgentBudget)
        return render(
            "tasks/agent.j2",
            dataset=DATASETS[self.dataset],
            examples_per_split=budget.examples,
            example_task=json.dumps({"question": self.examples("train")[0].question}),
            max_calls=budget.max_calls_per_example,
            fitness_name=self.fitness_name,
            fitness_meaning=self.fitness_meaning,
        )

    def seeds(self) -> list[Proposal]:
        return load_seed_designs(shipped_dir("archive") / "agent")

    def call_cap(self, split: Split) -> int:
        """The broker's cap on one evaluation's LLM calls."""
        budget = self.budget
        assert isinstance(budget, AgentBudget)
        return budget.max_calls_per_example * len(self.examples(split))

    def simulation_answers(self) -> dict[str, str]:
        """Every question the simulated model may meet, with its answer (search side only)."""
        return {
            e.question: e.answer
            for split in ("train", "validation", "test")
            for e in self.examples(split)
        }

    # -- inside the sandbox ---------------------------------------------------------------------
    def run(
        self, design: ModuleType, split: Split, *, seed: int, budget: TaskBudget
    ) -> dict[str, Any]:
        from agentic_design.agents import adas
        from agentic_design.agents.channel import current_example

        forward = getattr(design, "forward", None)
        if not callable(forward):
            raise InvalidDesign("the design must define forward(self, task)")
        limits = budget if isinstance(budget, AgentBudget) else AgentBudget()
        agent = types.SimpleNamespace()  # `self`: designs may keep what they like on it
        # An agent written for ADAS (forward(self, taskInfo) with LLMAgentBase and Info) runs
        # unmodified: its framework's names are provided, and its task comes as an Info.
        written_for_adas = _first_argument(forward) == "taskInfo"
        if written_for_adas:
            for name, value in adas.adas_names().items():
                design.__dict__.setdefault(name, value)

        def answer(example: Example) -> dict[str, str]:
            current_example.set(example.id)
            task: Any = {"question": example.question}
            if written_for_adas:
                task = adas.task_info(example.question)
            try:
                value = adas.answer_text(forward(agent, task))
            except Exception as exc:  # the example's failure, recorded with it
                return {"id": example.id, "error": f"{type(exc).__name__}: {exc}"[:500]}
            return {"id": example.id, "answer": value[:1000]}

        examples = self.examples(split)
        with ThreadPoolExecutor(limits.concurrency) as pool:
            results = list(pool.map(lambda e: copy_context().run(answer, e), examples))
        return {"results": results}

    # -- outside the sandbox ----------------------------------------------------------------------
    def score(self, outputs: dict[str, Any], split: Split) -> Score:
        examples = self.examples(split)
        results = outputs.get("results") if isinstance(outputs, dict) else None
        if not isinstance(results, list) or len(results) != len(examples):
            raise InvalidOutputs(f"expected one result per example ({len(examples)})")
        right: list[int] = []
        errors: dict[str, int] = {}
        for example, result in zip(examples, results, strict=True):
            if not isinstance(result, dict) or result.get("id") != example.id:
                raise InvalidOutputs("results must be {id, answer | error}, in the examples' order")
            answer, error = result.get("answer"), result.get("error")
            if isinstance(error, str):
                errors[error[:200]] = errors.get(error[:200], 0) + 1
                right.append(0)
            elif isinstance(answer, str):
                right.append(int(normalise_answer(answer) == example.answer))
            else:
                raise InvalidOutputs("each result needs an answer or an error (strings)")
        accuracy = sum(right) / len(right)
        low, high = bootstrap_interval(right, seed=0)
        metrics: dict[str, Any] = {
            "examples": len(right),
            "correct": sum(right),
            "failed_examples": sum(errors.values()),
        }
        if errors:
            metrics["errors"] = dict(sorted(errors.items(), key=lambda kv: -kv[1])[:5])
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
        from agentic_design.tasks.agent_mutations import agent_operators

        return agent_operators()

    def reflect_checklist(self) -> list[str]:
        return [
            "Does forward(self, task) return the final answer as a short string?",
            "Does it let AgentError propagate (no bare except that returns a guess)?",
            "Is every extra LLM call worth its cost (calls per example are metered and capped)?",
        ]


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
