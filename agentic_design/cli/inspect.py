"""`status` and `show`: what a run holds, read from its store while it is live, finished
or imported: its progress, budget and spend, and its designs as a table, one in full, JSON or
the Pareto front; and what the search learned beside its designs (its notes, novelty checks
and prompt variants).

Everything a run holds was written by a model, a user or another tool's archive (a design named
`[/x]`, an error quoting markup), so every such text is escaped before rich reads it as markup.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.syntax import Syntax
from rich.table import Table

from agentic_design.cli.app import _fail, _open, _user_errors, app, out
from agentic_design.cli.scores import _interval, _scored
from agentic_design.records import Design, Note, Status
from agentic_design.report.capped import capped
from agentic_design.store.archive import Archive
from agentic_design.store.import_adas import INTERVAL_PROBLEM, transfer_scores
from agentic_design.store.pareto import pareto_front


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
    out.print(f"[bold]run[/] {escape(str(run_dir))}: {escape(str(state))}")
    out.print(f"task: {meta.get('task')}   proposer: {meta.get('proposer')}", markup=False)
    if meta.get("imported_from"):  # no search, no budget: what the source archive recorded
        out.print(f"imported from {meta['imported_from']}: {meta.get('source')}", markup=False)
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
        evaluated = archive.spent()
        for line in _budget_lines(budget, evaluated, searched_s, spend, best, archive):
            out.print(f"  {line}", highlight=False)
    out.print(f"LLM spend: {spend['calls']} calls, {spend['tokens']} tokens, ${spend['usd']:.4f}")
    _print_models(archive)
    _print_learned(archive)
    if best is not None:
        out.print(f"best: {_scored(best, name)}", highlight=False, markup=False)
    test = meta.get("test") or {}
    fitness = test.get("fitness", test.get("accuracy"))  # runs before 0.2 said "accuracy"
    if fitness is not None:
        out.print(
            f"test {name} of #{test['design_id']}: {fitness:.4f}", highlight=False, markup=False
        )
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
    evaluated: float,
    searched_s: float,
    spend: dict[str, float],
    best: Design | None,
    archive: Archive,
) -> list[str]:
    """Progress against each budget the run was given (evaluations in full ones: a cheap
    evaluation counts its share, a duplicate nothing)."""
    lines = [f"evaluations: {evaluated:g} of {budget.get('evaluations', '?')}"]
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
    """Calls, spend and success rate per model, where the meta-agent had several; and how many
    of each model's designs were checked for novelty, sent back and recorded not_novel."""
    models = archive.model_spend()
    novelty = archive.novelty_counts()
    if len(models) < 2:
        if novelty:  # one model: a line says what the table would
            out.print(_novelty_line(novelty), highlight=False, markup=False)
        return
    table = Table(title="the meta-agent's models")
    columns = ["model", "calls", "failed calls", "tokens", "USD", "designs", "ok", "success"]
    if novelty:
        columns += ["sent back", "not novel"]
    for column in columns:
        table.add_column(column, justify="left" if column == "model" else "right")
    for model, m in models.items():
        checks = [str(m.get("sent_back", 0)), str(m.get("not_novel", 0))] if novelty else []
        table.add_row(
            escape(model),
            str(m["calls"]),
            str(m["failed_calls"]),
            f"{m['tokens']:,}",
            f"{m['usd']:.4f}",
            str(m["designs"]),
            str(m["ok"]),
            f"{m['success_rate']:.0%}" if m["designs"] else "-",
            *checks,
        )
    out.print(table)
    if novelty:
        out.print(_novelty_line(novelty), highlight=False, markup=False)


def _novelty_line(novelty: dict[str, dict[str, int]]) -> str:
    """'novelty: 14 checked, 5 sent back, 2 not_novel (openai/m)', one clause per model."""
    return "novelty: " + "; ".join(
        f"{n['checked']} checked, {n['sent_back']} sent back, {n['not_novel']} not_novel ({model})"
        for model, n in novelty.items()
    )


