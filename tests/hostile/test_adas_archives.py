"""Hostile ADAS archives: each is refused by the real `import-adas` command with exit code 2 and
one line naming the file and what is wrong with it (the limit, where one was passed), never a
traceback, and nothing of it is written to the run directory. The big ones are written at test
time, never kept in the repository."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentic_design.store.archive import Archive
from agentic_design.store.import_adas import (
    MAX_DEPTH,
    MAX_ENTRIES,
    MAX_FIELD_CHARS,
    MAX_FILE_BYTES,
    MAX_GENERATION,
    MAX_NUMBER_CHARS,
    AdasImportError,
    AdasLimitError,
    import_adas,
    read_entries,
)

from ..conftest import cli

SCORE = "95% Bootstrap Confidence Interval: (20.0%, 40.0%), Median: 30.0%"


def entry_json(code: str = '"x = 1"', generation: str = "1", **extra: str) -> str:
    """One entry as JSON text, its values given as JSON text (so a test can write what
    json.dumps never would: a 10-million-digit number, NaN)."""
    fields = {"name": '"agent"', "code": code, "generation": generation, **extra}
    return "{" + ", ".join(f'"{key}": {value}' for key, value in fields.items()) + "}"


def archive_of(*entries: str) -> str:
    return "[" + ", ".join(entries) + "]"


HOSTILE = {
    "deep nesting": (
        lambda: archive_of(entry_json(thought="[" * 100_000 + "]" * 100_000)),
        f"nested 100,002 deep; the limit is {MAX_DEPTH}",
    ),
    "a 10-million-digit number": (
        lambda: archive_of(entry_json(generation="9" * 10_000_000)),
        f"a number of 10,000,000 characters; the limit is {MAX_NUMBER_CHARS}",
    ),
    "generation 10**4000": (
        lambda: archive_of(entry_json(generation=str(10**4000))),
        f"a number of 4,001 characters; the limit is {MAX_NUMBER_CHARS}",
    ),
    "generation 2**63, beyond SQLite's integers": (
        lambda: archive_of(entry_json(generation=str(2**63))),
        f"entry 1 of 1: generation 9,223,372,036,854,775,808 is beyond the limit "
        f"{MAX_GENERATION:,}",
    ),
    "a generation of 5,000 digits in a string": (
        lambda: archive_of(entry_json(generation=json.dumps("7" * 5000))),
        f"entry 1 of 1: its generation holds 5,000 characters; "
        f"the limit is {MAX_FIELD_CHARS['generation']}",
    ),
    "an oversized code field": (
        lambda: archive_of(entry_json(code=json.dumps("x" * (MAX_FIELD_CHARS["code"] + 1)))),
        f"entry 1 of 1: its code holds 1,000,001 characters; the limit is "
        f"{MAX_FIELD_CHARS['code']:,}",
    ),
    "an oversized name": (
        lambda: archive_of(entry_json(name=json.dumps("n" * 5000))),
        f"its name holds 5,000 characters; the limit is {MAX_FIELD_CHARS['name']:,}",
    ),
    "too many entries": (
        lambda: archive_of(*[entry_json()] * (MAX_ENTRIES + 1)),
        f"10,001 entries; the limit is {MAX_ENTRIES:,}",
    ),
    "non-UTF-8 bytes": (
        lambda: archive_of(entry_json()).encode().replace(b"x = 1", b"x = \xff"),
        f"is not UTF-8 text (invalid start byte at byte {archive_of(entry_json()).index('x') + 4})",
    ),
    "a top-level object": (
        lambda: entry_json(),
        "holds a JSON object, not a list",
    ),
    "an entry that is a list": (
        lambda: archive_of(entry_json(), '["x = 1", 1]'),
        "entry 2 of 2 is a JSON list, not an object",
    ),
    "NaN as a generation": (
        lambda: archive_of(entry_json(generation="NaN")),
        "NaN is not JSON (JSON has no NaN or infinite numbers)",
    ),
    "NaN as a fitness": (
        lambda: archive_of(entry_json(fitness="NaN", test_fitness=json.dumps(SCORE))),
        "NaN is not JSON",
    ),
    "-Infinity as a test fitness": (
        lambda: archive_of(entry_json(test_fitness="-Infinity")),
        "-Infinity is not JSON",
    ),
    "a number beyond a float's range": (
        lambda: archive_of(entry_json(fitness="1e999")),
        "the number 1e999 lies beyond a float's range",
    ),
    "a lone surrogate in the code": (
        lambda: archive_of(entry_json(code='"x = \\ud800"')),
        "entry 1 of 1 holds '\\ud800', half of a UTF-16 surrogate pair: not text",
    ),
    "rich markup in a generation": (
        lambda: archive_of(entry_json(generation='"[/]"')),
        "generation '[/]' is neither 'initial' nor a whole number",
    ),
}


def assert_refused(path: Path, message: str) -> None:
    """The real command refuses `path`: exit code 2, one line naming the file with `message`,
    no traceback, and no run directory."""
    run_dir = path.parent / "run"
    result = cli("import-adas", str(path), "--run-dir", str(run_dir), timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr[-2000:]
    assert "Traceback" not in result.stderr and "Error:" not in result.stderr
    assert result.stderr.startswith(f"error: {path}") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1  # one line (the console does not fold)
    assert not run_dir.exists()  # every check comes before anything is written


@pytest.mark.parametrize("make, message", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_archive_exits_2_with_one_line_and_writes_nothing(tmp_path, make, message):
    path = tmp_path / "hostile_results.json"
    content = make()
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    assert_refused(path, message)


def test_a_file_over_the_size_limit_is_refused_unparsed(tmp_path):
    path = tmp_path / "huge_results.json"
    with path.open("wb") as file:
        file.truncate(MAX_FILE_BYTES + 1)  # sparse: made at once, read as zeros
    assert_refused(path, f"more than {MAX_FILE_BYTES:,} bytes; the limit is {MAX_FILE_BYTES:,}")


def test_an_import_within_every_limit_still_imports(tmp_path):
    """The limits leave room: an archive at each of them imports."""
    deep = "[" * (MAX_DEPTH - 3) + "]" * (MAX_DEPTH - 3)  # the list, its entry, the thought
    at_limits = [
        entry_json(
            code=json.dumps("x" * MAX_FIELD_CHARS["code"]),
            generation=str(MAX_GENERATION),
            thought=json.dumps({"Insights": json.loads(deep)}),
        ),
        *[entry_json(generation=json.dumps("initial"))] * (MAX_ENTRIES - 1),
    ]
    path = tmp_path / "limits_results.json"
    path.write_text(archive_of(*at_limits))
    result = cli("import-adas", str(path), "--run-dir", str(tmp_path / "run"), timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"entries: {MAX_ENTRIES}, imported: {MAX_ENTRIES}," in result.stdout


def test_a_limit_passed_is_its_own_kind_of_import_error(tmp_path):
    path = tmp_path / "deep_results.json"
    path.write_text(archive_of(entry_json(thought="[" * 1000 + "]" * 1000)))
    with pytest.raises(AdasLimitError, match=r"deep_results.json: nested 1,002 deep"):
        read_entries(path)
    assert issubclass(AdasLimitError, AdasImportError)  # the command line's exit 2


def test_brackets_quotes_and_backslashes_inside_strings_are_not_nesting(tmp_path):
    """The depth is counted without parsing: what lies in a string, escaped quotes and
    backslashes included, must not count (agents' code is full of brackets)."""
    codes = ["[" * 500, '"[{' * 500, "\\" + "{" * 500, '\\"]' * 500 + "[" * 500]
    path = tmp_path / "brackets_results.json"
    path.write_text(json.dumps([{"code": code, "thought": code} for code in codes]))
    import_adas(path, tmp_path / "run")
    with Archive.open(tmp_path / "run", readonly=True) as archive:
        assert [d.code for d in archive.designs()] == codes
