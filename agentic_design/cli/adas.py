"""`import-adas`: an ADAS (Meta Agent Search) archive imported as a run, and what came in."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from agentic_design.cli.app import _open, _user_errors, app, out
from agentic_design.cli.scores import _scored
from agentic_design.store.import_adas import import_adas


@app.command("import-adas")
def import_adas_command(
    file: Annotated[Path, typer.Argument(help="an ADAS archive (its *_results.json)")],
    run_dir: Annotated[Path, typer.Option(help="the new run directory to import into")],
) -> None:
    """Import an ADAS (Meta Agent Search) archive as a run, to show, rank and compare."""
    with _user_errors():
        summary = import_adas(file, run_dir)
    out.print(
        f"[bold]imported[/] {summary.source} into {summary.run_dir} "
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
    with _open(run_dir) as archive:
        best = archive.best()
    if best is not None:
        out.print(f"[bold]best[/] {_scored(best, summary.fitness_name)}", highlight=False)
    if summary.flagged:
        out.print(
            f"{summary.flagged} intervals could not hold their own median and were kept aside "
            "(see metrics interval_problem)",
            highlight=False,
        )
    out.print(f"look closer: agentic-design show {run_dir}", highlight=False)


def _spans(generations: tuple[int, ...]) -> str:
    """`initial, 1-15, 17-19, 22-25 (gaps: 16, 20-21)`: ADAS's gaps are kept, and shown."""
    numbered = [g for g in generations if g > 0]
    text = ["initial"] if 0 in generations else []
    text += _ranges(numbered)
    gaps = sorted(set(range(1, max(numbered, default=0))) - set(numbered))
    return ", ".join(text) + (f" (gaps: {', '.join(_ranges(gaps))})" if gaps else "")


def _ranges(numbers: list[int]) -> list[str]:
    spans: list[list[int]] = []
    for n in numbers:
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return [f"{a}" if a == b else f"{a}-{b}" for a, b in spans]
