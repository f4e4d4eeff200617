"""The LLM meta-agent: writes new designs from Jinja templates, reflects on them, repairs them.

Each proposal is a short dialogue: the system prompt and a `propose.j2` message (mode `new`,
`mutate` or `crossover`, a bounded slice of the archive), the answer parsed as
`{thought, name, code}` (one re-ask quoting the parse error if it is malformed), then
`reflexion_rounds` rounds of `reflect.j2` in which the model critiques and revises its proposal.
A design that fails evaluation goes back through `repair.j2` with its error.

Planning (reading the archive) happens on the search's thread; writing (the LLM calls) may run
on any thread, so that several proposals are in flight at once.
"""

from __future__ import annotations

import ast
import json
import random
import re
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from agentic_design.archive import Archive
from agentic_design.config import MetaAgentConfig
from agentic_design.llm import LLM, LLMError, Message, ReplayMiss
from agentic_design.prompts import render
from agentic_design.records import Design, Proposal, Status
from agentic_design.tasks import Task

_FENCE = re.compile(r"```(?:json)?\s*\n(.*?)```", re.DOTALL)


class MalformedAnswer(ValueError):
    """The model's answer is not a usable {thought, name, code} object."""


class Answer(BaseModel):
    thought: str = ""
    name: str = Field(..., min_length=1, max_length=120)
    code: str = Field(..., min_length=1)


