"""Importing a ShinkaEvolve run (ShinkaEvolve 0.0.7) into a run store.

ShinkaEvolve keeps every program it evaluated in one SQLite database in its results folder
(`programs.sqlite`; `evolution_db.sqlite` in its older configurations), a row each in the
table `programs`: `id`, `code`, `parent_id`, `generation`, `timestamp`, `combined_score`,
`correct`, `public_metrics` and `private_metrics` (JSON), `text_feedback`, `island_idx`,
`code_diff`, the inspirations it was shown (`archive_inspiration_ids`, `top_k_inspiration_ids`,
JSON lists) and `metadata` (JSON: the patch's name, description and type, the model, the API
cost, the evaluation's stdout and stderr). `metadata_store` names its best program.

Each program becomes a design (origin imported) finished with what ShinkaEvolve recorded:
- fitness: `combined_score`; a program ShinkaEvolve found incorrect (`correct` = 0) is invalid,
  with no fitness (ShinkaEvolve stores 0.0 for it) and its error: the text feedback, or what
  its evaluation printed ("Evaluation error: ..."), or its stderr.
- metrics: its public metrics, and under `shinka` its private metrics and the rest (island,
  patch, model, inspirations as our ids, the copy it is of).
- parents: `parent_id` alone. The inspirations are context ShinkaEvolve showed the model, not
  parents (even a crossover picks one of them at random and records not which), so they stay
  in the metrics. A copy of a program onto another island (`_is_island_copy`) has no parent
  in ShinkaEvolve's record and none here; it comes after its original.
- name and thought: the patch's name and description; proposer: the model, where recorded.
The embeddings and the model's full answers (`llm_result`) are not read.

The database is opened read-only; only a real table `programs` is read (never a view a hostile
file could make do anything), and every column's values are checked for type and size.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

from agentic_design.records import Status
from agentic_design.store.import_common import (
    MAX_CODE_CHARS,
    MAX_FILE_BYTES,
    MAX_PROGRAMS,
    MAX_TEXT_CHARS,
    MAX_TOTAL_BYTES,
    PeerImportError,
    PeerImportSummary,
    PeerLimitError,
    PeerProgram,
    check_run_dir,
    file_inside,
    finite,
    first_line,
    import_meta,
    is_number,
    kind,
    ordered,
    parse_json,
    program_id,
    read_bytes,
    summarise,
    tail,
    text_field,
    whole_number,
    write_run,
)

IMPORTED_FROM = "ShinkaEvolve"
TOOL_KEY = "shinka"  # where a design's metrics keep what else the import read
FITNESS_NAME = "combined_score"
FITNESS_MEANING = "ShinkaEvolve's combined_score as its evaluation reported it; higher is better"
# The database's name in a results folder: ShinkaEvolve 0.0.7's, then its older configs'.
DATABASE_NAMES = ("programs.sqlite", "evolution_db.sqlite")
REQUIRED = ("id", "code", "parent_id", "generation", "combined_score", "correct")
# The columns read, beyond REQUIRED, where the table has them (never the embeddings).
OPTIONAL = (
    "timestamp",
    "language",
    "code_diff",
    "public_metrics",
    "private_metrics",
    "text_feedback",
    "metadata",
    "island_idx",
    "archive_inspiration_ids",
    "top_k_inspiration_ids",
    "migration_history",
    "complexity",
    "children_count",
    "system_prompt_id",
)
# The most characters each text column may hold (JSON ones are read as JSON within this).
_SIZES = {
    "id": 256,
    "code": MAX_CODE_CHARS,
    "parent_id": 256,
    "code_diff": 2 * MAX_CODE_CHARS,
    "text_feedback": MAX_TEXT_CHARS * 10,
    "language": 100,
    "system_prompt_id": 256,
}
_SQLITE_HEADER = b"SQLite format 3\x00"
# What ShinkaEvolve's evaluation prints when it fails (shinka.core.run_shinka_eval).
_PRINTED_ERROR = re.compile(r"^(?:Evaluation error|Validation failed): .*$", re.MULTILINE)
# The metadata a design keeps (the rest is timings of ShinkaEvolve's pipeline).
_KEPT_METADATA = (
    "patch_type",
    "patch_name",
    "model_name",
    "api_costs",
    "embed_cost",
    "novelty_cost",
    "compute_time",
    "source_generation",
    "num_applied",
    "error_attempt",
)


class ShinkaImportError(PeerImportError):
    """The path holds no ShinkaEvolve database we can import, or the run directory is taken."""


def find_database(path: Path) -> Path:
    """The database `path` names: a results folder (its programs.sqlite or
    evolution_db.sqlite) or the database file itself. Resolved; inside the folder."""
    if path.is_dir():
        for name in DATABASE_NAMES:
            candidate = path / name
            if candidate.exists() or candidate.is_symlink():
                return file_inside(candidate, path, "ShinkaEvolve database")
        raise ShinkaImportError(
            f"{path} holds no ShinkaEvolve database: expected {' or '.join(DATABASE_NAMES)} "
            "in a results folder"
        )
    if not path.exists():
        raise ShinkaImportError(f"{path}: no such file or folder")
    return file_inside(path, path.resolve().parent, "ShinkaEvolve database")


def import_shinka(path: str | Path, run_dir: str | Path) -> PeerImportSummary:
    """Import the ShinkaEvolve run at `path` (a results folder or its database file) as a new
    run in `run_dir` (which must hold no run). The whole database is read and checked before
    anything is written."""
    path, run_dir = Path(path), Path(run_dir)
    check_run_dir(run_dir)
    database = find_database(path)
    rows, in_archive, best = _read(database)
    where = str(database)
    programs = ordered([_program(row, where, in_archive) for row in rows], where)
    best = best if any(p.key == best for p in programs) else None
    island_of = {p.key: p.facts.get("island") for p in programs}

    def describe(ours: dict[str, int]) -> PeerImportSummary:
        return summarise(
            IMPORTED_FROM,
            path,
            database,
            run_dir,
            FITNESS_NAME,
            programs,
            ours,
            islands=island_of.values(),
            peer_best=best,
        )

    meta = import_meta(IMPORTED_FROM, database, run_dir, "shinka", FITNESS_NAME, FITNESS_MEANING)
    return write_run(programs, run_dir, meta, TOOL_KEY, "shinka", describe)


# -- reading the database --------------------------------------------------------------------


def _read(database: Path) -> tuple[list[dict[str, Any]], set[str], str | None]:
    """The programs' rows (the columns read), the ids in ShinkaEvolve's archive, and the id
    of its best program; every check that SQL can do cheaply done before a row is fetched."""
    size = database.stat().st_size
    if size > MAX_TOTAL_BYTES:
        raise PeerLimitError(f"{database}: {size:,} bytes; the limit is {MAX_TOTAL_BYTES:,}")
    if read_bytes(database, MAX_TOTAL_BYTES, "ShinkaEvolve database", head=16) != _SQLITE_HEADER:
        raise ShinkaImportError(f"{database} is not a SQLite database (ShinkaEvolve's is one)")
    try:
        db = sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise ShinkaImportError(f"{database} cannot be opened: {exc}") from None
    try:
        db.execute("PRAGMA query_only = ON")
        db.execute("PRAGMA trusted_schema = OFF")
        return _rows(db, database), _archive(db), _best(db)
    except sqlite3.Error as exc:
        raise ShinkaImportError(f"{database} cannot be read as SQLite: {exc}") from None
    finally:
        db.close()


def _rows(db: sqlite3.Connection, database: Path) -> list[dict[str, Any]]:
    found = db.execute("SELECT type FROM sqlite_master WHERE name = 'programs'").fetchone()
    if found is None or found[0] != "table":
        what = "no table" if found is None else f"a {found[0]}, not a table,"
        raise ShinkaImportError(
            f"{database} has {what} named programs: it is not ShinkaEvolve's database"
        )
    columns = {row[1] for row in db.execute("PRAGMA table_info(programs)")}
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise ShinkaImportError(
            f"{database}: its programs table lacks the column(s) {', '.join(missing)}"
        )
    (count,) = db.execute("SELECT COUNT(*) FROM programs").fetchone()
    if count == 0:
        raise ShinkaImportError(f"{database}: its programs table is empty; nothing to import")
    if count > MAX_PROGRAMS:
        raise PeerLimitError(f"{database}: {count:,} programs; the limit is {MAX_PROGRAMS:,}")
    read = [c for c in (*REQUIRED, *OPTIONAL) if c in columns]
    for column in read:  # sizes first: a 2 GB cell is never fetched
        limit = _SIZES.get(column, MAX_FILE_BYTES)
        big = db.execute(
            f'SELECT id, length(CAST("{column}" AS BLOB)) FROM programs '
            f'WHERE length(CAST("{column}" AS BLOB)) > ? LIMIT 1',
            (limit,),
        ).fetchone()
        if big is not None:
            raise PeerLimitError(
                f"{database}: program {str(big[0])[:100]!r}: its {column} holds {big[1]:,} "
                f"bytes; the limit is {limit:,}"
            )
    names = ", ".join(f'"{column}"' for column in read)
    cursor = db.execute(f"SELECT {names} FROM programs")
    return [dict(zip(read, row, strict=True)) for row in cursor]


def _archive(db: sqlite3.Connection) -> set[str]:
    """The ids in ShinkaEvolve's archive of elites, where the database has one."""
    if _table(db, "archive") and "program_id" in _columns(db, "archive"):
        rows = db.execute("SELECT program_id FROM archive LIMIT ?", (MAX_PROGRAMS,))
        return {str(row[0]) for row in rows}
    return set()


