"""The LLM meta-agent: writes new designs from Jinja templates, reflects on them, repairs them.

Each proposal is a short dialogue with one model (chosen among `llm.models` by
`model_choice`): the system prompt and a `propose.j2` message (mode `new`, `mutate` or
`crossover`, a bounded slice of the archive), the answer read by `answers.parse_answer` in
whatever shape the model wrote it (one re-ask quoting the problem if it holds no usable
design), then `reflexion_rounds` rounds of `reflect.j2` in which the model critiques and revises
its proposal. A design that fails evaluation goes back through `repair.j2` with its error.
Mutations and repairs may answer with SEARCH/REPLACE edits against the parent
(`edit_format`); the applied change is stored with the design.

What the run learns goes into the prompts too (`agentic_design.learning`): the run's insight
notes (`notes_every`), an instruction variant of the propose prompt that evolves (`variants`),
and a check that a proposal is a new idea before it is evaluated (`search.novelty`), which
sends one judged not new back once.

Planning (reading the archive) happens on the search's thread; writing (the LLM calls) may run
on any thread, so that several proposals are in flight at once.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from agentic_design.config import MetaAgentConfig, NoveltyConfig
from agentic_design.learning.gate import Asked, GatePlan, NoveltyGate, Verdict
from agentic_design.learning.insights import InsightNotes, NotesRef
from agentic_design.learning.instructions import PromptVariants, VariantRef
from agentic_design.llm import LLM, LLMError, Message, ReplayMiss, structured_output
from agentic_design.prompts import render
from agentic_design.proposers.answers import Answer, MalformedAnswer, parse_answer
from agentic_design.proposers.by_parts import Checker, PartsRequest, write_by_parts
from agentic_design.proposers.edits import unified_diff
from agentic_design.proposers.model_choice import FixedWeights, ModelChoice
from agentic_design.proposers.selection import Strategy, Uniform
from agentic_design.records import FAILURES, Design, Embedding, Proposal
from agentic_design.store.archive import Archive
from agentic_design.tasks import Task

__all__ = ["MalformedAnswer", "MetaAgentProposer", "Plan", "parse_answer"]


@dataclass(frozen=True)
class Plan:
    """What one proposal will be asked to do, drawn from the archive on the search's thread."""

    number: int
    mode: str
    parents: tuple[Design, ...]
    context: dict[str, Any] = field(default_factory=dict)
    model: str = ""  # which of the configured models writes it
    edits: bool = False  # asked to answer with SEARCH/REPLACE edits against the parent
    notes: NotesRef | None = None  # the run's notes it shows (and a new version it records)
    variant: VariantRef | None = None  # its instruction variant (and the variants it records)
    gate: GatePlan | None = None  # what its novelty check needs


