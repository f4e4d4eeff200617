"""The toolkit agent designs are written with: an LLM role with typed output fields, and the
helpers that structures like self-consistency, debate and self-refinement are made of.

    from agentic_design.agents import Agent, critique, sample, vote

    def forward(self, task):
        solver = Agent("a careful math tutor", temperature=0.8)
        answers = sample(solver, task["question"], n=5)
        return vote(a["answer"] for a in answers)

Every call goes to the broker (the search process), which asks the configured model, records
and meters the call, and caps how many one evaluation may make. Replies are read as models
write them (`agents/fields.py`); a reply that lacks a field is asked for again, once, saying
what was missing. A call that fails, or whose fields are still missing, raises `AgentError`:
the example is recorded as failed with that error, never as a silent wrong answer.
"""

from __future__ import annotations

import contextvars
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from agentic_design.agents import events
from agentic_design.agents.channel import CallFailed, Pending, client
from agentic_design.agents.fields import Read, as_text, read_fields
from agentic_design.normalise import normalise_answer

DEFAULT_OUTPUTS = {
    "thinking": "your step-by-step reasoning",
    "answer": "the final answer only, with no words or units",
}
FIELDS_LINE = "Reply with a single JSON object and nothing else, with exactly these fields:"
#: The event counted (`events`) when a reply lacked fields and the model was asked again.
REASKED = "asked again for missing fields"
MAX_REPLY_SHOWN = 16_000  # characters of a reply shown back to the model when asking again


# `repeat` numbers its runs; a run's calls have samples run * RUN_STRIDE + their own, within
# the broker's limit (MAX_SAMPLE). Runs nested deeper than two levels may share numbers.
_RUN: contextvars.ContextVar[int] = contextvars.ContextVar("agent_run", default=0)
RUN_STRIDE, MAX_RUNS, MAX_SAMPLE = 1000, 9, 100_000


class AgentError(RuntimeError):
    """An LLM call failed, or its answer lacked the fields asked for."""


class MissingFields(AgentError):
    """A reply lacked output fields even when the model was asked again; `missing` names
    them."""

    def __init__(self, message: str, missing: tuple[str, ...]) -> None:
        super().__init__(message)
        self.missing = missing


@dataclass(frozen=True)
class Asked:
    """A call sent: what was asked, with its sample number, for asking again."""

    pending: Pending
    messages: list[dict[str, str]]
    sample: int


class Agent:
    """One role played by the LLM. Calling it asks one question and returns the output fields
    as strings: `Agent("a physicist")(question)["answer"]`.

    `outputs` maps each field to what it should hold (default: thinking, answer);
    `temperature` 0 answers the same prompt the same way, higher samples;
    `instruction` is added to the role's system message.

    Replies are read as models write them (`fields.read_fields`). A reply that still lacks a
    field is followed, once, by a message saying exactly what was missing, in the same
    conversation and with the same sample number (a replay asks the same again); if the
    answer to that lacks it too, the call raises `MissingFields`, an AgentError naming it.
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
                f"- {as_text(item)}" for item in context
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
    ) -> Asked:
        messages = self.messages(question, context, instruction)
        # Inside `repeat`, each run's calls are numbered apart from the other runs' identical
        # calls, so which run gets which sample of the model never depends on thread timing.
        sample = _RUN.get() * RUN_STRIDE + sample
        return Asked(self._send(messages, sample), messages, sample)

    def _send(self, messages: list[dict[str, str]], sample: int) -> Pending:
        try:
            return client().submit(
                messages, temperature=self.temperature, sample=sample, fields=list(self.outputs)
            )
        except CallFailed as exc:
            raise AgentError(f"the LLM call failed: {exc}") from None

    def _wait(self, pending: Pending) -> str:
        try:
            return client().wait(pending).text
        except CallFailed as exc:
            raise AgentError(f"the LLM call failed: {exc}") from None

    def _finish(self, asked: Asked) -> dict[str, str]:
        reply = self._wait(asked.pending)
        read = read_fields(reply, self.outputs)
        return read.values if not read.missing else self._settle(asked, reply, read)

    def _settle(self, asked: Asked, reply: str, read: Read) -> dict[str, str]:
        """The fields of a reply that lacked some: the model is asked once more, told what was
        missing; what it then gives completes the first reply's fields."""
        events.count(REASKED)
        messages = [
            *asked.messages,
            {"role": "assistant", "content": reply[:MAX_REPLY_SHOWN]},
            {"role": "user", "content": reask(read.problem, self.outputs)},
        ]
        again = self._wait(self._send(messages, asked.sample))
        second = read_fields(again, self.outputs)
        values = {**read.values, **second.values}
        missing = tuple(f for f in self.outputs if f not in values)
        if not missing:
            return {f: values[f] for f in self.outputs}
        raise MissingFields(
            f"the model's reply lacked fields even when asked again: {second.problem}: "
            + repr(again[:200])
            + ("..." if len(again) > 200 else ""),
            missing,
        )


def reask(problem: str, outputs: Mapping[str, str]) -> str:
    """The message that asks a model again for the fields its reply lacked."""
    return f"Your last reply could not be used: {problem}.\n\n{FIELDS_LINE}\n{json.dumps(outputs)}"


def parse_fields(text: str, fields: Mapping[str, str] | Sequence[str]) -> dict[str, str]:
    """The output fields from a reply, read as `fields.read_fields` reads them (fenced, after
    prose, Python-flavoured, markdown lines...); MissingFields when some are not there.
    `fields` with their descriptions (a mapping) also tells an echo of them from an answer."""
    read = read_fields(text, fields)
    if read.missing:
        raise MissingFields(
            f"{read.problem}: {text[:200]!r}" + ("..." if len(text) > 200 else ""), read.missing
        )
    return read.values


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
    asked = [agent._submit(question, context, instruction, i) for i in range(n)]
    try:
        return [agent._finish(a) for a in asked]
    finally:
        for a in asked:  # replies no one waits for any more (after a failure) are dropped
            client()._forget(a.pending.id)


def vote(answers: Iterable[Any]) -> str:
    """The most common answer, compared in the normal form scoring uses (`normalise`: "42",
    "42.0" and "$42." are one answer; text is compared without case, spacing or a trailing
    period); ties go to the one given first. Empty answers do not vote."""
    given = [as_text(a).strip() for a in answers]
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