def _best(db: sqlite3.Connection) -> str | None:
    """The id ShinkaEvolve keeps as its best program's, where it keeps one."""
    if not _table(db, "metadata_store"):
        return None
    row = db.execute("SELECT value FROM metadata_store WHERE key = 'best_program_id'").fetchone()
    return row[0] if row and isinstance(row[0], str) else None


def _table(db: sqlite3.Connection, name: str) -> bool:
    row = db.execute("SELECT type FROM sqlite_master WHERE name = ?", (name,)).fetchone()
    return row is not None and row[0] == "table"


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


# -- one program -----------------------------------------------------------------------------


def _program(row: dict[str, Any], database: str, in_archive: set[str]) -> PeerProgram:
    key = program_id(row["id"], f"{database}: a program")
    where = f"{database}: program {key}"
    code = text_field(row["code"], where, "code", MAX_CODE_CHARS, optional=False)
    if not code.strip():
        raise ShinkaImportError(f"{where} has no code")
    parent = None if row["parent_id"] is None else program_id(row["parent_id"], where, "parent_id")
    generation = whole_number(row["generation"], where, "generation")
    timestamp = row.get("timestamp")
    timestamp = 0.0 if timestamp is None else finite(timestamp, where, "timestamp")
    island = row.get("island_idx")
    island = None if island is None else whole_number(island, where, "island_idx")
    public = _json_object(row.get("public_metrics"), where, "public_metrics")
    private = _json_object(row.get("private_metrics"), where, "private_metrics")
    metadata = _json_object(row.get("metadata"), where, "metadata")
    feedback = text_field(row.get("text_feedback"), where, "text_feedback", MAX_TEXT_CHARS * 10)
    status, fitness, error = _scored(row, feedback, metadata, where)
    copy_of = metadata.get("_original_program_id") if metadata.get("_is_island_copy") else None
    copy_of = None if copy_of is None else program_id(copy_of, where, "_original_program_id")
    links = {
        "archive_inspirations": _ids(row.get("archive_inspiration_ids"), where, "archive"),
        "top_k_inspirations": _ids(row.get("top_k_inspiration_ids"), where, "top_k"),
        **({"copy_of": (copy_of,)} if copy_of else {}),
    }
    model = _text(metadata, "model_name", where, 1000)
    facts = _facts(row, key, parent, generation, island, timestamp, feedback, private, metadata)
    facts["in_archive"] = key in in_archive
    name, operator = _names(generation, island, metadata, copy_of, where)
    return PeerProgram(
        key=key,
        order=(generation, timestamp, copy_of is not None, key),
        name=name,
        thought=_text(metadata, "patch_description", where, MAX_TEXT_CHARS),
        code=code,
        generation=generation,
        proposer=model or TOOL_KEY,
        operator=operator,
        status=status,
        fitness=fitness,
        metrics=public,
        facts=facts,
        parent=parent,
        links=links,
        error=error,
        summary=first_line(feedback) if status is Status.OK else "",
        diff=text_field(row.get("code_diff"), where, "code_diff", 2 * MAX_CODE_CHARS) or None,
        llm_tokens=_tokens(metadata.get("llm_result")),
        llm_usd=_cost(metadata.get("api_costs")),
    )