def _print_learned(archive: Archive) -> None:
    """The notes in force and the prompt variants, when the run has them."""
    notes = archive.notes()
    if notes:
        latest = notes[-1]
        out.print(
            f"notes: v{latest.version} in force, from designs up to #{latest.upto} "
            f"({len(notes)} versions; show --notes prints them)",
            highlight=False,
            markup=False,
        )
    variants = archive.variants()
    if variants:
        retired = {v.replaces for v in variants if v.replaces is not None}
        mutated = sum(1 for v in variants if v.parent is not None)
        out.print(
            f"prompt variants: {len(variants)} ({len(variants) - len(retired)} active, "
            f"{mutated} written by the meta-agent)",
            highlight=False,
            markup=False,
        )


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
    notes: Annotated[
        bool, typer.Option("--notes", help="every version of the run's insight notes instead")
    ] = False,
) -> None:
    """The run's designs, best first (or one design in full with --id, or the Pareto front of
    fitness against the task's cost with --pareto, cheapest first, or every version of the
    notes the meta-agent wrote with --notes, oldest first)."""
    if notes:
        given = {"--top": top is not None, "--id": design_id is not None, "--pareto": pareto}
        chosen = [name for name, on in given.items() if on]
        if chosen:
            _fail(f"--notes shows the run's notes, not designs: leave out {', '.join(chosen)}")
        _show_notes(_open(run_dir).notes(), as_json)
        return
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
    caption = "--top K shows more, --id ID one in full"
    if any(capped(d.metrics) for d in designs):
        caption += (
            "; capped: examples failed at the LLM call cap, and --id says how many "
            "(raise task_budget.max_calls_per_example)"
        )
    table = Table(title=escape(f"{run_dir}: {shown}"), caption=caption)
    name = archive.meta("fitness_name", "fitness")
    columns = ["id", "name", "status", name, "95% CI", "summary", "gen", "parents", "how"]
    if pareto:
        columns.insert(4, str(cost_metric))
    for column in columns:
        table.add_column(escape(str(column)), overflow="fold")
    for d in designs:
        cost = [_number(d.metrics.get(str(cost_metric)))] if pareto else []
        cap = capped(d.metrics)
        table.add_row(
            str(d.id),
            escape(d.name),
            d.status.value + (f", {cap.marker()}" if cap else ""),
            _fitness_cell(d),
            *cost,
            _ci_cell(d),
            escape(d.summary or "-"),
            str(d.generation),
            ",".join(map(str, d.parents)) or "-",
            escape((d.operator or "")[:60]),
        )
    out.print(table)


TABLE_ROWS = 20  # the table's default length; --json lists every design


def _show_notes(notes: list[Note], as_json: bool) -> None:
    """Every version of the notes, oldest first: a header, then the text as the model wrote it."""
    if as_json:
        sys.stdout.write(json.dumps([dataclasses.asdict(n) for n in notes], indent=2) + "\n")
        return
    if not notes:
        out.print("this run has no notes")
        return
    for note in notes:
        written = f", written with design #{note.design_id}" if note.design_id is not None else ""
        by = f" by {note.model}" if note.model else ""
        out.print(
            f"[bold]notes v{note.version}[/] — from designs up to #{note.upto}{written}"
            + escape(by),
            highlight=False,
        )
        # As written: neither markup nor emoji codes read in it.
        out.print(note.text, highlight=False, markup=False, emoji=False)
        out.print()


def name_of(archive: Archive) -> str:
    return str(archive.meta("fitness_name", "fitness"))


def _fitness_cell(d: Design) -> str:
    """The fitness, and the share of a full evaluation it comes from when that is less."""
    if d.fitness is None:
        return f"= #{d.behaviour_of}" if d.behaviour_of is not None else "-"
    return f"{d.fitness:.4f}" + (f" @{d.fidelity:.0%}" if d.fidelity < 1 else "")


def _number(value: Any) -> str:
    return f"{value:,.4g}" if isinstance(value, int | float) else "-"


