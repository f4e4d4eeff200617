"""Instruction variants of the propose prompt that evolve (`meta_agent.variants`).

A small population of instruction paragraphs; each new, mutate or crossover proposal is written
under one, chosen by UCB1 on the improvements its designs brought over their parents
(`variants.VariantCredit`, the model bandit's rule). Every `mutate_every` designs the
meta-agent writes a new variant from the best one, which joins the population in place of the
worst (once the population is full).

Deterministic from the snapshot, as planning is: which variant a design gets, when a mutation is
due, its parent and the variant it retires are decided on the search's thread; the new variant's
text is written on a thread of its own (`jobs`), which the designs written under it wait for. A
mutation that fails or answers no usable instruction keeps its parent's text (so recorded).
The variants go into the store with the design whose planning made them (`Proposal.variants`).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass, replace
from typing import Any

from agentic_design.config import VariantsConfig
from agentic_design.learning.calls import ask
from agentic_design.learning.variants import DEFAULT_VARIANTS, VariantCredit, parse_variant
from agentic_design.llm import LLM
from agentic_design.records import Note, Variant
from agentic_design.store.archive import Archive


@dataclass(frozen=True)
class VariantRef:
    """The variant a proposal is written under, and the variants its planning made (recorded
    with its design)."""

    id: int
    text: Future[Variant]
    made: tuple[Future[Variant], ...] = ()

    def wait(self) -> tuple[str, tuple[Variant, ...]]:
        """(the instruction to show, the variants to record with the design)."""
        return self.text.result().text, tuple(f.result() for f in self.made)


class PromptVariants:
    """The population, its credit, and the mutations, as the search plans."""

    def __init__(
        self,
        llm: LLM,
        settings: VariantsConfig,
        seed: int,
        describe: Callable[[], str],
        render: Callable[..., str],
        jobs: Executor,
    ) -> None:
        self.llm = llm
        self.settings = settings
        self.describe = describe
        self.render = render
        self.jobs = jobs
        self.credit = VariantCredit(seed, settings.exploration)
        self._variants: dict[int, Future[Variant]] = {}
        self.active: list[int] = []
        self._seen = 0  # designs up to this id are credited
        self._upto = 0  # the snapshot the last mutation was asked from

    def plan(
        self, archive: Archive, number: int, upto: int, notes: Future[Any] | None = None
    ) -> VariantRef:
        """The variant design `number` is written under; a mutation asked for when due."""
        made: list[Future[Variant]] = []
        if not self._variants:  # the first plan (or a resumed run's)
            made += self._start(archive)
        if upto > self._seen:
            self.credit.observe(archive.designs(after=self._seen, upto=upto, outline=True))
            self._seen = upto
        due = upto // self.settings.mutate_every > self._upto // self.settings.mutate_every
        stats = self.credit.stats()
        if due and any(stats.get(v) and stats[v].proposals for v in self.active):
            made.append(self._mutate(number, upto, notes))
            self._upto = upto
        chosen = self.credit.choose(self.active, number)
        return VariantRef(chosen, self._variants[chosen], tuple(made))

    def _start(self, archive: Archive) -> list[Future[Variant]]:
        """The population as recorded (a resumed run's), or the starting one, to record."""
        recorded = archive.variants()
        if recorded:
            for variant in recorded:
                self._variants[variant.id] = _done(variant)
                self.active.append(variant.id)
                if variant.replaces in self.active:
                    self.active.remove(variant.replaces)
                if variant.parent is not None:
                    self._upto = max(self._upto, variant.upto)
            return []
        texts = self.settings.texts or list(DEFAULT_VARIANTS)
        for i, text in enumerate(texts, start=1):
            self._variants[i] = _done(Variant(id=i, text=text.strip()))
            self.active.append(i)
        return [self._variants[i] for i in self.active]

    def _mutate(self, number: int, upto: int, notes: Future[Any] | None) -> Future[Variant]:
        """A new variant from the best one, in place of the worst once the population is full
        (decided here, from the snapshot; written by a job)."""
        parent = self.credit.best(self.active)
        retired = None
        if len(self.active) >= self.settings.population:
            retired = self.credit.worst(self.active, protect={parent}, min_proposals=1)
            if retired is None:  # none tried enough to judge: the oldest but the parent
                retired = next(v for v in self.active if v != parent)
        stats = self.credit.stats()

        def described(variant: int) -> dict[str, Any]:
            s = stats.get(variant)
            return {
                "id": variant,
                "proposals": s.proposals if s else 0,
                "improvements": s.improvements if s else 0,
                "mean": s.mean if s else 0.0,
            }

        new_id = max(self._variants) + 1
        skeleton = Variant(
            id=new_id, text="", parent=parent, replaces=retired, upto=upto, design_id=number
        )
        others = [described(v) for v in self.active if v != parent]
        future = self.jobs.submit(
            self._write, skeleton, described(parent), others, dict(self._variants), notes, number
        )
        self._variants[new_id] = future
        if retired is not None:
            self.active.remove(retired)
        self.active.append(new_id)
        return future

    def _write(
        self,
        skeleton: Variant,
        parent: dict[str, Any],
        others: list[dict[str, Any]],
        texts: dict[int, Future[Variant]],
        notes: Future[Any] | None,
        number: int,
    ) -> Variant:
        """The new variant's text (a job), or its parent's when none usable came back."""
        assert skeleton.parent is not None
        parent_text = texts[skeleton.parent].result().text
        note: Note | None = notes.result()[0] if notes is not None else None
        prompt = self.render(
            "meta/variant.j2",
            task_description=self.describe(),
            parent={**parent, "text": parent_text},
            others=[{**o, "text": texts[o["id"]].result().text} for o in others],
            notes=note.text if note else "",
            limit=self.settings.max_chars,
        )
        reply = ask(self.llm, prompt, design_id=number, sample=number * 100 + 98, purpose="variant")
        text = parse_variant(reply.text, self.settings.max_chars) if reply is not None else None
        if text is None:
            return replace(skeleton, text=parent_text)  # a copy: no model wrote it
        return replace(skeleton, text=text, model=self.llm.model)


def _done(variant: Variant) -> Future[Variant]:
    future: Future[Variant] = Future()
    future.set_result(variant)
    return future
