"""Hostile peers' runs: OpenEvolve checkpoints and ShinkaEvolve databases that are malformed,
of the wrong types, too big, cyclic, duplicated, NaN-scored or linked out of their folder. Each
is refused by the real command with exit code 2 and one line naming the file (or program) and
what is wrong, never a traceback, and nothing is written to the run directory. The big ones
are made at test time, never kept in the repository."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from agentic_design.store.import_common import (
    MAX_CODE_CHARS,
    MAX_FILE_BYTES,
    PeerImportError,
    PeerLimitError,
)
from agentic_design.store.import_openevolve import OpenEvolveImportError, import_openevolve
from agentic_design.store.import_shinka import ShinkaImportError, import_shinka

from ..conftest import cli
from ..test_import_peers import (
    BEST_FIT,
    SHINKA_SCHEMA,
    WORST_FIT,
    oe_program,
    shinka_row,
    write_shinka,
)


def assert_refused(command: str, path: Path, run_dir: Path, message: str) -> None:
    """The real command refuses `path`: exit code 2, one line starting with the error and
    holding `message`, no traceback, and no run directory."""
    result = cli(command, str(path), "--run-dir", str(run_dir), timeout=300)
    assert result.returncode == 2, result.stdout + result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ") and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not run_dir.exists()  # every check comes before anything is written


# -- OpenEvolve checkpoints --------------------------------------------------------------------


def checkpoint(folder: Path, *texts: str, metadata: str | None = None) -> Path:
    """A checkpoint whose program files hold `texts` as written (p0.json, p1.json, ...)."""
    (folder / "programs").mkdir(parents=True)
    for i, text in enumerate(texts):
        (folder / "programs" / f"p{i}.json").write_text(text)
    if metadata is not None:
        (folder / "metadata.json").write_text(metadata)
    return folder


def program(key: str = "a", **fields: object) -> str:
    return json.dumps(oe_program(key, BEST_FIT, metrics={"combined_score": 1.0}, **fields))


def with_metric(value: str) -> str:
    """A program whose combined_score is `value` written as JSON text (NaN, 1e999)."""
    return program().replace('"combined_score": 1.0', f'"combined_score": {value}')


OPENEVOLVE: dict[str, tuple[Callable[[Path], Path], str]] = {
    "malformed JSON": (
        lambda d: checkpoint(d, '{"id": "a", "code": '),
        "p0.json: program is not JSON (Expecting value at line 1, column 21)",
    ),
    "metadata that is a list": (
        lambda d: checkpoint(d, program(), metadata="[1, 2]"),
        "metadata.json holds a JSON list, not an object",
    ),
    "a program that is a list": (
        lambda d: checkpoint(d, "[1, 2]"),
        "p0.json holds a JSON list, not a program object",
    ),
    "a missing code field": (
        lambda d: checkpoint(d, json.dumps({"id": "a", "metrics": {}})),
        "(program a): its code is a JSON null, not a string",
    ),
    "an id that is a number": (
        lambda d: checkpoint(d, program().replace('"id": "a"', '"id": 7')),
        "p0.json: its id is a JSON number, not a program id",
    ),
    "a generation in words": (
        lambda d: checkpoint(d, program(generation="two")),
        "its generation 'two' is not a whole number >= 0",
    ),
    "a negative iteration": (
        lambda d: checkpoint(d, program(iteration_found=-1)),
        "its iteration_found -1 is not a whole number >= 0",
    ),
    "metrics that are a list": (
        lambda d: checkpoint(d, json.dumps(oe_program("a", BEST_FIT, metrics=[1.0]))),
        "its metrics is a JSON list, not an object",
    ),
    "a combined_score in words": (
        lambda d: checkpoint(d, with_metric('"high"')),
        "its combined_score is a JSON string, not a number",
    ),
    "a NaN score": (lambda d: checkpoint(d, with_metric("NaN")), "NaN is not JSON"),
    "an infinite score": (lambda d: checkpoint(d, with_metric("-Infinity")), "-Infinity is not"),
    "a score beyond a float": (
        lambda d: checkpoint(d, with_metric("1e999")),
        "the number 1e999 lies beyond a float's range",
    ),
    "a 5,000-digit number": (
        lambda d: checkpoint(d, with_metric("9" * 5000)),
        "a number of 5,000 characters; the limit is 100",
    ),
    "deep nesting": (
        lambda d: checkpoint(d, program(metadata={"x": json.loads("[" * 200 + "]" * 200)})),
        "program nested 202 deep; the limit is 64",
    ),
    "a cycle of parents": (
        lambda d: checkpoint(d, program("a", parent_id="b"), program("b", parent_id="a")),
        "the programs' parents form a cycle: 'a' -> 'b' -> 'a'",
    ),
    "its own parent": (
        lambda d: checkpoint(d, program("a", parent_id="a")),
        "the programs' parents form a cycle: 'a' -> 'a'",
    ),
    "a duplicate id": (
        lambda d: checkpoint(d, program("a"), program("a")),
        "two programs have the id 'a'",
    ),
    "an oversized code": (
        lambda d: checkpoint(d, json.dumps(oe_program("a", "x" * (MAX_CODE_CHARS + 1)))),
        f"its code holds 1,000,001 characters; the limit is {MAX_CODE_CHARS:,}",
    ),
    "a program on two islands": (
        lambda d: checkpoint(d, program("a"), metadata=json.dumps({"islands": [["a"], ["a"]]})),
        "program 'a' is on islands 0 and 1",
    ),
    "malformed artifacts": (
        lambda d: checkpoint(d, program(artifacts_json="{not json")),
        "its artifacts_json is not JSON",
    ),
    "a lone surrogate in the code": (
        lambda d: checkpoint(d, program().replace("import numpy", "import \\ud800numpy")),
        "holds '\\ud800', half of a UTF-16 surrogate pair: not text",
    ),
    "non-UTF-8 bytes": (
        lambda d: _bytes_checkpoint(d, program().encode().replace(b"numpy", b"nu\xffpy")),
        "p0.json is not UTF-8 text (invalid start byte",
    ),
    "no programs folder": (
        lambda d: (d.mkdir(), (d / "metadata.json").write_text("{}"), d)[2],
        "has no programs/ folder",
    ),
    "an empty programs folder": (lambda d: checkpoint(d), "holds no program (no .json file)"),
    "a folder with no checkpoint": (
        lambda d: (d.mkdir(), (d / "notes.txt").write_text("x"), d)[2],
        "holds no OpenEvolve checkpoint",
    ),
    "no such folder": (lambda d: d, "no such folder"),
    "rich markup in an id": (
        lambda d: checkpoint(d, program("[/]"), program("b", parent_id="[/]", generation="x")),
        "(program b): its generation 'x' is not a whole number >= 0",
    ),
}


def _bytes_checkpoint(folder: Path, raw: bytes) -> Path:
    (folder / "programs").mkdir(parents=True)
    (folder / "programs" / "p0.json").write_bytes(raw)
    return folder


@pytest.mark.parametrize("make, message", OPENEVOLVE.values(), ids=OPENEVOLVE.keys())
def test_a_hostile_checkpoint_exits_2_with_one_line(tmp_path, make, message):
    path = make(tmp_path / "checkpoint_1")
    assert_refused("import-openevolve", path, tmp_path / "run", message)


def test_a_program_file_linked_out_of_the_checkpoint_is_refused(tmp_path):
    outside = tmp_path / "secret.json"
    outside.write_text(program("s"))
    folder = checkpoint(tmp_path / "checkpoint_1", program("a"))
    (folder / "programs" / "p1.json").symlink_to(outside)
    assert_refused("import-openevolve", folder, tmp_path / "run", "p1.json leads out of")


def test_a_programs_folder_linked_out_of_the_checkpoint_is_refused(tmp_path):
    elsewhere = checkpoint(tmp_path / "elsewhere", program("a"))
    folder = tmp_path / "checkpoint_1"
    folder.mkdir()
    (folder / "programs").symlink_to(elsewhere / "programs")
    assert_refused("import-openevolve", folder, tmp_path / "run", "leads out of")


def test_a_latest_checkpoint_linked_elsewhere_is_refused(tmp_path):
    elsewhere = checkpoint(tmp_path / "elsewhere", program("a"))
    (tmp_path / "out" / "checkpoints").mkdir(parents=True)
    (tmp_path / "out" / "checkpoints" / "checkpoint_9").symlink_to(elsewhere)
    assert_refused("import-openevolve", tmp_path / "out", tmp_path / "run", "leads out of")


def test_a_pipe_among_the_programs_is_refused_unread(tmp_path):
    folder = checkpoint(tmp_path / "checkpoint_1", program("a"))
    os.mkfifo(folder / "programs" / "p1.json")  # opening it would wait for a writer forever
    assert_refused("import-openevolve", folder, tmp_path / "run", "is not a regular file")


def test_a_program_file_over_the_size_limit_is_refused_unparsed(tmp_path):
    folder = checkpoint(tmp_path / "checkpoint_1", program("a"))
    with (folder / "programs" / "p1.json").open("wb") as file:
        file.truncate(MAX_FILE_BYTES + 1)  # sparse: made at once
    message = f"more than {MAX_FILE_BYTES:,} bytes; the limit is {MAX_FILE_BYTES:,}"
    assert_refused("import-openevolve", folder, tmp_path / "run", message)


def test_the_errors_are_kinds_of_import_error(tmp_path):
    folder = checkpoint(tmp_path / "c", program("a", parent_id="a"))
    with pytest.raises(PeerImportError, match="cycle"):
        import_openevolve(folder, tmp_path / "run")
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "metadata.json").write_text("{}")
    with pytest.raises(OpenEvolveImportError, match="has no programs/ folder"):
        import_openevolve(tmp_path / "e", tmp_path / "run")
    with pytest.raises(PeerLimitError):
        import_openevolve(checkpoint(tmp_path / "d", with_metric("9" * 500)), tmp_path / "run")
    assert issubclass(PeerLimitError, PeerImportError)
    assert not (tmp_path / "run").exists()


# -- ShinkaEvolve databases --------------------------------------------------------------------


def database(folder: Path, *rows: dict, schema: str = SHINKA_SCHEMA) -> Path:
    """A results folder whose programs.sqlite holds `rows`."""
    write_shinka(folder / "programs.sqlite", list(rows), schema)
    return folder


def row(key: str = "a", **fields: object) -> dict:
    code = fields.pop("code", BEST_FIT)
    return shinka_row(key, code, **{"combined_score": -1.0, **fields})  # type: ignore[arg-type]


def sql(folder: Path, *statements: str) -> Path:
    """A results folder whose database is made by `statements`."""
    folder.mkdir(parents=True)
    with sqlite3.connect(folder / "programs.sqlite") as db:
        for statement in statements:
            db.execute(statement)
    db.close()
    return folder


NO_KEY = SHINKA_SCHEMA.replace("id TEXT PRIMARY KEY", "id TEXT")

SHINKA: dict[str, tuple[Callable[[Path], Path], str]] = {
    "a text file": (
        lambda d: (d.mkdir(), (d / "programs.sqlite").write_text("not sqlite"), d)[2],
        "programs.sqlite is not a SQLite database",
    ),
    "no programs table": (
        lambda d: sql(d, "CREATE TABLE other (x)"),
        "has no table named programs: it is not ShinkaEvolve's database",
    ),
    "programs as a view": (
        lambda d: sql(d, "CREATE TABLE t (id, code)", "CREATE VIEW programs AS SELECT * FROM t"),
        "has a view, not a table, named programs",
    ),
    "a missing column": (
        lambda d: sql(d, "CREATE TABLE programs (id, code, parent_id, generation)"),
        "its programs table lacks the column(s) combined_score, correct",
    ),
    "an empty table": (
        lambda d: database(d),
        "its programs table is empty; nothing to import",
    ),
    "malformed metrics": (
        lambda d: database(d, row(public_metrics="{oops")),
        "program a: its public_metrics is not JSON",
    ),
    "a NaN metric": (
        lambda d: database(d, row(public_metrics='{"x": NaN}')),
        "NaN is not JSON (JSON has no NaN or infinite numbers)",
    ),
    "an infinite score": (
        lambda d: database(d, row(combined_score=float("inf"))),
        "program a: its combined_score inf is not a finite number",
    ),
    "a score in words": (
        lambda d: database(d, row(combined_score="high")),
        "program a: its combined_score is a JSON string, not a number",
    ),
    "correct that is 2": (
        lambda d: database(d, row(correct=2)),
        "program a: its correct is 2, not 0 or 1",
    ),
    "a negative generation": (
        lambda d: database(d, row(generation=-1)),
        "its generation -1 is not a whole number >= 0",
    ),
    "metadata that is a list": (
        lambda d: database(d, row(metadata="[1]")),
        "its metadata is a JSON list, not an object",
    ),
    "metrics as a number": (  # SQLite keeps 3 in a TEXT column as text: JSON of a number
        lambda d: database(d, row(public_metrics=3)),
        "its public_metrics is a JSON number, not an object",
    ),
    "metrics as a blob": (
        lambda d: database(d, row(public_metrics=b"{}")),
        "its public_metrics is a blob, not JSON text",
    ),
    "inspirations that are no list": (
        lambda d: database(d, row(archive_inspiration_ids='{"a": 1}')),
        "its archive_inspiration_ids is a JSON object, not a list",
    ),
    "a NULL id": (
        lambda d: database(d, row(id=None), schema=NO_KEY),
        "a program: its id is a JSON null, not a program id",
    ),
    "a duplicate id": (
        lambda d: database(d, row("a"), row("a"), schema=NO_KEY),
        "two programs have the id 'a'",
    ),
    "a cycle of parents": (
        lambda d: database(d, row("a", parent_id="b"), row("b", parent_id="a")),
        "the programs' parents form a cycle: 'a' -> 'b' -> 'a'",
    ),
    "code as a huge blob": (
        lambda d: database(d, row(code=b"x" * (MAX_CODE_CHARS + 1))),
        f"program 'a': its code holds 1,000,001 bytes; the limit is {MAX_CODE_CHARS:,}",
    ),
    "code as a blob": (
        lambda d: database(d, row(code=b"x = 1")),
        "program a: its code is binary data (a SQLite blob), not a string",
    ),
    "a results folder with no database": (
        lambda d: (d.mkdir(), (d / "evolution_run.log").write_text("x"), d)[2],
        "holds no ShinkaEvolve database: expected programs.sqlite or evolution_db.sqlite",
    ),
    "no such path": (lambda d: d, "no such file or folder"),
}


@pytest.mark.parametrize("make, message", SHINKA.values(), ids=SHINKA.keys())
def test_a_hostile_shinka_database_exits_2_with_one_line(tmp_path, make, message):
    path = make(tmp_path / "results")
    assert_refused("import-shinka", path, tmp_path / "run", message)


def test_a_database_linked_out_of_the_results_folder_is_refused(tmp_path):
    elsewhere = database(tmp_path / "elsewhere", row())
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "programs.sqlite").symlink_to(elsewhere / "programs.sqlite")
    assert_refused("import-shinka", tmp_path / "results", tmp_path / "run", "leads out of")


def test_a_hostile_database_is_only_read(tmp_path):
    """The database is opened read-only: a refused import leaves it as it was."""
    folder = database(tmp_path / "results", row("a", parent_id="a"))
    before = (folder / "programs.sqlite").read_bytes()
    with pytest.raises(PeerImportError, match="cycle"):
        import_shinka(folder, tmp_path / "run")
    with pytest.raises(ShinkaImportError, match="no such file"):
        import_shinka(tmp_path / "nothing", tmp_path / "run")
    assert (folder / "programs.sqlite").read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["programs.sqlite"]


def test_a_run_within_every_check_still_imports(tmp_path):
    """The checks leave room: NULL JSON columns, no island, a timestamp missing."""
    folder = database(
        tmp_path / "results",
        row("a", public_metrics=None, metadata=None, island_idx=None, text_feedback=None),
        shinka_row("b", WORST_FIT, parent_id="a", generation=1, correct=0, metadata=None),
    )
    summary = import_shinka(folder, tmp_path / "run")
    assert summary.statuses == {"invalid": 1, "ok": 1} and summary.islands == {0: 1}
