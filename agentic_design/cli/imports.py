"""`import-openevolve` and `import-shinka`: a peer's run (an OpenEvolve checkpoint, a
ShinkaEvolve results folder) imported as a run, and what came in."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from agentic_design.cli.adas import _spans
from agentic_design.cli.app import _open, _user_errors, app, out
from agentic_design.cli.scores import _scored
from agentic_design.store.import_common import PeerImportSummary
from agentic_design.store.import_openevolve import import_openevolve
from agentic_design.store.import_shinka import import_shinka

RunDir = Annotated[Path, typer.Option(help="the new run directory to import into")]


@app.command("import-openevolve")
def import_openevolve_command(
    checkpoint: Annotated[
        Path,
        typer.Argument(
            help="an OpenEvolve checkpoint (checkpoint_N), its checkpoints/ folder (the "
            "latest is read) or OpenEvolve's output folder"
        ),
    ],
    run_dir: RunDir,
) -> None:
    """Import an OpenEvolve checkpoint as a run, to show, rank and rescore its programs."""
    with _user_errors():
        summary = import_openevolve(checkpoint, run_dir)
    _print_summary(summary, "in the checkpoint")


@app.command("import-shinka")
def import_shinka_command(
    results: Annotated[
        Path,
        typer.Argument(help="a ShinkaEvolve results folder, or its database (programs.sqlite)"),
    ],
    run_dir: RunDir,
) -> None:
    """Import a ShinkaEvolve run as a run, to show, rank and rescore its programs."""
    with _user_errors():
        summary = import_shinka(results, run_dir)
    _print_summary(summary, "in the database")


def _print_summary(summary: PeerImportSummary, kept: str) -> None:
    """What came in, as import-adas says it: the counts, the generations and islands, the
    peer's own best and ours."""
    read = "" if summary.read == summary.source.resolve() else f", read {summary.read}"
    out.print(
        # Escaped: a path or a name that looks like markup ("[/]") is printed, not obeyed.
        f"[bold]imported[/] {escape(str(summary.source))} into {escape(str(summary.run_dir))} "
        f"({summary.tool}{escape(read)}, fitness {summary.fitness_name})",
        highlight=False,
        soft_wrap=True,
    )
    statuses = ", ".join(f"{status}: {n}" for status, n in summary.statuses.items())
    out.print(
        f"programs: {summary.programs}, imported: {summary.programs} ({statuses}), "
        f"parents no longer {kept}: {summary.parents_missing}",
        highlight=False,
        soft_wrap=True,
    )
    islands = ", ".join(f"{island} ({n})" for island, n in summary.islands.items()) or "none"
    out.print(
        f"generations: {_spans(summary.generations)}; islands (programs): {islands}",
        highlight=False,
        soft_wrap=True,
    )
    if summary.peer_best is not None:
        out.print(
            f"{summary.tool}'s own best: {escape(summary.peer_best)} (#{summary.peer_best_design})",
            highlight=False,
        )
    for note in summary.notes:
        out.print(escape(note), highlight=False, soft_wrap=True)
    with _open(summary.run_dir) as archive:
        best = archive.best()
    if best is not None:
        line = f"[bold]best[/] {escape(_scored(best, summary.fitness_name))}"
        out.print(line, highlight=False, soft_wrap=True)
    line = f"look closer: agentic-design show {escape(str(summary.run_dir))}"
    out.print(line, highlight=False, soft_wrap=True)
