"""LLM-backed steps for a TaskGraph: a decomposer, a solver and an aggregator that render
`prompts/graph/*.j2`, ask the model, and check its JSON answer with pydantic.

    llm = LLM(LLMConfig(model="openai/gpt-4o-mini"))
    g = TaskGraph(decompose=llm_decomposer(llm), solve=llm_solver(llm),
                  aggregate=llm_aggregator(llm))

Each call is reported to the node's provenance (template, model, tokens, USD, latency). An
unusable answer raises MalformedReply, which the graph records and retries; the retry's prompt
quotes the problem back to the model, and asks with another `sample`, so that a recorded run
(an LLM with a store) does not answer it from the failed call's record.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from typing import Any

from pydantic import BaseModel, JsonValue, ValidationError, model_validator

from agentic_design.graph.model import (
    DecompositionError,
    GraphError,
    Subtask,
    fingerprint,
    report_call,
    sibling_order,
)
from agentic_design.lenient_json import decode_at
from agentic_design.llm import LLM
from agentic_design.prompts import render


class MalformedReply(GraphError):
    """The model's answer could not be used; the message says why, for the model to read."""


class _Planned(BaseModel):
    task: JsonValue
    depends_on: list[int] = []


class _Decomposition(BaseModel):
    atomic: bool = False
    subtasks: list[_Planned] = []

    @model_validator(mode="after")
    def _one_or_the_other(self) -> _Decomposition:
        if self.atomic == bool(self.subtasks):
            raise ValueError('give either "atomic": true or a non-empty "subtasks" list')
        return self


class _Result(BaseModel):
    result: JsonValue


class LLMStep:
    """One kind of step: its template, its answer's schema, and per task, how many times it
    was asked and what was wrong with the last answer. Subclasses set `template` and `schema`
    (or override `read`) and may add checks (`check`, raising ValueError with the problem).

    `design_id` files the calls under a design in the LLM's record; `sample_base` is added to
    each call's sample number, so that steps of different owners asking the same prompt are
    told apart in the record."""

    template: str
    schema: type[BaseModel]

    def __init__(
        self,
        llm: LLM,
        prompts_dir: str | None = None,
        *,
        design_id: int | None = None,
        sample_base: int = 0,
    ):
        self.llm = llm
        self.prompts_dir = prompts_dir
        self.design_id = design_id
        self.sample_base = sample_base
        self._lock = threading.Lock()
        self._asked: Counter[str] = Counter()
        self._problems: dict[str, str] = {}

    def ask(self, key: Any, **variables: Any) -> Any:
        """Render, ask, report the call, and read the answer (MalformedReply if unusable)."""
        name = fingerprint(key)
        with self._lock:
            sample = self._asked[name]
            self._asked[name] += 1
            problem = self._problems.get(name)
        prompt = render(self.template, self.prompts_dir, problem=problem, **variables)
        reply = self.llm.complete(
            [{"role": "user", "content": prompt}],
            sample=self.sample_base + sample,
            design_id=self.design_id,
        )
        report_call(
            template=self.template,
            model=reply.model,
            prompt_tokens=reply.prompt_tokens,
            completion_tokens=reply.completion_tokens,
            usd=reply.usd,
            latency_s=reply.latency_s,
        )
        try:
            answer = self.read(reply.text)
            self.check(answer)
        except (ValueError, DecompositionError) as exc:
            problem = _explain(exc)
            with self._lock:
                self._problems[name] = problem
            raise MalformedReply(f"{self.template}: {problem}") from None
        with self._lock:
            self._problems.pop(name, None)
        return answer

    def read(self, text: str) -> Any:
        """The last JSON object in `text` that fits the schema (models think aloud first)."""
        decoder = json.JSONDecoder(strict=False)
        found: BaseModel | None = None
        first_error: ValidationError | None = None
        position = 0
        while (start := text.find("{", position)) >= 0:
            position = start + 1
            try:
                value, end = decode_at(decoder, text, start)
            except (json.JSONDecodeError, RecursionError):
                continue
            try:
                found = self.schema.model_validate(value)
            except ValidationError as exc:
                first_error = first_error or exc
                continue
            position = end
        if found is not None:
            return found
        if first_error is not None:
            raise first_error
        raise ValueError(f"the answer holds no JSON object: {text[:200]!r}")

    def check(self, answer: Any) -> None:
        """Further checks on a well-formed answer."""


class _Decomposer(LLMStep):
    template = "graph/decompose.j2"
    schema = _Decomposition

    def __call__(self, task: Any) -> list[Subtask] | None:
        answer = self.ask(task, task=_show(task))
        assert isinstance(answer, _Decomposition)
        if answer.atomic:
            return None
        return [Subtask(s.task, s.depends_on) for s in answer.subtasks]

    def check(self, answer: BaseModel) -> None:
        assert isinstance(answer, _Decomposition)
        sibling_order([Subtask(s.task, s.depends_on) for s in answer.subtasks])


class _Solver(LLMStep):
    template = "graph/solve.j2"
    schema = _Result

    def __call__(self, task: Any, inputs: list[Any]) -> Any:
        answer = self.ask([task, inputs], task=_show(task), inputs=[_show(i) for i in inputs])
        assert isinstance(answer, _Result)
        return answer.result


class _Aggregator(LLMStep):
    template = "graph/aggregate.j2"
    schema = _Result

    def __call__(self, task: Any, child_results: list[Any]) -> Any:
        shown = [_show(r) for r in child_results]
        answer = self.ask([task, child_results], task=_show(task), results=shown)
        assert isinstance(answer, _Result)
        return answer.result


def llm_decomposer(llm: LLM, prompts_dir: str | None = None) -> _Decomposer:
    """A decomposer asking `llm` (prompts/graph/decompose.j2) whether a task is atomic or
    which subtasks, with which dependencies, it splits into."""
    return _Decomposer(llm, prompts_dir)


def llm_solver(llm: LLM, prompts_dir: str | None = None) -> _Solver:
    """A solver asking `llm` (prompts/graph/solve.j2) for an atomic task's result."""
    return _Solver(llm, prompts_dir)


def llm_aggregator(llm: LLM, prompts_dir: str | None = None) -> _Aggregator:
    """An aggregator asking `llm` (prompts/graph/aggregate.j2) to compose its subtasks'
    results into the task's."""
    return _Aggregator(llm, prompts_dir)


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _explain(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'the answer'}: {e['msg']}" for e in exc.errors()
        )
    return str(exc)
