"""The Task contract: what a design problem must provide to be searched.

A task splits its work across the sandbox boundary:

- `run(design, split)` executes **inside** the sandbox. It may see the training data with its
  labels, but only the *inputs* of the validation and test splits.
- `score(outputs, split)` executes **outside**, in the search process. Only it sees the labels of
  the validation and test splits, so a design can never read or alter how it is scored.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, ClassVar, Literal

from agentic_design.records import Proposal

Split = Literal["validation", "test"]
SPLITS: tuple[str, ...] = ("validation", "test")


class InvalidDesign(Exception):
    """The design does not meet the task's interface (missing function, wrong shape, too big).

    Raised inside the sandbox; the sandbox reports it with status `invalid` and this message.
    """

    sandbox_status = "invalid"


class InvalidOutputs(ValueError):
    """What came back from the sandbox cannot be scored (wrong length, type or range)."""


@dataclass(frozen=True)
class Score:
    """The scorer's verdict on one split: fitness with its 95% interval, plus other metrics."""

    fitness: float
    ci_low: float
    ci_high: float
    metrics: dict[str, Any] = field(default_factory=dict)


class Task(ABC):
    """A design problem. Subclass it for your own task and name it in the config as
    `task: path/to/file.py:ClassName` (keyword arguments come from `task_params`).

    Subclasses are built twice: once in the search process (to describe, seed and score) and
    once in each sandboxed evaluation (to run), from the same `params`, so constructors must be
    cheap and deterministic; load data lazily.
    """

    name: ClassVar[str] = "task"
    kind: ClassVar[str] = "generic"

    def __init__(self, **params: Any) -> None:
        self.params = params

    @abstractmethod
    def describe(self) -> str:
        """Text for prompts: the goal, the code interface a design must define, limits, metric."""

    @abstractmethod
    def seeds(self) -> list[Proposal]:
        """The hand-designed starting designs."""

    @abstractmethod
    def run(
        self, design: ModuleType, split: Split, *, seed: int, budget: dict[str, Any]
    ) -> dict[str, Any]:
        """Run the design on `split` inside the sandbox; return JSON-serialisable outputs.

        `budget` carries the trainer's limits (and `max_steps` on replays, so a run that was
        cut short by its time budget is repeated step for step).
        """

    @abstractmethod
    def score(self, outputs: dict[str, Any], split: Split) -> Score:
        """Score outputs against the held-out labels of `split`; InvalidOutputs if malformed."""

    def prepare(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Make data available before any evaluation (generate and cache it); idempotent."""

    def sandbox_readable(self) -> list[str]:
        """Files or folders a sandboxed `run` must read (its inputs). Everything else outside
        the interpreter and its libraries is unreadable there, held-out labels above all."""
        return []

    def sandbox_hidden(self) -> list[str]:
        """Paths to keep unreadable in the sandbox even inside readable folders: held-out
        labels, and anything they could be rebuilt from (a dataset file an installed package
        ships, the generator of synthetic data)."""
        return []

    def fingerprint(self) -> str:
        """A hash of everything that decides a design's score: task, parameters, data."""
        payload = json.dumps(
            {"task": type(self).__qualname__, "params": self.params}, sort_keys=True, default=str
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def descriptors(self, code: str, metrics: dict[str, Any]) -> dict[str, float]:
        """Numbers that place a design in a space of behaviours, for diverse selection."""
        return {}

    def export_module(self, code: str, name: str) -> str:
        """A standalone module for `agentic-design export`; tasks may add a runnable footer."""
        return code
