"""The meta-agent's decompose mode: a design written part by part, as a task graph.

The design problem is the root task. The model splits it into parts (`meta/decompose.j2`,
guided by `Task.design_parts`: stem, blocks, head and recipe for a network; sub-skills for an
agent; helper functions for a heuristic), each with the names its code defines and the parts
it uses. Each part is written on its own (`meta/part.j2`), given the code of the parts it uses,
and checked on its own in the sandbox: its code, after theirs, must run, define its names, and
pass the few statements the model wrote to exercise it. A part that fails is written again with
the error quoted; with `max_depth` 2 a part may itself be split into helpers. The parts are
then composed into one design module (`meta/compose.j2`), checked for the task's interface in
the sandbox, and handed to the search to be evaluated as usual.

Sub-tasks are plain JSON ({"part": name, "spec", "defines", "depends_on"}), so the graph saves
and is stored with the design it produced; every call is recorded under that design.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, field_validator

from agentic_design.graph import GraphError, LLMStep, NodeFailed, Subtask, TaskGraph
from agentic_design.proposers.answers import MalformedAnswer, parse_answer
from agentic_design.records import Proposal

if TYPE_CHECKING:
    from agentic_design.config import MetaAgentConfig
    from agentic_design.llm import LLM
    from agentic_design.tasks import Task

#: (code, names it must define, statements exercising it) -> None, or what went wrong
Checker = Callable[[str, list[str], str], "str | None"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class PartsRequest:
    """What writing one design part by part takes from the meta-agent: the model that writes
    it (and its name, which the design records), the settings, the task and its description,
    the proposal's number (its calls are recorded under it) and the archive shown in prompts."""

    llm: LLM
    model: str
    settings: MetaAgentConfig
    task: Task
    description: str
    number: int
    archive: list[Any] = field(default_factory=list)


class _Part(BaseModel):
    name: str = Field(min_length=1, max_length=60)
    spec: str = Field(min_length=1, max_length=2000)
    defines: list[str] = Field(min_length=1, max_length=12)
    depends_on: list[str] = []

    @field_validator("defines")
    @classmethod
    def _identifiers(cls, names: list[str]) -> list[str]:
        bad = [n for n in names if not _NAME.match(n)]
        if bad:
            raise ValueError(f"not Python names: {bad}")
        return names


class _Parts(BaseModel):
    parts: list[_Part]


class _Decomposer(LLMStep):
    template = "meta/decompose.j2"
    schema = _Parts

    def __init__(self, writer: _Writer, **kwargs: Any) -> None:
        super().__init__(writer.llm, writer.prompts_dir, **kwargs)
        self.writer = writer

    def __call__(self, task: dict[str, Any]) -> list[Subtask] | None:
        answer = self.ask(task, **self.writer.variables(task))
        if not answer.parts:
            return None  # a part small enough to write at once
        names = [p.name for p in answer.parts]
        return [
            Subtask(
                {"part": p.name, "spec": p.spec, "defines": p.defines},
                [names.index(d) for d in p.depends_on],
            )
            for p in answer.parts
        ]

    def check(self, answer: Any) -> None:
        names = [p.name for p in answer.parts]
        if len(set(names)) != len(names):
            raise ValueError("two parts have the same name")
        if len(names) > self.writer.max_parts:
            raise ValueError(f"{len(names)} parts: at most {self.writer.max_parts}")
        for part in answer.parts:
            unknown = [d for d in part.depends_on if d not in names or d == part.name]
            if unknown:
                raise ValueError(f"part {part.name!r} depends on unknown parts {unknown}")


class _PartWriter(LLMStep):
    """Writes one part and checks it in the sandbox; its result is {"part", "code", "needs"}."""

    template = "meta/part.j2"

    def __init__(self, writer: _Writer, **kwargs: Any) -> None:
        super().__init__(writer.llm, writer.prompts_dir, **kwargs)
        self.writer = writer
        self._asking = threading.local()

    def __call__(self, task: dict[str, Any], inputs: list[Any]) -> dict[str, Any]:
        needs = _blocks(inputs)
        answer = self.ask([task, needs], **self.writer.variables(task), inputs=needs)
        return {"part": task["part"], "code": answer["code"], "needs": needs}

    def read(self, text: str) -> dict[str, str]:
        blocks = re.findall(r"```[ \t]*(?:python|py)?[ \t]*\n(.*?)```", text, re.DOTALL)
        if not blocks:
            raise ValueError("the answer holds no ```python block")
        return {"code": blocks[0], "check": blocks[1] if len(blocks) > 1 else ""}

    def ask(self, key: Any, **variables: Any) -> Any:
        # The check needs the part and the code it uses; a step runs on one thread throughout.
        self._asking.task = variables["task"]
        self._asking.used = "".join(_ending(b["code"]) for b in variables["inputs"])
        return super().ask(key, **variables)

    def check(self, answer: Any) -> None:
        task, used = self._asking.task, self._asking.used
        problem = self.writer.checker(used + answer["code"], task["defines"], answer["check"])
        if problem:
            raise ValueError(f"the part failed its check in the sandbox: {problem}")


