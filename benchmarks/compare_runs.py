"""Compare two runs design for design, to show that a change of code changed no result.

    python benchmarks/compare_runs.py RUN_A RUN_B [--first N] [--tolerate NAME ...]

RUN_A and RUN_B are run directories (or their run.db files), made by any version of
agentic-design: this script reads the SQLite store with the standard library alone and never
imports the package. It walks the `designs` table in id order (the first N ids of each run with
--first) and prints one line per design, `same` or what differs, then
`N designs compared, M differ`. It exits 1 when any design differs or one run has a design
the other lacks, 0 otherwise.

Every column of `designs` is compared exactly (floats by their repr, so a difference in the last
bit shows) except these, which measure the machine rather than the design:

- created_at, finished_at: timestamps;
- wall_s: the evaluation's wall-clock time;
- in the JSON of metrics and descriptors, at any depth, keys that are timings: names ending in
  `_s`, `_ms` or `_seconds`, or containing `seconds`, `wall`, `elapsed` or `latency`. In the
  example tasks these are `train_seconds` (time the training took) and `latency_ms` (time per
  inference), both wall-clock and never the same twice. (Descriptors hold no timings: they
  steer the search, which must not depend on the machine's speed.)

Nothing else is ignored by default: accuracies, losses, curves, bins, token counts and memory
peaks must match. Two things are known to vary between two runs of the same code (checked at
767c4ea), and --tolerate NAME (repeatable) prints such a difference but does not count it:

- `peak_memory_mb` (digits, architecture tasks): the evaluating process's memory peak moves by
  about half a megabyte from run to run;
- `llm_refused_calls`, `llm_tokens`, `tokens_per_example` and the `summary` line (agent tasks),
  on a design whose `repeat` threads hit the per-example call cap: which thread's call is
  refused depends on the threads' timing. The example fails either way, so `correct`,
  `failed_examples`, `llm_calls` and the fitness do not vary.

For example: compare_runs.py A B --tolerate peak_memory_mb, or for agent runs
--tolerate llm_refused_calls --tolerate llm_tokens --tolerate tokens_per_example
--tolerate summary.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path

IGNORED_COLUMNS = {"created_at", "finished_at", "wall_s"}
JSON_COLUMNS = {"metrics", "descriptors", "parents"}
TIMING_SUFFIXES = ("_s", "_ms", "_seconds")
TIMING_WORDS = ("seconds", "wall", "elapsed", "latency")
SHOWN = 60  # characters of a value printed in a difference


def is_timing(key: str) -> bool:
    return key.endswith(TIMING_SUFFIXES) or any(word in key for word in TIMING_WORDS)


def strip_timings(value):
    """The JSON value without its timing keys, at any depth."""
    if isinstance(value, dict):
        return {k: strip_timings(v) for k, v in value.items() if not is_timing(k)}
    if isinstance(value, list):
        return [strip_timings(v) for v in value]
    return value


def load(run: str, first: int | None) -> dict[int, dict]:
    path = Path(run)
    if path.is_dir():
        path = path / "run.db"
    if not path.is_file():
        sys.exit(f"no run store at {path}")
    db = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    limit = -1 if first is None else first
    rows = db.execute("SELECT * FROM designs ORDER BY id LIMIT ?", (limit,)).fetchall()
    db.close()
    return {row["id"]: dict(row) for row in rows}


def short(value) -> str:
    text = repr(value)
    return text if len(text) <= SHOWN else text[: SHOWN - 3] + "..."


def differences(a: dict, b: dict) -> list[tuple[str, str]]:
    """(name, what differs) for each column, or key of a JSON column, that differs."""
    found = []
    for column in sorted((a.keys() | b.keys()) - IGNORED_COLUMNS):
        x, y = a.get(column), b.get(column)
        if column in JSON_COLUMNS:
            x = strip_timings(json.loads(x)) if x is not None else None
            y = strip_timings(json.loads(y)) if y is not None else None
            if isinstance(x, dict) and isinstance(y, dict):
                for key in sorted(x.keys() | y.keys()):
                    u, v = x.get(key, "<absent>"), y.get(key, "<absent>")
                    if repr(u) != repr(v):
                        found.append((key, f"{column}.{key}: {short(u)} != {short(v)}"))
                continue
        if repr(x) != repr(y):
            found.append((column, f"{column}: {short(x)} != {short(y)}"))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_a", help="a run directory or its run.db")
    parser.add_argument("run_b", help="the run to compare it with")
    parser.add_argument("--first", type=int, metavar="N", help="compare only the first N ids")
    parser.add_argument(
        "--tolerate",
        action="append",
        default=[],
        metavar="NAME",
        help="a column or metrics key whose differences are shown but not counted (repeatable)",
    )
    args = parser.parse_args()

    a, b = load(args.run_a, args.first), load(args.run_b, args.first)
    differ = 0
    for design_id in sorted(a.keys() | b.keys()):
        if design_id not in b or design_id not in a:
            differ += 1
            print(f"#{design_id}: only in {args.run_a if design_id in a else args.run_b}")
            continue
        found = differences(a[design_id], b[design_id])
        counted = [text for name, text in found if name not in args.tolerate]
        tolerated = [text for name, text in found if name in args.tolerate]
        differ += bool(counted)
        line = "; ".join(counted) or "same"
        if tolerated:
            line += " (tolerated: " + "; ".join(tolerated) + ")"
        print(f"#{design_id} {a[design_id]['name']}: {line}")
    if len(a) != len(b):
        print(f"design counts differ: {len(a)} in {args.run_a}, {len(b)} in {args.run_b}")
    print(f"{len(a.keys() | b.keys())} designs compared, {differ} differ")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