class MetaAgentProposer:
    """Proposals from one LLM or several (`llms` by name, `choice` picking one per proposal);
    `repair_attempts` > 0 means failed designs are sent back."""

    name = "meta_agent"

    def __init__(
        self,
        llms: LLM | Mapping[str, LLM],
        task: Task,
        settings: MetaAgentConfig,
        seed: int,
        choice: ModelChoice | None = None,
        selection: Strategy | None = None,
        novelty: NoveltyConfig | None = None,
        embedder: LLM | None = None,
    ) -> None:
        self.llms = {llms.model: llms} if isinstance(llms, LLM) else dict(llms)
        self.choice = choice or FixedWeights({name: 1.0 for name in self.llms}, seed)
        self.task = task
        self.settings = settings
        self.seed = seed
        self.repair_attempts = settings.repair_attempts
        self._description = task.describe()
        self._repaired: set[int] | None = None  # designs a repair has been planned for
        #: Checks one part in the sandbox, for the decompose mode (the search sets it).
        self.checker: Checker | None = None
        # With `parents: selection`, the strategy parents come from, fed incrementally.
        self.selection = selection if settings.parents == "selection" else None
        self._read_upto = 0
        # What the run learns: the notes, the variants and the novelty check, whose LLM calls
        # run as jobs of their own beside the proposals that wait for them.
        self._jobs = ThreadPoolExecutor(2, thread_name_prefix="learn")
        first = next(iter(self.llms.values()))
        describe = self.task.describe
        self.notes = (
            InsightNotes(first, settings, describe, task.fitness_name, self._render, self._jobs)
            if settings.notes_every
            else None
        )
        self.variants = (
            PromptVariants(first, settings.variants, seed, describe, self._render, self._jobs)
            if settings.variants.enabled
            else None
        )
        self.gate = (
            NoveltyGate(novelty, embedder, self._render, describe, task.fitness_name)
            if novelty is not None
            else None
        )

    @cached_property
    def _structured(self) -> dict[str, bool]:
        """Per model, whether it is asked for the provider's structured output. Worked out at
        the first proposal, not here: asking litellm means importing it (seconds), and a search
        evaluates its seeds meanwhile."""
        return {name: structured_output(llm.config) for name, llm in self.llms.items()}

    def close(self) -> None:
        """Let the learning jobs finish and close the novelty check's store reader."""
        self._jobs.shutdown(wait=False, cancel_futures=True)
        if self.gate is not None:
            self.gate.close()

    # -- planning (search thread) ---------------------------------------------------------------
    def plan(self, archive: Archive, number: int, upto: int) -> Plan:
        """Plan design `number` from the snapshot of designs with ids up to `upto`: a repair of
        the newest failure that has attempts left, else a new proposal in a weighted mode;
        with what the run learned by then."""
        plan = self._plan(archive, number, upto)
        notes = self.notes.plan(archive, number, upto) if self.notes else None
        variant = None
        if self.variants is not None:
            variant = self.variants.plan(archive, number, upto, notes.shown if notes else None)
        gate = None
        if self.gate is not None and plan.mode in _CHECKED:
            nearby = [p.id for p in plan.parents] + [e["id"] for e in plan.context["archive"]]
            gate = self.gate.plan(archive, number, upto, list(dict.fromkeys(nearby)))
        return replace(plan, notes=notes, variant=variant, gate=gate)

    def _plan(self, archive: Archive, number: int, upto: int) -> Plan:
        repair = self._next_repair(archive, upto)
        if repair is not None:
            design, attempt = repair
            assert self._repaired is not None  # filled by _next_repair
            self._repaired.add(design.id)
            return Plan(
                number=number,
                mode="repair",
                parents=(design,),
                context={"attempt": attempt},
                model=self.choice.choose(archive, number, upto),
                edits=self._edits_suit(design),
            )
        rng = random.Random(self.seed * 1_000_003 + number)
        s = self.settings
        context = archive.select_context(
            s.context_best, s.context_diverse, s.context_failures, upto=upto
        )
        pool = context.best + context.diverse
        if self.selection is not None:  # parents offered whole: their code goes in the prompt
            self.selection.follow(archive, self._read_upto, upto, outline=False)
            self._read_upto = max(self._read_upto, upto)
            pool = self.selection.population(number)
        modes = {m: w for m, w in s.modes.items() if w > 0 and len(pool) >= _PARENTS[m]}
        mode = rng.choices(list(modes), weights=list(modes.values()))[0] if modes else "new"
        parents = self._parents(mode, pool, rng, number)
        best = context.best[0] if context.best else None
        return Plan(
            number=number,
            mode=mode,
            parents=parents,
            model=self.choice.choose(archive, number, upto),
            edits=mode == "mutate" and self._edits_suit(parents[0]),
            context={
                "total": upto,
                # A control run's prompt shows a uniform draw: it must not call it the best.
                "shown": "some drawn at random, whatever their score"
                if isinstance(self.selection, Uniform)
                else "the best and some of the most different",
                "archive": [self._entry(d) for d in pool],
                "failures": [self._failure(d) for d in context.failures],
                "best_id": best.id if best else None,
                "best_code": self._code(best.code) if best and mode == "new" else "",
            },
        )

    def _parents(
        self, mode: str, pool: list[Design], rng: random.Random, number: int
    ) -> tuple[Design, ...]:
        if self.selection is None:
            return tuple(rng.sample(pool, _PARENTS[mode])) if _PARENTS[mode] else ()
        chosen: list[Design] = []
        for _ in range(_PARENTS[mode]):
            chosen.append(self.selection.pick(rng, number, exclude=[d.id for d in chosen]))
        return tuple(chosen)

    def _edits_suit(self, parent: Design) -> bool:
        """Whether to ask for SEARCH/REPLACE edits against `parent` (edit_format)."""
        s = self.settings
        if s.edit_format == "full" or len(parent.code) > s.max_parent_chars:
            return False  # edits need the whole parent in the prompt, to quote from
        return s.edit_format == "diff" or parent.code.count("\n") + 1 >= s.diff_min_lines

    def _next_repair(self, archive: Archive, upto: int) -> tuple[Design, int] | None:
        if self.repair_attempts == 0:
            return None
        if self._repaired is None:  # first call (or a resumed run): find the repairs made so far
            self._repaired = {d.repair_of for d in archive.designs() if d.repair_of is not None}
        for design in reversed(archive.recent(50, upto=upto)):
            if design.status in FAILURES and design.id not in self._repaired:
                if design.metrics.get("stage") == "proposal":
                    continue  # never evaluated: an unusable answer, not a design to fix
                attempt = 1 + design.attempt
                if attempt <= self.repair_attempts:
                    return design, attempt
        return None

    # -- writing (any thread) -------------------------------------------------------------------
    def write(self, plan: Plan) -> Proposal:
        proposal = self._write(plan)
        notes = plan.notes.wait()[1] if plan.notes else None
        made = plan.variant.wait()[1] if plan.variant else ()
        return replace(
            proposal,
            notes=(notes,) if notes else (),
            variants=proposal.variants + made,
            variant=plan.variant.id if plan.variant and plan.mode in _CHECKED else None,
        )

    def _write(self, plan: Plan) -> Proposal:
        if plan.mode == "repair":
            return self._repair(plan)
        if plan.mode == "decompose":
            if self.checker is None:
                raise RuntimeError("the decompose mode needs a sandbox to check parts in")
            request = PartsRequest(
                llm=self.llms[plan.model],
                model=plan.model,
                settings=self.settings,
                task=self.task,
                description=self._description,
                number=plan.number,
                archive=plan.context.get("archive", []),
            )
            return write_by_parts(request, self.checker)
        base = plan.parents[0].code if len(plan.parents) == 1 else None
        dialogue = _Dialogue(self, plan, base)
        answer = dialogue.ask(self.propose_prompt(plan))
        if answer is not None:
            for round_ in range(1, self.settings.reflexion_rounds + 1):
                dialogue.base = answer.code  # edits in a revision apply to the proposal
                revised = dialogue.ask(
                    self._render(
                        "meta/reflect.j2",
                        mode=plan.mode,
                        round=round_,
                        rounds=self.settings.reflexion_rounds,
                        checklist=self.task.reflect_checklist(),
                        **dialogue.format(),
                    ),
                    reask=False,
                )
                answer = revised or answer  # a garbled revision keeps the last good proposal
        novelty: dict[str, Any] | None = None
        embeddings: tuple[Embedding, ...] = ()
        if answer is not None and plan.gate is not None and self.gate is not None:
            answer, novelty, embeddings = self._novel(plan, plan.gate, dialogue, answer, base)
        parents = tuple(p.id for p in plan.parents)
        generation = 1 + max((p.generation for p in plan.parents), default=0)
        proposal = dialogue.proposal(answer, f"llm {plan.mode}", parents, generation)
        return replace(proposal, novelty=novelty, embeddings=embeddings)

    def _novel(
        self, plan: Plan, gate_plan: GatePlan, dialogue: _Dialogue, answer: Answer, base: str | None
    ) -> tuple[Answer, dict[str, Any], tuple[Embedding, ...]]:
        """Check the answer's novelty; one judged not new goes back once for a different idea.
        Returns the answer kept, what the store records of the check, and the embeddings made
        (the answer's own last, when it was judged new)."""
        assert self.gate is not None
        gate = self.gate

        def check(candidate: Answer, attempt: int) -> Verdict:
            verdict = gate.check(
                Asked(
                    gate_plan,
                    candidate.code,
                    candidate.name,
                    candidate.thought,
                    dialogue.llm,
                    attempt,
                    plan.mode,
                )
            )
            dialogue.tokens += verdict.tokens
            dialogue.usd += verdict.usd
            return verdict

        verdict = check(answer, 0)
        made = list(verdict.embedded)
        record = verdict.record()
        if not verdict.novel:
            dialogue.base = base  # edits in the new idea apply to the parent again
            retry = dialogue.ask(
                self._render(
                    "meta/novelty_retry.j2",
                    closest={
                        "id": verdict.closest,
                        "name": verdict.closest_name,
                        "similarity": verdict.similarity,
                    },
                    reason=verdict.reason if verdict.judge else "",
                    **dialogue.format(),
                )
            )
            first = record
            if retry is not None:
                answer, verdict = retry, check(retry, 1)
                made += verdict.embedded
            record = {**verdict.record(), "sent_back": True, "first": first}
        if verdict.novel and verdict.vector is not None:
            gate.admit(plan.number, verdict.vector)
            made.append(Embedding(gate.model, verdict.vector))
        elif not verdict.novel:
            record["why"] = verdict.why()
        return answer, record, tuple(made)

    def propose_prompt(self, plan: Plan) -> str:
        """The first user message of a proposal: task, mode, parents, the bounded archive."""
        limit = self.settings.max_parent_chars if plan.edits else None
        note = plan.notes.wait()[0] if plan.notes else None
        shown = self.notes.shown(note) if self.notes else {"notes": "", "notes_version": 0}
        return self._render(
            "meta/propose.j2",
            task_description=self._description,
            instruction=plan.variant.wait()[0] if plan.variant else "",
            **shown,
            mode=plan.mode,
            parents=[{**self._entry(p), "code": self._code(p.code, limit)} for p in plan.parents],
            **plan.context,
            **self._format(plan.model, plan.edits),
        )

    def _repair(self, plan: Plan) -> Proposal:
        design, attempt = plan.parents[0], plan.context["attempt"]
        dialogue = _Dialogue(self, plan, design.code)
        limit = self.settings.max_parent_chars if plan.edits else None
        prompt = self._render(
            "meta/repair.j2",
            task_description=self._description,
            design={
                "id": design.id,
                "name": design.name,
                "thought": design.thought,
                "code": self._code(design.code, limit),
                "status": design.status.value,
            },
            error=(design.error or "")[-3000:],
            attempt=attempt,
            attempts=self.repair_attempts,
            **dialogue.format(),
        )
        answer = dialogue.ask(prompt)
        operator = f"repair {attempt}/{self.repair_attempts} of #{design.id}"
        proposal = dialogue.proposal(answer, operator, (design.id,), design.generation + 1)
        return replace(proposal, repair_of=design.id, attempt=attempt)

    def _format(self, model: str, edits: bool) -> dict[str, Any]:
        """The variables of `meta/format.j2`: how this model is to answer."""
        return {
            "structured": self._structured[model],
            "edits": edits,
            "interface": list(self.task.interface),
        }

    # -- helpers ------------------------------------------------------------------------------
    def _render(self, template: str, **variables: Any) -> str:
        return render(template, self.settings.prompts_dir, **variables)

    def _code(self, code: str, limit: int | None = None) -> str:
        limit = limit or self.settings.max_code_chars
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


