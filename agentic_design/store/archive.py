"""The run store: one SQLite file (WAL) per run holding designs, evaluations, events, LLM calls.

Every state change is one committed transaction, so killing the process at any instant loses at
most the evaluations in flight and never corrupts the store. The events table is append-only
(triggers refuse updates and deletes). Several readers (`status`, `show`) may watch a live run.
"""

from __future__ import annotations

import json
import math
import os
import re
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentic_design.config import RunConfig
from agentic_design.records import (
    ArchiveError,
    Design,
    Evaluation,
    Origin,
    Proposal,
    Status,
    code_hash,
    near_hash,
)

if TYPE_CHECKING:
    # An import circle, on purpose (see `Archive.replay`): the store's one upward reference.
    from agentic_design.run.replay import Replay

SCHEMA_VERSION = 5

_SCHEMA = """
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
    finished_at REAL NOT NULL
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
    design_id INTEGER
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
"""


# Columns added since schema version 1; a store made by an older version gains them on opening.
_ADDED_COLUMNS = {
    "origin": "TEXT NOT NULL DEFAULT 'search'",
    "repair_of": "INTEGER",
    "attempt": "INTEGER NOT NULL DEFAULT 0",
    "summary": "TEXT NOT NULL DEFAULT ''",
    "diff": "TEXT",  # version 3
    "near_hash": "TEXT",  # version 5: records.near_hash, for rejecting near duplicates
}

_NO_LIMIT = 2**62  # `upto` when every design counts
# Left out of an outline: what choosing parents never reads.
_LONG_TEXTS = {"code": "''", "thought": "''", "error": "NULL", "metrics": "'{}'", "diff": "NULL"}
# The fittest designs scanned for the most different ones: a fixed number, so a proposal's
# context costs the same however long the run.
DIVERSITY_CANDIDATES = 200


@dataclass(frozen=True)
class Context:
    """A bounded selection of the archive for a proposer: its size never grows with the archive."""

    best: list[Design]
    diverse: list[Design]
    failures: list[Design]

    def all(self) -> list[Design]:
        return [*self.best, *self.diverse, *self.failures]


def db_path(run_dir: str | Path) -> Path:
    path = Path(run_dir)
    return path if path.suffix == ".db" else path / "run.db"