def _json_object(value: Any, where: str, name: str) -> dict[str, Any]:
    """A JSON column that holds an object ({} where NULL or empty)."""
    if value is None or value == "":
        return {}
    if not isinstance(value, str):
        raise ShinkaImportError(f"{where}: its {name} is {_sqlite_kind(value)}, not JSON text")
    data = parse_json(value, where, f"its {name}")
    if not isinstance(data, dict):
        raise ShinkaImportError(f"{where}: its {name} is a JSON {kind(data)}, not an object")
    return data


def _sqlite_kind(value: Any) -> str:
    """A SQLite value's kind in words."""
    kinds = {bytes: "a blob", int: "an integer", float: "a real number"}
    return kinds.get(type(value), "text")


def _ids(value: Any, where: str, which: str) -> tuple[str, ...]:
    """A JSON list of program ids (the inspirations shown)."""
    name = f"{which}_inspiration_ids"
    if value is None or value == "":
        return ()
    if not isinstance(value, str):
        raise ShinkaImportError(f"{where}: its {name} is {_sqlite_kind(value)}, not JSON text")
    data = parse_json(value, where, f"its {name}")
    if not isinstance(data, list):
        raise ShinkaImportError(f"{where}: its {name} is a JSON {kind(data)}, not a list")
    return tuple(program_id(item, where, f"{name} entry") for item in data)