_PARENTS = {"new": 0, "mutate": 1, "crossover": 2, "decompose": 0}
#: The modes whose proposals are written under a variant and checked for novelty: a repair is
#: meant to stay close to what it repairs, and a design written by parts checks its parts.
_CHECKED = ("new", "mutate", "crossover")


class _Dialogue:
    """One conversation with one model, adding up what it costs. `base` is the code that
    SEARCH/REPLACE edits apply to (the parent, then the dialogue's own last proposal)."""

    def __init__(self, agent: MetaAgentProposer, plan: Plan, base: str | None) -> None:
        self.agent = agent
        self.llm = agent.llms[plan.model]
        self.model = plan.model
        self.design_id = plan.number  # the id the proposal will have: calls are recorded under it
        self.sample = plan.number * 100  # tells apart the calls of one dialogue in the record
        self.parent = base
        self.base = base
        self.edits = plan.edits
        self.messages: list[Message] = [
            {"role": "system", "content": agent._render("meta/system.j2")}
        ]
        self.tokens = 0
        self.usd = 0.0
        self.last_text = ""
        self.problem: str | None = None
        self.edited = False  # some answer of this dialogue was made of edits

    def format(self) -> dict[str, Any]:
        return self.agent._format(self.model, self.edits)

    def _call(self, content: str) -> str:
        self.messages.append({"role": "user", "content": content})
        params: dict[str, Any] = {}
        if self.agent._structured[self.model]:
            params["response_format"] = _schema(self.edits)
        reply = self.llm.complete(
            list(self.messages),
            sample=self.sample,
            design_id=self.design_id,
            purpose="design",
            **params,
        )
        self.sample += 1
        self.tokens += reply.tokens
        self.usd += reply.usd
        self.messages.append({"role": "assistant", "content": reply.text})
        self.last_text = reply.text
        return reply.text

    def _parse(self, text: str) -> Answer:
        answer = parse_answer(text, interface=self.agent.task.interface, parent=self.base)
        self.edited |= answer.form == "edits"
        return answer

    def ask(self, content: str, reask: bool = True) -> Answer | None:
        """Ask; on an unusable answer ask once more quoting the problem (if `reask`)."""
        try:
            text = self._call(content)
            try:
                return self._parse(text)
            except MalformedAnswer as exc:
                problem = str(exc)
                self.problem = f"malformed answer: {problem}"
                if not reask:
                    return None
            text = self._call(self.agent._render("meta/reask.j2", problem=problem, **self.format()))
            return self._parse(text)
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
            proposer=self.model,
            generation=generation,
            llm_tokens=self.tokens,
            llm_usd=self.usd,
            error=self.problem,
        )
        if answer is None:
            return unusable
        diff = None
        if self.edited and self.parent is not None:
            diff = unified_diff(self.parent, answer.code, f"#{parents[0]}")
        return replace(
            unusable,
            name=answer.name,
            thought=answer.thought,
            code=answer.code,
            error=None,
            diff=diff,
        )


def _schema(edits: bool) -> dict[str, Any]:
    """The structured-output request: the answer's fields as a strict JSON schema."""
    text = {"type": "string"}
    change: dict[str, Any] = (
        {
            "edits": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"search": text, "replace": text},
                    "required": ["search", "replace"],
                    "additionalProperties": False,
                },
            }
        }
        if edits
        else {"code": text}
    )
    properties = {"thought": text, "name": text, **change}
    return {
        "type": "json_schema",
        "json_schema": {
            "name": "design",
            "strict": True,
            "schema": {
                "type": "object",
                "properties": properties,
                "required": list(properties),
                "additionalProperties": False,
            },
        },
    }
