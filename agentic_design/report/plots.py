"""The report's plots, drawn with matplotlib and handed back as PNG data URIs.

Figures are made with the Agg canvas directly, never through pyplot: pyplot keeps global state
(a backend, open figures) that a report written from a user's own process (a notebook) must not
change. Plots carry numbers and design ids only, never text a model wrote.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from agentic_design.report.data import Point

SIZE = (10.0, 4.2)  # inches; at 100 dpi, 1000 x 420 pixels
DPI = 100
LABELLED = 12  # at most this many points of a plot carry their design's id
GREY, BEST, FRONT = "#9aa5b1", "#1f6feb", "#d1495b"


def _dots(n: int) -> dict[str, Any]:
    """Marker size and opacity for n background dots: lighter as they crowd."""
    return {"s": 8.0 if n < 2_000 else 2.0, "alpha": 0.5 if n < 2_000 else 0.15}


def data_uri(fig: Figure) -> str:
    """The figure as a PNG `data:` URI, for an <img> in a self-contained page."""
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def progress(
    finished: list[Point], best: Sequence[float | None], start: float | None, fitness_name: str
) -> str:
    """Best-so-far fitness over evaluations and, where the run has a clock, over wall time;
    every scored design as a faint dot behind it."""
    timed = start is not None and any(p.finished_at for p in finished)
    fig = Figure(figsize=SIZE, layout="constrained")
    axes = fig.subplots(1, 2 if timed else 1, squeeze=False)[0]
    order = list(range(1, len(finished) + 1))
    _progress_panel(axes[0], order, finished, best, "evaluations finished", fitness_name)
    axes[0].xaxis.set_major_locator(MaxNLocator(integer=True))
    if timed and start is not None:
        seconds = [max(0.0, (p.finished_at or start) - start) for p in finished]
        scale, unit = _time_unit(max(seconds, default=0.0))
        times = [s / scale for s in seconds]
        _progress_panel(axes[1], times, finished, best, f"wall-clock {unit} since the start", "")
        axes[1].ticklabel_format(axis="x", useOffset=False)
    return data_uri(fig)


def _progress_panel(
    ax: Axes,
    xs: Sequence[float],
    finished: list[Point],
    best: Sequence[float | None],
    xlabel: str,
    ylabel: str,
) -> None:
    scored = [(x, p.fitness or 0.0) for x, p in zip(xs, finished, strict=True) if p.scored]
    ax.scatter(
        [x for x, _ in scored],
        [y for _, y in scored],
        color=GREY,
        label="each design",
        **_dots(len(scored)),
    )
    line = [(x, b) for x, b in zip(xs, best, strict=True) if b is not None]
    ax.plot(
        [x for x, _ in line],
        [b for _, b in line],
        drawstyle="steps-post",
        color=BEST,
        lw=2,
        label="best so far",
    )
    ax.legend(loc="lower right", fontsize="small")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)


def _time_unit(span_s: float) -> tuple[float, str]:
    if span_s < 120:
        return 1.0, "seconds"
    if span_s < 120 * 60:
        return 60.0, "minutes"
    return 3600.0, "hours"


def cost(points: list[Point], front: list[int], cost_metric: str, fitness_name: str) -> str:
    """Each scored design's fitness against its cost, the Pareto front drawn over them."""
    by_id = {p.id: p for p in points}
    costed = [p for p in points if p.scored and p.cost is not None]
    fig = Figure(figsize=SIZE, layout="constrained")
    ax = fig.subplots()
    costs = [p.cost or 0.0 for p in costed]  # `or`: for the type checker; none is None
    ax.scatter(
        costs,
        [p.fitness or 0.0 for p in costed],
        color=GREY,
        label="each design",
        **_dots(len(costed)),
    )
    on_front = [(p.cost or 0.0, p.fitness or 0.0, p.id) for p in (by_id[i] for i in front)]
    ax.plot(
        [c for c, _, _ in on_front],
        [f for _, f, _ in on_front],
        drawstyle="steps-post",
        marker="o",
        color=FRONT,
        lw=1.5,
        label="Pareto front",
    )
    for c, f, design_id in on_front[:LABELLED]:
        ax.annotate(
            f"#{design_id}", (c, f), fontsize=8, xytext=(4, -10), textcoords="offset points"
        )
    if costs and min(costs) > 0 and max(costs) / min(costs) > 100:
        ax.set_xscale("log")
    ax.set_xlabel(f"{cost_metric} (lower is better)")
    ax.set_ylabel(f"{fitness_name} (higher is better)")
    ax.legend(loc="lower right", fontsize="small")
    ax.grid(alpha=0.3)
    return data_uri(fig)