class Archive:
    """A run's store. Open an existing one with `Archive.open(run_dir)`."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        self.run_dir = path.parent
        self.readonly = readonly
        if readonly:
            uri = f"file:{path}?mode=ro"
            self._db = sqlite3.connect(uri, uri=True, timeout=30, check_same_thread=False)
            self._refuse_newer()
        else:
            self._db = sqlite3.connect(path, timeout=30, check_same_thread=False)
            self._refuse_newer()
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._upgrade()
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA foreign_keys=ON")

    def _refuse_newer(self) -> None:
        """A store a newer version wrote is refused before anything reads or writes it: its
        columns may mean what this version cannot know."""
        try:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.DatabaseError:
            return  # a new store (no tables yet), or not a store at all: `open` says which
        version = json.loads(row[0]) if row else None
        if isinstance(version, int) and version > SCHEMA_VERSION:
            self._db.close()
            raise ArchiveError(
                f"{self.path} was written with store schema version {version}, newer than this "
                f"agentic-design reads ({SCHEMA_VERSION}): upgrade agentic-design to open it"
            )

    def _upgrade(self) -> None:
        present = {row[1] for row in self._db.execute("PRAGMA table_info(designs)")}
        graph_columns = {row[1] for row in self._db.execute("PRAGMA table_info(graphs)")}
        with self._db:
            if "design_id" not in graph_columns:  # version 4: graphs belong to designs
                self._db.execute("ALTER TABLE graphs ADD COLUMN design_id INTEGER")
                if present:
                    self._db.execute(
                        "UPDATE meta SET value = ? WHERE key = 'schema_version'",
                        (json.dumps(SCHEMA_VERSION),),
                    )
            for name, declaration in _ADDED_COLUMNS.items():
                if name not in present:
                    self._db.execute(f"ALTER TABLE designs ADD COLUMN {name} {declaration}")
            self._db.execute("CREATE INDEX IF NOT EXISTS designs_near ON designs (near_hash)")
            self._db.execute(  # the best first, read in order: `top` and the context's scans
                "CREATE INDEX IF NOT EXISTS designs_ranked ON designs (status, fitness DESC, id)"
            )
            if "origin" not in present:  # version 1 marked seeds by their proposer
                self._db.execute("UPDATE designs SET origin = 'seed' WHERE proposer = 'seed'")
            if present and not set(_ADDED_COLUMNS) <= present:
                self._db.execute(
                    "UPDATE meta SET value = ? WHERE key = 'schema_version'",
                    (json.dumps(SCHEMA_VERSION),),
                )

    # -- opening --------------------------------------------------------------------------------
    @classmethod
    def open(cls, run_dir: str | Path, *, readonly: bool = False) -> Archive:
        """Open the store of an existing run (a run directory or its run.db)."""
        path = db_path(run_dir)
        if not path.is_file():
            raise ArchiveError(f"no run found at {run_dir} (expected {path})")
        try:
            archive = cls(path, readonly=readonly)
            archive._db.execute("SELECT 1 FROM designs LIMIT 1")
        except sqlite3.DatabaseError as exc:
            raise ArchiveError(f"{path} is not a readable run store: {exc}") from None
        return archive

    @classmethod
    def create(cls, run_dir: str | Path, meta: dict[str, Any] | None = None) -> Archive:
        """Create a new run store in `run_dir` (made if missing), with its metadata written in
        one transaction: a store either has all of it or is not a started run."""
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        (Path(run_dir) / "designs").mkdir(exist_ok=True)
        archive = cls(db_path(run_dir))
        archive.set_meta_many({"schema_version": SCHEMA_VERSION, **(meta or {})})
        return archive

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._db:  # commits on success, rolls back on error
            yield self._db

    # -- run metadata ---------------------------------------------------------------------------
    def set_meta(self, key: str, value: Any) -> None:
        self.set_meta_many({key: value})

    def set_meta_many(self, values: dict[str, Any]) -> None:
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [(key, json.dumps(value)) for key, value in values.items()],
            )

    def meta(self, key: str, default: Any = None) -> Any:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row["value"])

    def all_meta(self) -> dict[str, Any]:
        rows = self._db.execute("SELECT key, value FROM meta ORDER BY key").fetchall()
        return {row["key"]: json.loads(row["value"]) for row in rows}

    @property
    def run_name(self) -> str:
        return str(self.meta("name", self.run_dir.name))

    # -- writing designs ------------------------------------------------------------------------
    def add(self, proposal: Proposal, *, eval_seed: int, task_fingerprint: str) -> int:
        """Record a proposal as a pending design; return its id. Its code also goes to designs/."""
        (design_id,) = self.add_many(
            [proposal], eval_seed=eval_seed, task_fingerprint=task_fingerprint
        )
        return design_id

    def add_many(
        self, proposals: list[Proposal], *, eval_seed: int, task_fingerprint: str
    ) -> list[int]:
        """Record several proposals in one transaction (a run's seeds: all or none)."""
        with self._transaction() as db:
            ids = [self._insert(db, p, eval_seed, task_fingerprint) for p in proposals]
        for design_id, proposal in zip(ids, proposals, strict=True):
            self._write_code_file(design_id, proposal)
        return ids

    def _insert(
        self, db: sqlite3.Connection, proposal: Proposal, eval_seed: int, task_fingerprint: str
    ) -> int:
        now = time.time()
        cursor = db.execute(
            "INSERT INTO designs (run, name, thought, code, code_hash, status, parents, "
            "generation, proposer, operator, origin, repair_of, attempt, diff, eval_seed, "
            "task_fingerprint, llm_tokens, llm_usd, created_at, near_hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                self.run_name,
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
            ),
        )
        design_id = int(cursor.lastrowid or 0)
        if proposal.graph is not None:
            db.execute(
                "INSERT INTO graphs (at, name, data, design_id) VALUES (?, ?, ?, ?)",
                (now, proposal.operator, proposal.graph, design_id),
            )
        self._event(db, "proposed", design_id, operator=proposal.operator)
        return design_id

    def graph(self, design_id: int) -> str | None:
        """The task graph (node-link JSON) that produced design `design_id`, if it had one."""
        row = self._db.execute(
            "SELECT data FROM graphs WHERE design_id = ? ORDER BY id DESC LIMIT 1", (design_id,)
        ).fetchone()
        return str(row[0]) if row else None

    def finish(self, design_id: int, evaluation: Evaluation) -> None:
        """Record a design's evaluation result: its status becomes final."""
        with self._transaction() as db:
            db.execute(
                "UPDATE designs SET status = ?, error = ?, fitness = ?, ci_low = ?, ci_high = ?, "
                "metrics = ?, descriptors = ?, summary = ?, wall_s = ?, finished_at = ? "
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
                    design_id,
                ),
            )
            self._insert_evaluation(db, design_id, "search", evaluation)
            self._event(
                db,
                "evaluated",
                design_id,
                status=evaluation.status.value,
                fitness=evaluation.fitness,
            )

    def record_evaluation(self, design_id: int, purpose: str, evaluation: Evaluation) -> None:
        """Record an extra evaluation (a replay, the final test) without touching the design."""
        with self._transaction() as db:
            self._insert_evaluation(db, design_id, purpose, evaluation)
            self._event(
                db, purpose, design_id, status=evaluation.status.value, fitness=evaluation.fitness
            )

    def event(self, kind: str, design_id: int | None = None, **data: Any) -> None:
        with self._transaction() as db:
            self._event(db, kind, design_id, **data)

    @staticmethod
    def _event(db: sqlite3.Connection, kind: str, design_id: int | None, **data: Any) -> None:
        db.execute(
            "INSERT INTO events (at, kind, design_id, data) VALUES (?, ?, ?, ?)",
            (time.time(), kind, design_id, json.dumps(data, default=str)),
        )

    @staticmethod
    def _insert_evaluation(
        db: sqlite3.Connection, design_id: int, purpose: str, evaluation: Evaluation
    ) -> None:
        db.execute(
            "INSERT INTO evaluations (design_id, purpose, split, seed, status, fitness, ci_low, "
            "ci_high, metrics, error, wall_s, finished_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            ),
        )

    def _write_code_file(self, design_id: int, proposal: Proposal | Design) -> None:
        folder = self.run_dir / "designs"
        folder.mkdir(exist_ok=True)
        slug = re.sub(r"[^a-z0-9]+", "_", proposal.name.lower()).strip("_")[:40] or "design"
        header = f"# design {design_id}: {proposal.name}\n# {proposal.operator}\n"
        path = folder / f"{design_id:05d}_{slug}.py"
        tmp = path.with_name(f".{path.name}.tmp")  # whole or not at all, if killed mid-write
        tmp.write_text(header + proposal.code)
        os.replace(tmp, path)

    def restore_code_files(self) -> list[int]:
        """Write the code file of every design that lacks one (a run killed between a
        design's commit and its file); return their ids."""
        folder = self.run_dir / "designs"
        present = {
            int(name[:5])
            for name in (os.listdir(folder) if folder.is_dir() else [])
            if name[:5].isdigit() and name.endswith(".py")
        }
        rows = self._db.execute("SELECT id FROM designs ORDER BY id").fetchall()
        missing = [int(row[0]) for row in rows if int(row[0]) not in present]
        for design_id in missing:
            self._write_code_file(design_id, self.get(design_id))
        return missing

    # -- reading --------------------------------------------------------------------------------
    def get(self, design_id: int) -> Design:
        row = self._db.execute("SELECT * FROM designs WHERE id = ?", (design_id,)).fetchone()
        if row is None:
            raise ArchiveError(f"no design with id {design_id} in {self.path}")
        return _design(row)

    def designs(
        self,
        status: Status | None = None,
        limit: int | None = None,
        upto: int | None = None,
        after: int = 0,
        outline: bool = False,
    ) -> list[Design]:
        """Designs in creation order, optionally only those with `status` or with ids in
        (`after`, `upto`]; `outline`: without their code, thought, error, metrics and diff
        (empty values), to scan a long run quickly."""
        columns = self._outline_columns() if outline else "*"
        sql = f"SELECT {columns} FROM designs WHERE id <= ? AND id > ?"
        params: list[Any] = [_NO_LIMIT if upto is None else upto, after]
        if status is not None:
            sql += " AND status = ?"
            params.append(status.value)
        sql += " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_design(row) for row in self._db.execute(sql, params)]

    def recent(self, n: int, upto: int | None = None) -> list[Design]:
        """The n newest designs (with ids up to `upto`), oldest first."""
        rows = self._db.execute(
            "SELECT * FROM designs WHERE id <= ? ORDER BY id DESC LIMIT ?",
            (_NO_LIMIT if upto is None else upto, n),
        ).fetchall()
        return [_design(row) for row in reversed(rows)]

    def top(self, k: int, upto: int | None = None, outline: bool = False) -> list[Design]:
        """The k best designs with status ok, best first (ties: the earlier design first)."""
        columns = self._outline_columns() if outline else "*"
        rows = self._db.execute(
            # `+id`: no index for that bound, so SQLite walks designs_ranked in order and
            # stops at k, rather than sorting every ok design (a long run has 100,000).
            f"SELECT {columns} FROM designs WHERE status = 'ok' AND fitness IS NOT NULL "
            "AND +id <= ? ORDER BY fitness DESC, id LIMIT ?",
            (_NO_LIMIT if upto is None else upto, k),
        )
        return [_design(row) for row in rows]

    def best(self) -> Design | None:
        top = self.top(1)
        return top[0] if top else None

    def counts(self) -> dict[str, int]:
        rows = self._db.execute("SELECT status, COUNT(*) AS n FROM designs GROUP BY status")
        return {row["status"]: row["n"] for row in rows}

    def _outline_columns(self) -> str:
        """Every column of `designs`, its long texts replaced by empty values."""
        names = [row[1] for row in self._db.execute("PRAGMA table_info(designs)")]
        return ", ".join(f"{_LONG_TEXTS[n]} AS {n}" if n in _LONG_TEXTS else n for n in names)

    def recent_working(self, n: int, upto: int | None = None) -> list[Design]:
        """The n newest designs with ids up to `upto` that finished ok with a fitness, oldest
        first, without their code (`designs(outline=True)`)."""
        rows = self._db.execute(
            f"SELECT {self._outline_columns()} FROM designs WHERE status = 'ok' "
            "AND fitness IS NOT NULL AND id <= ? ORDER BY id DESC LIMIT ?",
            (_NO_LIMIT if upto is None else upto, n),
        ).fetchall()
        return [_design(row) for row in reversed(rows)]

    def designs_by_id(self, ids: Sequence[int], outline: bool = False) -> dict[int, Design]:
        """The designs with these ids (those that exist), by id."""
        columns = self._outline_columns() if outline else "*"
        found: dict[int, Design] = {}
        unique = sorted(set(ids))
        for start in range(0, len(unique), 500):  # within SQLite's limit on parameters
            chunk = unique[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            sql = f"SELECT {columns} FROM designs WHERE id IN ({marks})"
            found.update((row["id"], _design(row)) for row in self._db.execute(sql, chunk))
        return found

    def skeletons(self, upto: int | None = None) -> Iterator[Design]:
        """Every finished design with an id up to `upto`, in id order, holding only what
        choosing parents reads: id, status, fitness, first parent and descriptors. Ten times
        quicker to read than `designs(outline=True)`: a resumed run of 100,000 designs warms a
        selection strategy with it, then reads the few designs the strategy keeps."""
        rows = self._db.execute(
            "SELECT id, status, fitness, parents, descriptors FROM designs "
            "WHERE id <= ? AND status != ? ORDER BY id",
            (_NO_LIMIT if upto is None else upto, Status.PENDING.value),
        )
        statuses = {status.value: status for status in Status}
        for design_id, status, fitness, parents, descriptors in rows:
            first = parents[1:].split(",", 1)[0].strip(" ]")  # "[12, 7]" -> "12"
            yield Design(
                id=design_id,
                run="",
                name="",
                thought="",
                code="",
                code_hash="",
                status=statuses[status],
                parents=(int(first),) if first else (),
                fitness=fitness,
                descriptors=json.loads(descriptors) if descriptors != "{}" else {},
            )

    def code_fingerprints(self, upto: int | None = None) -> set[str]:
        """The code hashes and near-duplicate fingerprints of the designs up to `upto`."""
        rows = self._db.execute(
            "SELECT code_hash, near_hash FROM designs WHERE id <= ?",
            (_NO_LIMIT if upto is None else upto,),
        )
        return {value for row in rows for value in row if value}

    def seed_ids(self) -> list[int]:
        """The ids of the run's seeds (without reading every design)."""
        rows = self._db.execute("SELECT id FROM designs WHERE origin = 'seed' ORDER BY id")
        return [int(row[0]) for row in rows]

    def near_duplicate(self, code: str) -> int | None:
        """The first design whose code is `code` but for comments, docstrings and layout
        (`records.near_hash`), if there is one."""
        row = self._db.execute(
            "SELECT id FROM designs WHERE near_hash = ? ORDER BY id LIMIT 1", (near_hash(code),)
        ).fetchone()
        return int(row[0]) if row else None

    def finished_after(self, design_id: int) -> int:
        """How many designs proposed after `design_id` have been evaluated (any status)."""
        row = self._db.execute(
            "SELECT COUNT(*) FROM designs WHERE id > ? AND status != ?",
            (design_id, Status.PENDING.value),
        ).fetchone()
        return int(row[0])

    def total(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM designs").fetchone()[0])

    def pending(self) -> list[Design]:
        return self.designs(Status.PENDING)

    def evaluations(self, design_id: int) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT * FROM evaluations WHERE design_id = ? ORDER BY id", (design_id,)
        )
        return [{**dict(row), "metrics": json.loads(row["metrics"])} for row in rows]

    def events(self, kind: str | None = None, last: int | None = None) -> list[dict[str, Any]]:
        """The run's events, oldest first (`last`: only the newest so many)."""
        sql = "SELECT * FROM events"
        params: list[Any] = []
        if kind is not None:
            sql += " WHERE kind = ?"
            params.append(kind)
        if last is not None:
            sql = f"SELECT * FROM ({sql} ORDER BY id DESC LIMIT ?)"
            params.append(last)
        rows = self._db.execute(sql + " ORDER BY id", params)
        return [{**dict(row), "data": json.loads(row["data"])} for row in rows]

    def record_llm_call(self, **call: Any) -> None:
        """Record one LLM call attempt (a failed attempt has `error` and no response)."""
        self.record_llm_calls([call])

    def record_llm_calls(self, calls: Sequence[dict[str, Any]]) -> None:
        """Record call attempts in one transaction (a Ray node's, made at their `at`)."""
        now = time.time()
        rows = [
            (
                call.get("at", now),
                call["key"],
                call["model"],
                json.dumps(call["request"]),
                call.get("response"),
                call.get("error"),
                call.get("prompt_tokens", 0),
                call.get("completion_tokens", 0),
                call.get("usd", 0.0),
                call.get("latency_s"),
                call.get("design_id"),
            )
            for call in calls
        ]
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO llm_calls (at, key, model, request, response, error, prompt_tokens, "
                "completion_tokens, usd, latency_s, design_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def recorded_llm_calls(self, design_id: int | None = None) -> list[dict[str, Any]]:
        """Every recorded call attempt (or those made for `design_id`), in the order made."""
        if design_id is None:
            rows = self._db.execute("SELECT * FROM llm_calls ORDER BY id").fetchall()
        else:
            rows = self._db.execute(
                "SELECT * FROM llm_calls WHERE design_id = ? ORDER BY id", (design_id,)
            ).fetchall()
        return [dict(row) for row in rows]

    def spend(self) -> dict[str, float]:
        row = self._db.execute(
            "SELECT COALESCE(SUM(prompt_tokens + completion_tokens), 0) AS tokens, "
            "COALESCE(SUM(usd), 0) AS usd, COUNT(*) AS calls FROM llm_calls"
        ).fetchone()
        return {"tokens": row["tokens"], "usd": row["usd"], "calls": row["calls"]}

    def model_spend(self) -> dict[str, dict[str, float]]:
        """Per model that was called: its calls (failed attempts among them), tokens and USD,
        and the designs it wrote — how many, how many scored (status ok), and the share."""
        stats: dict[str, dict[str, float]] = {}
        for row in self._db.execute(
            "SELECT model, COUNT(*) AS calls, SUM(error IS NOT NULL) AS failed_calls, "
            "COALESCE(SUM(prompt_tokens + completion_tokens), 0) AS tokens, "
            "COALESCE(SUM(usd), 0) AS usd FROM llm_calls GROUP BY model ORDER BY model"
        ):
            stats[row["model"]] = {**dict(row), "designs": 0, "ok": 0, "success_rate": 0.0}
            del stats[row["model"]]["model"]
        for row in self._db.execute(
            "SELECT proposer, COUNT(*) AS designs, SUM(status = 'ok') AS ok FROM designs "
            "WHERE status != 'pending' GROUP BY proposer"
        ):
            model = stats.get(row["proposer"])
            if model is not None:
                model.update(designs=row["designs"], ok=row["ok"])
                model["success_rate"] = row["ok"] / row["designs"]
        return stats

    # -- selection ------------------------------------------------------------------------------
    def select_context(
        self, k_best: int = 4, n_diverse: int = 3, n_failures: int = 3, upto: int | None = None
    ) -> Context:
        """A bounded context for proposals: the k best, a few far from them, recent failures.

        Diversity is farthest-point sampling in descriptor space among ok designs outside the
        best-k; the candidates scanned are capped too, so the cost stays flat as the run grows.
        `upto` restricts everything to designs with ids up to it (a fixed snapshot).
        """
        limit = _NO_LIMIT if upto is None else upto
        best = self.top(k_best, upto)
        chosen = {d.id for d in best}
        rows = self._db.execute(
            "SELECT * FROM designs WHERE status = 'ok' AND +id <= ? "
            "ORDER BY fitness DESC, id LIMIT ?",
            (limit, DIVERSITY_CANDIDATES),
        ).fetchall()
        candidates = [d for d in map(_design, rows) if d.id not in chosen and d.descriptors]
        diverse = farthest_points(best, candidates, n_diverse)
        failed = self._db.execute(
            "SELECT * FROM designs WHERE status NOT IN ('ok', 'pending') AND id <= ? "
            "ORDER BY id DESC LIMIT ?",
            (limit, n_failures),
        ).fetchall()
        return Context(best=best, diverse=diverse, failures=[_design(r) for r in failed])

    # -- replay ---------------------------------------------------------------------------------
    def run_config(self) -> RunConfig:
        """The configuration the run was made with, as saved in its store."""
        data = self.meta("config")
        if data is None:
            raise ArchiveError(f"{self.path} holds no run configuration")
        return RunConfig.from_dict(data, source=f"{self.path} (saved config)")

    def replay(self, design_id: int) -> Replay:
        """Re-evaluate one design with its recorded seed; say whether its fitness came back.

        The store itself never evaluates: this hands the design to `replay.replay_design`.
        That import runs up to `run/` and back (an import circle, named here and allowed by
        tests/test_layout.py): `archive.replay(id)` is the Python API's promise, and the
        import waits until it is called, so opening a store never loads the evaluator."""
        from agentic_design.run.replay import replay_design

        return replay_design(self, design_id)

    # -- reports --------------------------------------------------------------------------------
    def outlines(self, cost_metric: str | None = None) -> list[dict[str, Any]]:
        """Every design in a few fields, in id order: id, status, fitness, parents (a list),
        generation, created_at, finished_at, and `cost`, its `cost_metric` metric (None when
        absent, not a number, or no metric is named). No code, thought or other metrics: light
        enough to plot a run of any size (`agentic_design.report`)."""
        key = "$." + json.dumps(cost_metric or "")  # a quoted key: `$."params"`
        # SQLite's JSON functions refuse the NaN and Infinity that json.dumps writes: those
        # rows hand their metrics over whole, to be read here.
        rows = self._db.execute(
            "SELECT id, status, fitness, parents, generation, created_at, finished_at, "
            "CASE WHEN NOT json_valid(metrics) THEN NULL "
            "WHEN json_type(metrics, ?) IN ('integer', 'real') THEN json_extract(metrics, ?) "
            "END AS cost, "
            "CASE WHEN json_valid(metrics) THEN NULL ELSE metrics END AS unparsed "
            "FROM designs ORDER BY id",
            (key, key),
        )
        outlines = []
        for row in rows:
            outline = dict(row)
            unparsed = outline.pop("unparsed")
            outline["parents"] = json.loads(row["parents"])
            if unparsed is not None:
                value = json.loads(unparsed).get(cost_metric or "")
                number = isinstance(value, int | float) and not isinstance(value, bool)
                outline["cost"] = value if number else None
            if cost_metric is None:
                outline["cost"] = None
            outlines.append(outline)
        return outlines


def farthest_points(anchors: list[Design], candidates: list[Design], n: int) -> list[Design]:
    """Greedy farthest-point selection of n candidates, away from the anchors and each other."""
    keys = sorted({k for d in [*anchors, *candidates] for k in d.descriptors})
    if not keys or n <= 0:
        return []

    def vector(d: Design) -> list[float]:
        return [float(d.descriptors.get(k, 0.0)) for k in keys]

    # Scale each descriptor by its spread so that no single unit dominates the distance.
    columns = list(zip(*(vector(d) for d in [*anchors, *candidates]), strict=True))
    spread = [(max(c) - min(c)) or 1.0 for c in columns]

    def distance(a: list[float], b: list[float]) -> float:
        return math.sqrt(sum(((x - y) / s) ** 2 for x, y, s in zip(a, b, spread, strict=True)))

    picked: list[Design] = []
    placed = [vector(d) for d in anchors]
    remaining = list(candidates)
    while remaining and len(picked) < n:
        if placed:
            far = max(remaining, key=lambda d: min(distance(vector(d), p) for p in placed))
        else:
            far = remaining[0]
        picked.append(far)
        placed.append(vector(far))
        remaining.remove(far)
    return picked


def _v1_origin(row: sqlite3.Row) -> Origin:
    return Origin.SEED if row["proposer"] == "seed" else Origin.SEARCH


def _design(row: sqlite3.Row) -> Design:
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
