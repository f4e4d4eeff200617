"""The run store's file format: its SQL schema and version, the opening of a store (made, or
upgraded when an older version wrote it; refused when a newer one did). How records become rows
and back is `rows`'s; what the store does with the file is `archive.Archive`'s."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from agentic_design.records import ArchiveError

SCHEMA_VERSION = 7

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL                         -- JSON
);
CREATE TABLE IF NOT EXISTS designs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run TEXT NOT NULL,
    name TEXT NOT NULL,
    thought TEXT NOT NULL DEFAULT '',
    code TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    status TEXT NOT NULL,
    parents TEXT NOT NULL DEFAULT '[]',         -- JSON list of design ids
    generation INTEGER NOT NULL DEFAULT 0,
    proposer TEXT NOT NULL,
    operator TEXT NOT NULL DEFAULT '',
    origin TEXT NOT NULL DEFAULT 'search',     -- seed | search | imported
    repair_of INTEGER,                          -- the design this one repairs
    attempt INTEGER NOT NULL DEFAULT 0,         -- which repair attempt (0: not a repair)
    summary TEXT NOT NULL DEFAULT '',           -- the task's one line on the metrics
    diff TEXT,                                  -- the applied edits, when made by edits
    near_hash TEXT,                             -- records.near_hash of the code
    behaviour TEXT,                             -- its behavioural fingerprint (Task.behaviour)
    behaviour_of INTEGER,                       -- the design it behaves as (a duplicate)
    fidelity REAL NOT NULL DEFAULT 1,           -- the share of a full evaluation its result is
    evaluation_cost REAL NOT NULL DEFAULT 1,    -- budget.evaluations it spent, in full ones
    error TEXT,
    fitness REAL,
    ci_low REAL,
    ci_high REAL,
    metrics TEXT NOT NULL DEFAULT '{}',
    descriptors TEXT NOT NULL DEFAULT '{}',
    eval_seed INTEGER,
    task_fingerprint TEXT,
    llm_tokens INTEGER NOT NULL DEFAULT 0,
    llm_usd REAL NOT NULL DEFAULT 0,
    wall_s REAL,
    created_at REAL NOT NULL,
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS designs_status ON designs (status);
CREATE INDEX IF NOT EXISTS designs_fitness ON designs (fitness);
CREATE TABLE IF NOT EXISTS evaluations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    design_id INTEGER NOT NULL REFERENCES designs (id),
    purpose TEXT NOT NULL,                      -- search | replay | test
    split TEXT NOT NULL,
    seed INTEGER,
    status TEXT NOT NULL,
    fitness REAL,
    ci_low REAL,
    ci_high REAL,
    metrics TEXT NOT NULL DEFAULT '{}',
    error TEXT,
    wall_s REAL,
    finished_at REAL NOT NULL,
    fidelity REAL NOT NULL DEFAULT 1            -- the share of a full evaluation it ran
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    design_id INTEGER,
    data TEXT NOT NULL DEFAULT '{}'
);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TABLE IF NOT EXISTS llm_calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    key TEXT NOT NULL,                          -- hash of model, messages, parameters, sample
    model TEXT NOT NULL,
    request TEXT NOT NULL,
    response TEXT,
    error TEXT,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    usd REAL NOT NULL DEFAULT 0,
    latency_s REAL,
    design_id INTEGER,
    purpose TEXT                                -- design | notes | judge | variant | ... (v7)
);
CREATE INDEX IF NOT EXISTS llm_calls_key ON llm_calls (key);
CREATE INDEX IF NOT EXISTS llm_calls_design ON llm_calls (design_id);
CREATE TABLE IF NOT EXISTS graphs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    name TEXT NOT NULL,
    data TEXT NOT NULL,                         -- node-link JSON (agentic_design.graph)
    design_id INTEGER                           -- the design it produced (version 4)
);
CREATE TABLE IF NOT EXISTS notes (             -- the run's insight notes, versioned (v7)
    version INTEGER PRIMARY KEY,
    upto INTEGER NOT NULL,                      -- written from the designs up to this id
    text TEXT NOT NULL,
    design_id INTEGER,                          -- recorded with this design's proposal
    model TEXT NOT NULL DEFAULT '',
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS embeddings (        -- designs' code as vectors, by model (v7)
    design_id INTEGER NOT NULL,
    model TEXT NOT NULL,
    vector BLOB NOT NULL,                       -- float32, little-endian
    PRIMARY KEY (design_id, model)
);
CREATE TABLE IF NOT EXISTS prompt_variants (   -- the propose prompt's instruction variants (v7)
    id INTEGER PRIMARY KEY,
    text TEXT NOT NULL,
    parent INTEGER,                             -- the variant it was mutated from
    replaces INTEGER,                           -- the variant it retired from the population
    upto INTEGER NOT NULL DEFAULT 0,            -- written from the designs up to this id
    design_id INTEGER,                          -- recorded with this design's proposal
    model TEXT NOT NULL DEFAULT '',
    at REAL NOT NULL
);
"""