def lineage(points: list[Point], shown: list[int], top: list[int], fitness_name: str) -> str:
    """The ancestry of the best designs: each design at (id, fitness), a line from each parent
    to its child; designs with no fitness sit on a band below the rest."""
    by_id = {p.id: p for p in points}
    scored = [p.fitness for p in points if p.scored and p.fitness is not None]
    low, high = (min(scored), max(scored)) if scored else (0.0, 1.0)
    floor = low - 0.08 * ((high - low) or 1.0)

    def y(p: Point) -> float:
        return p.fitness if p.fitness is not None else floor

    fig = Figure(figsize=SIZE, layout="constrained")
    ax = fig.subplots()
    background = [p for p in points if p.scored]
    ax.scatter(
        [p.id for p in background],
        [y(p) for p in background],
        color=GREY,
        label="other designs",
        **_dots(len(background)),
    )
    members = set(shown)
    for child_id in shown:
        child = by_id[child_id]
        for parent_id in child.parents:
            if parent_id in members:
                parent = by_id[parent_id]
                ax.plot([parent.id, child.id], [y(parent), y(child)], color=BEST, lw=0.8, alpha=0.6)
    nodes = [by_id[i] for i in shown]
    ax.scatter(
        [p.id for p in nodes], [y(p) for p in nodes], s=18, color=BEST, zorder=3, label="ancestors"
    )
    tops = [by_id[i] for i in top if i in by_id]
    ax.scatter(
        [p.id for p in tops],
        [y(p) for p in tops],
        s=60,
        marker="*",
        color=FRONT,
        zorder=4,
        label="best designs",
    )
    for p in tops[:LABELLED]:
        ax.annotate(f"#{p.id}", (p.id, y(p)), fontsize=8, xytext=(4, 4), textcoords="offset points")
    if any(p.fitness is None for p in nodes):
        ax.axhline(floor, color=GREY, lw=0.5, ls=":")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("design id (the order designs were proposed)")
    ax.set_ylabel(fitness_name)
    ax.legend(loc="lower right", fontsize="small")
    ax.grid(alpha=0.3)
    return data_uri(fig)


def against(
    curves: Sequence[tuple[str, Sequence[float | None]]], at: int, fitness_name: str
) -> str:
    """Best-so-far fitness of two runs over their evaluations (designs by id), a dotted line
    where they are compared: the evaluations both have made."""
    fig = Figure(figsize=SIZE, layout="constrained")
    ax = fig.subplots()
    for (label, curve), color in zip(curves, (BEST, FRONT), strict=False):
        line = [(x, b) for x, b in enumerate(curve, start=1) if b is not None]
        ax.plot(
            [x for x, _ in line],
            [b for _, b in line],
            drawstyle="steps-post",
            color=color,
            lw=2,
            label=label,
        )
    ax.axvline(at, color=GREY, lw=1, ls=":", label=f"equal evaluations ({at})")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("evaluations (designs in the order they were proposed)")
    ax.set_ylabel(f"best {fitness_name} so far")
    ax.legend(loc="lower right", fontsize="small")
    ax.grid(alpha=0.3)
    return data_uri(fig)
