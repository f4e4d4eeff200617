"""`export` and `report`: a run taken away as a file, one design as a standalone module or
the whole run as one self-contained HTML page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from agentic_design.cli.app import _fail, _open, _refuse_imported, _user_errors, app, err, out


@app.command()
def export(
    run_dir: Annotated[Path, typer.Argument(help="a run directory")],
    design_id: Annotated[int, typer.Argument(help="the design to export")],
    output: Annotated[Path, typer.Option("-o", "--output", help="the .py file to write")],
) -> None:
    """Write a design as a standalone module that runs without this package."""
    from agentic_design.run.replay import export_design

    _refuse_imported(run_dir, "exported (its agents need the framework they were written for)")
    archive = _open(run_dir)
    with _user_errors():
        path = export_design(archive, design_id, output)
    out.print(f"wrote {path}")


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="a run directory (finished, live or imported)")],
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="the HTML file (default: RUN_DIR/report.html)"),
    ] = None,
    control: Annotated[
        Path | None,
        typer.Option(
            "--control",
            help="the run to set beside this one at equal evaluations (default: a run of the "
            "same task and the other kind, search or control, in a directory beside RUN_DIR)",
        ),
    ] = None,
) -> None:
    """Write the run's report: one self-contained HTML file with plots of progress, fitness
    against cost and lineage, the search beside its control run, the best designs with their
    code, and the run's settings."""
    from agentic_design.report import write_report  # matplotlib: only for this command

    archive = _open(run_dir)
    if control is not None:
        _open(control).close()  # a run named on the command line must be there (exit 2)
    target = output if output is not None else run_dir / "report.html"
    with _user_errors():
        try:
            written = write_report(archive, target, control)
        except OSError as exc:  # the output's folder is missing or not writable
            _fail(f"cannot write the report to {target}: {exc.strerror or exc}")
    for failure in written.failed:  # shown in the page too, in the section's place
        err.print(
            f"warning: the report's section {failure.title!r} could not be made: {failure.error}",
            highlight=False,
            markup=False,
        )
    out.print(f"wrote {target}", highlight=False, markup=False)
