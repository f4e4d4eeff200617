"""The store's log of LLM calls (the `llm_calls` table): every attempt, failed ones too, with its
request, response, tokens and cost, and the spend read back from it — in all, and per model
against the designs each model wrote. Plain functions over the store's connection (its rows
read by name); `Archive`'s methods of the same names call them."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from typing import Any

from agentic_design import redaction


def record_llm_calls(db: sqlite3.Connection, calls: Sequence[dict[str, Any]]) -> None:
    """Record call attempts in one transaction (a Ray node's, made at their `at`). An error is
    recorded with every key it holds redacted, whoever wrote it."""
    now = time.time()
    rows = [
        (
            call.get("at", now),
            call["key"],
            call["model"],
            json.dumps(call["request"]),
            call.get("response"),
            redaction.redact(call["error"]) if call.get("error") else call.get("error"),
            call.get("prompt_tokens", 0),
            call.get("completion_tokens", 0),
            call.get("usd", 0.0),
            call.get("latency_s"),
            call.get("design_id"),
            call.get("purpose"),
        )
        for call in calls
    ]
    with db:  # commits on success, rolls back on error
        db.executemany(
            "INSERT INTO llm_calls (at, key, model, request, response, error, prompt_tokens, "
            "completion_tokens, usd, latency_s, design_id, purpose) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )


def recorded_llm_calls(db: sqlite3.Connection, design_id: int | None) -> list[dict[str, Any]]:
    """Every recorded call attempt (or those made for `design_id`), in the order made."""
    if design_id is None:
        rows = db.execute("SELECT * FROM llm_calls ORDER BY id").fetchall()
    else:
        rows = db.execute(
            "SELECT * FROM llm_calls WHERE design_id = ? ORDER BY id", (design_id,)
        ).fetchall()
    return [dict(row) for row in rows]


def spend(db: sqlite3.Connection) -> dict[str, float]:
    """The tokens, USD and calls (attempts) the run has spent on LLMs."""
    row = db.execute(
        "SELECT COALESCE(SUM(prompt_tokens + completion_tokens), 0) AS tokens, "
        "COALESCE(SUM(usd), 0) AS usd, COUNT(*) AS calls FROM llm_calls"
    ).fetchone()
    return {"tokens": row["tokens"], "usd": row["usd"], "calls": row["calls"]}


def model_spend(db: sqlite3.Connection) -> dict[str, dict[str, float]]:
    """Per model that was called: its calls (failed attempts among them), tokens and USD,
    and the designs it wrote — how many, how many scored (status ok), and the share."""
    stats: dict[str, dict[str, float]] = {}
    for row in db.execute(
        "SELECT model, COUNT(*) AS calls, SUM(error IS NOT NULL) AS failed_calls, "
        "COALESCE(SUM(prompt_tokens + completion_tokens), 0) AS tokens, "
        "COALESCE(SUM(usd), 0) AS usd FROM llm_calls GROUP BY model ORDER BY model"
    ):
        stats[row["model"]] = {**dict(row), "designs": 0, "ok": 0, "success_rate": 0.0}
        del stats[row["model"]]["model"]
    for row in db.execute(
        "SELECT proposer, COUNT(*) AS designs, SUM(status = 'ok') AS ok FROM designs "
        "WHERE status != 'pending' GROUP BY proposer"
    ):
        model = stats.get(row["proposer"])
        if model is not None:
            model.update(designs=row["designs"], ok=row["ok"])
            model["success_rate"] = row["ok"] / row["designs"]
    return stats
