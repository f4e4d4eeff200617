"""The data that flows around the loop: proposals going in, evaluations and design records
coming out, and why a search stopped."""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class ArchiveError(ValueError):
    """The path holds no run store, or the store does not hold what was asked for."""


class StopReason(str, Enum):
    """Why a search stopped."""

    EVALUATIONS = "evaluations"  # the evaluation budget is spent
    HOURS = "hours"
    USD = "usd"
    TOKENS = "tokens"
    TARGET = "target"  # a design reached budget.target_fitness
    STAGNATION = "stagnation"  # budget.stagnation evaluations without a new best
    NO_PARENTS = "no_parents"  # evolution has no working design to breed from
    EXHAUSTED = "exhausted"  # the proposer cannot propose anything new
    DIVERGED = "diverged"  # a replayed search stopped agreeing with its recording
    INTERRUPTED = "interrupted"  # Ctrl-C or SIGTERM


class Origin(str, Enum):
    """Where a design came from."""

    SEED = "seed"  # the task's hand-designed starting designs
    SEARCH = "search"  # a proposer wrote it during the search
    IMPORTED = "imported"  # brought in from another archive


class Status(str, Enum):
    """Where a design stands. The first two are transient; the rest are final."""

    PENDING = "pending"  # proposed and recorded, not yet evaluated (or in flight when killed)
    OK = "ok"
    INVALID = "invalid"  # rejected by the task's checks, or an unusable proposal
    ERROR = "error"  # the design's code raised
    TIMEOUT = "timeout"
    MEMORY = "memory"
    KILLED = "killed"  # died from a signal
    OUTPUT_LIMIT = "output_limit"
    # Not evaluated, or not in full: the search knew enough to spare the evaluation.
    DUPLICATE = "duplicate"  # behaves as an earlier design (`behaviour_of`): not evaluated
    SCREENED_OUT = "screened_out"  # its cheap evaluation did not rank among the best
    NOT_NOVEL = "not_novel"  # judged too close to a design before it, sent back once: not evaluated

    @property
    def final(self) -> bool:
        return self is not Status.PENDING


#: The statuses of designs that failed: evaluated and broke, or unusable as proposed.
FAILURES = frozenset(
    {
        Status.INVALID,
        Status.ERROR,
        Status.TIMEOUT,
        Status.MEMORY,
        Status.KILLED,
        Status.OUTPUT_LIMIT,
    }
)


def code_hash(code: str) -> str:
    """A short stable fingerprint of a design's code (whitespace at the ends ignored)."""
    return hashlib.sha256(code.strip().encode()).hexdigest()[:16]


def near_hash(code: str) -> str:
    """A fingerprint of what the code does: the same for copies that differ only in comments,
    docstrings, layout or quoting (the code as `ast.unparse` writes it, docstrings dropped).
    Code that does not parse is fingerprinted as written, less blank space."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return code_hash(" ".join(code.split()))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            and isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return code_hash(ast.unparse(tree))


@dataclass(frozen=True)
class Note:
    """One version of a run's insight notes: what the meta-agent learned from the designs up to
    `upto` (written while planning design `design_id`, by `model`)."""

    version: int
    upto: int
    text: str
    design_id: int | None = None
    model: str = ""
    at: float = 0.0


@dataclass(frozen=True)
class Variant:
    """One instruction variant of the propose prompt. A mutated one names its `parent`, the
    variant it `replaces` in the population (retired), the snapshot it was written from
    (`upto`) and the design whose planning asked for it (`design_id`)."""

    id: int
    text: str
    parent: int | None = None
    replaces: int | None = None
    upto: int = 0
    design_id: int | None = None
    model: str = ""
    at: float = 0.0


@dataclass(frozen=True)
class Embedding:
    """A design's code as a vector (float32 bytes) from an embedding model, cached in the store.
    `design_id` None: the design of the proposal carrying it."""

    model: str
    vector: bytes
    design_id: int | None = None


@dataclass(frozen=True)
class Proposal:
    """A design as a proposer hands it to the search, before it has an id or a score.

    `operator` says how it was made ("seed", "mutate: lr 0.003 -> 0.0015", "crossover", ...),
    so that every child can be traced back to its parents and the change that made it. A repair
    names the design it repairs in `repair_of` and which attempt it is in `attempt`.
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
    origin: Origin = Origin.SEARCH
    repair_of: int | None = None
    attempt: int = 0  # which repair attempt made it (0: not a repair)
    diff: str | None = None  # the change to the parent, when a model answered with edits
    graph: str | None = None  # the task graph (node-link JSON) of a design written by parts
    behaviour: str | None = None  # its behavioural fingerprint, when the proposer took it
    cost: float = 0.0  # evaluations spent making it (a tuning step's trials), in full ones
    trials: tuple[dict[str, Any], ...] = ()  # those evaluations (a tuning step's), to record
    variant: int | None = None  # the propose prompt's instruction variant it was written under
    # How its novelty was judged before evaluation: similarity, closest design, the judge's
    # verdict, whether it was sent back; `novel` False means it is recorded as not_novel.
    novelty: dict[str, Any] | None = None
    # What the run learned while it was written, recorded with it in one transaction.
    notes: tuple[Note, ...] = ()
    variants: tuple[Variant, ...] = ()
    embeddings: tuple[Embedding, ...] = ()


@dataclass(frozen=True)
class Evaluation:
    """The outcome of evaluating one design on one split.

    `summary` is the task's one-line account of the metrics, for people and prompts."""

    status: Status
    split: str
    seed: int
    fitness: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    descriptors: dict[str, float] = field(default_factory=dict)
    summary: str = ""
    error: str | None = None
    wall_s: float = 0.0
    fidelity: float = 1.0  # the share of a full evaluation it ran (`Task.fidelities`)


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
    origin: Origin = Origin.SEARCH
    repair_of: int | None = None
    attempt: int = 0
    diff: str | None = None
    near_hash: str | None = None  # records.near_hash of the code (schema 5 on)
    behaviour: str | None = None  # its behavioural fingerprint (schema 6 on)
    behaviour_of: int | None = None  # the design it behaves as, when a duplicate
    fidelity: float = 1.0  # the share of a full evaluation its result comes from
    evaluation_cost: float = 1.0  # what it spent of budget.evaluations, in full evaluations
    variant: int | None = None  # the propose prompt's instruction variant (schema 7 on)
    novelty: dict[str, Any] | None = None  # how its novelty was judged (schema 7 on)
    error: str | None = None
    fitness: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    descriptors: dict[str, float] = field(default_factory=dict)
    summary: str = ""
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
            "origin": self.origin.value,
            "repair_of": self.repair_of,
            "attempt": self.attempt,
            "behaviour": self.behaviour,
            "behaviour_of": self.behaviour_of,
            "fidelity": self.fidelity,
            "evaluation_cost": self.evaluation_cost,
            "variant": self.variant,
            "novelty": self.novelty,
            "diff": self.diff,
            "summary": self.summary,
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
