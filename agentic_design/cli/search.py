"""`run` and `resume`: a search, from a configuration or from where a run stopped, and what
it found. The search itself loads only when one is run, so the other commands start fast."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from agentic_design.cli.app import (
    _INTERRUPT_REPORTED,
    _fail,
    _refuse_imported,
    _user_errors,
    app,
    err,
    out,
)
from agentic_design.cli.scores import _interval, _scored
from agentic_design.config import RunConfig
from agentic_design.records import StopReason
from agentic_design.sandbox import SandboxError

# Options `run` shares with `estimate`.
ConfigPath = Annotated[
    Path,
    typer.Argument(
        help="the run's YAML configuration, or an OpenEvolve or ShinkaEvolve problem folder"
    ),
]
Llm = Annotated[str | None, typer.Option(help="litellm model string for the meta-agent")]
ApiBase = Annotated[str | None, typer.Option(help="OpenAI-compatible server URL")]
Evaluations = Annotated[int | None, typer.Option(help="budget: designs evaluated")]
Usd = Annotated[float | None, typer.Option(help="budget: LLM spend in USD")]
AgentLlm = Annotated[
    str | None, typer.Option(help="the model agents call (litellm string, or simulated)")
]
AgentApiBase = Annotated[
    str | None, typer.Option(help="an OpenAI-compatible server for --agent-llm")
]
# The live view's options, which `run` and `resume` share.
Serve = Annotated[
    bool, typer.Option(help="serve a live view of the run on 127.0.0.1 while it goes")
]
Port = Annotated[
    int, typer.Option(help="the live view's port (with --serve; 0: any free one)", min=0)
]


@app.command()
def run(
    config: ConfigPath,
    run_dir: Annotated[Path | None, typer.Option(help="where the run is stored")] = None,
    llm: Llm = None,
    api_base: ApiBase = None,
    evaluations: Evaluations = None,
    hours: Annotated[float | None, typer.Option(help="budget: wall-clock hours")] = None,
    usd: Usd = None,
    workers: Annotated[int | None, typer.Option(help="parallel evaluations")] = None,
    seed: Annotated[int | None, typer.Option(help="the run's seed")] = None,
    proposer: Annotated[
        str | None,
        typer.Option(
            help="search.proposer: auto, evolution (offline, even where the config names an "
            "LLM), meta_agent or random_sampling"
        ),
    ] = None,
    executor: Annotated[
        str | None,
        typer.Option(
            help="local (this machine's sandbox pool) or ray (Ray actors, each sandboxed on its "
            "node; joins $RAY_ADDRESS or ray.address, else starts a local cluster)"
        ),
    ] = None,
    agent_llm: AgentLlm = None,
    agent_api_base: AgentApiBase = None,
    progress: Annotated[bool, typer.Option(help="show the progress bar")] = True,
    accept_estimate: Annotated[
        bool,
        typer.Option(
            "--accept-estimate",
            help="start even when the estimated LLM spend's high end is above budget.usd",
        ),
    ] = False,
    serve: Serve = False,
    port: Port = 8765,
) -> None:
    """Start a search from CONFIG (YAML), or from an OpenEvolve or ShinkaEvolve problem folder
    as it is; CLI options override the file."""
    with _user_errors():
        cfg = _with_options(
            _config(config),
            llm=llm,
            api_base=api_base,
            run_dir=str(run_dir) if run_dir else None,
            seed=seed,
            executor=executor,
            **{
                "search.proposer": proposer,
                "budget.evaluations": evaluations,
                "budget.hours": hours,
                "budget.usd": usd,
                "sandbox.workers": workers,
                "agent_llm.model": agent_llm,
                "agent_llm.api_base": agent_api_base,
            },
        )
        with _live_view(cfg.resolved_run_dir, port, serve):
            _search_and_report(
                cfg, resume=False, progress=progress, accept_estimate=accept_estimate
            )


def _with_options(
    cfg: RunConfig, *, llm: str | None, api_base: str | None, **overrides: Any
) -> RunConfig:
    """The configuration with the command line's options applied: --llm replaces a list of
    models by the one named, --api-base serves every listed model; the rest override as
    `RunConfig.with_overrides` does (None: not given)."""
    if llm is not None and cfg.llm is not None and cfg.llm.models is not None:
        cfg = cfg.with_overrides(llm={**cfg.llm.model_dump(exclude={"models"}), "model": llm})
    elif api_base is not None and cfg.llm is not None and cfg.llm.models is not None:
        served = [{**m.model_dump(), "api_base": api_base} for m in cfg.llm.models]
        cfg = cfg.with_overrides(**{"llm.models": served})
        api_base = None
    return cfg.with_overrides(**overrides, **{"llm.model": llm, "llm.api_base": api_base})


@contextmanager
def _live_view(run_dir: Path, port: int, serve: bool) -> Iterator[None]:
    """With `serve`, the run's live view (`agentic-design serve`) for as long as the block
    runs, served by a process of its own."""
    if not serve:
        yield
        return
    from agentic_design.report.live import LiveViewError, start_live_view

    try:
        view = start_live_view(run_dir, port=port)
    except LiveViewError as exc:
        _fail(f"--serve: {exc}")
    err.print(f"[bold]live view:[/] {view.url} (read-only; it stops with the search)")
    with view:
        yield


def _config(path: Path) -> RunConfig:
    """The configuration in the YAML file `path`, or the one a problem folder maps to (what
    of its settings is not followed said on the way)."""
    if not path.is_dir():
        return RunConfig.from_yaml(path)
    from agentic_design.run.folder import folder_config

    found = folder_config(path)
    err.print(
        f"[bold]problem folder[/] {escape(str(path))} ({found.format}), run as it is",
        highlight=False,
    )
    for setting in found.ignored:
        err.print(f"  not followed: {escape(setting)}", highlight=False)
    return found.config


@app.command()
def resume(
    run_dir: Annotated[Path, typer.Argument(help="the run directory to continue")],
    progress: Annotated[bool, typer.Option(help="show the progress bar")] = True,
    serve: Serve = False,
    port: Port = 8765,
) -> None:
    """Continue a stopped or killed run without repeating finished evaluations."""
    _refuse_imported(run_dir, "resumed")
    with _user_errors():
        from agentic_design.run.search import Search

        search = Search.resume(run_dir, console=err, progress=progress)
        with _live_view(run_dir, port, serve):
            _search_and_report(search.config, resume=True, progress=progress, search=search)


def _search_and_report(
    cfg: RunConfig,
    *,
    resume: bool,
    progress: bool,
    search: Any = None,
    accept_estimate: bool = False,
) -> None:
    from agentic_design.run.search import Search  # the CLI's other commands stay fast to start

    search = search or Search(cfg, console=err, progress=progress, accept_estimate=accept_estimate)
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
