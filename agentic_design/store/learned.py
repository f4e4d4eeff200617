"""What a run learns beside its designs (schema 7): the versions of its insight notes, its
designs' code embeddings, and the propose prompt's instruction variants. Each is recorded with
the proposal that brought it, in that proposal's transaction (`insert_learned`); plain
functions over the store's connection, which `archive.Archive`'s methods of the same names call.

A store written before version 7, opened read-only, has none of these tables: it has learned
nothing, and reads as empty.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator

from agentic_design.records import Note, Proposal, Variant


def insert_learned(db: sqlite3.Connection, design_id: int, proposal: Proposal) -> None:
    """Record the notes, variants and embeddings a proposal carries (design `design_id`'s).
    A version or variant recorded already (a resumed run writing it again) is kept as it was."""
    now = time.time()
    db.executemany(
        "INSERT OR IGNORE INTO notes (version, upto, text, design_id, model, at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [(n.version, n.upto, n.text, design_id, n.model, now) for n in proposal.notes],
    )
    db.executemany(
        "INSERT OR IGNORE INTO prompt_variants (id, text, parent, replaces, upto, design_id, "
        "model, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (v.id, v.text, v.parent, v.replaces, v.upto, design_id, v.model, now)
            for v in proposal.variants
        ],
    )
    db.executemany(
        "INSERT OR IGNORE INTO embeddings (design_id, model, vector) VALUES (?, ?, ?)",
        [
            (e.design_id if e.design_id is not None else design_id, e.model, e.vector)
            for e in proposal.embeddings
        ],
    )


def _rows(db: sqlite3.Connection, sql: str, params: tuple[object, ...] = ()) -> list[sqlite3.Row]:
    try:
        return db.execute(sql, params).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []  # a store written before version 7, read as it is
        raise


def notes(db: sqlite3.Connection) -> list[Note]:
    """Every version of the run's notes, oldest first (the columns are `Note`'s fields)."""
    return [Note(**dict(row)) for row in _rows(db, "SELECT * FROM notes ORDER BY version")]


def variants(db: sqlite3.Connection) -> list[Variant]:
    """Every instruction variant the run has had, in the order made (the columns are
    `Variant`'s fields)."""
    rows = _rows(db, "SELECT * FROM prompt_variants ORDER BY id")
    return [Variant(**dict(row)) for row in rows]


def embeddings(db: sqlite3.Connection, model: str) -> Iterator[tuple[int, bytes]]:
    """The cached code embeddings of `model`, as (design id, float32 bytes), by id."""
    for row in _rows(
        db, "SELECT design_id, vector FROM embeddings WHERE model = ? ORDER BY design_id", (model,)
    ):
        yield row["design_id"], row["vector"]


def novelty_counts(db: sqlite3.Connection) -> dict[str, dict[str, int]]:
    """Per model (the proposer): designs whose novelty was checked, sent back once, and
    recorded as not_novel."""
    try:
        rows = db.execute(
            "SELECT proposer, COUNT(*) AS checked, "
            "SUM(COALESCE(json_extract(novelty, '$.sent_back'), 0)) AS sent_back, "
            "SUM(status = 'not_novel') AS not_novel "
            "FROM designs WHERE novelty IS NOT NULL GROUP BY proposer ORDER BY proposer"
        ).fetchall()
    except sqlite3.OperationalError:
        return {}  # before version 7: no design was checked
    return {
        row["proposer"]: {
            "checked": int(row["checked"]),
            "sent_back": int(row["sent_back"] or 0),
            "not_novel": int(row["not_novel"] or 0),
        }
        for row in rows
    }


def spend_by_purpose(db: sqlite3.Connection) -> dict[str, dict[str, float]]:
    """What the run's LLM calls cost by what they were for (`purpose`: design, notes, judge,
    embedding, variant, check; `other` for calls recorded before version 7 and the agents'):
    calls (attempts), tokens and USD."""
    try:
        rows = db.execute(
            "SELECT COALESCE(purpose, 'other') AS purpose, COUNT(*) AS calls, "
            "COALESCE(SUM(prompt_tokens + completion_tokens), 0) AS tokens, "
            "COALESCE(SUM(usd), 0) AS usd FROM llm_calls GROUP BY 1 ORDER BY 1"
        ).fetchall()
    except sqlite3.OperationalError:  # before version 7: no purposes
        rows = db.execute(
            "SELECT 'other' AS purpose, COUNT(*) AS calls, "
            "COALESCE(SUM(prompt_tokens + completion_tokens), 0) AS tokens, "
            "COALESCE(SUM(usd), 0) AS usd FROM llm_calls"
        ).fetchall()
    return {
        row["purpose"]: {"calls": row["calls"], "tokens": row["tokens"], "usd": row["usd"]}
        for row in rows
        if row["calls"]
    }
