"""The run store: one SQLite file (WAL) per run holding designs, evaluations, events, LLM calls.

Every state change is one committed transaction, so killing the process at any instant loses at
most the evaluations in flight and never corrupts the store. The events table is append-only
(triggers refuse updates and deletes). Several readers (`status`, `show`) may watch a live run.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentic_design.config import RunConfig
from agentic_design.records import (
    ArchiveError,
    Design,
    Evaluation,
    Note,
    Proposal,
    Status,
    Variant,
    near_hash,
)
from agentic_design.store import learned, llm_calls
from agentic_design.store.context import (
    DIVERSITY_CANDIDATES,
    Context,
    bounded_context,
    farthest_points,
)
from agentic_design.store.rows import (
    NO_LIMIT,
    design_from_row,
    finish_design,
    insert_design,
    insert_evaluation,
    insert_event,
)
from agentic_design.store.schema import SCHEMA_VERSION, connect

if TYPE_CHECKING:
    # An import circle, on purpose (see `Archive.replay`): the store's one upward reference.
    from agentic_design.run.replay import Replay

# Left out of an outline: what choosing parents never reads.
_LONG_TEXTS = {"code": "''", "thought": "''", "error": "NULL", "metrics": "'{}'", "diff": "NULL"}


def db_path(run_dir: str | Path) -> Path:
    path = Path(run_dir)
    return path if path.suffix == ".db" else path / "run.db"


class Archive:
    """A run's store. Open an existing one with `Archive.open(run_dir)`."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        self.run_dir = path.parent
        self.readonly = readonly
        self._db = connect(path, readonly=readonly)
        # Several clients record their LLM calls through one connection from their own threads
        # (the models of the meta-agent, its embedding model): one transaction at a time.
        self._calls_lock = threading.Lock()

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
        design_id = insert_design(db, self.run_name, proposal, eval_seed, task_fingerprint)
        insert_event(db, "proposed", design_id, operator=proposal.operator)
        learned.insert_learned(db, design_id, proposal)
        for trial in proposal.trials:  # a tuning step's evaluations
            insert_event(db, "tune_trial", design_id, **trial)
        return design_id

    def graph(self, design_id: int) -> str | None:
        """The task graph (node-link JSON) that produced design `design_id`, if it had one."""
        row = self._db.execute(
            "SELECT data FROM graphs WHERE design_id = ? ORDER BY id DESC LIMIT 1", (design_id,)
        ).fetchone()
        return str(row[0]) if row else None

    def finish(
        self,
        design_id: int,
        evaluation: Evaluation,
        *,
        cost: float = 1.0,
        behaviour_of: int | None = None,
        cheaper: Sequence[Evaluation] = (),
        behaviour: str | None = None,
    ) -> None:
        """Record a design's evaluation result: its status becomes final. `cost`: what its
        evaluations spent, in full evaluations; `cheaper`: the cheap evaluations that came
        before this one (recorded too); `behaviour`: its fingerprint, when it was taken only
        now (a seed's); `behaviour_of`: the design it duplicates, not evaluated itself."""
        with self._transaction() as db:
            finish_design(db, design_id, evaluation, cost, behaviour_of)
            if behaviour is not None:
                db.execute("UPDATE designs SET behaviour = ? WHERE id = ?", (behaviour, design_id))
            for earlier in cheaper:
                insert_evaluation(db, design_id, "search", earlier)
            insert_evaluation(db, design_id, "search", evaluation)
            insert_event(
                db,
                "evaluated",
                design_id,
                status=evaluation.status.value,
                fitness=evaluation.fitness,
            )

    def record_evaluation(self, design_id: int, purpose: str, evaluation: Evaluation) -> None:
        """Record an extra evaluation (a replay, the final test) without touching the design."""
        with self._transaction() as db:
            insert_evaluation(db, design_id, purpose, evaluation)
            insert_event(
                db, purpose, design_id, status=evaluation.status.value, fitness=evaluation.fitness
            )

    def event(self, kind: str, design_id: int | None = None, **data: Any) -> None:
        with self._transaction() as db:
            insert_event(db, kind, design_id, **data)

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
        return design_from_row(row)

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
        params: list[Any] = [NO_LIMIT if upto is None else upto, after]
        if status is not None:
            sql += " AND status = ?"
            params.append(status.value)
        sql += " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [design_from_row(row) for row in self._db.execute(sql, params)]

    def recent(self, n: int, upto: int | None = None) -> list[Design]:
        """The n newest designs (with ids up to `upto`), oldest first."""
        rows = self._db.execute(
            "SELECT * FROM designs WHERE id <= ? ORDER BY id DESC LIMIT ?",
            (NO_LIMIT if upto is None else upto, n),
        ).fetchall()
        return [design_from_row(row) for row in reversed(rows)]

    def top(self, k: int, upto: int | None = None, outline: bool = False) -> list[Design]:
        """The k best designs with status ok, best first (ties: the earlier design first)."""
        columns = self._outline_columns() if outline else "*"
        rows = self._db.execute(
            # `+id`: no index for that bound, so SQLite walks designs_ranked in order and
            # stops at k, rather than sorting every ok design (a long run has 100,000).
            f"SELECT {columns} FROM designs WHERE status = 'ok' AND fitness IS NOT NULL "
            "AND +id <= ? ORDER BY fitness DESC, id LIMIT ?",
            (NO_LIMIT if upto is None else upto, k),
        )
        return [design_from_row(row) for row in rows]

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
            (NO_LIMIT if upto is None else upto, n),
        ).fetchall()
        return [design_from_row(row) for row in reversed(rows)]

    def designs_by_id(self, ids: Sequence[int], outline: bool = False) -> dict[int, Design]:
        """The designs with these ids (those that exist), by id."""
        columns = self._outline_columns() if outline else "*"
        found: dict[int, Design] = {}
        unique = sorted(set(ids))
        for start in range(0, len(unique), 500):  # within SQLite's limit on parameters
            chunk = unique[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            sql = f"SELECT {columns} FROM designs WHERE id IN ({marks})"
            found.update((row["id"], design_from_row(row)) for row in self._db.execute(sql, chunk))
        return found

    def skeletons(self, upto: int | None = None) -> Iterator[Design]:
        """Every finished design with an id up to `upto`, in id order, holding only what
        choosing parents reads: id, status, fitness, first parent and descriptors. Ten times
        quicker to read than `designs(outline=True)`: a resumed run of 100,000 designs warms a
        selection strategy with it, then reads the few designs the strategy keeps."""
        rows = self._db.execute(
            "SELECT id, status, fitness, parents, descriptors FROM designs "
            "WHERE id <= ? AND status != ? ORDER BY id",
            (NO_LIMIT if upto is None else upto, Status.PENDING.value),
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
            (NO_LIMIT if upto is None else upto,),
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

    def behaviour_twin(self, behaviour: str) -> int | None:
        """The first design with this behavioural fingerprint, if there is one."""
        row = self._db.execute(
            "SELECT id FROM designs WHERE behaviour = ? ORDER BY id LIMIT 1", (behaviour,)
        ).fetchone()
        return int(row[0]) if row else None

    def behaviours(self, upto: int | None = None, after: int = 0) -> set[str]:
        """The behavioural fingerprints of the designs with ids in (`after`, `upto`]."""
        rows = self._db.execute(
            "SELECT behaviour FROM designs WHERE id <= ? AND id > ? AND behaviour IS NOT NULL",
            (NO_LIMIT if upto is None else upto, after),
        )
        return {row[0] for row in rows}

    def spent(self, upto: int | None = None, after: int = 0) -> float:
        """What the finished designs with ids in (`after`, `upto`] spent of
        `budget.evaluations`, in full evaluations (a cheap one counts its share, a duplicate
        nothing)."""
        row = self._db.execute(
            "SELECT TOTAL(evaluation_cost) FROM designs WHERE id <= ? AND id > ? "
            "AND status != ?",
            (NO_LIMIT if upto is None else upto, after, Status.PENDING.value),
        ).fetchone()
        return float(row[0])

    def cheap_results(self) -> list[tuple[int, float, float]]:
        """(design id, share, fitness) of every cheap evaluation of the search that scored."""
        rows = self._db.execute(
            "SELECT design_id, fidelity, fitness FROM evaluations WHERE purpose = 'search' "
            "AND fidelity < 1 AND status IN ('ok', 'screened_out') AND fitness IS NOT NULL "
            "ORDER BY id"
        )
        return [(int(r[0]), float(r[1]), float(r[2])) for r in rows]

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
        """Record call attempts in one transaction (a Ray node's, made at their `at`); safe
        from several threads at once."""
        with self._calls_lock:
            llm_calls.record_llm_calls(self._db, calls)

    def recorded_llm_calls(self, design_id: int | None = None) -> list[dict[str, Any]]:
        """Every recorded call attempt (or those made for `design_id`), in the order made."""
        return llm_calls.recorded_llm_calls(self._db, design_id)

    def spend(self) -> dict[str, float]:
        return llm_calls.spend(self._db)

    def model_spend(self) -> dict[str, dict[str, float]]:
        """Per model that was called: its calls (failed attempts among them), tokens and USD,
        and the designs it wrote — how many, how many scored (status ok), and the share; how
        many of them were sent back as not new, and how many were recorded not_novel."""
        stats = llm_calls.model_spend(self._db)
        novelty = learned.novelty_counts(self._db)
        for model, row in stats.items():
            counts = novelty.get(model, {})
            row.update(sent_back=counts.get("sent_back", 0), not_novel=counts.get("not_novel", 0))
        return stats

    def spend_by_purpose(self) -> dict[str, dict[str, float]]:
        """The calls, tokens and USD of the run's LLM calls by what they were for."""
        return learned.spend_by_purpose(self._db)

    # -- what the run learned -------------------------------------------------------------------
    def notes(self) -> list[Note]:
        """Every version of the run's insight notes, oldest first."""
        return learned.notes(self._db)

    def variants(self) -> list[Variant]:
        """Every instruction variant of the propose prompt the run has had, in order."""
        return learned.variants(self._db)

    def embeddings(self, model: str) -> Iterator[tuple[int, bytes]]:
        """The designs' cached code embeddings by `model`: (design id, float32 bytes)."""
        return learned.embeddings(self._db, model)

    def novelty_counts(self) -> dict[str, dict[str, int]]:
        """Per model: designs whose novelty was checked, sent back once, and not_novel."""
        return learned.novelty_counts(self._db)

    # -- selection ------------------------------------------------------------------------------
    def select_context(
        self, k_best: int = 4, n_diverse: int = 3, n_failures: int = 3, upto: int | None = None
    ) -> Context:
        """A bounded context for proposals: the k best, a few far from them, recent failures.

        Diversity is farthest-point sampling in descriptor space among ok designs outside the
        best-k; the candidates scanned are capped too, so the cost stays flat as the run grows.
        `upto` restricts everything to designs with ids up to it (a fixed snapshot).
        """
        return bounded_context(self._db, self.top(k_best, upto), n_diverse, n_failures, upto)

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


# What callers import from here. `Context` and `farthest_points` now live in `context`, and stay
# importable here, as by the old path `agentic_design.archive` (`agentic_design.moved`).
# What code written against release 0.1.0's archive module imported from it.
__all__ = [
    "DIVERSITY_CANDIDATES",
    "SCHEMA_VERSION",
    "Archive",
    "ArchiveError",
    "Context",
    "db_path",
    "farthest_points",
]