# Columns added since schema version 1; a store made by an older version gains them on opening.
ADDED_COLUMNS = {
    "origin": "TEXT NOT NULL DEFAULT 'search'",
    "repair_of": "INTEGER",
    "attempt": "INTEGER NOT NULL DEFAULT 0",
    "summary": "TEXT NOT NULL DEFAULT ''",
    "diff": "TEXT",  # version 3
    "near_hash": "TEXT",  # version 5: records.near_hash, for rejecting near duplicates
    "behaviour": "TEXT",  # version 6: behavioural fingerprints, cheap evaluations first
    "behaviour_of": "INTEGER",
    "fidelity": "REAL NOT NULL DEFAULT 1",
    "evaluation_cost": "REAL NOT NULL DEFAULT 1",
    "variant": "INTEGER",  # version 7: the propose prompt's variant, and the novelty check
    "novelty": "TEXT",
}
# ...and to `evaluations`, and `llm_calls`.
ADDED_EVALUATION_COLUMNS = {"fidelity": "REAL NOT NULL DEFAULT 1"}  # version 6
ADDED_CALL_COLUMNS = {"purpose": "TEXT"}  # version 7


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection to the store at `path`, its rows read by name. A writer's store is made
    (WAL) or brought up to this version's schema; a reader's is read as it is."""
    if readonly:
        uri = f"file:{path}?mode=ro"
        db = sqlite3.connect(uri, uri=True, timeout=30, check_same_thread=False)
        refuse_newer(db, path)
    else:
        db = sqlite3.connect(path, timeout=30, check_same_thread=False)
        refuse_newer(db, path)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(SCHEMA)
        upgrade(db)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA foreign_keys=ON")
    return db


def refuse_newer(db: sqlite3.Connection, path: Path) -> None:
    """A store a newer version wrote is refused before anything reads or writes it: its
    columns may mean what this version cannot know. (The refused connection is closed.)"""
    try:
        row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.DatabaseError:
        return  # a new store (no tables yet), or not a store at all: `open` says which
    version = json.loads(row[0]) if row else None
    if isinstance(version, int) and version > SCHEMA_VERSION:
        db.close()
        raise ArchiveError(
            f"{path} was written with store schema version {version}, newer than this "
            f"agentic-design reads ({SCHEMA_VERSION}): upgrade agentic-design to open it"
        )


def upgrade(db: sqlite3.Connection) -> None:
    """Bring a store an older version wrote up to this version's schema, in one transaction."""
    present = {row[1] for row in db.execute("PRAGMA table_info(designs)")}
    graph_columns = {row[1] for row in db.execute("PRAGMA table_info(graphs)")}
    evaluation_columns = {row[1] for row in db.execute("PRAGMA table_info(evaluations)")}
    call_columns = {row[1] for row in db.execute("PRAGMA table_info(llm_calls)")}
    with db:
        if "design_id" not in graph_columns:  # version 4: graphs belong to designs
            db.execute("ALTER TABLE graphs ADD COLUMN design_id INTEGER")
            if present:
                db.execute(
                    "UPDATE meta SET value = ? WHERE key = 'schema_version'",
                    (json.dumps(SCHEMA_VERSION),),
                )
        for name, declaration in ADDED_COLUMNS.items():
            if name not in present:
                db.execute(f"ALTER TABLE designs ADD COLUMN {name} {declaration}")
        if present and "evaluation_cost" not in present:  # version 6: a pending design has
            # spent nothing yet (its evaluation adds what it cost when it finishes)
            db.execute("UPDATE designs SET evaluation_cost = 0 WHERE status = 'pending'")
        for name, declaration in ADDED_EVALUATION_COLUMNS.items():
            if name not in evaluation_columns:
                db.execute(f"ALTER TABLE evaluations ADD COLUMN {name} {declaration}")
        for name, declaration in ADDED_CALL_COLUMNS.items():
            if name not in call_columns:
                db.execute(f"ALTER TABLE llm_calls ADD COLUMN {name} {declaration}")
        db.execute("CREATE INDEX IF NOT EXISTS designs_near ON designs (near_hash)")
        db.execute("CREATE INDEX IF NOT EXISTS designs_behaviour ON designs (behaviour)")
        db.execute(  # the best first, read in order: `top` and the context's scans
            "CREATE INDEX IF NOT EXISTS designs_ranked ON designs (status, fitness DESC, id)"
        )
        if "origin" not in present:  # version 1 marked seeds by their proposer
            db.execute("UPDATE designs SET origin = 'seed' WHERE proposer = 'seed'")
        if present and not set(ADDED_COLUMNS) <= present:
            db.execute(
                "UPDATE meta SET value = ? WHERE key = 'schema_version'",
                (json.dumps(SCHEMA_VERSION),),
            )
