"""`import-adas`: an ADAS (Meta Agent Search) archive imported as a run, and what came in."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from agentic_design.cli.app import _open, _user_errors, app, out
from agentic_design.cli.scores import _scored
from agentic_design.store.import_adas import TEST_SET_PREFIX, TRANSFER, SetCount, import_adas


@app.command("import-adas")
def import_adas_command(
    file: Annotated[Path, typer.Argument(help="an ADAS archive (its *_results.json)")],
    run_dir: Annotated[Path, typer.Option(help="the new run directory to import into")],
) -> None:
    """Import an ADAS (Meta Agent Search) archive as a run, to show, rank and compare."""
    with _user_errors():
        summary = import_adas(file, run_dir)
    out.print(
        # Escaped: a path or a name that looks like markup ("[/]") is printed, not obeyed.
        f"[bold]imported[/] {escape(str(summary.source))} into {escape(str(summary.run_dir))} "
        f"(ADAS, domain {summary.domain}, fitness {summary.fitness_name})",
        highlight=False,
    )
    out.print(
        f"entries: {summary.entries}, imported: {summary.imported}, "
        f"repeated: {summary.repeated}, flagged intervals: {summary.flagged}, "
        f"invalid: {summary.invalid}",
        highlight=False,
    )
    out.print(f"generations: {_spans(summary.generations)}", highlight=False)
    if summary.test_sets:
        out.print(_test_sets_line(summary.test_sets), highlight=False)
    with _open(run_dir) as archive:
        best = archive.best()
    if best is not None:
        out.print(f"[bold]best[/] {escape(_scored(best, summary.fitness_name))}", highlight=False)
    if summary.flagged:
        out.print(
            f"{summary.flagged} intervals could not hold their own median and were kept aside "
            "(see metrics interval_problem)",
            highlight=False,
        )
    out.print(f"look closer: agentic-design show {escape(str(run_dir))}", highlight=False)


def _test_sets_line(counts: tuple[SetCount, ...]) -> str:
    """`other test sets (test_fitness_<set>, in the metrics under transfer): 7 sets, 50 values,
    3 intervals flagged, 0 unreadable: gsm8k 10, ..., DROP 4 (3 flagged), ...`"""

    def one(c: SetCount) -> str:
        notes = [f"{c.flagged} flagged"] if c.flagged else []
        notes += [f"{c.unreadable} unreadable"] if c.unreadable else []
        return f"{escape(c.name)} {c.values}" + (f" ({', '.join(notes)})" if notes else "")

    return (
        f"other test sets ({TEST_SET_PREFIX}<set>, in the metrics under {TRANSFER}): "
        f"{len(counts)} sets, {sum(c.values for c in counts)} values, "
        f"{sum(c.flagged for c in counts)} intervals flagged, "
        f"{sum(c.unreadable for c in counts)} unreadable: " + ", ".join(map(one, counts))
    )


def _spans(generations: tuple[int, ...]) -> str:
    """`initial, 1-15, 17-19, 22-25 (gaps: 16, 20-21)`: ADAS's gaps are kept, and shown."""
    numbered = [g for g in generations if g > 0]
    text = ["initial"] if 0 in generations else []
    text += [_span(a, b) for a, b in _runs(numbered)]
    # Found between neighbours, not by listing every number up to the largest: a generation
    # may be as large as 2**63 - 1.
    gaps = [_span(a + 1, b - 1) for a, b in pairwise([0, *numbered]) if b > a + 1]
    return ", ".join(text) + (f" (gaps: {', '.join(gaps)})" if gaps else "")


def _runs(numbers: list[int]) -> list[list[int]]:
    """Sorted numbers as runs of consecutive ones, each [first, last]."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return runs


def _span(first: int, last: int) -> str:
    return f"{first}" if first == last else f"{first}-{last}"
