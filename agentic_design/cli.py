"""The `agentic-design` command: a thin shell over the Python API.

Exit codes: 0 done, 1 the work failed, 2 bad input (config, file, arguments) with a message that
names what is wrong and where — never a traceback for a user's mistake.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.syntax import Syntax
from rich.table import Table

from agentic_design.config import ConfigError, RunConfig
from agentic_design.entry import interrupted  # a circle on purpose: see entry.main
from agentic_design.llm import ReplayMiss
from agentic_design.records import ArchiveError, Design, Status, StopReason
from agentic_design.sandbox import SandboxError
from agentic_design.store.archive import Archive, db_path
from agentic_design.store.import_adas import INTERVAL_PROBLEM, AdasImportError, import_adas
from agentic_design.store.pareto import pareto_front
from agentic_design.tasks import BUILTIN_TASKS, TaskLoadError, task_class

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Automated design of neural architectures and LLM agents.",
)
# Wide when piped (to a file or a test), so tables and messages are not folded at 80 columns.
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)


# Set once a search has reported its interruption (and how to resume): nothing more to say.
_INTERRUPT_REPORTED = threading.Event()


def _fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn a user's mistake into one clear message and exit code 2."""
    try:
        yield
    except KeyboardInterrupt:  # before typer turns it into a silent exit 130
        interrupted()
    except (ConfigError, ArchiveError, TaskLoadError, ReplayMiss, AdasImportError) as exc:
        _fail(str(exc))
    except (FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError) as exc:
        _fail(f"{exc.strerror}: {exc.filename}")  # a path given on the command line or config


def _open(run_dir: Path, readonly: bool = True) -> Archive:
    with _user_errors():
        return Archive.open(run_dir, readonly=readonly)


def _imported_from(run_dir: Path) -> tuple[str, str] | None:
    """(tool, file) when the run was imported from another tool's archive (ADAS)."""
    if not db_path(run_dir).is_file():
        return None  # the command's own check names what is missing
    with _open(run_dir) as archive:
        source, path = archive.meta("imported_from"), archive.meta("source")
    return (str(source), str(path)) if source else None


def _refuse_imported(run_dir: Path, doing: str) -> None:
    """An imported run holds designs and their recorded scores but no run configuration, so
    it cannot be run again: say so, rather than that a configuration is missing."""
    imported = _imported_from(run_dir)
    if imported:
        source, path = imported
        _fail(
            f"{run_dir} was imported from {source} ({path}): it holds the designs and the scores "
            f"{source} recorded, but no run configuration, so it cannot be {doing}; "
            f"inspect it with `agentic-design show {run_dir}`, or score one of its designs "
            f"with `agentic-design replay {run_dir} ID --config CONFIG`"
        )


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


# -- run / resume -----------------------------------------------------------------------------


@app.command()
def run(
    config: Annotated[Path, typer.Argument(help="the run's YAML configuration")],
    run_dir: Annotated[Path | None, typer.Option(help="where the run is stored")] = None,
    llm: Annotated[str | None, typer.Option(help="litellm model string for the meta-agent")] = None,
    api_base: Annotated[str | None, typer.Option(help="OpenAI-compatible server URL")] = None,
    evaluations: Annotated[int | None, typer.Option(help="budget: designs evaluated")] = None,
    hours: Annotated[float | None, typer.Option(help="budget: wall-clock hours")] = None,
    usd: Annotated[float | None, typer.Option(help="budget: LLM spend in USD")] = None,
    workers: Annotated[int | None, typer.Option(help="parallel evaluations")] = None,
    seed: Annotated[int | None, typer.Option(help="the run's seed")] = None,
    executor: Annotated[
        str | None,
        typer.Option(
            help="local (this machine's sandbox pool) or ray (Ray actors, each sandboxed on its "
            "node; joins $RAY_ADDRESS or ray.address, else starts a local cluster)"
        ),
    ] = None,
    agent_llm: Annotated[
        str | None, typer.Option(help="the model agents call (litellm string, or simulated)")
    ] = None,
    agent_api_base: Annotated[
        str | None, typer.Option(help="an OpenAI-compatible server for --agent-llm")
    ] = None,
    progress: Annotated[bool, typer.Option(help="show the progress bar")] = True,
) -> None:
    """Start a search from CONFIG (YAML); CLI options override the file."""
    with _user_errors():
        cfg = RunConfig.from_yaml(config)
        if llm is not None and cfg.llm is not None and cfg.llm.models is not None:
            # --llm names the one model to use: it replaces the file's list of models.
            cfg = cfg.with_overrides(llm={**cfg.llm.model_dump(exclude={"models"}), "model": llm})
        cfg = cfg.with_overrides(
            run_dir=str(run_dir) if run_dir else None,
            seed=seed,
            executor=executor,
            **{
                "budget.evaluations": evaluations,
                "budget.hours": hours,
                "budget.usd": usd,
                "sandbox.workers": workers,
                "llm.model": llm,
                "llm.api_base": api_base,
                "agent_llm.model": agent_llm,
                "agent_llm.api_base": agent_api_base,
            },
        )
        _search_and_report(cfg, resume=False, progress=progress)


