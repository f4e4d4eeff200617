"""Novelty before evaluation (`search.novelty`): is a proposal a new idea, or one the run has?

- With an embedding model, the proposal's code is embedded and compared by cosine similarity
  with every design of the snapshot (`novelty.EmbeddingIndex`); below `threshold` it is new.
- With `judge`, the proposal's model is asked whether it is meaningfully new, the closest
  designs shown: with an embedding model only above the threshold (ShinkaEvolve's order),
  without one always, the closest found by text among the designs the prompt showed.

The meta-agent sends a proposal judged not new back once (`meta/novelty_retry.j2`); judged
not new again, it is recorded as not_novel and not evaluated. A judge or embedding call that
fails lets the proposal through (the check is a saving, not a gate on progress); an earlier
design whose embedding fails, or comes back unusable, is left out of the comparisons.

Every design of the snapshot is embedded once, under its own id (so a replay asks each the
same question, whichever thread asks first), and cached in the store with the proposal that
embedded it; the index holds the designs judged new, the seeds, repairs and whatever else
was evaluated, never an unusable answer or a design recorded not_novel.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from agentic_design.config import NoveltyConfig
from agentic_design.learning.calls import ask
from agentic_design.learning.novelty import (
    EmbeddingIndex,
    closest_by_text,
    from_blob,
    parse_judgement,
)
from agentic_design.llm import LLM, LLMError, ReplayMiss
from agentic_design.records import Design, Embedding, Status
from agentic_design.store.archive import Archive


@dataclass(frozen=True)
class GatePlan:
    """What one proposal's check needs from the snapshot (read on the search's thread)."""

    number: int
    upto: int
    missing: tuple[tuple[int, str], ...]  # (id, code) of snapshot designs to embed first
    nearby: tuple[int, ...]  # without embeddings: the designs the judge compares with


@dataclass(frozen=True)
class Asked:
    """One answer to check: its code, name and thought, the model that judges it (the one
    that wrote it), which attempt it is (0, or 1 once sent back) and the proposal's mode."""

    plan: GatePlan
    code: str
    name: str
    thought: str
    judge: LLM
    attempt: int
    mode: str


@dataclass
class Verdict:
    """One check of one answer."""

    novel: bool
    similarity: float | None = None
    closest: int | None = None
    closest_name: str = ""  # the closest design's name, when the answer is not new
    judge: str | None = None  # novel | not novel | unclear, when the judge was asked
    reason: str = ""
    vector: bytes | None = None
    tokens: int = 0  # the judge's, which the proposal's model spends
    usd: float = 0.0
    embedded: list[Embedding] = field(default_factory=list)  # snapshot designs embedded now

    def record(self) -> dict[str, Any]:
        """What the store keeps of it (`Design.novelty`)."""
        return {
            "novel": self.novel,
            "similarity": self.similarity,
            "closest": self.closest,
            "judge": self.judge,
            "reason": self.reason,
        }

    def why(self) -> str:
        """Why it is not new, in words."""
        near = f"design #{self.closest}" if self.closest is not None else "a design before it"
        similar = f" (similarity {self.similarity:.3f})" if self.similarity is not None else ""
        judged = f"; the judge: {self.reason}" if self.judge and self.reason else ""
        return f"not a new idea: too close to {near}{similar}{judged}; not evaluated"