def _scored(
    row: dict[str, Any], feedback: str, metadata: dict[str, Any], where: str
) -> tuple[Status, float | None, str | None]:
    correct = row["correct"]
    if correct not in (0, 1) or not isinstance(correct, int):
        raise ShinkaImportError(f"{where}: its correct is {correct!r}, not 0 or 1")
    score = row["combined_score"]
    score = None if score is None else finite(score, where, "combined_score")
    if not correct:
        return Status.INVALID, None, _error_text(feedback, metadata)
    if score is None:
        return Status.INVALID, None, "ShinkaEvolve recorded it as correct but with no score"
    return Status.OK, score, None


def _error_text(feedback: str, metadata: dict[str, Any]) -> str:
    """Why ShinkaEvolve found a program incorrect, from what it kept: its text feedback, what
    its evaluation printed, its stderr, or the reason a proposal failed."""
    parts = [feedback.strip()] if feedback.strip() else []
    stdout = metadata.get("stdout_log")
    if isinstance(stdout, str):
        parts += [m.group(0) for m in _PRINTED_ERROR.finditer(stdout) if m.group(0) not in parts]
    for name in ("stderr_log", "last_error_msg", "failure_reason"):
        value = metadata.get(name)
        if isinstance(value, str) and value.strip():
            parts.append(value.strip())
    if not parts:
        return "ShinkaEvolve recorded it as incorrect (correct = 0) and kept no error text"
    return tail("\n".join(parts))


def _text(metadata: dict[str, Any], name: str, where: str, limit: int) -> str:
    value = metadata.get(name)
    return "" if value is None else text_field(value, where, f"metadata.{name}", limit)


def _facts(
    row: dict[str, Any],
    key: str,
    parent: str | None,
    generation: int,
    island: int | None,
    timestamp: float,
    feedback: str,
    private: dict[str, Any],
    metadata: dict[str, Any],
) -> dict[str, Any]:
    """What else of the program the design keeps."""
    facts: dict[str, Any] = {
        "id": key,
        "parent_id": parent,
        "generation": generation,
        "island": island,
        "timestamp": timestamp,
        "correct": bool(row["correct"]),
        "combined_score": row["combined_score"],
    }
    if private:
        facts["private_metrics"] = private
    if feedback:
        facts["text_feedback"] = tail(feedback, MAX_TEXT_CHARS)
    facts.update({name: metadata[name] for name in _KEPT_METADATA if name in metadata})
    for name in ("language", "complexity", "children_count", "system_prompt_id"):
        if row.get(name) is not None:
            facts[name] = row[name]
    history = row.get("migration_history")
    if isinstance(history, str) and history not in ("", "[]"):
        facts["migration_history"] = parse_json(history, f"program {key}", "migration_history")
    return facts


def _names(
    generation: int,
    island: int | None,
    metadata: dict[str, Any],
    copy_of: str | None,
    where: str,
) -> tuple[str, str]:
    """A design's name and how it was made, in ShinkaEvolve's terms."""
    patch = _text(metadata, "patch_name", where, 1000) or f"generation {generation}"
    on = f", island {island}" if island is not None else ""
    if copy_of:
        return (
            f"{patch} (copy on island {island})",
            f"imported from ShinkaEvolve (a copy of {copy_of[:8]}{on})",
        )
    patch_type = metadata.get("patch_type")
    if patch_type == "init":
        return patch, f"imported from ShinkaEvolve (the initial program{on})"
    how = f", {patch_type} patch" if isinstance(patch_type, str) and patch_type else ""
    return patch, f"imported from ShinkaEvolve (generation {generation}{on}{how})"


def _tokens(result: Any) -> int:
    """The model's tokens for the program, where ShinkaEvolve kept its answer's record."""
    if not isinstance(result, dict):
        return 0
    counts = [result.get(k) for k in ("input_tokens", "output_tokens", "thinking_tokens")]
    numbers = [c for c in counts if isinstance(c, int) and not isinstance(c, bool) and c >= 0]
    return min(sum(numbers), 2**62)


def _cost(value: Any) -> float:
    """The API cost ShinkaEvolve recorded for the program (0 where none, or not a sound number)."""
    return float(value) if is_number(value) and 0 <= float(value) < 1e12 else 0.0
