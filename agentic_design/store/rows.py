"""How the records become rows of the run store's tables and come back: a proposal as a pending
`designs` row (and its task graph), an evaluation as a design's result and as an `evaluations`
row, an event, and a `designs` row read back as a `Design`. Plain functions over the store's
connection, inside the caller's transaction; `archive.Archive` calls them."""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from agentic_design.records import (
    Design,
    Evaluation,
    Origin,
    Proposal,
    Status,
    code_hash,
    near_hash,
)

NO_LIMIT = 2**62  # `upto` when every design counts


def insert_design(
    db: sqlite3.Connection, run: str, proposal: Proposal, eval_seed: int, task_fingerprint: str
) -> int:
    """Record a proposal as a pending design of run `run` (and its graph, if it has one);
    return its id."""
    now = time.time()
    cursor = db.execute(
        "INSERT INTO designs (run, name, thought, code, code_hash, status, parents, "
        "generation, proposer, operator, origin, repair_of, attempt, diff, eval_seed, "
        "task_fingerprint, llm_tokens, llm_usd, created_at, near_hash, behaviour, "
        "evaluation_cost, variant, novelty) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            run,
            proposal.name,
            proposal.thought,
            proposal.code,
            code_hash(proposal.code),
            Status.PENDING.value,
            json.dumps(list(proposal.parents)),
            proposal.generation,
            proposal.proposer,
            proposal.operator,
            proposal.origin.value,
            proposal.repair_of,
            proposal.attempt,
            proposal.diff,
            eval_seed,
            task_fingerprint,
            proposal.llm_tokens,
            proposal.llm_usd,
            now,
            near_hash(proposal.code),
            proposal.behaviour,
            proposal.cost,
            proposal.variant,
            json.dumps(proposal.novelty) if proposal.novelty is not None else None,
        ),
    )
    design_id = int(cursor.lastrowid or 0)
    if proposal.graph is not None:
        db.execute(
            "INSERT INTO graphs (at, name, data, design_id) VALUES (?, ?, ?, ?)",
            (now, proposal.operator, proposal.graph, design_id),
        )
    return design_id


def finish_design(
    db: sqlite3.Connection,
    design_id: int,
    evaluation: Evaluation,
    cost: float = 1.0,
    behaviour_of: int | None = None,
) -> None:
    """Write a design's evaluation result into its row: its status becomes final. `cost`:
    what the evaluations of the design spent (its proposal's own cost is added to it)."""
    db.execute(
        "UPDATE designs SET status = ?, error = ?, fitness = ?, ci_low = ?, ci_high = ?, "
        "metrics = ?, descriptors = ?, summary = ?, wall_s = ?, finished_at = ?, "
        "fidelity = ?, evaluation_cost = evaluation_cost + ?, behaviour_of = ? "
        "WHERE id = ?",
        (
            evaluation.status.value,
            evaluation.error,
            evaluation.fitness,
            evaluation.ci_low,
            evaluation.ci_high,
            json.dumps(evaluation.metrics),
            json.dumps(evaluation.descriptors),
            evaluation.summary,
            evaluation.wall_s,
            time.time(),
            evaluation.fidelity,
            cost,
            behaviour_of,
            design_id,
        ),
    )


def insert_evaluation(
    db: sqlite3.Connection, design_id: int, purpose: str, evaluation: Evaluation
) -> None:
    """Record one evaluation of a design (the search's, a replay, the final test)."""
    db.execute(
        "INSERT INTO evaluations (design_id, purpose, split, seed, status, fitness, ci_low, "
        "ci_high, metrics, error, wall_s, finished_at, fidelity) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            design_id,
            purpose,
            evaluation.split,
            evaluation.seed,
            evaluation.status.value,
            evaluation.fitness,
            evaluation.ci_low,
            evaluation.ci_high,
            json.dumps(evaluation.metrics),
            evaluation.error,
            evaluation.wall_s,
            time.time(),
            evaluation.fidelity,
        ),
    )


def insert_event(db: sqlite3.Connection, kind: str, design_id: int | None, **data: Any) -> None:
    """Append an event (the table takes no updates or deletes: its triggers refuse them)."""
    db.execute(
        "INSERT INTO events (at, kind, design_id, data) VALUES (?, ?, ?, ?)",
        (time.time(), kind, design_id, json.dumps(data, default=str)),
    )


def _v1_origin(row: sqlite3.Row) -> Origin:
    return Origin.SEED if row["proposer"] == "seed" else Origin.SEARCH


def design_from_row(row: sqlite3.Row) -> Design:
    """A `designs` row (all its columns, or an outline's) as a `Design`."""
    columns = row.keys()  # a store of schema version 1, opened read-only, lacks the new ones
    return Design(
        id=row["id"],
        run=row["run"],
        name=row["name"],
        thought=row["thought"],
        code=row["code"],
        code_hash=row["code_hash"],
        status=Status(row["status"]),
        parents=tuple(json.loads(row["parents"])),
        generation=row["generation"],
        proposer=row["proposer"],
        operator=row["operator"],
        origin=Origin(row["origin"]) if "origin" in columns else _v1_origin(row),
        repair_of=row["repair_of"] if "repair_of" in columns else None,
        attempt=row["attempt"] if "attempt" in columns else 0,
        summary=row["summary"] if "summary" in columns else "",
        diff=row["diff"] if "diff" in columns else None,
        near_hash=row["near_hash"] if "near_hash" in columns else None,
        behaviour=row["behaviour"] if "behaviour" in columns else None,
        behaviour_of=row["behaviour_of"] if "behaviour_of" in columns else None,
        fidelity=row["fidelity"] if "fidelity" in columns else 1.0,
        evaluation_cost=row["evaluation_cost"] if "evaluation_cost" in columns else 1.0,
        variant=row["variant"] if "variant" in columns else None,
        novelty=json.loads(row["novelty"]) if "novelty" in columns and row["novelty"] else None,
        error=row["error"],
        fitness=row["fitness"],
        ci_low=row["ci_low"],
        ci_high=row["ci_high"],
        metrics=json.loads(row["metrics"]),
        descriptors=json.loads(row["descriptors"]),
        eval_seed=row["eval_seed"],
        task_fingerprint=row["task_fingerprint"],
        llm_tokens=row["llm_tokens"],
        llm_usd=row["llm_usd"],
        wall_s=row["wall_s"],
        created_at=row["created_at"],
    )
