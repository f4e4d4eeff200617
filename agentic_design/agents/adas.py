"""ADAS's names, on our toolkit: an agent written for ADAS (Meta Agent Search) runs unmodified.

ADAS agents define `forward(self, taskInfo)` and use two names its framework provides:

- `Info(name, author, content, iteration_idx)`: a named tuple for every piece of text passed
  between agents; `taskInfo` is the task as one (`Info("task", "User", question, -1)`);
- `LLMAgentBase(output_fields, agent_name, role="helpful assistant", model=None,
  temperature=0.5)`: calling it with a list of Infos and an instruction asks the LLM for the
  output fields and returns one Info per field, in order.

This module re-creates that interface (our own code, from its documented behaviour) over
`toolkit.Agent`, so every call goes through the broker like any of our agents' — sandboxed,
metered, capped and recorded. `model` is accepted and ignored: the run's `agent_llm` answers.

Replies are read as ours are (`fields.read_fields`), and then as ADAS's `LLMAgentBase.query`
treats them: a field the reply lacks, or every field of a reply that cannot be read, is ''
(never asked again, never an error), and fields not asked for are dropped. Two differences,
both deliberate: the Infos come in the order of `output_fields` (ADAS's follow the reply's
keys), and values are text (a JSON `true` is "True", a list is its JSON). A call the broker
refuses or the model fails still raises AgentError: the example is recorded as failed, with
the reason, rather than scored on answers no model gave.
"""

from __future__ import annotations

import itertools
from collections import namedtuple
from typing import Any

from agentic_design.agents import events
from agentic_design.agents.fields import Read
from agentic_design.agents.toolkit import Agent, Asked

Info = namedtuple("Info", ["name", "author", "content", "iteration_idx"])

# What ADAS's answers hold, by field name; others are described by their name.
_FIELDS = {
    "thinking": "Your step-by-step thinking.",
    "answer": "Your answer. Return only the final answer (for a number, only the number).",
    "feedback": "Your feedback.",
    "correct": "Your judgement: True or False.",
}
_ids = itertools.count()
#: The event counted (`events`) when a reply lacked fields and they were filled with ''.
FILLED = "ADAS fields missing, filled with ''"


class _AdasAgent(Agent):
    """An Agent that fills a missing field with '' as ADAS does, instead of asking again."""

    def _settle(self, asked: Asked, reply: str, read: Read) -> dict[str, str]:
        events.count(FILLED)
        return {f: read.values.get(f, "") for f in self.outputs}


class LLMAgentBase:
    """An LLM role in ADAS's interface; calling it returns a list of `Info`, one per field."""

    def __init__(
        self,
        output_fields: list[str],
        agent_name: str,
        role: str = "helpful assistant",
        model: str | None = None,
        temperature: float = 0.5,
    ) -> None:
        self.output_fields = list(output_fields)
        self.agent_name = agent_name
        self.role = role
        self.temperature = temperature
        self.id = next(_ids)
        self._agent = _AdasAgent(
            f"a {role}" if not role.lower().startswith(("a ", "an ", "the ")) else role,
            outputs={f: describe(f) for f in self.output_fields},
            temperature=min(max(float(temperature), 0.0), 2.0),
        )

    def __repr__(self) -> str:
        return f"{self.agent_name} {self.id}"

    def __call__(
        self, input_infos: list[Any], instruction: str, iteration_idx: int = -1
    ) -> list[Info]:
        task, context = "", []
        for info in input_infos:
            if isinstance(info, Info) and info.author == "User":
                task = str(info.content)
            elif isinstance(info, Info):
                turn = f" (iteration {info.iteration_idx})" if info.iteration_idx >= 0 else ""
                context.append(f"{info.name} by {info.author}{turn}: {info.content}")
            else:
                context.append(str(info))
        fields = self._agent(task, context=context, instruction=instruction)
        author = repr(self)
        return [Info(f, author, fields[f], iteration_idx) for f in self.output_fields]


def describe(field: str) -> str:
    """What an output field should hold, as the adapter asks for it."""
    return _FIELDS.get(field, f"Your {field}.")


def adas_names() -> dict[str, Any]:
    """What ADAS's framework puts in scope of an agent's code."""
    return {"Info": Info, "LLMAgentBase": LLMAgentBase}


def task_info(question: str) -> Info:
    return Info("task", "User", question, -1)


def answer_text(value: Any) -> str:
    """An ADAS agent returns an Info (its answer) or plain text."""
    return str(value.content) if isinstance(value, Info) else str(value)
