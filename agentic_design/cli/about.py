"""`sandbox-info` and `tasks`: what this installation offers, its sandbox's protections on
this machine and its built-in tasks."""

from __future__ import annotations

import os

from rich.table import Table

from agentic_design.cli.app import app, out
from agentic_design.tasks import BUILTIN_TASKS, task_class


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
