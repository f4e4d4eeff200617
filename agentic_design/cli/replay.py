"""`replay`: re-evaluate one design with its recorded seed and compare with the record,
re-run a whole search from its recording, or score a design of an imported run under a
configuration of ours."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from agentic_design.cli.app import (
    _fail,
    _imported_from,
    _open,
    _refuse_imported,
    _user_errors,
    app,
    err,
    out,
)
from agentic_design.cli.search import _search_and_report
from agentic_design.config import RunConfig
from agentic_design.records import Status


@app.command()
def replay(
    run_dir: Annotated[Path, typer.Argument(help="a run directory")],
    design_id: Annotated[int | None, typer.Argument(help="the design to re-evaluate")] = None,
    search: Annotated[bool, typer.Option("--search", help="re-run the whole search")] = False,
    new_run_dir: Annotated[Path | None, typer.Option("--run-dir", help="for --search")] = None,
    config: Annotated[
        Path | None, typer.Option(help="an imported run: the YAML to score its design under")
    ] = None,
    agent_llm: Annotated[
        str | None, typer.Option(help="with --config: the model agents call")
    ] = None,
    agent_api_base: Annotated[
        str | None, typer.Option(help="with --config: an OpenAI-compatible server for agents")
    ] = None,
) -> None:
    """Re-evaluate one archived design with its recorded seed and compare with the record, or
    (--search --run-dir NEW) re-run a whole LLM search from its recording, with no network.
    A design of an imported run (ADAS) is scored under --config instead: its task and model."""
    if _imported_from(run_dir) and not search:
        if design_id is None:
            _fail("replay needs a design id: agentic-design replay RUN_DIR ID --config CONFIG")
        _rescore(run_dir, design_id, config, agent_llm, agent_api_base)
        return
    _refuse_imported(run_dir, "replayed")
    if config is not None or agent_llm is not None or agent_api_base is not None:
        _fail(
            "--config, --agent-llm and --agent-api-base are for a design of an imported run; "
            "a run of ours is replayed under its own configuration"
        )
    if search:
        if new_run_dir is None:
            _fail("replay --search needs --run-dir NEW for the replayed run")
        with _user_errors():
            from agentic_design.run.search import Search

            replayed = Search.replay(run_dir, new_run_dir, console=err, progress=False)
            _search_and_report(replayed.config, resume=False, progress=False, search=replayed)
            _compare_runs(run_dir, new_run_dir)
        return
    if design_id is None:
        _fail("replay needs a design id: agentic-design replay RUN_DIR ID")
    archive = _open(run_dir, readonly=False)
    with _user_errors():
        result = archive.replay(design_id)
    evaluation = result.evaluation
    out.print(f"design #{design_id}: recorded {result.recorded!r}, measured {result.measured!r}")
    if evaluation.status is not Status.OK:
        out.print(f"status {evaluation.status.value}: {evaluation.error}")
    if result.tolerance is not None and not result.exact:
        low, high = result.tolerance
        out.print(
            f"not expected bit for bit: {result.inexact}; the tolerance is the recorded 95% "
            f"interval [{low:.4f}, {high:.4f}]",
            highlight=False,
        )
    if result.exact:
        out.print("[green]reproduced exactly[/]")
        return
    if result.matches:
        out.print("[green]reproduced within the tolerance[/]")
        return
    out.print("[red]did not reproduce[/]")
    raise typer.Exit(1)


def _compare_runs(recorded: Path, replayed: Path) -> None:
    """Say whether a replayed search gave the same designs and the same fitness."""
    before = _open(recorded).designs()
    after = _open(replayed).designs()
    same = [(d.code_hash, d.status, d.fitness) for d in before] == [
        (d.code_hash, d.status, d.fitness) for d in after
    ]
    if same:
        out.print(f"[green]the replay reproduced all {len(after)} designs and their fitness[/]")
        return
    out.print(f"[red]the replay differs from the recorded run ({len(before)} vs {len(after)})[/]")
    raise typer.Exit(1)


def _rescore(
    run_dir: Path,
    design_id: int,
    config: Path | None,
    agent_llm: str | None,
    agent_api_base: str | None,
) -> None:
    """Score a design of an imported run under a configuration of ours."""
    source, path = _imported_from(run_dir) or ("another tool", "")
    if config is None:
        _fail(
            f"{run_dir} was imported from {source} ({path}) and holds no run configuration: give "
            f"--config CONFIG, whose task and agent_llm design #{design_id} is scored under "
            "(e.g. examples/agents.yaml with --agent-llm for an MGSM agent)"
        )
    with _user_errors():
        cfg = RunConfig.from_yaml(config).with_overrides(
            **{"agent_llm.model": agent_llm, "agent_llm.api_base": agent_api_base}
        )
        archive = _open(run_dir, readonly=False)
        from agentic_design.run.replay import rescore_design

        result = rescore_design(archive, design_id, cfg)
    evaluation = result.evaluation
    out.print(
        f"design #{design_id}: {source} recorded {result.recorded!r} on its own data; "
        f"measured {result.measured!r} on {cfg.task} under {config}",
        highlight=False,
    )
    if evaluation.summary:
        out.print(evaluation.summary, highlight=False)
    if evaluation.status is not Status.OK:
        out.print(f"status {evaluation.status.value}: {evaluation.error}", highlight=False)
        raise typer.Exit(1)