def parse_answer(text: str) -> Answer:
    """Find the {thought, name, code} object in an answer: plain JSON, a fenced block, or JSON
    inside prose. Raise MalformedAnswer saying what is wrong."""
    if not text.strip():
        raise MalformedAnswer("the answer was empty")
    problems = []
    for candidate in _json_candidates(text):
        try:
            answer = Answer.model_validate(candidate)
        except ValidationError as exc:
            problems.append(
                "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            )
            continue
        try:
            ast.parse(answer.code)
        except SyntaxError as exc:
            raise MalformedAnswer(
                f"the code does not parse: line {exc.lineno}: {exc.msg}"
            ) from None
        return answer
    if problems:
        raise MalformedAnswer(f"the JSON object is missing fields: {problems[0]}")
    raise MalformedAnswer("no JSON object was found in the answer")


def _json_candidates(text: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    chunks = [text.strip(), *(m.group(1) for m in _FENCE.finditer(text))]
    decoder = json.JSONDecoder()
    for chunk in chunks:
        for start in [i for i, ch in enumerate(chunk) if ch == "{"][:50]:
            try:
                value, _ = decoder.raw_decode(chunk[start:])
            except ValueError:
                continue
            if isinstance(value, dict):
                found.append(value)
                break
    return found


@dataclass(frozen=True)
class Plan:
    """What one proposal will be asked to do, drawn from the archive on the search's thread."""

    number: int
    mode: str
    parents: tuple[Design, ...]
    context: dict[str, Any] = field(default_factory=dict)


class MetaAgentProposer:
    """Proposals from an LLM; `repair_attempts` > 0 means failed designs are sent back."""

    name = "meta_agent"

    def __init__(self, llm: LLM, task: Task, settings: MetaAgentConfig, seed: int) -> None:
        self.llm = llm
        self.task = task
        self.settings = settings
        self.seed = seed
        self.repair_attempts = settings.repair_attempts
        self._description = task.describe()
        self._repaired: set[int] | None = None  # designs a repair has been planned for

    # -- planning (search thread) ---------------------------------------------------------------
    def plan(self, archive: Archive, number: int, upto: int) -> Plan:
        """Plan design `number` from the snapshot of designs with ids up to `upto`: a repair of
        the newest failure that has attempts left, else a new proposal in a weighted mode."""
        repair = self._next_repair(archive, upto)
        if repair is not None:
            design, attempt = repair
            assert self._repaired is not None  # filled by _next_repair
            self._repaired.add(design.id)
            return Plan(
                number=number, mode="repair", parents=(design,), context={"attempt": attempt}
            )
        rng = random.Random(self.seed * 1_000_003 + number)
        s = self.settings
        context = archive.select_context(
            s.context_best, s.context_diverse, s.context_failures, upto=upto
        )
        pool = context.best + context.diverse
        modes = {m: w for m, w in s.modes.items() if w > 0 and len(pool) >= _PARENTS[m]}
        mode = rng.choices(list(modes), weights=list(modes.values()))[0] if modes else "new"
        parents = tuple(rng.sample(pool, _PARENTS[mode])) if _PARENTS[mode] else ()
        best = context.best[0] if context.best else None
        return Plan(
            number=number,
            mode=mode,
            parents=parents,
            context={
                "total": upto,
                "archive": [self._entry(d) for d in pool],
                "failures": [self._failure(d) for d in context.failures],
                "best_id": best.id if best else None,
                "best_code": self._code(best.code) if best and mode == "new" else "",
            },
        )

    def _next_repair(self, archive: Archive, upto: int) -> tuple[Design, int] | None:
        if self.repair_attempts == 0:
            return None
        if self._repaired is None:  # first call (or a resumed run): find the repairs made so far
            self._repaired = {d.repair_of for d in archive.designs() if d.repair_of is not None}
        for design in reversed(archive.recent(50, upto=upto)):
            if design.status in _REPAIRABLE and design.id not in self._repaired:
                if design.metrics.get("stage") == "proposal":
                    continue  # never evaluated: an unusable answer, not a design to fix
                attempt = 1 + design.attempt
                if attempt <= self.repair_attempts:
                    return design, attempt
        return None

    # -- writing (any thread) -------------------------------------------------------------------
    def write(self, plan: Plan) -> Proposal:
        if plan.mode == "repair":
            return self._repair(plan.parents[0], plan.context["attempt"], plan.number)
        prompt = self.propose_prompt(plan)
        dialogue = _Dialogue(self, plan.number)
        answer = dialogue.ask(prompt)
        if answer is not None:
            for round_ in range(1, self.settings.reflexion_rounds + 1):
                revised = dialogue.ask(
                    self._render(
                        "meta/reflect.j2",
                        mode=plan.mode,
                        round=round_,
                        rounds=self.settings.reflexion_rounds,
                        checklist=self.task.reflect_checklist(),
                    ),
                    reask=False,
                )
                answer = revised or answer  # a garbled revision keeps the last good proposal
        parents = tuple(p.id for p in plan.parents)
        generation = 1 + max((p.generation for p in plan.parents), default=0)
        return dialogue.proposal(answer, f"llm {plan.mode}", parents, generation)

    def propose_prompt(self, plan: Plan) -> str:
        """The first user message of a proposal: task, mode, parents, the bounded archive."""
        return self._render(
            "meta/propose.j2",
            task_description=self._description,
            mode=plan.mode,
            parents=[{**self._entry(p), "code": self._code(p.code)} for p in plan.parents],
            **plan.context,
        )

    def _repair(self, design: Design, attempt: int, number: int) -> Proposal:
        prompt = self._render(
            "meta/repair.j2",
            task_description=self._description,
            design={
                "id": design.id,
                "name": design.name,
                "thought": design.thought,
                "code": self._code(design.code),
                "status": design.status.value,
            },
            error=(design.error or "")[-3000:],
            attempt=attempt,
            attempts=self.repair_attempts,
        )
        dialogue = _Dialogue(self, number)
        answer = dialogue.ask(prompt)
        operator = f"repair {attempt}/{self.repair_attempts} of #{design.id}"
        proposal = dialogue.proposal(answer, operator, (design.id,), design.generation + 1)
        return replace(proposal, repair_of=design.id, attempt=attempt)

    # -- helpers ------------------------------------------------------------------------------
    def _render(self, template: str, **variables: Any) -> str:
        return render(template, self.settings.prompts_dir, **variables)

    def _code(self, code: str) -> str:
        limit = self.settings.max_code_chars
        return code if len(code) <= limit else code[:limit] + "\n# ... [cut: too long to show]"

    def _entry(self, d: Design) -> dict[str, Any]:
        summary = (
            f"{self.task.fitness_name} {d.fitness:.4f}" if d.fitness is not None else d.status.value
        )
        if d.ci:
            summary += f" [{d.ci_low:.3f}, {d.ci_high:.3f}]"
        if d.summary:
            summary += f", {d.summary}"
        return {"id": d.id, "name": d.name, "summary": summary, "thought": d.thought[:300]}

    @staticmethod
    def _failure(d: Design) -> dict[str, Any]:
        lines = [line for line in (d.error or "").splitlines() if line.strip()]
        error = " / ".join(lines[:1] + lines[-2:]) if len(lines) > 3 else " / ".join(lines)
        return {"id": d.id, "name": d.name, "status": d.status.value, "error": error[:400]}


_PARENTS = {"new": 0, "mutate": 1, "crossover": 2}
_REPAIRABLE = {
    Status.INVALID,
    Status.ERROR,
    Status.TIMEOUT,
    Status.MEMORY,
    Status.KILLED,
    Status.OUTPUT_LIMIT,
}


class _Dialogue:
    """One conversation with the model, adding up what it costs."""

    def __init__(self, agent: MetaAgentProposer, design_id: int) -> None:
        self.agent = agent
        self.design_id = design_id  # the id the proposal will have: calls are recorded under it
        self.sample = design_id * 100  # tells apart the calls of one dialogue in the record
        self.messages: list[Message] = [
            {"role": "system", "content": agent._render("meta/system.j2")}
        ]
        self.tokens = 0
        self.usd = 0.0
        self.last_text = ""
        self.problem: str | None = None

    def _call(self, content: str) -> str:
        self.messages.append({"role": "user", "content": content})
        reply = self.agent.llm.complete(
            list(self.messages), sample=self.sample, design_id=self.design_id
        )
        self.sample += 1
        self.tokens += reply.tokens
        self.usd += reply.usd
        self.messages.append({"role": "assistant", "content": reply.text})
        self.last_text = reply.text
        return reply.text

    def ask(self, content: str, reask: bool = True) -> Answer | None:
        """Ask; on a malformed answer ask once more quoting the problem (if `reask`)."""
        try:
            text = self._call(content)
            try:
                return parse_answer(text)
            except MalformedAnswer as exc:
                self.problem = f"malformed answer: {exc}"
                if not reask:
                    return None
            text = self._call(self.agent._render("meta/reask.j2", problem=self.problem))
            return parse_answer(text)
        except MalformedAnswer as exc:
            self.problem = f"malformed answer (asked twice): {exc}"
        except ReplayMiss:
            raise  # a replay that asks something new has diverged: not a design's problem
        except LLMError as exc:
            self.problem = f"the LLM call failed: {exc}"
        return None

    def proposal(
        self, answer: Answer | None, operator: str, parents: tuple[int, ...], generation: int
    ) -> Proposal:
        # Without a usable answer the proposal is kept, with what the model said, as invalid.
        unusable = Proposal(
            name="unusable answer",
            thought="",
            code=self.last_text or "# (no answer)",
            parents=parents,
            operator=operator,
            proposer=self.agent.llm.config.model,
            generation=generation,
            llm_tokens=self.tokens,
            llm_usd=self.usd,
            error=self.problem,
        )
        if answer is None:
            return unusable
        name, thought = answer.name.strip(), answer.thought.strip()
        return replace(unusable, name=name, thought=thought, code=answer.code, error=None)