class _Composer(LLMStep):
    """Composes the parts into the design module; its result is {"name", "thought", "code"}."""

    template = "meta/compose.j2"

    def __init__(self, writer: _Writer, **kwargs: Any) -> None:
        super().__init__(writer.llm, writer.prompts_dir, **kwargs)
        self.writer = writer
        self.parts = _PartWriter(writer, **kwargs)

    def __call__(self, task: dict[str, Any], child_results: list[Any]) -> dict[str, Any]:
        if "part" in task:  # a part split into helpers: written with them as its inputs
            return self.parts(task, child_results)
        parts = _blocks(child_results)
        answer = self.ask([task, parts], **self.writer.variables(task), parts=parts)
        return {"name": answer.name, "thought": answer.thought, "code": answer.code}

    def read(self, text: str) -> Any:
        try:
            return parse_answer(text, interface=self.writer.interface)
        except MalformedAnswer as exc:
            raise ValueError(str(exc)) from None

    def check(self, answer: Any) -> None:
        problem = self.writer.checker(answer.code, list(self.writer.interface), "")
        if problem:
            raise ValueError(f"the composed design failed to load in the sandbox: {problem}")


class _Writer:
    """What the three steps share: the model, the task's texts, the checker, the limits."""

    def __init__(self, request: PartsRequest, checker: Checker) -> None:
        self.llm = request.llm
        self.prompts_dir = request.settings.prompts_dir
        self.max_parts = request.settings.decompose.max_parts
        self.interface = request.task.interface
        self.checker = checker
        self.common = {
            "task_description": request.description,
            "parts_hint": request.task.design_parts(),
            "max_parts": self.max_parts,
            "interface": list(request.task.interface),
            "structured": False,
            "edits": False,
            "archive": request.archive,
        }

    def variables(self, task: dict[str, Any]) -> dict[str, Any]:
        return {**self.common, "task": task, "is_root": "part" not in task}


def write_by_parts(request: PartsRequest, checker: Checker) -> Proposal:
    """Write one design part by part (see the module's docstring); the graph goes with it."""
    settings = request.settings.decompose
    writer = _Writer(request, checker)
    # Calls are recorded under the design-to-be; distinct sample numbers per proposal.
    ids = {"design_id": request.number, "sample_base": request.number * 100}
    graph = TaskGraph(
        decompose=_Decomposer(writer, **ids),
        solve=_PartWriter(writer, **ids),
        aggregate=_Composer(writer, **ids),
        max_depth=settings.max_depth,
        max_nodes=1 + settings.max_parts + settings.max_parts**2,
        concurrency=settings.concurrency,
        retries=settings.part_attempts - 1,
        redecompositions=1,
    )
    root = {"design": "the whole design", "goal": "a design for the task described"}
    base = Proposal(
        name="unusable answer",
        thought="",
        code="# (no design: it was written part by part and a part failed)",
        operator="llm decompose",
        proposer=request.model,
        generation=1,
    )
    try:
        result = graph.run(root)
        error = None
    except NodeFailed as exc:
        result, error = None, "a part could not be written: " + _chain(exc.chain)
    except GraphError as exc:
        result, error = None, f"the part-by-part writing stopped: {exc}"
    stats = graph.stats
    spent = replace(base, llm_tokens=stats.tokens, llm_usd=stats.usd, graph=graph.to_json())
    if result is None:
        return replace(spent, error=error)
    parts = sum(1 for _, attrs in graph.graph.nodes(data=True) if attrs.get("depth") == 1)
    note = f"(written in {parts} parts, each checked in the sandbox)"
    thought = f"{result['thought']}\n\n{note}".strip()
    return replace(spent, name=result["name"], thought=thought, code=result["code"])


def _blocks(results: list[Any]) -> list[dict[str, str]]:
    """The code of written parts, each after what it needs and each once, in order:
    [{"part", "code"}]. Results that are not written parts (the root's inputs) are skipped."""
    blocks: list[dict[str, str]] = []
    for item in results:
        if not (isinstance(item, dict) and isinstance(item.get("code"), str)):
            continue
        for block in [*item.get("needs", []), {"part": item["part"], "code": item["code"]}]:
            if all(block["code"] != b["code"] for b in blocks):
                blocks.append({"part": block["part"], "code": block["code"]})
    return blocks


def _ending(code: str) -> str:
    return code if code.endswith("\n") else code + "\n"


def _chain(chain: list[dict[str, Any]]) -> str:
    return " <- ".join(
        f"{json.dumps(link['task'])[:80]}: {str(link.get('error') or '')[:300]}" for link in chain
    )
