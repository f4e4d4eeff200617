"""The run's insight notes: every `notes_every` designs, one LLM call reads what the designs
since the last notes taught (those that improved on their parents, with their diffs; those that
failed, with their errors) and rewrites the notes — what helped, what hurt, what is untried —
which later proposals' prompts show, bounded (`notes_chars`).

Deterministic, as the pipeline's planning is: a new version is due at the first plan whose
snapshot (`upto`) crosses a multiple of `notes_every`, and is written from that snapshot. Its
call runs on a thread of its own (`jobs`) while the search goes on; the proposals planned from
then wait for it, and the first of them (its `owner`) carries the new version into the store
with its design. A failed or unusable notes call keeps the notes as they were.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Any

from agentic_design.config import MetaAgentConfig
from agentic_design.learning.calls import ask
from agentic_design.learning.notes import bounded, notes_material, parse_notes
from agentic_design.llm import LLM
from agentic_design.records import Design, Note
from agentic_design.store.archive import Archive


@dataclass(frozen=True)
class NotesRef:
    """The notes one proposal shows: `shown` resolves to the version in force (None: none
    yet) and, for the proposal that asked for a new version (`owner`), that version."""

    shown: Future[tuple[Note | None, Note | None]]
    owner: bool

    def wait(self) -> tuple[Note | None, Note | None]:
        """(the notes to show, the new version this proposal records, if it is the owner)."""
        current, new = self.shown.result()
        return current, new if self.owner else None


class InsightNotes:
    """Versions of the notes, asked for from the snapshot as the search plans."""

    def __init__(
        self,
        llm: LLM,
        settings: MetaAgentConfig,
        describe: Callable[[], str],
        fitness_name: str,
        render: Callable[..., str],
        jobs: Executor,
    ) -> None:
        self.llm = llm
        self.every = settings.notes_every
        self.chars = settings.notes_chars
        self.designs = settings.notes_designs
        self.describe = describe
        self.fitness_name = fitness_name
        self.render = render
        self.jobs = jobs
        self._current: Future[tuple[Note | None, Note | None]] | None = None
        self._upto = 0  # the snapshot the last version was asked from

    def plan(self, archive: Archive, number: int, upto: int) -> NotesRef:
        """The notes design `number` shows, a new version asked for when one is due."""
        if self._current is None:  # first plan (or a resumed run): the notes recorded so far
            recorded = archive.notes()
            latest = recorded[-1] if recorded else None
            self._upto = latest.upto if latest else 0
            self._current = _done((latest, None))
        if upto // self.every <= self._upto // self.every:
            return NotesRef(self._current, owner=False)
        variables = self._material(archive, upto)
        previous = self._current
        self._current = self.jobs.submit(self._write, previous, variables, number, upto)
        self._upto = upto
        return NotesRef(self._current, owner=True)

    def _material(self, archive: Archive, upto: int) -> dict[str, Any]:
        """What the notes call reads: the designs since the last version (search thread)."""
        since = [d for d in archive.designs(after=self._upto, upto=upto) if d.status.final]
        parent_ids = {p for d in since for p in d.parents if p <= self._upto}
        parents: dict[int, Design] = archive.designs_by_id(sorted(parent_ids))
        parents.update({d.id: d for d in since})  # a parent among the new designs themselves
        best = archive.top(1, upto=self._upto, outline=True) if self._upto else []
        best_before = best[0].fitness if best else None
        material = notes_material(
            since, parents, best_before, self.fitness_name, limit=self.designs
        )
        return {**material, "upto": upto}

    def _write(
        self,
        previous: Future[tuple[Note | None, Note | None]],
        variables: dict[str, Any],
        number: int,
        upto: int,
    ) -> tuple[Note | None, Note | None]:
        """The new version (a job): the previous one revised from `variables`."""
        before, _ = previous.result()
        prompt = self.render(
            "meta/notes.j2",
            task_description=self.describe(),
            previous=before.text if before else "",
            limit=self.chars,
            **variables,
        )
        reply = ask(self.llm, prompt, design_id=number, sample=number * 100 + 97, purpose="notes")
        text = parse_notes(reply.text, self.chars) if reply is not None else None
        if text is None:
            return before, None
        version = 1 + (before.version if before else 0)
        note = Note(version=version, upto=upto, text=text, design_id=number, model=self.llm.model)
        return note, note

    def shown(self, note: Note | None) -> dict[str, Any]:
        """The propose prompt's variables for `note`, bounded."""
        if note is None:
            return {"notes": "", "notes_version": 0}
        return {"notes": bounded(note.text, self.chars), "notes_version": note.version}


def _done(value: tuple[Note | None, Note | None]) -> Future[tuple[Note | None, Note | None]]:
    future: Future[tuple[Note | None, Note | None]] = Future()
    future.set_result(value)
    return future
