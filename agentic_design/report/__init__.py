"""A run's report: one self-contained HTML file with plots (`agentic-design report RUN`).

Self-contained: plots are PNG data URIs, styles inline, no script and no external URL; the
page's Content-Security-Policy forbids scripts and anything fetched from elsewhere, so even a
browser that met some text we failed to escape would run nothing from it.

Escaped: everything shown comes through the report's own Jinja environment, which escapes every
value (autoescape on); no template marks a value safe, and the only markup handed to the page is
each section as its autoescaping template rendered it. Names, thoughts, code and errors a model
wrote therefore show as text.

Robust: each section is built and rendered on its own; one that fails (a store from an older
version, a value of an unexpected shape) shows its error in its place, and the rest stand.
"""

from __future__ import annotations

import os
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from agentic_design.resources import shipped_dir
from agentic_design.store.archive import Archive

__all__ = ["Report", "SectionFailure", "build_report", "write_report"]


@dataclass(frozen=True)
class SectionFailure:
    """A section that could not be made, and why."""

    key: str
    title: str
    error: str  # the exception's class and message
    trace: str


@dataclass(frozen=True)
class Report:
    """The page, and the sections that failed (each shown in the page with its error)."""

    html: str
    failed: list[SectionFailure] = field(default_factory=list)


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The report's templates (prompts/report/): HTML, so every value is escaped."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(shipped_dir("prompts") / "report")),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fixed"] = _fixed
    env.filters["number"] = _number
    return env


def _fixed(value: Any, digits: int = 4) -> str:
    return "-" if not isinstance(value, int | float) else f"{value:.{digits}f}"


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "-"
    return f"{value:,}" if isinstance(value, int) else f"{value:,.4g}"


def build_report(archive: Archive, control: str | Path | None = None) -> Report:
    """The report of the run in `archive` (finished, running, empty or imported); beside it the
    run `control` (a run directory), or else the one of the same task and the other kind (its
    control, or the search it is the control of) found beside it (`report.control`)."""
    # Here, not at the top: the sections load matplotlib (half a second), and the command line
    # imports this package for `capped` in commands that draw nothing.
    from agentic_design.report.sections import SECTIONS, RunView

    env = environment()
    view = RunView(archive, Path(control) if control is not None else None)
    sections, failed = [], []
    for key, title, build in SECTIONS:
        try:
            common = {"fitness_name": view.fitness_name, "shown": {d.id for d in view.top}}
            body = env.get_template(f"{key}.html.j2").render(**build(view), **common)
        # One section's failure must not cost the reader the others: it is shown in place,
        # with its traceback, and returned for the caller to report.
        except Exception as exc:
            failure = SectionFailure(
                key, title, f"{type(exc).__name__}: {exc}", traceback.format_exc()
            )
            failed.append(failure)
            body = env.get_template("failed.html.j2").render(failure=failure)
        # The section's template escaped every value it was given.
        sections.append({"key": key, "title": title, "body": Markup(body)})
    html = env.get_template("page.html.j2").render(
        name=archive.run_name,
        run_dir=str(archive.run_dir),
        written=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        sections=sections,
    )
    return Report(html=html, failed=failed)


def write_report(archive: Archive, path: str | Path, control: str | Path | None = None) -> Report:
    """Build the report (`build_report`) and write it to `path` atomically: a reader never
    sees half a page."""
    report = build_report(archive, control)
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(report.html, encoding="utf-8")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return report
