"""The toolkit agent designs are written with: an LLM role with typed output fields, and the
helpers that structures like self-consistency, debate and self-refinement are made of.

    from agentic_design.agents import Agent, critique, sample, vote

    def forward(self, task):
        solver = Agent("a careful math tutor", temperature=0.8)
        answers = sample(solver, task["question"], n=5)
        return vote(a["answer"] for a in answers)

Every call goes to the broker (the search process), which asks the configured model, records
and meters the call, and caps how many one evaluation may make. A call that fails raises
`AgentError`: the example is recorded as failed with that error, never as a silent wrong answer.
"""

from __future__ import annotations

import contextvars
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from agentic_design.agents.channel import CallFailed, Pending, client
from agentic_design.lenient_json import decode_at
from agentic_design.normalise import normalise_answer

DEFAULT_OUTPUTS = {
    "thinking": "your step-by-step reasoning",
    "answer": "the final answer only, with no words or units",
}
FIELDS_LINE = "Reply with a single JSON object and nothing else, with exactly these fields:"


# `repeat` numbers its runs; a run's calls have samples run * RUN_STRIDE + their own, within
# the broker's limit (MAX_SAMPLE). Runs nested deeper than two levels may share numbers.
_RUN: contextvars.ContextVar[int] = contextvars.ContextVar("agent_run", default=0)
RUN_STRIDE, MAX_RUNS, MAX_SAMPLE = 1000, 9, 100_000


class AgentError(RuntimeError):
    """An LLM call failed, or its answer lacked the fields asked for."""


class Agent:
    """One role played by the LLM. Calling it asks one question and returns the output fields
    as strings: `Agent("a physicist")(question)["answer"]`.

    `outputs` maps each field to what it should hold (default: thinking, answer);
    `temperature` 0 answers the same prompt the same way, higher samples;
    `instruction` is added to the role's system message.
    """

    def __init__(
        self,
        role: str = "a careful problem solver",
        outputs: Mapping[str, str] | Sequence[str] | None = None,
        temperature: float = 0.0,
        instruction: str = "",
    ) -> None:
        if outputs is None:
            outputs = DEFAULT_OUTPUTS
        elif not isinstance(outputs, Mapping):
            outputs = {name: DEFAULT_OUTPUTS.get(name, f"the {name}") for name in outputs}
        if not outputs:
            raise ValueError("an agent needs at least one output field")
        if not 0.0 <= temperature <= 2.0:
            raise ValueError(f"temperature must be in [0, 2], not {temperature}")
        self.role = role
        self.outputs = dict(outputs)
        self.temperature = float(temperature)
        self.instruction = instruction

    def messages(
        self, question: str, context: Sequence[Any] = (), instruction: str = ""
    ) -> list[dict[str, str]]:
        system = f"You are {self.role}."
        for extra in (self.instruction, instruction):
            if extra:
                system += f"\n\n{extra}"
        system += f"\n\n{FIELDS_LINE}\n{json.dumps(self.outputs)}"
        user = ""
        if context:
            user += "What others have said so far:\n" + "\n".join(
                f"- {_as_text(item)}" for item in context
            )
            user += "\n\n"
        user += f"Question:\n{question}"
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    def __call__(
        self,
        question: str,
        context: Sequence[Any] = (),
        instruction: str = "",
        sample: int = 0,
    ) -> dict[str, str]:
        return self._finish(self._submit(question, context, instruction, sample))

    def _submit(
        self, question: str, context: Sequence[Any], instruction: str, sample: int
    ) -> Pending:
        messages = self.messages(question, context, instruction)
        # Inside `repeat`, each run's calls are numbered apart from the other runs' identical
        # calls, so which run gets which sample of the model never depends on thread timing.
        sample = _RUN.get() * RUN_STRIDE + sample
        try:
            return client().submit(messages, temperature=self.temperature, sample=sample)
        except CallFailed as exc:
            raise AgentError(f"the LLM call failed: {exc}") from None

    def _finish(self, pending: Pending) -> dict[str, str]:
        try:
            reply = client().wait(pending)
        except CallFailed as exc:
            raise AgentError(f"the LLM call failed: {exc}") from None
        return parse_fields(reply.text, list(self.outputs))