class NoveltyGate:
    """The check, its embedding index, and the store reader that shows designs to the judge."""

    def __init__(
        self,
        settings: NoveltyConfig,
        embedder: LLM | None,
        render: Callable[..., str],
        describe: Callable[[], str],
        fitness_name: str,
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.model = settings.embedding or ""
        self.render = render
        self.describe = describe
        self.fitness_name = fitness_name
        self.index = EmbeddingIndex()
        self._seen = -1  # designs up to this id were scanned (-1: the cache is not loaded)
        self._missing: dict[int, str] = {}  # scanned designs not embedded yet: their code
        self._embedding = threading.Lock()
        # Designs whose embedding failed or was unusable: asked once, then left out, so that
        # one of them does not stop every later check (nor cost a call each time).
        self._unembeddable: set[int] = set()
        self._reader: Archive | None = None
        self._reading = threading.Lock()

    # -- planning (search thread) ---------------------------------------------------------------
    def plan(self, archive: Archive, number: int, upto: int, nearby: Sequence[int]) -> GatePlan:
        """What design `number`'s check needs: the snapshot's designs not embedded yet."""
        if self._reader is None:
            self._reader = Archive.open(archive.path, readonly=True)
        if self.embedder is None:
            return GatePlan(number, upto, (), tuple(nearby))
        if self._seen < 0:  # the embeddings cached in the store (a resumed run's)
            for design_id, blob in archive.embeddings(self.model):
                self.index.add(design_id, from_blob(blob))
            self._seen = 0
        if upto > self._seen:
            for design in archive.designs(after=self._seen, upto=upto):
                if comparable(design) and design.id not in self.index:
                    self._missing[design.id] = design.code
            self._seen = upto
        for design_id in [i for i in self._missing if i in self.index or i in self._unembeddable]:
            del self._missing[design_id]
        missing = tuple((i, code) for i, code in sorted(self._missing.items()) if i <= upto)
        return GatePlan(number, upto, missing, tuple(nearby))

    # -- checking (any thread) ------------------------------------------------------------------
    def check(self, asked: Asked) -> Verdict:
        """Whether the answer is new against the snapshot, asking what must be asked."""
        plan, code = asked.plan, asked.code
        verdict = Verdict(novel=True)
        if self.embedder is not None:
            try:
                verdict.embedded = self._embed_missing(plan.missing)
                reply = self.embedder.embed(
                    [code[: self.settings.max_chars]], design_id=plan.number, sample=asked.attempt
                )
                nearest = self.index.nearest(
                    from_blob(reply.vectors[0]), upto=plan.upto, k=self.settings.closest
                )
            except ReplayMiss:
                raise  # a replay asking what was never asked: it diverged
            except LLMError:  # unchecked rather than stopped
                verdict.reason = "not checked: the embedding call failed (see the run's calls)"
                return verdict
            except ValueError as exc:  # a vector of another length than the index's, say
                verdict.reason = f"not checked: the embedding is unusable: {exc}"[:300]
                return verdict
            verdict.vector = reply.vectors[0]
            if nearest:
                verdict.closest, verdict.similarity = nearest[0]
            if verdict.similarity is None or verdict.similarity < self.settings.threshold:
                return verdict
            if not self.settings.judge:
                verdict.novel = False
                verdict.reason = f"similarity at or above the threshold {self.settings.threshold}"
                verdict.closest_name = self._name(verdict.closest)
                return verdict
            shown: dict[int, float | None] = dict(nearest)
        else:
            candidates = self._read(plan.nearby)
            ranked = closest_by_text(
                code, [(d.id, d.code) for d in candidates.values()], self.settings.closest
            )
            if not ranked:
                return verdict  # nothing before it to compare with
            shown = {design_id: None for design_id, _ in ranked}
            verdict.closest = ranked[0][0]
        self._ask_judge(verdict, asked, shown)
        if not verdict.novel:
            verdict.closest_name = self._name(verdict.closest)
        return verdict

    def _ask_judge(self, verdict: Verdict, asked: Asked, shown: dict[int, float | None]) -> None:
        """The judge's verdict on the answer against the designs `shown` (id: similarity)."""
        designs = self._read(list(shown))
        cap = self.settings.max_chars
        prompt = self.render(
            "meta/novelty_judge.j2",
            task_description=self.describe(),
            proposal={"name": asked.name, "thought": asked.thought, "code": asked.code[:cap]},
            closest=[
                {
                    "id": d.id,
                    "name": d.name,
                    "summary": self._summary(d),
                    "similarity": similarity,
                    "code": d.code[:cap],
                }
                for design_id, similarity in shown.items()
                if (d := designs.get(design_id)) is not None
            ],
            mode=asked.mode,
        )
        number = asked.plan.number
        reply = ask(
            asked.judge,
            prompt,
            design_id=number,
            sample=number * 100 + 90 + asked.attempt,
            purpose="judge",
            max_tokens=min(asked.judge.config.max_tokens, 600),
        )
        if reply is None:  # let through; the call's error is in the run's calls
            verdict.judge, verdict.reason = "unclear", "the judge's call failed"
            return
        verdict.tokens, verdict.usd = reply.tokens, reply.usd
        judgement = parse_judgement(reply.text)
        verdict.reason = judgement.reason
        if judgement.novel is None:
            verdict.judge = "unclear"  # let through: an unreadable verdict is no evidence
        else:
            verdict.judge = "novel" if judgement.novel else "not novel"
            verdict.novel = judgement.novel

    def admit(self, design_id: int, vector: bytes) -> None:
        """Hold a design judged new (its proposal's vector) in the index (`check` made sure
        the index takes it; one another thread made unusable since stays out)."""
        with suppress(ValueError):
            self.index.add(design_id, from_blob(vector))

    def _embed_missing(self, missing: Sequence[tuple[int, str]]) -> list[Embedding]:
        """Embed the snapshot designs no one has yet, each once under its own id."""
        assert self.embedder is not None
        made: list[Embedding] = []
        with self._embedding:
            for design_id, code in missing:
                if design_id in self.index or design_id in self._unembeddable:
                    continue
                try:
                    reply = self.embedder.embed(
                        [code[: self.settings.max_chars]], design_id=design_id
                    )
                    self.index.add(design_id, from_blob(reply.vectors[0]))
                except ReplayMiss:
                    raise  # a replay asking what was never asked: it diverged
                except (LLMError, ValueError):  # no vector, or one the index cannot take:
                    self._unembeddable.add(design_id)  # left out of the comparisons for good
                    continue
                made.append(Embedding(self.model, reply.vectors[0], design_id))
        return made

    def _read(self, ids: Sequence[int]) -> dict[int, Design]:
        assert self._reader is not None, "plan() opens the reader"
        with self._reading:
            return self._reader.designs_by_id(list(ids))

    def _name(self, design_id: int | None) -> str:
        if design_id is None:
            return ""
        design = self._read([design_id]).get(design_id)
        return design.name if design is not None else ""

    def _summary(self, d: Design) -> str:
        if d.fitness is None:
            return d.status.value
        return f"{self.fitness_name} {d.fitness:.4f}" + (f", {d.summary}" if d.summary else "")

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()


def comparable(design: Design) -> bool:
    """Whether a proposal is compared with this design: a finished design with code of its
    own, not an unusable answer and not one recorded not_novel."""
    if not design.status.final or design.status is Status.NOT_NOVEL:
        return False
    return not (design.status is Status.INVALID and design.metrics.get("stage") == "proposal")