@app.command()
def resume(
    run_dir: Annotated[Path, typer.Argument(help="the run directory to continue")],
    progress: Annotated[bool, typer.Option(help="show the progress bar")] = True,
) -> None:
    """Continue a stopped or killed run without repeating finished evaluations."""
    _refuse_imported(run_dir, "resumed")
    with _user_errors():
        from agentic_design.run.search import Search

        search = Search.resume(run_dir, console=err, progress=progress)
        _search_and_report(search.config, resume=True, progress=progress, search=search)


def _search_and_report(cfg: RunConfig, *, resume: bool, progress: bool, search: Any = None) -> None:
    from agentic_design.run.search import Search  # the CLI's other commands stay fast to start

    search = search or Search(cfg, console=err, progress=progress)
    try:
        result = search.run()
    except SandboxError as exc:
        _fail(f"the sandbox failed, so the search stopped; finished designs are saved: {exc}", 1)
    out.print(f"\n[bold]run[/] {result.run_dir}  ({result.proposer})", highlight=False)
    out.print(f"stopped by: {result.stopped_by.value}; designs: {result.total}")
    counts = ", ".join(f"{status} {n}" for status, n in sorted(result.counts.items()))
    out.print(f"by status: {counts}")
    best, name = result.best, result.fitness_name
    if best is not None:
        out.print(f"[bold]best[/] {_scored(best, f'validation {name}')}", highlight=False)
    if result.test is not None and result.test.fitness is not None:
        test = result.test
        interval = _interval(test.ci_low, test.ci_high, test.metrics)
        out.print(
            f"test {name} of the best, scored once: {test.fitness:.4f} ({interval})",
            highlight=False,
        )
    if result.stopped_by is StopReason.INTERRUPTED:
        _INTERRUPT_REPORTED.set()  # the search said so, with how to resume
        raise typer.Exit(130)
    if best is None:
        out.print("[red]no design evaluated successfully[/]")
        raise typer.Exit(1)
    out.print(
        f"look closer: agentic-design show {result.run_dir} --id {best.id}; "
        f"take it away: agentic-design export {result.run_dir} {best.id} -o best.py"
    )
    if result.stopped_by is StopReason.DIVERGED:
        raise typer.Exit(1)


# -- inspecting ----------------------------------------------------------------------------------