def _ci_cell(d: Design) -> str:
    if d.ci_low is not None and d.ci_high is not None:
        return f"{d.ci_low:.3f} to {d.ci_high:.3f}"
    return "flagged" if INTERVAL_PROBLEM in d.metrics else "-"


def _print_transfer(metrics: dict[str, Any]) -> None:
    """ADAS's scores of an imported design on other data sets' test splits, one a line."""
    scores = transfer_scores(metrics)
    if not scores:
        return
    out.print("ADAS's test scores on other data sets (transfer):")
    width = max(len(s.name) for s in scores)
    for s in scores:
        if s.median is None:
            read = f"unreadable: {s.error}"
        else:
            low, high = s.ci or (None, None)
            read = f"{s.median:.4f} ({_interval(low, high, {INTERVAL_PROBLEM: s.problem})})"
        out.print(f"  {s.name:<{width}}  {read}", highlight=False, markup=False)


def _ranked(designs: list[Design]) -> list[Design]:
    """Best first: full evaluations, then cheap ones (a number on a scale of its own), then
    designs without a fitness."""
    return sorted(
        designs, key=lambda d: (d.fitness is None, d.fidelity < 1, -(d.fitness or 0.0), d.id)
    )


def _show_one(d: Design, fitness_name: str, graph: str | None = None) -> None:
    out.print(
        f"[bold]#{d.id} {escape(d.name)}[/]  status {d.status.value}  generation {d.generation}"
    )
    if d.fitness is not None:
        out.print(
            f"{fitness_name} {d.fitness:.4f}  {_interval(d.ci_low, d.ci_high, d.metrics)}"
            + (f"; {d.summary}" if d.summary else ""),
            highlight=False,
            markup=False,
        )
    if d.fidelity < 1:
        out.print(
            f"from a cheap evaluation: {d.fidelity:.0%} of a full one (search.fidelity)",
            highlight=False,
        )
    if d.behaviour_of is not None:
        out.print(f"behaves as #{d.behaviour_of}: not evaluated itself", highlight=False)
    cap = capped(d.metrics)
    if cap is not None:
        out.print(f"[bold yellow]{escape(cap.line())}[/]", highlight=False)
    _print_transfer(d.metrics)
    out.print(
        f"parents: {list(d.parents) or 'none'}   proposer: {d.proposer}   via: {d.operator}",
        markup=False,
    )
    if d.variant is not None:
        out.print(f"written under prompt variant {d.variant}", highlight=False)
    for line in _novelty_lines(d.novelty):
        out.print(line, highlight=False, markup=False)
    if d.thought:
        out.print(f"thought: {d.thought}", markup=False)
    if d.metrics:
        shown = {k: v for k, v in d.metrics.items() if k not in ("curve", "stderr_tail")}
        out.print(f"metrics: {json.dumps(shown)}", markup=False)
    if d.error:
        out.print(f"[red]error:[/] {escape(d.error)}")
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


def _novelty_lines(novelty: dict[str, Any] | None) -> list[str]:
    """A design's novelty record in words: the check its code passed or failed, the first
    check when it was sent back, and why it was not evaluated."""
    if not novelty:
        return []
    lines = ["novelty: " + _verdict(novelty)]
    first = novelty.get("first")
    if novelty.get("sent_back") and isinstance(first, dict):
        lines.append("  sent back once for a different idea; the first answer: " + _verdict(first))
    if novelty.get("why"):
        lines.append(f"  {novelty['why']}")
    return lines


def _verdict(check: dict[str, Any]) -> str:
    said = "novel" if check.get("novel") else "not novel"
    similarity, closest = check.get("similarity"), check.get("closest")
    if isinstance(similarity, int | float):
        near = f" to #{closest}" if closest is not None else ""
        said += f", similarity {similarity:.3f}{near}"
    if check.get("judge"):
        said += f"; the judge: {check['judge']}"
        if check.get("reason"):
            said += f" ({check['reason']})"
    elif check.get("reason"):  # unchecked (an embedding that failed), or over the threshold
        said += f" ({check['reason']})"
    return said
