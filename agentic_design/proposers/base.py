"""The one interface every proposer meets, and the error that says it has nothing left."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from agentic_design.records import Proposal, StopReason

if TYPE_CHECKING:
    from agentic_design.store.archive import Archive


class ProposerExhausted(RuntimeError):
    """The proposer cannot propose another design; `reason` is why the search stops."""

    reason: StopReason = StopReason.EXHAUSTED


class Proposer(Protocol):
    """Where new designs come from: `plan` reads the archive (on the pipeline's thread, from
    the snapshot of designs with ids up to `upto`), `write` does the slow part (on a worker
    thread). `plan` raises ProposerExhausted when there is nothing left to propose."""

    name: str
    repair_attempts: int

    def plan(self, archive: Archive, number: int, upto: int) -> Any: ...

    def write(self, plan: Any) -> Proposal: ...
