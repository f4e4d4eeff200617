"""The data that flows around the loop: proposals going in, design records coming out."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Status(str, Enum):
    """Where a design stands. The first two are transient; the rest are final."""

    PENDING = "pending"  # proposed and recorded, not yet evaluated (or in flight when killed)
    OK = "ok"
    INVALID = (
        "invalid"  # rejected before or instead of training: no build_model, wrong shape, too big
    )
    ERROR = "error"  # the design's code raised
    TIMEOUT = "timeout"
    MEMORY = "memory"
    KILLED = "killed"  # died from a signal
    OUTPUT_LIMIT = "output_limit"

    @property
    def final(self) -> bool:
        return self is not Status.PENDING


def code_hash(code: str) -> str:
    """A short stable fingerprint of a design's code (whitespace at the ends ignored)."""
    return hashlib.sha256(code.strip().encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Proposal:
    """A design as a proposer hands it to the search, before it has an id or a score.

    `operator` says how it was made ("seed", "mutate: lr 0.003 -> 0.0015", "crossover", ...),
    so that every child can be traced back to its parents and the change that made it.
    """

    name: str
    thought: str
    code: str
    parents: tuple[int, ...] = ()
    operator: str = ""
    proposer: str = "evolution"
    generation: int = 0
    llm_tokens: int = 0
    llm_usd: float = 0.0
    error: str | None = None  # set when the proposer could not produce a usable design


@dataclass(frozen=True)
class Design:
    """One archived design with everything known about it (the row of `designs` in run.db)."""

    id: int
    run: str
    name: str
    thought: str
    code: str
    code_hash: str
    status: Status
    parents: tuple[int, ...] = ()
    generation: int = 0
    proposer: str = "evolution"
    operator: str = ""
    error: str | None = None
    fitness: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    descriptors: dict[str, float] = field(default_factory=dict)
    eval_seed: int | None = None
    task_fingerprint: str | None = None
    llm_tokens: int = 0
    llm_usd: float = 0.0
    wall_s: float | None = None
    created_at: float = 0.0

    @property
    def ci(self) -> tuple[float, float] | None:
        if self.ci_low is None or self.ci_high is None:
            return None
        return (self.ci_low, self.ci_high)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form used by `show --json`."""
        return {
            "id": self.id,
            "run": self.run,
            "name": self.name,
            "thought": self.thought,
            "status": self.status.value,
            "fitness": self.fitness,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "metrics": self.metrics,
            "descriptors": self.descriptors,
            "parents": list(self.parents),
            "generation": self.generation,
            "proposer": self.proposer,
            "operator": self.operator,
            "error": self.error,
            "eval_seed": self.eval_seed,
            "task_fingerprint": self.task_fingerprint,
            "llm_tokens": self.llm_tokens,
            "llm_usd": self.llm_usd,
            "wall_s": self.wall_s,
            "created_at": self.created_at,
            "code_hash": self.code_hash,
            "code": self.code,
        }