@app.command()
def status(run_dir: Annotated[Path, typer.Argument(help="a run directory")]) -> None:
    """Progress, best so far and spend; works while the run is live."""
    archive = _open(run_dir)
    meta = archive.all_meta()
    counts = archive.counts()
    total = sum(counts.values())
    pending = counts.get(Status.PENDING.value, 0)
    state = meta.get("state", "unknown")
    if state == "running" and not _alive(meta.get("pid")):
        state = "stopped without finishing (killed?): resume it to continue"
    budget = meta.get("budget", {})
    out.print(f"[bold]run[/] {run_dir}: {state}")
    out.print(f"task: {meta.get('task')}   proposer: {meta.get('proposer')}")
    if meta.get("imported_from"):  # no search, no budget: what the source archive recorded
        out.print(f"imported from {meta['imported_from']}: {meta.get('source')}")
        out.print(f"designs: {total - pending} scored, {pending} pending")
    else:
        out.print(f"designs: {total - pending} evaluated, {pending} pending")
    out.print("by status: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    spend = archive.spend()
    name = meta.get("fitness_name", "fitness")
    best = archive.best()
    if not meta.get("imported_from"):
        searched_s = float(meta.get("searched_s", 0.0))
        rate = (total - pending) / searched_s * 3600 if searched_s > 0 else 0.0
        out.print(f"searched: {searched_s / 60:.1f} min, {rate:,.0f} evaluations per hour")
        for line in _budget_lines(budget, total - pending, searched_s, spend, best, archive):
            out.print(f"  {line}", highlight=False)
    out.print(f"LLM spend: {spend['calls']} calls, {spend['tokens']} tokens, ${spend['usd']:.4f}")
    _print_models(archive)
    if best is not None:
        out.print(f"best: {_scored(best, name)}", highlight=False)
    test = meta.get("test") or {}
    fitness = test.get("fitness", test.get("accuracy"))  # runs before 0.2 said "accuracy"
    if fitness is not None:
        out.print(f"test {name} of #{test['design_id']}: {fitness:.4f}", highlight=False)
    events = archive.events(last=5)
    if events:
        out.print("recent events:")
        for event in events:
            when = time.strftime("%H:%M:%S", time.localtime(event["at"]))
            design = f" #{event['design_id']}" if event.get("design_id") else ""
            data = ", ".join(f"{k} {v}" for k, v in event["data"].items())[:100]
            out.print(f"  {when} {event['kind']}{design} {data}", highlight=False, markup=False)


def _budget_lines(
    budget: dict[str, Any],
    evaluated: int,
    searched_s: float,
    spend: dict[str, float],
    best: Design | None,
    archive: Archive,
) -> list[str]:
    """Progress against each budget the run was given."""
    lines = [f"evaluations: {evaluated} of {budget.get('evaluations', '?')}"]
    if budget.get("hours"):
        lines.append(f"hours: {searched_s / 3600:.2f} of {budget['hours']}")
    if budget.get("usd") is not None:
        lines.append(f"USD: {spend['usd']:.4f} of {budget['usd']}")
    if budget.get("tokens") is not None:
        lines.append(f"tokens: {spend['tokens']:,} of {budget['tokens']:,}")
    if budget.get("stagnation") is not None and best is not None:
        since = archive.finished_after(best.id)
        lines.append(f"stagnation: {since} evaluations since the best, of {budget['stagnation']}")
    if budget.get("target_fitness") is not None:
        reached = f"{best.fitness:.4f}" if best is not None and best.fitness is not None else "-"
        lines.append(f"target: best {reached} of {budget['target_fitness']}")
    return ["budget " + lines[0], *lines[1:]]


def _print_models(archive: Archive) -> None:
    """Calls, spend and success rate per model, where the meta-agent had several."""
    models = archive.model_spend()
    if len(models) < 2:
        return
    table = Table(title="the meta-agent's models")
    for column in ("model", "calls", "failed calls", "tokens", "USD", "designs", "ok", "success"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for model, m in models.items():
        table.add_row(
            model,
            str(m["calls"]),
            str(m["failed_calls"]),
            f"{m['tokens']:,}",
            f"{m['usd']:.4f}",
            str(m["designs"]),
            str(m["ok"]),
            f"{m['success_rate']:.0%}" if m["designs"] else "-",
        )
    out.print(table)


def _scored(design: Design, fitness_name: str) -> str:
    """`#12 Wide CNN: accuracy 0.9470 (95% CI 0.9330 to 0.9610), 16,666 parameters`: the
    interval with words, since fitness may be negative."""
    fitness = "-" if design.fitness is None else f"{design.fitness:.4f}"
    interval = _interval(design.ci_low, design.ci_high, design.metrics)
    line = f"#{design.id} {design.name}: {fitness_name} {fitness} ({interval})"
    return f"{line}, {design.summary}" if design.summary else line


def _interval(low: float | None, high: float | None, metrics: dict[str, Any]) -> str:
    """`95% CI 0.9330 to 0.9610`, or why there is none: an imported score may come with an
    interval that could not be trusted (see `adas.INTERVAL_PROBLEM`)."""
    if low is not None and high is not None:
        return f"95% CI {low:.4f} to {high:.4f}"
    problem = metrics.get(INTERVAL_PROBLEM)
    return f"interval flagged: {problem}" if problem else "no interval"


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@app.command()
def show(
    run_dir: Annotated[Path, typer.Argument(help="a run directory")],
    top: Annotated[int | None, typer.Option(help="only the K best designs")] = None,
    design_id: Annotated[int | None, typer.Option("--id", help="one design, with its code")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    pareto: Annotated[
        bool, typer.Option("--pareto", help="only the Pareto front of fitness against cost")
    ] = False,
) -> None:
    """The run's designs, best first (or one design in full with --id, or the Pareto front of
    fitness against the task's cost with --pareto, cheapest first)."""
    archive = _open(run_dir)
    cost_metric = archive.meta("cost_metric")
    with _user_errors():
        if design_id is not None:
            designs = [archive.get(design_id)]
        elif pareto:
            if not cost_metric:
                _fail(f"{run_dir}: its task names no cost, so there is no Pareto front to show")
            designs = pareto_front(archive.designs(), cost_metric)
        else:
            designs = _ranked(archive.designs())
            if top is not None:
                designs = designs[:top]
    if as_json:
        run_info = {"dir": str(run_dir), **archive.all_meta(), "counts": archive.counts()}
        payload = {"run": run_info, "designs": [d.to_dict() for d in designs]}
        sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")
        return
    if design_id is not None:
        _show_one(designs[0], archive.meta("fitness_name", "fitness"), archive.graph(design_id))
        return
    _print_models(archive)
    total = len(designs)
    if top is None and not pareto:
        designs = designs[:TABLE_ROWS]
    shown = (
        f"the best {len(designs)} of {total} designs"
        if len(designs) < total
        else f"{total} designs"
    )
    if pareto:
        shown = f"the Pareto front of {name_of(archive)} against {cost_metric}: {total} designs"
    table = Table(title=f"{run_dir}: {shown}", caption="--top K shows more, --id ID one in full")
    name = archive.meta("fitness_name", "fitness")
    columns = ["id", "name", "status", name, "95% CI", "summary", "gen", "parents", "how"]
    if pareto:
        columns.insert(4, str(cost_metric))
    for column in columns:
        table.add_column(column, overflow="fold")
    for d in designs:
        cost = [_number(d.metrics.get(str(cost_metric)))] if pareto else []
        table.add_row(
            str(d.id),
            d.name,
            d.status.value,
            f"{d.fitness:.4f}" if d.fitness is not None else "-",
            *cost,
            _ci_cell(d),
            d.summary or "-",
            str(d.generation),
            ",".join(map(str, d.parents)) or "-",
            (d.operator or "")[:60],
        )
    out.print(table)


TABLE_ROWS = 20  # the table's default length; --json lists every design


def name_of(archive: Archive) -> str:
    return str(archive.meta("fitness_name", "fitness"))


def _number(value: Any) -> str:
    return f"{value:,.4g}" if isinstance(value, int | float) else "-"


def _ci_cell(d: Design) -> str:
    if d.ci_low is not None and d.ci_high is not None:
        return f"{d.ci_low:.3f} to {d.ci_high:.3f}"
    return "flagged" if INTERVAL_PROBLEM in d.metrics else "-"


def _ranked(designs: list[Design]) -> list[Design]:
    return sorted(designs, key=lambda d: (d.fitness is None, -(d.fitness or 0.0), d.id))


def _show_one(d: Design, fitness_name: str, graph: str | None = None) -> None:
    out.print(f"[bold]#{d.id} {d.name}[/]  status {d.status.value}  generation {d.generation}")
    if d.fitness is not None:
        out.print(
            f"{fitness_name} {d.fitness:.4f}  {_interval(d.ci_low, d.ci_high, d.metrics)}"
            + (f"; {d.summary}" if d.summary else ""),
            highlight=False,
        )
    out.print(f"parents: {list(d.parents) or 'none'}   proposer: {d.proposer}   via: {d.operator}")
    if d.thought:
        out.print(f"thought: {d.thought}")
    if d.metrics:
        shown = {k: v for k, v in d.metrics.items() if k not in ("curve", "stderr_tail")}
        out.print(f"metrics: {json.dumps(shown)}")
    if d.error:
        out.print(f"[red]error:[/] {d.error}")
    if d.diff:
        out.print("the change to its parent, as the model's edits made it:")
        out.print(Syntax(d.diff, "diff"))
    if graph is not None:
        from agentic_design.graph.analysis import outline
        from agentic_design.graph.model import loads

        out.print("written part by part, as this task graph:")
        for line in outline(loads(graph)):
            out.print(f"  {line}", highlight=False, markup=False)
    out.print(Syntax(d.code, "python", line_numbers=True))


# -- replay / export / tasks ------------------------------------------------------------------


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
) -> None:
    """Write the run's report: one self-contained HTML file with plots of progress, fitness
    against cost and lineage, the best designs with their code, and the run's settings."""
    from agentic_design.report import write_report  # matplotlib: only for this command

    archive = _open(run_dir)
    target = output if output is not None else run_dir / "report.html"
    with _user_errors():
        try:
            written = write_report(archive, target)
        except OSError as exc:  # the output's folder is missing or not writable
            _fail(f"cannot write the report to {target}: {exc.strerror or exc}")
    for failure in written.failed:  # shown in the page too, in the section's place
        err.print(
            f"warning: the report's section {failure.title!r} could not be made: {failure.error}",
            highlight=False,
            markup=False,
        )
    out.print(f"wrote {target}", highlight=False, markup=False)


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


@app.command("sandbox-info")
def sandbox_info() -> None:
    """Which sandbox protections are in force on this machine, and why any is not."""
    from agentic_design.sandbox import Sandbox, visible_gpus

    # Pinned to a GPU where there is one: the device files a GPU evaluation gets.
    with Sandbox(workers=1, preload=[], gpus=visible_gpus()[:1]) as sandbox:
        protections = sandbox.protections
    uid = os.geteuid()
    who = "root" if uid == 0 else f"uid {uid}, an ordinary user"
    table = Table(title=f"sandbox protections on this machine, as {who}")
    for column in ("protection", "in force", "how, or why not"):
        table.add_column(column, overflow="fold")
    for p in protections:
        mark = "[green]yes[/]" if p["enabled"] else "[red]no[/]"
        table.add_row(p["name"], mark, p["detail"])
    out.print(table)
    missing = [p["name"] for p in protections if not p["enabled"]]
    if missing:
        out.print(f"not in force: {', '.join(missing)}")


@app.command()
def tasks() -> None:
    """The built-in tasks."""
    table = Table(title="built-in tasks (or task: path/to/file.py:ClassName)")
    for column in ("name", "kind", "what"):
        table.add_column(column)
    for name in sorted(BUILTIN_TASKS):
        cls = task_class(name)
        table.add_row(name, cls.kind, (cls.__doc__ or "").strip().splitlines()[0])
    out.print(table)


def run_app() -> None:
    """Run the command line: a Ctrl-C anywhere (not only inside a search, which stops cleanly
    by itself) ends it with one line and exit code 130, never a traceback."""
    try:
        code = app(standalone_mode=False)
    except (KeyboardInterrupt, typer.Abort):
        interrupted()
    except typer.TyperException as exc:  # a usage error: its own message, exit 2
        exc.show()  # type: ignore[attr-defined]  # a click exception at run time
        sys.exit(exc.exit_code)
    if code == 130 and not _INTERRUPT_REPORTED.is_set():
        interrupted()  # typer turned a Ctrl-C into exit 130 without a word
    if code == 130:
        # The search said so already. Leave at once, as interrupted() does: interpreter
        # shutdown would join threads a Ctrl-C left blocked, and a late KeyboardInterrupt
        # there would end the process by SIGINT instead of with 130.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    sys.exit(code if isinstance(code, int) else 0)


def main() -> None:
    """The command line (see `agentic_design.entry` for the installed script's entry point)."""
    run_app()