def parse_fields(text: str, fields: list[str]) -> dict[str, str]:
    """The output fields from an answer: the JSON object holding them (fenced, after prose, or
    with the raw control characters models write); a one-field agent also takes plain text."""
    decoder = json.JSONDecoder(strict=False)
    for start in [m.start() for m in re.finditer(r"\{", text)][:20]:
        try:
            value, _ = decode_at(decoder, text, start)
        except ValueError:
            continue
        if isinstance(value, dict):
            lowered = {str(k).lower(): v for k, v in value.items()}
            missing = [f for f in fields if f.lower() not in lowered]
            if not missing:
                return {f: _as_text(lowered[f.lower()]) for f in fields}
    if len(fields) == 1 and text.strip():
        return {fields[0]: text.strip()}
    raise AgentError(
        f"the answer lacks the fields {fields}: {text[:200]!r}" + ("..." if len(text) > 200 else "")
    )


def repeat(function: Any, n: int, *args: Any) -> list[Any]:
    """`function(*args)` run `n` times at once, results in run order: e.g. a whole agent run
    several times for a vote, `vote(repeat(solve_once, 5, self, task))`. Identical calls in
    different runs are told apart (their sample numbers), so each run gets its own sample of
    the model and a rerun gets the same ones, whatever the threads' timing."""
    if n < 1:
        raise ValueError("repeat at least once")
    context = contextvars.copy_context()
    outer = _RUN.get()

    def one(i: int) -> Any:
        def run() -> Any:
            _RUN.set((outer * MAX_RUNS + i + 1) % (MAX_SAMPLE // RUN_STRIDE))
            return function(*args)

        return context.copy().run(run)

    with ThreadPoolExecutor(min(n, 16)) as pool:
        return list(pool.map(one, range(n)))


def sample(agent: Agent, question: str, n: int, **kwargs: Any) -> list[dict[str, str]]:
    """`n` answers to the same question, asked at once (each its own sample of the model):
    every call is sent before any reply is awaited, so no thread is started."""
    if n < 1:
        raise ValueError("sample at least once")
    context, instruction = kwargs.pop("context", ()), kwargs.pop("instruction", "")
    if kwargs:
        raise TypeError(f"sample() got unexpected keyword arguments {sorted(kwargs)}")
    pending = [agent._submit(question, context, instruction, i) for i in range(n)]
    try:
        return [agent._finish(p) for p in pending]
    finally:
        for p in pending:  # replies no one waits for any more (after a failure) are dropped
            client()._forget(p.id)


def vote(answers: Iterable[Any]) -> str:
    """The most common answer, compared in the normal form scoring uses (`normalise`: "42",
    "42.0" and "$42." are one answer; text is compared without case, spacing or a trailing
    period); ties go to the one given first. Empty answers do not vote."""
    given = [_as_text(a).strip() for a in answers]
    keys = [normalise_answer(a) for a in given]
    counts = Counter(k for k in keys if k)
    if not counts:
        raise AgentError("no answers to vote on")
    top = max(counts.values())
    winner = next(k for k in keys if counts.get(k) == top)
    return given[keys.index(winner)]


def critique(
    question: str,
    answer: str,
    role: str = "a strict reviewer who checks every step",
    temperature: float = 0.0,
) -> dict[str, str]:
    """A critic's verdict on an answer: fields `feedback` and `correct` ("yes" or "no")."""
    critic = Agent(
        role,
        outputs={
            "feedback": "what is wrong and how to fix it, or why it is right",
            "correct": "yes or no",
        },
        temperature=temperature,
    )
    return critic(f"{question}\n\nAnswer to check: {answer}")


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {_as_text(v)}" for k, v in value.items())
    return json.dumps(value) if not isinstance(value, int | float) else str(value)
